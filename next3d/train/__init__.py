"""Headless GAN training of Next3D generators (EG3D's losses and schedule; docs/training.md).

    from next3d.train import TrainConfig, RunOptions, train
    result = train(TrainConfig(data="faces/", generator=preset_config("small")), RunOptions(out="runs/"))

One file per concern: config (settings), losses (the objective), phases (one micro-batch of each phase),
loop (the run), schedule (blur/swap/EMA by images seen), seeding and sampler (determinism), optim, ema,
precision, distributed (torchrun/DDP), snapshot, run_dir, log, stats, grids, metrics/ (FID, KID).
"""

from next3d.train.config import LossConfig, MetricsConfig, RunOptions, TrainConfig
from next3d.train.loop import TrainResult, train

__all__ = ["LossConfig", "MetricsConfig", "RunOptions", "TrainConfig", "TrainResult", "train"]
