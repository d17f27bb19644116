"""What defines a training run (TrainConfig, LossConfig: fixed for the run's life, stored in every snapshot)
and what may change between invocations of the same run (RunOptions: length, output, devices, metrics)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from next3d.errors import BadInputError
from next3d.networks.presets import GeneratorConfig

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
FILTER_MODES = ("antialiased", "classic", "none")


@dataclass(frozen=True)
class LossConfig:
    """EG3D/Next3D losses and lazy regularization (names follow the official loss_kwargs/rendering_kwargs)."""

    r1_gamma: float = 1.0  # R1 weight (Next3D paper: 4); penalty on both D inputs (dual R1)
    r1_interval: int = 16  # lazy R1: every N steps, scaled by N
    density_reg: float = 0.25  # L1 between sigmas of nearby points ('l1' reg_type); 0 disables
    density_reg_interval: int = 4
    density_reg_p_dist: float = 0.004  # std of the point perturbation, world units
    density_reg_points: int = 1000  # random points per sample, uniform in [-1, 1]^3 world (official)
    gpc_reg_prob: float | None = 0.5  # mapping sees another sample's camera with this probability; None: c = 0
    gpc_reg_fade_kimg: float = 1000.0  # swap probability fades from 1 to gpc_reg_prob over this many kimg
    blur_init_sigma: float = 10.0  # D input blur (pixels) at the start, fading to 0
    blur_fade_kimg: float | None = None  # None: batch * 200 / 32 (official)
    filter_mode: str = "antialiased"  # real image -> raw resolution resize (EG3D filtered_resizing)
    noise_mode: str = "random"  # StyleGAN noise while training

    def validate(self) -> None:
        for name in ("r1_gamma", "density_reg", "density_reg_p_dist", "gpc_reg_fade_kimg", "blur_init_sigma"):
            if getattr(self, name) < 0:
                raise BadInputError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        for name in ("r1_interval", "density_reg_interval", "density_reg_points"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise BadInputError(f"{name} must be an integer >= 1, got {value!r}")
        if self.gpc_reg_prob is not None and not 0 <= self.gpc_reg_prob <= 1:
            raise BadInputError(f"gpc_reg_prob must be in [0, 1] (or None), got {self.gpc_reg_prob}")
        if self.blur_fade_kimg is not None and self.blur_fade_kimg < 0:
            raise BadInputError(f"blur_fade_kimg must be >= 0, got {self.blur_fade_kimg}")
        if self.filter_mode not in FILTER_MODES:
            raise BadInputError(f"filter_mode {self.filter_mode!r}: expected one of {', '.join(FILTER_MODES)}")
        if self.noise_mode not in ("random", "const", "none"):
            raise BadInputError(f"noise_mode {self.noise_mode!r}: expected random, const or none")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines the weights a run produces (with the data): kept unchanged on resume."""

    data: str
    generator: GeneratorConfig
    head: str = "builtin"  # 'builtin' or a head model file
    batch: int = 32  # global batch (all processes together)
    batch_gpu: int | None = None  # samples per process per micro-batch; None: batch // gpus at the first launch
    seed: int = 0
    lr_g: float = 0.0025
    lr_d: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    ema_kimg: float | None = None  # G_ema half-life in kimg; None: batch * 10 / 32 (official)
    ema_rampup: float | None = 0.05  # half-life <= rampup * images seen so far; None: no ramp-up
    xflip: bool = False  # also train on mirrored images (cameras and head data mirrored with them)
    precision: str = "auto"  # auto: the networks' fp16 blocks on CUDA, fp32 elsewhere; fp32; fp16; bf16
    loss: LossConfig = field(default_factory=LossConfig)
    init_generator: str | None = None  # a new run's G and G_ema start from this generator file; D starts fresh
    init_discriminator: str | None = None  # ... and D from this file (`export --discriminator`): continue elsewhere
    d_warmup_kimg: float = 0.0  # G is not updated until D has seen this many kimg (fine-tuning with a fresh D)
    d_expression: bool = False  # D's label is the camera + each image's expression and jaw (needs head vectors)
    d_mouth_mask: bool = False  # D also sees where the mouth is open: the inner lip contour, filled (needs head data)

    @property
    def ema_half_life_kimg(self) -> float:
        return self.batch * 10 / 32 if self.ema_kimg is None else self.ema_kimg

    @property
    def blur_fade_kimg(self) -> float:
        return self.batch * 200 / 32 if self.loss.blur_fade_kimg is None else self.loss.blur_fade_kimg

    def micro_batches(self, world_size: int) -> int:
        """Micro-batches each process runs per step (gradient accumulation rounds)."""
        return self.batch // (world_size * self.batch_gpu)

    def validate(self, world_size: int = 1) -> None:
        """Raise BadInputError naming the first bad value (for `world_size` processes)."""
        if not isinstance(self.batch, int) or self.batch < 1:
            raise BadInputError(f"--batch must be a positive integer, got {self.batch!r}")
        if not isinstance(world_size, int) or world_size < 1:
            raise BadInputError(f"--gpus must be a positive integer, got {world_size!r}")
        if self.batch % world_size:
            raise BadInputError(f"--batch {self.batch} is not a multiple of --gpus {world_size}")
        if self.batch_gpu is not None:
            if not isinstance(self.batch_gpu, int) or self.batch_gpu < 1:
                raise BadInputError(f"--batch-gpu must be a positive integer, got {self.batch_gpu!r}")
            if self.batch % (world_size * self.batch_gpu):
                raise BadInputError(f"--batch {self.batch} is not a multiple of --gpus {world_size} x --batch-gpu "
                                    f"{self.batch_gpu}")
            group = min(4, self.batch_gpu)  # the discriminator's minibatch-std group
            if self.batch_gpu % group:
                raise BadInputError(f"--batch-gpu {self.batch_gpu} must be a multiple of the discriminator's "
                                    f"minibatch-std group ({group})")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise BadInputError(f"--seed must be a non-negative integer, got {self.seed!r}")
        for name in ("lr_g", "lr_d"):
            if not getattr(self, name) > 0:
                raise BadInputError(f"--{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        if not self.d_warmup_kimg >= 0:
            raise BadInputError(f"--d-warmup-kimg must be >= 0, got {self.d_warmup_kimg}")
        if self.ema_kimg is not None and self.ema_kimg < 0:
            raise BadInputError(f"ema_kimg must be >= 0, got {self.ema_kimg}")
        if self.precision not in PRECISIONS:
            raise BadInputError(f"--precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")
        self.loss.validate()

    def with_batch_gpu(self, world_size: int) -> TrainConfig:
        """This config with batch_gpu fixed (default: the whole per-process share in one micro-batch)."""
        self.validate(world_size)
        return self if self.batch_gpu is not None else self.replace(batch_gpu=self.batch // world_size)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-ready dict (the generator config nested as GeneratorConfig.to_dict())."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["generator"] = self.generator.to_dict()
        out["betas"] = list(self.betas)
        out["loss"] = dataclasses.asdict(self.loss)
        return out

    @classmethod
    def from_dict(cls, data: dict, where: str = "train config") -> TrainConfig:
        """Inverse of `to_dict`, naming unknown keys."""
        data = dict(data)
        _check_keys(cls, data, where)
        _check_keys(LossConfig, data.get("loss", {}), f"{where}: loss")
        data["generator"] = GeneratorConfig.from_dict(data["generator"], where=f"{where}: generator")
        data["loss"] = LossConfig(**data.get("loss", {}))
        if "betas" in data:
            data["betas"] = tuple(data["betas"])
        return cls(**data)


@dataclass(frozen=True)
class MetricsConfig:
    """FID/KID at each snapshot, from Inception features the user supplies (nothing is downloaded)."""

    extractor: str | None = None  # TorchScript feature extractor file (runs the user's own model code)
    real_features: str | None = None  # .npz with 'features' (N, D) or 'mu' (D,) + 'sigma' (D, D)
    num_samples: int = 10000  # generated images per evaluation
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    batch: int = 32

    @property
    def enabled(self) -> bool:
        return self.extractor is not None


@dataclass(frozen=True)
class RunOptions:
    """How this invocation runs (may differ between invocations of one run without changing its weights)."""

    out: str  # parent folder of run directories
    run_name: str | None = None  # default: <5-digit id>-<preset>-<dataset name>
    resume: str | None = None  # None: new run; 'auto': latest snapshot of the latest run (else new); or a path
    kimg: float = 100.0  # train until this many thousand real images have been shown
    snap_kimg: float = 4.0  # snapshot (weights + grid + metrics) interval
    keep_snapshots: int | None = None  # delete all but the newest N snapshot files (None: keep all)
    tick_kimg: float = 1.0  # log/progress interval
    gpus: int = 1  # processes (one per GPU; CPU processes with --device cpu)
    device: str = "auto"
    workers: int = 2  # data loader processes per training process
    max_minutes: float | None = None  # stop cleanly (with a snapshot) after this long
    grid_seeds: int = 4  # grid rows of fixed seeds
    grid_views: int = 5  # grid columns (yaw views); the expression row has as many columns
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    progress: bool = True

    def validate(self) -> None:
        for name in ("kimg", "snap_kimg", "tick_kimg"):
            if not getattr(self, name) > 0:
                raise BadInputError(f"--{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        if not isinstance(self.gpus, int) or self.gpus < 1:
            raise BadInputError(f"--gpus must be a positive integer, got {self.gpus!r}")
        if not isinstance(self.workers, int) or self.workers < 0:
            raise BadInputError(f"--workers must be a non-negative integer, got {self.workers!r}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise BadInputError(f"--max-minutes must be > 0, got {self.max_minutes}")
        if self.keep_snapshots is not None and self.keep_snapshots < 1:
            raise BadInputError(f"--keep-snapshots must be >= 1, got {self.keep_snapshots}")
        if self.grid_seeds < 1 or self.grid_views < 1:
            raise BadInputError("grid_seeds and grid_views must be >= 1")
        m = self.metrics
        if m.enabled and (m.num_samples < 2 or m.kid_subsets < 1 or m.kid_subset_size < 2 or m.batch < 1):
            raise BadInputError("--metrics-samples must be >= 2 (and KID subsets/size, batch positive)")
        if m.real_features is not None and not m.enabled:
            raise BadInputError("--metrics-features needs --metrics-extractor (the features of generated images "
                                "must come from the same network)")

    def replace(self, **changes) -> RunOptions:
        return dataclasses.replace(self, **changes)


def _check_keys(cls, data: dict, where: str) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise BadInputError(f"{where}: unknown settings {', '.join(unknown)} (written by a newer version?)")
