"""Window geometry without a display: the window fits the monitor, and HiDPI scaling is not applied twice."""

import pytest

from gui_utils.window import default_window_size, fit_to_work_area, ui_scale_for


@pytest.mark.parametrize("content_scale, window_w, fb_w, expected", [
    (1.0, 1280, 1280, 1.0),   # ordinary monitor
    (1.5, 1280, 1280, 1.5),   # X11 / Windows at 150 %: fonts and paddings grow
    (2.0, 1280, 2560, 1.0),   # macOS Retina: the framebuffer already has the extra pixels
    (2.0, 0, 0, 2.0),         # minimised window (zero sizes) does not divide by zero
])
def test_ui_scale(content_scale, window_w, fb_w, expected):
    assert ui_scale_for(content_scale, window_w, fb_w) == pytest.approx(expected)


def test_window_never_exceeds_the_work_area():
    laptop = (0, 0, 1366, 740)
    assert fit_to_work_area((3840, 2160), laptop) == (1366, 740)  # the EG3D visualizer's fixed size would not fit
    assert fit_to_work_area((100, 100), laptop) == (640, 400)
    w, h = default_window_size((0, 0, 2560, 1440))
    assert w <= 1920 and h <= 1200 and fit_to_work_area((w, h), (0, 0, 2560, 1440)) == (w, h)
