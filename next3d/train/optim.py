"""Adam for G and D with StyleGAN2's lazy-regularization correction, and optimizer state as named tensors
(so snapshots hold it in safetensors, keyed by parameter name)."""

from __future__ import annotations

import torch

from next3d.errors import BadInputError
from next3d.train.schedule import lazy_ratio

ADAM_EPS = 1e-8


def lazy_adam(module: torch.nn.Module, lr: float, betas: tuple[float, float],
              reg_interval: int | None) -> torch.optim.Adam:
    """Adam over `module`'s parameters; with a regularization phase every `reg_interval` steps the lr and
    betas are corrected by mb_ratio = interval / (interval + 1) (lr * r, beta ** r)."""
    ratio = lazy_ratio(reg_interval)
    return torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=tuple(b ** ratio for b in betas), eps=ADAM_EPS)


def sanitize_gradients(module: torch.nn.Module) -> None:
    """Replace NaN/Inf in gradients (fp16 overflow) by 0 / +-1e5, as the official training does.

    One flat buffer (the gradients become views of it): two kernels instead of one per parameter.
    """
    params = [p for p in module.parameters() if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.flatten() for p in params])
    torch.nan_to_num(flat, nan=0.0, posinf=1e5, neginf=-1e5, out=flat)
    for param, grad in zip(params, flat.split([p.numel() for p in params])):
        param.grad = grad.view_as(param)


def optimizer_tensors(opt: torch.optim.Optimizer, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Adam state as {'<param name>.<state key>': tensor} (parameters never stepped have no entries)."""
    out: dict[str, torch.Tensor] = {}
    for name, param in module.named_parameters():
        for key, value in opt.state.get(param, {}).items():
            out[f"{name}.{key}"] = value if isinstance(value, torch.Tensor) else torch.tensor(value)
    return out


def load_optimizer_tensors(opt: torch.optim.Optimizer, module: torch.nn.Module, tensors: dict[str, torch.Tensor],
                           where: str) -> None:
    """Inverse of `optimizer_tensors`: restore per-parameter Adam state, naming anything that does not fit."""
    params = dict(module.named_parameters())
    grouped: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name, _, state_key = key.rpartition(".")
        if name not in params:
            raise BadInputError(f"{where}: optimizer state for unknown parameter {name!r}")
        grouped.setdefault(name, {})[state_key] = value
    opt.state.clear()
    for name, state in grouped.items():
        param = params[name]
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state and state[key].shape != param.shape:
                raise BadInputError(f"{where}: optimizer state {name}.{key} has shape {tuple(state[key].shape)}, "
                                    f"parameter is {tuple(param.shape)}")
        opt.state[param] = {k: (v.to(param.device) if k != "step" else v.clone()) for k, v in state.items()}
