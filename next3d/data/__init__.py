"""Datasets: the EG3D layout (images + dataset.json camera labels) extended with per-image head data.

    data = HeadDataset("faces.zip", xflip=True)          # validated on open; data[i] -> HeadSample
    loader = DataLoader(data, batch_size=8, collate_fn=collate_samples)   # -> HeadBatch

Writers: `dataset synth` (rendered heads, synth.py) and `dataset pack` (user data, pack.py). Layout and
accepted inputs: docs/datasets.md.
"""

from next3d.data.dataset import HeadDataset
from next3d.data.sample import HeadBatch, HeadSample, collate_samples
from next3d.data.schema import DatasetIndex, EntryProblem, HeadSection
from next3d.data.validate import OpenedDataset, open_dataset

__all__ = [
           "DatasetIndex",
           "EntryProblem",
           "HeadBatch",
           "HeadDataset",
           "HeadSample",
           "HeadSection",
           "OpenedDataset",
           "collate_samples",
           "open_dataset",
]
