"""FID and KID of generated images against real ones, from Inception features the user supplies.

Nothing can be downloaded here, so the feature extractor is the user's own TorchScript file
(`--metrics-extractor`) and the real statistics either come with it (`--metrics-features`) or are computed
from the training data once per run.
"""

from next3d.train.metrics.fid import feature_statistics, frechet_distance
from next3d.train.metrics.kid import kernel_inception_distance, mmd2_unbiased

__all__ = ["feature_statistics", "frechet_distance", "kernel_inception_distance", "mmd2_unbiased"]
