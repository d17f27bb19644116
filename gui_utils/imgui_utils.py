"""Small imgui helpers shared by the widgets."""

from __future__ import annotations

from imgui_bundle import imgui


def hint(text: str) -> None:
    """A dimmed, wrapped line of help text."""
    imgui.push_style_color(imgui.Col_.text, imgui.get_style().color_(imgui.Col_.text_disabled))
    imgui.text_wrapped(text)
    imgui.pop_style_color()
