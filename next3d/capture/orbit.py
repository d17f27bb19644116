"""Camera paths: the turntable (a closed loop of yaw/pitch) used by GUI orbit animation and video capture."""

from __future__ import annotations

import math

from next3d.errors import BadInputError


def turntable_angles(phase: float, yaw_amp: float, pitch_amp: float) -> tuple[float, float]:
    """(yaw, pitch) offsets in radians at `phase` in [0, 1): yaw = a sin(2 pi t), pitch = b cos(2 pi t).

    With a = b the camera circles the face; phase 0 and 1 give the same pose, so a loop is seamless.
    """
    angle = 2.0 * math.pi * phase
    return yaw_amp * math.sin(angle), pitch_amp * math.cos(angle)


def turntable_path(frames: int, yaw_amp: float, pitch_amp: float, yaw0: float = 0.0,
                   pitch0: float = 0.0) -> list[tuple[float, float]]:
    """`frames` (yaw, pitch) pairs of one full loop around (yaw0, pitch0); the last frame is not the first."""
    if frames < 1:
        raise BadInputError(f"turntable: frames must be at least 1, got {frames}")
    if not (math.isfinite(yaw_amp) and math.isfinite(pitch_amp)):
        raise BadInputError("turntable: yaw/pitch amplitudes must be finite numbers")
    path = []
    for i in range(frames):
        dyaw, dpitch = turntable_angles(i / frames, yaw_amp, pitch_amp)
        path.append((yaw0 + dyaw, pitch0 + dpitch))
    return path


def frames_for(seconds: float | None, fps: float, frames: int | None) -> int:
    """Frame count from either an explicit count or a duration at `fps`."""
    if fps <= 0 or not math.isfinite(fps):
        raise BadInputError(f"fps must be a positive number, got {fps}")
    if frames is not None:
        if frames < 1:
            raise BadInputError(f"frames must be at least 1, got {frames}")
        return int(frames)
    if seconds is None or seconds <= 0:
        raise BadInputError("give a positive number of frames or seconds")
    return max(1, int(round(seconds * fps)))
