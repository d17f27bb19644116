"""What defines a synthetic dataset run; a resumed run must match it exactly (same settings -> same bytes)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from next3d.errors import BadInputError

FORMAT = 1
MAX_RESOLUTION = 4096


@dataclass(frozen=True)
class SynthSettings:
    """n images of resolution^2 from `seed`, rendered `batch` at a time at `supersample` x resolution on a
    device of type `device_type`, with head model `head_name` (content hash `head_hash`)."""

    n: int
    resolution: int
    seed: int
    batch: int
    supersample: int
    head_name: str
    head_hash: str
    device_type: str

    def __post_init__(self):
        for name, value, low in (("--n", self.n, 1), ("--res", self.resolution, 4), ("--batch", self.batch, 1),
                                 ("--supersample", self.supersample, 1)):
            if not isinstance(value, int) or value < low:
                raise BadInputError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.resolution > MAX_RESOLUTION:
            raise BadInputError(f"--res {self.resolution} is larger than {MAX_RESOLUTION}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise BadInputError(f"--seed must be a non-negative integer, got {self.seed!r}")

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self)}, sort_keys=True, indent=1)

    @staticmethod
    def from_json(text: str, where: str) -> SynthSettings:
        try:
            doc = json.loads(text)
            if doc.pop("format") != FORMAT:
                raise ValueError("unknown format")
            return SynthSettings(**doc)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BadInputError(f"{where}: not a settings file of `dataset synth` ({exc}); delete the folder") from None

    def differences(self, other: SynthSettings) -> list[str]:
        """Human-readable 'name: ours vs theirs' for every setting that differs."""
        mine, theirs = asdict(self), asdict(other)
        return [f"{k} {mine[k]} (now) vs {theirs[k]} (before)" for k in mine if mine[k] != theirs[k]]
