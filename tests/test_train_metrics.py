"""FID/KID statistics against NumPy/SciPy references, and the user-supplied feature files and extractor."""

import numpy as np
import pytest
import scipy.linalg
import torch

from next3d.errors import BadInputError
from next3d.train.metrics import feature_statistics, frechet_distance, kernel_inception_distance, mmd2_unbiased
from next3d.train.metrics.features import FeatureExtractor, load_real_features, save_real_features


def reference_fid(a, b):
    """FID by the textbook formula with SciPy's matrix square root."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(root)))


def reference_mmd2(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, by explicit loops over pairs."""
    d, m = x.shape[1], x.shape[0]
    k = lambda a, b: (a @ b / d + 1) ** 3
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


@pytest.fixture
def features():
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(12, 12))
    return rng.normal(size=(300, 12)) @ mix, rng.normal(size=(250, 12)) @ mix * 1.3 + 0.4


def test_fid_matches_scipy_reference(features):
    a, b = features
    ours = frechet_distance(*feature_statistics(a), *feature_statistics(b))
    assert ours == pytest.approx(reference_fid(a, b), rel=1e-6)


def test_fid_edge_cases(features):
    a, _ = features
    assert abs(frechet_distance(*feature_statistics(a), *feature_statistics(a))) < 1e-8
    shift = np.linspace(-1, 1, a.shape[1])
    # Same covariance, moved mean: FID is exactly the squared distance of the means.
    assert frechet_distance(*feature_statistics(a + shift), *feature_statistics(a)) == pytest.approx(
        float(np.sum(shift ** 2)), rel=1e-6)
    # Fewer samples than dimensions (singular covariances) still gives a finite, non-negative number.
    rng = np.random.default_rng(1)
    small_a, small_b = rng.normal(size=(5, 12)), rng.normal(size=(6, 12)) + 1
    value = frechet_distance(*feature_statistics(small_a), *feature_statistics(small_b))
    assert np.isfinite(value) and value > 0
    with pytest.raises(ValueError, match="do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_kid_matches_the_unbiased_mmd_reference(features):
    a, b = features
    x, y = a[:20], b[:20]
    assert mmd2_unbiased(x, y) == pytest.approx(reference_mmd2(x, y), rel=1e-9)
    # One subset as large as both sets is the plain unbiased MMD^2 of the sets.
    kid = kernel_inception_distance(y, x, num_subsets=3, subset_size=100)
    assert kid == pytest.approx(reference_mmd2(x, y), rel=1e-9)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(400, 16))
    same = rng.normal(size=(400, 16))
    assert abs(kernel_inception_distance(real, same, num_subsets=20, subset_size=200)) < 0.02
    near = kernel_inception_distance(real, same + 0.3, num_subsets=20, subset_size=200)
    far = kernel_inception_distance(real, same + 1.0, num_subsets=20, subset_size=200)
    assert 0.02 < near < far


def test_real_feature_files_both_forms_and_bad_ones(tmp_path, features):
    a, _ = features
    save_real_features(tmp_path / "real.npz", a)
    stats = load_real_features(tmp_path / "real.npz")
    assert stats.features.shape == a.shape and np.allclose(stats.mu, a.mean(0), atol=1e-5)
    mu, sigma = feature_statistics(a)
    np.savez(tmp_path / "stats.npz", mu=mu, sigma=sigma)
    assert load_real_features(tmp_path / "stats.npz").features is None
    np.savez(tmp_path / "wrong.npz", mean=mu)
    with pytest.raises(BadInputError, match=r"wrong.npz: expected 'features' \(N, D\) or 'mu' and 'sigma'"):
        load_real_features(tmp_path / "wrong.npz")
    np.savez(tmp_path / "objects.npz", features=np.array([{"a": 1}], dtype=object))
    with pytest.raises(BadInputError, match="objects.npz: not a readable .npz"):  # never unpickled
        load_real_features(tmp_path / "objects.npz")
    with pytest.raises(BadInputError, match="no such file"):
        load_real_features(tmp_path / "missing.npz")


class PooledColors(torch.nn.Module):
    """A stand-in 'Inception': 2x2 average colours of uint8 images (12 features)."""

    def forward(self, images: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        pooled = torch.nn.functional.adaptive_avg_pool2d(images.float() / 255, 2)
        return pooled.flatten(1) if return_features else pooled.mean([1, 2, 3])[:, None]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script/save (deprecated in torch 2.13)
def test_extractor_is_a_torchscript_file_called_on_uint8_images(tmp_path):
    torch.jit.script(PooledColors()).save(str(tmp_path / "colors.pt"))
    extractor = FeatureExtractor(tmp_path / "colors.pt", torch.device("cpu"))
    images = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8)
    feats = extractor(images)  # return_features=True is passed because its forward takes it
    assert feats.shape == (3, 12) and feats.dtype == np.float64
    assert np.allclose(feats[:, 0], images[:, 0, :4, :4].float().mean([1, 2]).numpy() / 255, atol=1e-6)
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(BadInputError, match="junk.pt: not a TorchScript file"):
        FeatureExtractor(tmp_path / "junk.pt", torch.device("cpu"))
    torch.jit.script(torch.nn.Flatten(0)).save(str(tmp_path / "flat.pt"))
    with pytest.raises(BadInputError, match=r"flat.pt: must return \(B, D\) features"):
        FeatureExtractor(tmp_path / "flat.pt", torch.device("cpu"))(images)


class PooledColorFeatures(torch.nn.Module):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(images.float() / 255, 2).flatten(1)


def test_extractor_as_a_torch_export_program(tmp_path):
    example = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    program = torch.export.export(PooledColorFeatures(), (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(tmp_path / "colors.pt2"))
    images = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8)
    feats = FeatureExtractor(tmp_path / "colors.pt2", torch.device("cpu"))(images)
    assert np.allclose(feats, PooledColorFeatures()(images).double().numpy())
    (tmp_path / "junk.pt2").write_bytes(b"PK not really")
    with pytest.raises(BadInputError, match="junk.pt2: not a torch.export program"):
        FeatureExtractor(tmp_path / "junk.pt2", torch.device("cpu"))
