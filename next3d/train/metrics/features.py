"""Feature files and the user's feature extractor.

Real features: an .npz (read with allow_pickle=False) holding `features` (N, D) — FID and KID — or `mu` (D,)
and `sigma` (D, D) — FID only. Extractor: a network file the user provides: a torch.export program (`.pt2`,
torch.export.save; a graph of tensor operations) or a TorchScript module (other suffixes, torch.jit.save; e.g.
the Inception network of the StyleGAN/EG3D metrics). Loading runs the user's own model, so pass only files
you trust. It is called on uint8 images (B, 3, H, W) in [0, 255] (TorchScript: with `return_features=True`
when its forward takes that argument) and must return (B, D) features.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from next3d.errors import BadInputError
from next3d.train.metrics.fid import feature_statistics
from next3d.utils.atomic import atomic_write_bytes


@dataclass
class RealStatistics:
    """Statistics of the real images' features; `features` None when only (mu, sigma) were supplied."""

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray | None
    source: str


def load_real_features(path: str | Path) -> RealStatistics:
    """Read a real-features .npz, naming what is missing or mis-shaped."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInputError(f"--metrics-features {path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise BadInputError(f"{path}: not a readable .npz file ({exc})") from None
    if "features" in arrays:
        features = arrays["features"]
        if features.ndim != 2 or features.shape[0] < 2 or not np.issubdtype(features.dtype, np.number):
            raise BadInputError(f"{path}: 'features' must be a numeric (N >= 2, D) array, got {features.dtype} "
                                f"{features.shape}")
        if not np.isfinite(features).all():
            raise BadInputError(f"{path}: 'features' contains NaN or Inf")
        mu, sigma = feature_statistics(features)
        return RealStatistics(mu, sigma, features.astype(np.float64), str(path))
    if "mu" in arrays and "sigma" in arrays:
        mu, sigma = arrays["mu"].astype(np.float64), arrays["sigma"].astype(np.float64)
        if mu.ndim != 1 or sigma.shape != (mu.size, mu.size):
            raise BadInputError(f"{path}: 'mu' must be (D,) and 'sigma' (D, D), got {mu.shape} and {sigma.shape}")
        return RealStatistics(mu, sigma, None, str(path))
    raise BadInputError(f"{path}: expected 'features' (N, D) or 'mu' and 'sigma'; it holds "
                        f"{', '.join(sorted(arrays)) or 'nothing'}")


def save_real_features(path: Path, features: np.ndarray) -> None:
    """Write (N, D) features as an .npz `features` array, atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, features=np.asarray(features, dtype=np.float32))
    atomic_write_bytes(path, buffer.getvalue())


class FeatureExtractor:
    """The user's TorchScript feature network: uint8 images (B, 3, H, W) -> float64 features (B, D)."""

    def __init__(self, path: str | Path, device: torch.device):
        path = Path(path).expanduser()
        if not path.is_file():
            raise BadInputError(f"--metrics-extractor {path}: no such file")
        exported = path.suffix.lower() == ".pt2"
        kind = "torch.export program (torch.export.save)" if exported else "TorchScript file (torch.jit.save)"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated, still supported
                if exported:
                    self.module = torch.export.load(str(path)).module().to(device)
                else:
                    self.module = torch.jit.load(str(path), map_location=device).eval()
        except (RuntimeError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BadInputError(f"{path}: not a {kind} ({first})") from None
        self.path, self.device = path, device
        schema = getattr(getattr(self.module, "forward", None), "schema", None)
        names = [a.name for a in schema.arguments] if schema is not None else []
        self.kwargs = {"return_features": True} if "return_features" in names else {}

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> np.ndarray:
        try:
            out = self.module(images.to(self.device), **self.kwargs)
        except (RuntimeError, TypeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0]
            raise BadInputError(f"{self.path}: failed on uint8 images {tuple(images.shape)} ({first})") from None
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != images.shape[0]:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise BadInputError(f"{self.path}: must return (B, D) features for {images.shape[0]} images, got {shape}")
        return out.detach().to(torch.float64).cpu().numpy()
