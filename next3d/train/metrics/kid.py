"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel
k(x, y) = (x.y / D + 1)^3, averaged over random subsets."""

from __future__ import annotations

import numpy as np


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(x y^T / D + 1)^3 for (n, D) and (m, D) features."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between equal-size samples (m, D): off-diagonal means of k(x,x) and k(y,y) minus 2 mean k(x,y)."""
    m = x.shape[0]
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    off_diagonal = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(off_diagonal - 2.0 * kxy.mean())


def kernel_inception_distance(real: np.ndarray, fake: np.ndarray, num_subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> float:
    """Mean unbiased MMD^2 over `num_subsets` random subsets of m = min(subset_size, N_real, N_fake) rows each."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sets must be (N, D) with one D, got {real.shape} and {fake.shape}")
    m = min(subset_size, real.shape[0], fake.shape[0])
    if m < 2:
        raise ValueError("KID needs at least 2 features per set")
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(num_subsets):
        x = fake[rng.choice(fake.shape[0], m, replace=False)]
        y = real[rng.choice(real.shape[0], m, replace=False)]
        total += mmd2_unbiased(x, y)
    return total / num_subsets
