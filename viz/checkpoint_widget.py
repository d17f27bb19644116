"""Checkpoint: path field, recent list, file browser (and drag-and-drop via the app); run folders resolve to
their latest snapshot; the shipped default model (or the random tiny built-in) is always one click away; an
in-memory model (a tuned inversion result) is labelled as such and never enters the recent list."""

from __future__ import annotations

from pathlib import Path

from imgui_bundle import imgui

from gui_utils.file_browser import FileBrowser
from gui_utils.imgui_utils import hint
from next3d.capture.memory_models import MEMORY_PREFIX
from next3d.capture.render_args import BUILTIN_PREFIX, BUILTIN_TINY
from next3d.capture.renderer import default_checkpoint
from viz.app_state import add_recent


class CheckpointWidget:
    title = "Checkpoint"
    default_open = True

    def __init__(self, app, path: str):
        self.app = app
        self.path = path
        self.recent: list[str] = []
        self._typed = path
        self.browser = FileBrowser("Open checkpoint", (".safetensors",), pick_folders=True)

    def load(self, path: str) -> None:
        """Switch to a checkpoint file, run directory or built-in (the renderer reports problems)."""
        path = path.strip()
        if not path:
            return
        if not path.startswith(BUILTIN_PREFIX) and not path.startswith(MEMORY_PREFIX):
            path = str(Path(path).expanduser())
        self.path = self._typed = path

    def on_result(self, result) -> None:
        if result.args is not None and result.args.checkpoint == self.path and not result.error \
                and result.model is not None and not self.path.startswith(MEMORY_PREFIX):
            self.recent = add_recent(self.recent, self.path)

    def __call__(self, show: bool) -> None:
        if show:
            self._draw()
        self.app.update_args(checkpoint=self.path)

    def _draw(self) -> None:
        em = imgui.get_font_size()
        imgui.set_next_item_width(-em * 4.5)
        entered, self._typed = imgui.input_text("##path", self._typed, imgui.InputTextFlags_.enter_returns_true)
        if entered:
            self.load(self._typed)
        imgui.same_line()
        if imgui.button("Load"):
            self.load(self._typed)
        if imgui.button("Browse..."):
            start = self.path if not self.path.startswith((BUILTIN_PREFIX, MEMORY_PREFIX)) else None
            self.browser.open(start)
        imgui.same_line()
        if imgui.button("Recent..."):
            imgui.open_popup("recent")
        imgui.same_line()
        if imgui.button("Default"):
            self.load(default_checkpoint())
        imgui.set_item_tooltip("The shipped default model (assets/models/next3d_default.safetensors); without it "
                               "the random tiny built-in")
        if imgui.begin_popup("recent"):
            if not self.recent:
                hint("nothing yet")
            for item in self.recent:
                if imgui.selectable(item, item == self.path)[0]:
                    self.load(item)
            if imgui.selectable(BUILTIN_TINY, self.path == BUILTIN_TINY)[0]:
                self.load(BUILTIN_TINY)
            imgui.end_popup()
        chosen = self.browser()
        if chosen is not None:
            self.load(str(chosen))
        model = self.app.model
        if model is not None:
            if model.checkpoint.startswith(MEMORY_PREFIX):
                imgui.push_style_color(imgui.Col_.text, (0.55, 0.75, 1.0, 1.0))
                imgui.text_wrapped("In memory, not saved (save it in the Invert panel):")
                imgui.pop_style_color()
            imgui.text_wrapped(model.description)
            hint(f"{model.num_ws} w rows, {model.img_resolution}px, head '{model.head_name}' "
                                f"({model.head_hash})")
            if model.checkpoint != self.path and not self.path.startswith((BUILTIN_PREFIX, MEMORY_PREFIX)) \
                    and Path(self.path).is_dir():
                hint(f"run folder -> {Path(model.checkpoint).name}")
        hint("Drop a .safetensors file or run folder on the window to open it.")

    def persisted(self) -> dict:
        return {"recent": list(self.recent)}

    def restore(self, saved: dict) -> None:
        recent = saved.get("recent") if isinstance(saved, dict) else None
        if isinstance(recent, list):
            self.recent = [r for r in recent if isinstance(r, str)]
