"""Optimizer state as flat tensors plus JSON, so it fits a safetensors checkpoint (no pickle)."""

from __future__ import annotations

import torch

from next3d.errors import BadInputError


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """Tensors named "<param index>.<state key>" and the param groups as JSON-ready dicts."""
    state = optimizer.state_dict()
    tensors = {f"{index}.{key}": torch.as_tensor(value) for index, slots in state["state"].items()
               for key, value in slots.items()}
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in group.items()} for group in state["param_groups"]]
    return tensors, groups


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list[dict],
                           where: str) -> None:
    """Inverse of `optimizer_tensors`; raises BadInputError if the state does not fit the optimizer."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        index, _, key = name.partition(".")
        state.setdefault(int(index), {})[key] = value
    groups = [{k: tuple(v) if k == "betas" else v for k, v in group.items()} for group in groups]
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError, RuntimeError) as exc:
        raise BadInputError(f"{where}: optimizer state does not fit the model ({exc})") from None
