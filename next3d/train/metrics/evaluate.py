"""The snapshot metric hook: FID (and KID when real features are available) of G_ema's images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from next3d.errors import BadInputError
from next3d.networks.generator import RenderOptions
from next3d.train.config import MetricsConfig
from next3d.train.data import ConditionPool
from next3d.train.metrics.features import (FeatureExtractor, RealStatistics, load_real_features,
                                           save_real_features)
from next3d.train.metrics.fid import feature_statistics, frechet_distance
from next3d.train.metrics.kid import kernel_inception_distance
from next3d.train.phases import head_state

REAL_FEATURES_FILE = "metrics-real-features.npz"
METRICS_SEED = 123  # latents and conditions of the evaluated images: the same at every snapshot


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images -> uint8 [0, 255] (the extractor's input convention)."""
    return ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


class MetricsHook:
    """Computes FID/KID of a generator against the real statistics (loaded or computed once per run)."""

    def __init__(self, config: MetricsConfig, run_dir: Path, dataset, pool: ConditionPool, device: torch.device):
        self.config, self.run_dir, self.dataset, self.pool, self.device = config, run_dir, dataset, pool, device
        self.extractor = FeatureExtractor(config.extractor, device)
        self._real: RealStatistics | None = None
        if config.real_features is not None:
            self._real = load_real_features(config.real_features)

    def real_statistics(self) -> RealStatistics:
        """The supplied statistics, or features of every dataset image (cached in the run directory)."""
        if self._real is None:
            cache = self.run_dir / REAL_FEATURES_FILE
            if not cache.exists():
                save_real_features(cache, self._dataset_features())
            self._real = load_real_features(cache)
        return self._real

    def _dataset_features(self) -> np.ndarray:
        count = len(self.dataset.index)  # original images (no mirrored copies)
        chunks = []
        for start in range(0, count, self.config.batch):
            images = torch.stack([self.dataset[i].image for i in range(start, min(start + self.config.batch, count))])
            chunks.append(self.extractor(images))
        return np.concatenate(chunks)

    @torch.no_grad()
    def generated_features(self, G) -> np.ndarray:
        generator = torch.Generator().manual_seed(METRICS_SEED)
        chunks, done = [], 0
        while done < self.config.num_samples:
            n = min(self.config.batch, self.config.num_samples - done)
            z = torch.randn(n, G.z_dim, generator=generator).to(self.device)
            index = torch.randint(len(self.pool), (n,), generator=generator).to(self.device)
            c = self.pool.labels[index]
            heads = None if self.pool.heads is None else self.pool.heads[index]
            ws = G.mapping(z, c)
            out = G.synthesis(ws, c, head_state(G, heads, n, self.device), RenderOptions(noise_mode="const"))
            chunks.append(self.extractor(to_uint8(out.image)))
            done += n
        return np.concatenate(chunks)

    def evaluate(self, G) -> dict:
        """{'fid': ..., 'kid': ... (when real features are known), 'num_samples': ...}."""
        real = self.real_statistics()
        fake = self.generated_features(G)
        if fake.shape[1] != real.mu.size:
            raise BadInputError(f"{real.source}: real features have {real.mu.size} dimensions, the extractor gives "
                                f"{fake.shape[1]}")
        mu, sigma = feature_statistics(fake)
        result = {"fid": frechet_distance(mu, sigma, real.mu, real.sigma), "num_samples": int(fake.shape[0])}
        if real.features is not None:
            result["kid"] = kernel_inception_distance(real.features, fake, self.config.kid_subsets,
                                                      self.config.kid_subset_size)
        return result
