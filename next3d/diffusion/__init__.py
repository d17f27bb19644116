"""Latent diffusion prior over the generator's latents (W+ rows or StyleSpace tokens).

Data: save_samples -> latent_store (+ latent_stats). Model: denoiser, image_encoder, prior. Noise schedule:
schedule (diffusers). Training: train. Sampling: pipeline (+ guidance). Rendering: latent_codec, style_space.

Python API for applications (the visualizer's Diffusion widget):
    prior = load_prior(run_or_snapshot, device=device)
    codec = LatentCodec(G, prior.cfg.latent_field)
    pipe = LatentDiffusionPipeline(prior, render_fn=codec.render_fn(camera_label, head_params))
    result = pipe(n, steps=50, cfg_scale=3.0, seed=0, guidance=ImageGuidance(target, mask, scale=5.0),
                  callback=lambda progress: not cancelled)
    images = codec.render(result.latents, camera_labels, head_params).image
"""

from next3d.diffusion.guidance import ImageGuidance
from next3d.diffusion.latent_codec import LatentCodec
from next3d.diffusion.pipeline import (
    ImageCondition,
    KnownTokens,
    LatentDiffusionPipeline,
    SampleResult,
    SamplingProgress,
)
from next3d.diffusion.prior import LatentPrior, load_prior

__all__ = ["ImageCondition", "ImageGuidance", "KnownTokens", "LatentCodec", "LatentDiffusionPipeline", "LatentPrior",
           "SampleResult", "SamplingProgress", "load_prior"]
