"""The two records between a user interface and the renderer: `RenderArgs` in, `RenderResult` out.

`RenderArgs` holds every value a frame depends on as plain comparable values, so "did anything change?" is
`args != last_args`, and it pickles cheaply to a worker process. Angles are radians unless named `_deg`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import numpy as np

from next3d.render.camera import DEFAULT_FOV_DEG, DEFAULT_PIVOT, DEFAULT_RADIUS

BUILTIN_PREFIX = "builtin:"
BUILTIN_TINY = "builtin:tiny-random"  # a randomly initialised tiny-preset generator (labelled as such)
RENDER_TYPES = ("image", "raw", "depth", "alpha", "texture", "planes")
PRECISIONS = ("fp32", "fast", "fastest")  # inference modes (next3d/networks/inference.py)
# Head parameters carried by RenderArgs: field -> fixed width (None: set by the head model).
HEAD_FIELDS = {"shape": None, "expression": None, "jaw": 3, "neck": 3, "eyes": 6, "rotation": 3, "translation": 3}


@dataclass(frozen=True)
class RenderArgs:
    """Everything one frame depends on."""

    checkpoint: str = BUILTIN_TINY      # a .safetensors file, a training run directory, or "builtin:..."
    device: str = "auto"
    # Latent: a position on the seed grid (seed = x + 100 y); fractions blend the neighbouring seeds in w.
    latent_x: float = 0.0
    latent_y: float = 0.0
    latent_file: str = ""               # .npz holding 'w' (num_ws, w_dim) or 'z' (z_dim): replaces the seeds
    psi: float = 0.7                    # truncation
    cutoff: int | None = None           # truncate only the first `cutoff` w rows (None: all)
    mix_seed: int | None = None         # style mixing: rows [mix_start, mix_stop) come from this seed
    mix_start: int = 0
    mix_stop: int = 0
    # Rendering camera (orbit about the world origin, looking at `pivot`).
    yaw: float = 0.0
    pitch: float = 0.0
    radius: float = DEFAULT_RADIUS
    roll: float = 0.0
    fov_deg: float = DEFAULT_FOV_DEG
    pivot: tuple[float, float, float] = DEFAULT_PIVOT
    # Conditioning camera of the mapping network; None = the rendering camera.
    cond_yaw: float | None = 0.0
    cond_pitch: float = 0.0
    # Head state; missing trailing values are zero, so () is the neutral head.
    shape: tuple[float, ...] = ()
    expression: tuple[float, ...] = ()
    jaw: tuple[float, ...] = (0.0, 0.0, 0.0)
    neck: tuple[float, ...] = (0.0, 0.0, 0.0)
    eyes: tuple[float, ...] = (0.0,) * 6   # left eye then right eye, axis-angle each
    rotation: tuple[float, ...] = (0.0, 0.0, 0.0)     # global head rotation (axis-angle)
    translation: tuple[float, ...] = (0.0, 0.0, 0.0)  # head model units
    # What to show and how to compute it.
    render_type: str = "image"
    show_mesh: bool = False
    show_landmarks: bool = False
    neural_res: int | None = None       # None: the model's default neural rendering resolution
    depth_mult: float = 1.0             # multiplies the stratified samples per ray
    depth_importance_mult: float = 1.0  # multiplies the importance samples per ray
    precision: str = "fp32"             # "fp32" reference; "fast": CUDA graphs, Triton kernels, TF32 (GPU);
                                        # "fastest": also compiled, fp16 (minutes of compiling first)
    stage_cache: bool = True

    def with_(self, **changes) -> "RenderArgs":
        """A copy with `changes` applied (unknown names raise TypeError)."""
        return replace(self, **changes)

    def check(self) -> None:
        """Raise BadInputError naming the first value that cannot be rendered."""
        from next3d.errors import BadInputError

        if self.render_type not in RENDER_TYPES:
            raise BadInputError(f"render type {self.render_type!r}: expected one of {', '.join(RENDER_TYPES)}")
        if self.precision not in PRECISIONS:
            raise BadInputError(f"precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")
        for name in ("latent_x", "latent_y", "psi", "yaw", "pitch", "radius", "roll", "fov_deg",
                     "cond_pitch", "depth_mult", "depth_importance_mult"):
            if not math.isfinite(getattr(self, name)):
                raise BadInputError(f"{name} must be a finite number, got {getattr(self, name)}")
        if self.radius <= 0:
            raise BadInputError(f"camera radius must be positive, got {self.radius}")
        if not 0 < self.fov_deg < 180:
            raise BadInputError(f"fov must be between 0 and 180 degrees, got {self.fov_deg}")
        if self.depth_mult <= 0 or self.depth_importance_mult < 0:
            raise BadInputError("depth-sample multipliers must be positive")
        if self.neural_res is not None and not 8 <= self.neural_res <= 1024:
            raise BadInputError(f"neural rendering resolution {self.neural_res}: expected 8..1024")
        for name, width in HEAD_FIELDS.items():
            values = getattr(self, name)
            if width is not None and len(values) != width:
                raise BadInputError(f"head {name}: expected {width} numbers, got {len(values)}")
            if not all(math.isfinite(v) for v in values):
                raise BadInputError(f"head {name}: contains NaN or Inf")

    def head_values(self) -> dict[str, tuple[float, ...]]:
        return {name: getattr(self, name) for name in HEAD_FIELDS}


@dataclass(frozen=True)
class ModelFacts:
    """What the GUI needs to know about the loaded model (plain values, picklable)."""

    checkpoint: str
    description: str                     # one line for the canvas / checkpoint widget
    preset: str = ""
    random_weights: bool = False
    num_ws: int = 0
    z_dim: int = 0
    w_dim: int = 0
    img_resolution: int = 0
    neural_res: int = 0
    head_name: str = ""
    head_hash: str = ""
    expression_names: tuple[str, ...] = ()  # one per expression coefficient ("pca 3" when unnamed)
    expressions_named: bool = False         # True: blendshape weights (0..1); False: PCA coefficients
    num_shape: int = 0
    shape_names: tuple[str, ...] = ()


@dataclass
class RenderResult:
    """One rendered frame (or the error that prevented it), stamped with the request it answers."""

    stamp: int = 0
    args: RenderArgs | None = None
    image: np.ndarray | None = None      # (H, W, 3) uint8
    error: str = ""                      # one line; empty when the frame rendered
    model: ModelFacts | None = None
    total_ms: float = 0.0
    load_ms: float = 0.0
    mapping_ms: float = 0.0
    synthesis_ms: float = 0.0
    display_ms: float = 0.0              # turning tensors into the picture (colour maps, overlays)
    stage_ms: dict[str, float] = field(default_factory=dict)
    stages_ran: tuple[str, ...] = ()


def args_fields() -> tuple[str, ...]:
    return tuple(f.name for f in fields(RenderArgs))
