"""The noise schedule: diffusers' schedulers with the seed's settings (T = 1000, cosine betas, v-prediction).

Conventions: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0,
snr_t = abar_t / (1 - abar_t). Sampling uses "trailing" timestep spacing so the first step starts at t = T - 1.
"""

from __future__ import annotations

import importlib

import torch

from next3d.errors import Next3DError

NUM_TRAIN_TIMESTEPS = 1000
BETA_SCHEDULE = "squaredcos_cap_v2"  # the cosine schedule (Nichol & Dhariwal), betas capped at 0.999
PREDICTION_TYPE = "v_prediction"
SAMPLERS = ("ddim", "dpmsolver")
LOSS_WEIGHTINGS = ("snr", "uniform")  # "snr": snr / (snr + 1) on the v loss (the seed's), "uniform": 1


def _schedulers_module():
    try:
        return importlib.import_module("diffusers.schedulers")
    except ImportError as exc:
        raise Next3DError("the diffusion prior needs diffusers' schedulers, a dependency of next3d-studio: "
                          f"pip install diffusers ({exc})") from None


def training_scheduler(num_train_timesteps: int = NUM_TRAIN_TIMESTEPS):
    """A DDPMScheduler used for `add_noise`, `get_velocity` and `alphas_cumprod` during training."""
    return _schedulers_module().DDPMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule=BETA_SCHEDULE,
                                              prediction_type=PREDICTION_TYPE, clip_sample=False)


def sampling_scheduler(sampler: str = "ddim", num_train_timesteps: int = NUM_TRAIN_TIMESTEPS):
    """A fresh (stateful) scheduler for one sampling run: "ddim" (with eta) or "dpmsolver" (DPM-Solver++ 2M)."""
    module = _schedulers_module()
    common = {"num_train_timesteps": num_train_timesteps, "beta_schedule": BETA_SCHEDULE,
              "prediction_type": PREDICTION_TYPE, "timestep_spacing": "trailing"}
    if sampler == "ddim":
        return module.DDIMScheduler(clip_sample=False, set_alpha_to_one=True, **common)
    if sampler == "dpmsolver":
        return module.DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2,
                                                  final_sigmas_type="zero", **common)
    raise Next3DError(f"sampler '{sampler}': expected one of {', '.join(SAMPLERS)}")


def loss_weights(alphas_cumprod: torch.Tensor, timesteps: torch.Tensor, weighting: str = "snr") -> torch.Tensor:
    """Per-sample weights (B,) of the v-prediction loss at integer `timesteps` (B,)."""
    if weighting == "uniform":
        return torch.ones(timesteps.shape, device=timesteps.device)
    if weighting == "snr":
        abar = alphas_cumprod.to(timesteps.device)[timesteps].float()
        snr = abar / (1 - abar)
        return snr / (snr + 1)
    raise Next3DError(f"loss weighting '{weighting}': expected one of {', '.join(LOSS_WEIGHTINGS)}")


def x0_from_v(sample: torch.Tensor, v: torch.Tensor, abar: torch.Tensor | float) -> torch.Tensor:
    """The clean estimate x0 = sqrt(abar) x_t - sqrt(1 - abar) v (abar broadcast over the sample)."""
    abar = torch.as_tensor(abar, dtype=sample.dtype, device=sample.device)
    return abar.sqrt() * sample - (1 - abar).sqrt() * v
