"""Does a picture show a head? Foreground against the background colour beside it (shipped-model tests)."""

import numpy as np

FOREGROUND_DISTANCE = 40.0  # RGB distance (0..255 units) from the background colour that counts as foreground


def side_strips(picture: np.ndarray):
    """Left and right tenth of the picture, rows 10%..60% (beside the head, above the shoulders)."""
    h, w = picture.shape[:2]
    k, rows = max(2, w // 10), slice(int(0.1 * h), int(0.6 * h))
    return picture[rows, :k], picture[rows, -k:]


def background_colour(picture: np.ndarray, both_sides: bool) -> np.ndarray:
    """Median colour of both side strips, or of the more uniform one (a turned head covers one side)."""
    strips = [s.reshape(-1, 3) for s in side_strips(picture)]
    if both_sides:
        return np.median(np.concatenate(strips), axis=0)
    return np.median(min(strips, key=lambda s: float(s.std(axis=0).max())), axis=0)


def silhouette(picture: np.ndarray, background: np.ndarray) -> dict[str, float]:
    """Foreground = farther than FOREGROUND_DISTANCE from `background`; where it lies and how wide it is."""
    h, w = picture.shape[:2]
    foreground = np.linalg.norm(picture - background, axis=2) > FOREGROUND_DISTANCE
    left, right = side_strips(foreground[..., None])
    face_band = foreground[int(0.35 * h):int(0.55 * h)].mean(axis=0) > 0.5  # columns mostly foreground
    return {"centre": float(foreground[int(0.4 * h):int(0.6 * h), int(0.4 * w):int(0.6 * w)].mean()),
            "left": float(left.mean()), "right": float(right.mean()), "width": float(face_band.mean())}
