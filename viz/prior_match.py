"""Loading a diffusion prior for the GUI and deciding whether it fits the loaded generator.

A prior fits when the generator renders its latent kind at its latent shape. When the prior records the
checkpoint its latents came from (SHA-256) and the loaded model is a file, the hashes are compared too; without
a hash to compare, the match is by latent shape only, and the message says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from next3d.diffusion.latent_codec import LATENT_KINDS


@dataclass(frozen=True)
class PriorFit:
    """Whether sampling with the prior makes sense for the loaded generator, and one line saying why."""

    usable: bool
    message: str


@dataclass(frozen=True)
class GeneratorIdentity:
    """What is known about the loaded generator: its checkpoint spec and, for files, the SHA-256 of the file."""

    spec: str
    sha256: str = ""


def prior_fit(prior_name: str, prior_cfg, generator_shape: tuple[int, int] | None,
              generator: GeneratorIdentity) -> PriorFit:
    """Compare a prior's latent kind, shape and recorded source with the loaded generator."""
    kind, shape = prior_cfg.latent_field, tuple(prior_cfg.latent_shape)
    if kind not in LATENT_KINDS:
        return PriorFit(False, f"{prior_name} models '{kind}' latents, which no generator renders "
                               f"(expected {' or '.join(LATENT_KINDS)})")
    if generator_shape is None or tuple(generator_shape) != shape:
        have = "unknown" if generator_shape is None else f"{generator_shape[0]} x {generator_shape[1]}"
        return PriorFit(False, f"{prior_name} does not fit {Path(generator.spec).name}: it models {kind} latents "
                               f"of shape {shape[0]} x {shape[1]}, this generator's are {have}; load a prior "
                               "trained on this generator's latents")
    recorded = prior_cfg.source.get("generator", {}) if isinstance(prior_cfg.source, dict) else {}
    recorded_sha = str(recorded.get("sha256", "")) if isinstance(recorded, dict) else ""
    shape_text = f"{kind} {shape[0]} x {shape[1]}"
    if recorded_sha and generator.sha256:
        if recorded_sha == generator.sha256:
            return PriorFit(True, f"trained on this generator's latents (checkpoint SHA-256 {recorded_sha[:12]} "
                                  "matches)")
        return PriorFit(True, f"trained on latents of another checkpoint (SHA-256 {recorded_sha[:12]}, this one is "
                              f"{generator.sha256[:12]}); the {shape_text} shape fits, so it samples, but the "
                              "avatars may not look like its training data")
    if isinstance(recorded, dict) and recorded.get("checkpoint") == generator.spec and not generator.sha256:
        return PriorFit(True, f"trained on latents of {generator.spec} (this model)")
    why = "the prior records no checkpoint hash" if not recorded_sha else \
        f"the loaded model {generator.spec} is not a file"
    return PriorFit(True, f"no generator hash to compare ({why}); matched by latent shape only ({shape_text})")


def generator_identity(spec: str) -> GeneratorIdentity:
    """The spec and, when it names a checkpoint file or run folder, the SHA-256 of the resolved file."""
    from next3d.capture.memory_models import MEMORY_PREFIX
    from next3d.capture.render_args import BUILTIN_PREFIX
    from next3d.diffusion.generator_source import file_sha256
    from next3d.io.checkpoint import resolve_checkpoint

    if spec.startswith((BUILTIN_PREFIX, MEMORY_PREFIX)):
        return GeneratorIdentity(spec)
    return GeneratorIdentity(spec, file_sha256(resolve_checkpoint(spec)))
