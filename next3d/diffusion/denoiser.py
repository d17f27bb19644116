"""The denoiser: a transformer over the latent sequence (L tokens of D numbers) that predicts v.

Each block: adaLN-Zero-modulated self-attention and MLP (timestep embedding -> shift, scale, gate), plus
cross-attention to condition tokens when the prior is conditional. Tokens get a learned positional embedding.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DenoiserConfig:
    """Sizes of the denoiser; `cond_dim` = width of the condition tokens (0: unconditional)."""

    seq_len: int
    token_dim: int
    width: int = 512
    depth: int = 12
    heads: int = 8
    mlp_ratio: float = 4.0
    cond_dim: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> DenoiserConfig:
        return DenoiserConfig(**d)


class Attention(nn.Module):
    """Multi-head attention of `x` (B, N, width) to `context` (B, M, context_dim); self-attention without it."""

    def __init__(self, width: int, heads: int, context_dim: int | None = None):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.heads = heads
        self.to_q = nn.Linear(width, width)
        self.to_kv = nn.Linear(context_dim or width, 2 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        b, n, w = x.shape
        context = x if context is None else context
        q = self.to_q(x).view(b, n, self.heads, -1).transpose(1, 2)
        k, v = self.to_kv(context).view(b, context.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(1, 2).reshape(b, n, w))


class DenoiserBlock(nn.Module):
    """Self-attention, optional cross-attention, MLP; the timestep modulates the self-attention and MLP."""

    def __init__(self, cfg: DenoiserConfig):
        super().__init__()
        w = cfg.width
        self.norm_attn = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(w, cfg.heads)
        self.cross = None
        if cfg.cond_dim:
            self.norm_cross = nn.LayerNorm(w, eps=1e-6)
            self.cross = Attention(w, cfg.heads, context_dim=cfg.cond_dim)
        self.norm_mlp = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        hidden = int(w * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(w, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, w))
        self.modulation = nn.Linear(w, 6 * w)  # -> shift, scale, gate for attention, then for the MLP
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = self.modulation(F.silu(t_emb))[:, None].chunk(6, dim=-1)
        x = x + gate_a * self.attn(self.norm_attn(x) * (1 + scale_a) + shift_a)
        if self.cross is not None:
            x = x + self.cross(self.norm_cross(x), context)
        return x + gate_m * self.mlp(self.norm_mlp(x) * (1 + scale_m) + shift_m)


def timestep_features(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal features (B, dim) of (possibly fractional) timesteps t (B,)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class LatentDenoiser(nn.Module):
    """v-prediction over normalized latents: (x_t (B, L, D), t (B,), context (B, M, cond_dim)) -> v (B, L, D)."""

    def __init__(self, cfg: DenoiserConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.embed = nn.Linear(cfg.token_dim, w)
        self.position = nn.Parameter(torch.randn(1, cfg.seq_len, w))  # unit scale: rows differ in meaning from step 0
        self.time_mlp = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.blocks = nn.ModuleList(DenoiserBlock(cfg) for _ in range(cfg.depth))
        self.norm_out = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.out_modulation = nn.Linear(w, 2 * w)
        self.out = nn.Linear(w, cfg.token_dim)
        for layer in (self.out_modulation, self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if (context is None) != (self.cfg.cond_dim == 0):
            raise ValueError("a conditional denoiser needs condition tokens, an unconditional one takes none")
        t_emb = self.time_mlp(timestep_features(t.expand(x.shape[0]), self.cfg.width))
        h = self.embed(x) + self.position
        for block in self.blocks:
            h = block(h, t_emb, context)
        shift, scale = self.out_modulation(F.silu(t_emb))[:, None].chunk(2, dim=-1)
        return self.out(self.norm_out(h) * (1 + scale) + shift)
