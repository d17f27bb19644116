"""Widget state that outlives a frame: persisted values (type-checked on restore) and expression presets."""

from types import SimpleNamespace

from viz.app_state import MAX_RECENT, add_recent, load_app_state, restore_widget_values, widget_values
from viz.expression_presets import PRESETS, preset_applies, preset_values

ARKIT_NAMES = ("eyeBlinkLeft", "jawOpen", "mouthSmileLeft", "mouthSmileRight", "browInnerUp", "eyeWideLeft")


def test_restore_takes_only_values_of_the_right_type():
    widget = SimpleNamespace(yaw=0.0, seed=3, name="a", on=False, pivot=(0.0, 0.0, 0.2), extra=None)
    names = ("yaw", "seed", "name", "on", "pivot")
    restore_widget_values(widget, names, {"yaw": 1, "seed": "x", "name": "b", "on": 1, "pivot": [1, 2, 3]})
    assert (widget.yaw, widget.seed, widget.name, widget.on, widget.pivot) == (1.0, 3, "b", False, (1.0, 2.0, 3.0))
    restore_widget_values(widget, names, {"pivot": [1, 2], "on": True})
    assert widget.pivot == (1.0, 2.0, 3.0) and widget.on is True
    assert widget_values(widget, ("pivot",)) == {"pivot": [1.0, 2.0, 3.0]}


def test_broken_or_missing_session_file_gives_an_empty_session(tmp_path):
    assert load_app_state(tmp_path / "none.json") == {}
    (tmp_path / "bad.json").write_text("{ nope")
    assert load_app_state(tmp_path / "bad.json") == {}


def test_recent_list_is_most_recent_first_without_duplicates():
    recent = []
    for item in ["a", "b", "a"] + [f"c{i}" for i in range(20)]:
        recent = add_recent(recent, item)
    assert recent[0] == "c19" and len(recent) == MAX_RECENT and len(set(recent)) == len(recent)


def test_presets_match_blendshape_names_ignoring_case_and_separators():
    smile = next(p for p in PRESETS if p.name == "Smile")
    values, matched = preset_values(smile, ("mouth_smile_left", "MOUTHSMILERIGHT", "other"), named=True)
    assert values == [0.9, 0.9, 0.0] and matched == 2


def test_name_based_presets_are_disabled_for_pca_expressions():
    pca = tuple(f"pca {i}" for i in range(10))
    by_name = {p.name: p for p in PRESETS}
    assert preset_applies(by_name["Neutral"], pca, named=False)
    assert preset_applies(by_name["Mouth open"], pca, named=False)  # works through the jaw rotation
    assert not preset_applies(by_name["Smile"], pca, named=False)
    assert preset_applies(by_name["Smile"], ARKIT_NAMES, named=True)


def test_every_preset_moves_the_built_in_head():
    from next3d.head import load_default_head

    names = tuple(load_default_head().expr_names)
    for preset in PRESETS[1:]:
        values, matched = preset_values(preset, names, named=True)
        assert matched == len(preset.weights), preset.name  # every key names one of its 52 blendshapes


def test_file_browser_lists_folders_first_and_filters_by_suffix(tmp_path):
    from gui_utils.file_browser import FileBrowser

    (tmp_path / "runs").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b.safetensors", "A.safetensors", "notes.txt"):
        (tmp_path / name).write_text("x")
    browser = FileBrowser("Open checkpoint", (".safetensors",), pick_folders=True)
    browser.open(tmp_path / "A.safetensors")
    assert browser.folder == tmp_path
    assert [label for label, _, _ in browser._entries] == ["runs/", "A.safetensors", "b.safetensors"]
    browser.open(tmp_path / "missing" / "deeper")
    assert browser.folder.is_dir()  # a vanished folder falls back to something that exists
