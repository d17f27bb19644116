"""Which generator the latents belong to: a checkpoint (file, run directory, "builtin:...") or a randomly
initialised preset (for tests and demos), with a JSON description stored beside the latents."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from next3d.capture.render_args import BUILTIN_PREFIX
from next3d.errors import BadInputError
from next3d.utils.hashing import file_sha256


@dataclass(frozen=True)
class GeneratorSource:
    """Exactly one of `checkpoint` or `preset` (random weights drawn with `init_seed`)."""

    checkpoint: str | None = None
    preset: str | None = None
    init_seed: int = 0

    def __post_init__(self):
        if (self.checkpoint is None) == (self.preset is None):
            raise BadInputError("give a generator: --ckpt PATH, or --preset NAME --random-init (random weights)")

    def load(self, device: torch.device | str = "cpu"):
        """The generator in eval mode without gradients on `device`."""
        if self.preset is not None:
            from next3d.head import load_default_head
            from next3d.networks.generator import Next3DGenerator
            from next3d.networks.presets import preset_config

            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.init_seed)
                G = Next3DGenerator(preset_config(self.preset), load_default_head())
        elif self.checkpoint.startswith(BUILTIN_PREFIX):
            from next3d.capture.renderer import load_model

            G = load_model(self.checkpoint, torch.device("cpu")).generator
        else:
            from next3d.io.checkpoint import read_meta, resolve_checkpoint
            from next3d.io.generator_file import load_generator

            path = resolve_checkpoint(self.checkpoint)
            if read_meta(path).get("kind") == "prior":
                raise BadInputError(f"{path}: a diffusion prior, not a generator (give the generator with --ckpt)")
            G = load_generator(path)
        return G.eval().requires_grad_(False).to(device)

    def describe(self) -> dict:
        """JSON identifying the generator: a checkpoint's resolved path and SHA-256, or the preset and seed."""
        if self.preset is not None:
            return {"preset": self.preset, "random_init": True, "init_seed": self.init_seed}
        if self.checkpoint.startswith(BUILTIN_PREFIX):
            return {"checkpoint": self.checkpoint}
        from next3d.io.checkpoint import resolve_checkpoint

        path = resolve_checkpoint(self.checkpoint)
        return {"checkpoint": str(path.resolve()), "sha256": file_sha256(path)}


def same_generator(a: dict, b: dict) -> bool:
    """Whether two descriptions name the same weights (checkpoints compare by content hash)."""
    if "sha256" in a and "sha256" in b:
        return a["sha256"] == b["sha256"]
    return a == b
