"""What `dataset info` reports: counts, resolution, head data, and the camera pose distribution."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from next3d.data.validate import OpenedDataset
from next3d.render.camera import pose_angles

HISTOGRAM_BINS = 9
HISTOGRAM_WIDTH = 40


@dataclass(frozen=True)
class AngleStats:
    """Distribution of one camera angle, in degrees."""

    mean: float
    std: float
    low: float  # 1st percentile
    high: float  # 99th percentile
    edges: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset's facts for humans and scripts."""

    path: str
    storage: str
    entries: int
    listed: int
    skipped: int
    unlisted_images: int
    resolution: int
    head_fields: dict[str, int] | None
    head_model: str | None
    vertex_count: int | None
    yaw: AngleStats
    pitch: AngleStats
    radius: tuple[float, float]
    focal: tuple[float, float]


def summarize(opened: OpenedDataset) -> DatasetSummary:
    """Compute the summary of an opened dataset (no image is decoded)."""
    index = opened.index
    labels = torch.from_numpy(index.labels.astype(np.float32))
    yaw, pitch, radius = pose_angles(labels[:, :16].reshape(-1, 4, 4))
    section = index.head_section
    model = None if section is None else f"{section.model_name or '?'} (hash {section.model_hash or '?'})"
    return DatasetSummary(
        path=str(opened.storage.path), storage="zip" if opened.storage.is_zip else "folder", entries=len(index),
        listed=opened.total_entries, skipped=opened.skipped, unlisted_images=opened.unlisted_images,
        resolution=opened.stored_resolution,
        head_fields=None if section is None else dict(zip(section.fields, section.sizes)), head_model=model,
        vertex_count=opened.vertex_count, yaw=_angle_stats(yaw), pitch=_angle_stats(pitch),
        radius=(float(radius.min()), float(radius.max())),
        focal=(float(labels[:, 16].min()), float(labels[:, 16].max())))


def format_summary(s: DatasetSummary) -> str:
    """Human-readable lines for `dataset info`."""
    lines = [f"{s.path} ({s.storage}): {s.entries} entries, {s.resolution}x{s.resolution} images"]
    if s.skipped:
        lines.append(f"  skipped {s.skipped} bad entries of {s.listed} (see `next3d dataset check`)")
    if s.unlisted_images:
        lines.append(f"  {s.unlisted_images} images in the dataset are not listed in dataset.json (ignored)")
    if s.head_fields:
        fields = ", ".join(f"{k} {v}" for k, v in s.head_fields.items())
        lines.append(f"  head parameters: {fields} for head model {s.head_model}")
    if s.vertex_count:
        lines.append(f"  per-image vertices: {s.vertex_count} per mesh")
    if not s.head_fields and not s.vertex_count:
        lines.append("  no head data (training uses the neutral head or a chosen constant)")
    lines.append(f"  camera radius {s.radius[0]:.3f}..{s.radius[1]:.3f}, focal {s.focal[0]:.4f}..{s.focal[1]:.4f}")
    for name, stats in (("yaw", s.yaw), ("pitch", s.pitch)):
        lines.append(f"  {name}: mean {stats.mean:+.1f} deg, std {stats.std:.1f}, 1-99% {stats.low:+.1f}..{stats.high:+.1f}")
        peak = max(stats.counts) or 1
        for lo, hi, count in zip(stats.edges[:-1], stats.edges[1:], stats.counts):
            bar = "#" * math.ceil(HISTOGRAM_WIDTH * count / peak) if count else ""
            lines.append(f"    {lo:+7.1f}..{hi:+7.1f} {count:7d} {bar}")
    return "\n".join(lines)


def _angle_stats(radians: torch.Tensor) -> AngleStats:
    degrees = np.degrees(radians.double().numpy())
    counts, edges = np.histogram(degrees, bins=HISTOGRAM_BINS)
    return AngleStats(float(degrees.mean()), float(degrees.std()), float(np.percentile(degrees, 1)),
                      float(np.percentile(degrees, 99)), tuple(float(e) for e in edges),
                      tuple(int(c) for c in counts))
