"""A small in-window file browser (a modal popup): folders first, files filtered by suffix."""

from __future__ import annotations

from pathlib import Path

from imgui_bundle import imgui


class FileBrowser:
    """Call `open(...)` once, then `__call__()` every frame; it returns the chosen path on the frame it is picked.

    `pick_folders` lets a folder itself be chosen (e.g. a training run directory).
    """

    def __init__(self, title: str, suffixes: tuple[str, ...] = (), pick_folders: bool = False):
        self.title = title
        self.suffixes = tuple(s.lower() for s in suffixes)
        self.pick_folders = pick_folders
        self.folder = Path.cwd()
        self._open_requested = False
        self._typed = ""
        self._entries: list[tuple[str, Path, bool]] = []
        self.error = ""

    def open(self, start: str | Path | None = None) -> None:
        start = Path(start).expanduser() if start else self.folder
        self.folder = start if start.is_dir() else (start.parent if start.parent.is_dir() else Path.cwd())
        self._typed = str(start) if start and start.is_file() else ""
        self._refresh()
        self._open_requested = True

    def _refresh(self) -> None:
        self.error = ""
        entries: list[tuple[str, Path, bool]] = []
        try:
            for child in sorted(self.folder.iterdir(), key=lambda p: (not p.is_dir(), p.name.lower())):
                if child.name.startswith("."):
                    continue
                if child.is_dir():
                    entries.append((child.name + "/", child, True))
                elif not self.suffixes or child.suffix.lower() in self.suffixes:
                    entries.append((child.name, child, False))
        except OSError as exc:
            self.error = f"cannot list {self.folder}: {exc.strerror or exc}"
        self._entries = entries

    def __call__(self) -> Path | None:
        if self._open_requested:
            imgui.open_popup(self.title)
            self._open_requested = False
        chosen: Path | None = None
        em = imgui.get_font_size()
        imgui.set_next_window_size((em * 36, em * 28), imgui.Cond_.appearing)
        opened, _ = imgui.begin_popup_modal(self.title, True)
        if not opened:
            return None
        imgui.text_wrapped(str(self.folder))
        if imgui.button("Up") and self.folder.parent != self.folder:
            self.folder = self.folder.parent
            self._refresh()
        imgui.same_line()
        if imgui.button("Home"):
            self.folder = Path.home()
            self._refresh()
        if self.pick_folders:
            imgui.same_line()
            if imgui.button("Choose this folder"):
                chosen = self.folder
        if self.error:
            imgui.text_colored((1.0, 0.45, 0.4, 1.0), self.error)
        imgui.begin_child("entries", (0, -em * 2.4), imgui.ChildFlags_.borders)
        for label, path, is_dir in self._entries:
            clicked, _ = imgui.selectable(label, self._typed == str(path),
                                          imgui.SelectableFlags_.allow_double_click)
            if clicked:
                if is_dir:
                    self.folder = path
                    self._refresh()
                    break
                self._typed = str(path)
                if imgui.is_mouse_double_clicked(0):
                    chosen = path
        imgui.end_child()
        imgui.set_next_item_width(-em * 10)
        _, self._typed = imgui.input_text("##path", self._typed)
        imgui.same_line()
        if imgui.button("Open") and self._typed:
            chosen = Path(self._typed).expanduser()
        imgui.same_line()
        if imgui.button("Cancel"):
            imgui.close_current_popup()
        if chosen is not None:
            imgui.close_current_popup()
        imgui.end_popup()
        return chosen
