"""Linear blend skinning for head models: blend shapes, joints, Rodrigues, chained transforms, blend.

Pure batched tensor functions (no loops over the batch or the vertices), differentiable in every input.
"""

from __future__ import annotations

import torch


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: axis-angle vectors (..., 3) in radians -> rotation matrices (..., 3, 3).

    Uses the series expansion near zero, so values and gradients are exact at the identity too.
    """
    theta2 = (axis_angle * axis_angle).sum(-1, keepdim=True)[..., None]  # (..., 1, 1)
    small = theta2 < 1e-8
    theta2_safe = torch.where(small, torch.ones_like(theta2), theta2)
    theta = theta2_safe.sqrt()
    sin_term = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    cos_term = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / theta2_safe)
    x, y, z = axis_angle.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*axis_angle.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + sin_term * skew + cos_term * (skew @ skew)


def blend_shapes(coeffs: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """Offsets (B, V, 3) = sum_k coeffs[:, k] * dirs[:, :, k]; coeffs (B, K), dirs (V, 3, K)."""
    v = dirs.shape[0]
    if dirs.shape[-1] == 0:
        return coeffs.new_zeros(coeffs.shape[0], v, 3)
    return (coeffs @ dirs.reshape(v * 3, -1).T).reshape(-1, v, 3)


def rigid_chain(rotations: torch.Tensor, joints: torch.Tensor, parents: tuple[int, ...]
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Compose joint rotations along the kinematic tree.

    rotations (B, J, 3, 3) are local rotations about each joint's rest position joints (B, J, 3).
    Returns the posed joint positions (B, J, 3) and the skinning transforms (B, J, 3, 4) that map a rest
    position to its posed position for a vertex fully bound to that joint.
    """
    # Parent positions by basic indexing (a Python-list index would be a host-to-device copy: no CUDA graphs).
    parent_joints = torch.stack([joints[:, p] for p in parents[1:]], dim=1)
    rel = torch.cat([joints[:, :1], joints[:, 1:] - parent_joints], dim=1)  # (B, J, 3)
    chain_r: list[torch.Tensor] = []
    chain_t: list[torch.Tensor] = []
    for j, parent in enumerate(parents):  # J = 5 joints: a loop over joints only
        if parent < 0:
            chain_r.append(rotations[:, j])
            chain_t.append(rel[:, j])
        else:
            chain_r.append(chain_r[parent] @ rotations[:, j])
            chain_t.append(chain_t[parent] + (chain_r[parent] @ rel[:, j, :, None])[..., 0])
    world_r = torch.stack(chain_r, 1)  # (B, J, 3, 3)
    posed_joints = torch.stack(chain_t, 1)  # (B, J, 3)
    offset = posed_joints - (world_r @ joints[..., None])[..., 0]
    return posed_joints, torch.cat([world_r, offset[..., None]], dim=-1)


def skin_vertices(vertices: torch.Tensor, transforms: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Blend per-joint transforms (B, J, 3, 4) with weights (V, J) and apply them to vertices (B, V, 3)."""
    b, j = transforms.shape[:2]
    per_vertex = (weights @ transforms.reshape(b, j, 12)).reshape(b, -1, 3, 4)  # (B, V, 3, 4)
    return (per_vertex[..., :3] @ vertices[..., None])[..., 0] + per_vertex[..., 3]
