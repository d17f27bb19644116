"""Latent store: bit-exact round trip across shards, atomic shards and resume, statistics, normalization."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from next3d.diffusion.latent_stats import (
    LatentStats,
    compute_field_stats,
    load_stats,
    write_store_stats,
)
from next3d.diffusion.latent_store import (
    FieldSpec,
    LatentStore,
    LatentStoreWriter,
    StoreLayout,
)
from next3d.diffusion.normalization import LatentNormalizer
from next3d.errors import BadInputError


def _data(count: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"wplus": rng.normal(size=(count, 5, 7)).astype(np.float32),
            "style": (rng.normal(size=(count, 3, 4)) * 100).astype(np.float16),
            "image": rng.integers(0, 256, size=(count, 4, 4, 3), dtype=np.uint8),
            "seed": np.arange(count, dtype=np.int64) + 1000}


def _layout(count: int, shard_size: int, **source) -> StoreLayout:
    fields = {"wplus": FieldSpec((5, 7), "float32"), "style": FieldSpec((3, 4), "float16"),
              "image": FieldSpec((4, 4, 3), "uint8"), "seed": FieldSpec((), "int64")}
    return StoreLayout(count, shard_size, fields, ("wplus", "style"), source)


def _write(writer: LatentStoreWriter, data: dict[str, np.ndarray], shards) -> None:
    for shard in shards:
        with writer.open_shard(shard) as arrays:
            for name, values in data.items():
                arrays[name][:] = values[shard.start:shard.stop]


def _files(path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
            and "logs" not in p.parts}


def test_round_trip_is_bit_exact_across_shard_boundaries(tmp_path):
    data = _data(23)
    writer = LatentStoreWriter(tmp_path / "store", _layout(23, 5))
    _write(writer, data, writer.pending_shards())
    store = LatentStore(tmp_path / "store")
    assert len(store) == 23 and store.layout.num_shards == 5
    for name, values in data.items():
        array = store.field(name)
        assert array.dtype == values.dtype
        np.testing.assert_array_equal(array[:], values)
        picks = np.array([22, 0, 4, 5, 5, 17, -1])
        np.testing.assert_array_equal(array.take(picks), values[picks])
        np.testing.assert_array_equal(array[7], values[7])
    with pytest.raises(IndexError):
        store.field("wplus").take(np.array([23]))


def test_failed_shard_leaves_nothing_and_rerun_resumes_to_identical_store(tmp_path):
    data = _data(12)
    layout = _layout(12, 4)
    writer = LatentStoreWriter(tmp_path / "a", layout)
    first, second, third = writer.pending_shards()
    _write(writer, data, [first])
    with pytest.raises(RuntimeError), writer.open_shard(second) as arrays:
        arrays["wplus"][:2] = 1.0
        raise RuntimeError("killed mid-shard")
    assert [s.name for s in LatentStoreWriter(tmp_path / "a", layout).pending_shards()] == [second.name, third.name]
    with pytest.raises(BadInputError, match="incomplete latent store"):
        LatentStore(tmp_path / "a")
    resumed = LatentStoreWriter(tmp_path / "a", layout)
    _write(resumed, data, resumed.pending_shards())

    one_go = LatentStoreWriter(tmp_path / "b", layout)
    _write(one_go, data, one_go.pending_shards())
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_ranks_write_disjoint_shards_that_add_up_to_the_single_process_store(tmp_path):
    data = _data(10)
    layout = _layout(10, 3)
    writer = LatentStoreWriter(tmp_path / "multi", layout)
    rank0, rank1 = writer.pending_shards(0, 2), writer.pending_shards(1, 2)
    assert {s.index for s in rank0} == {0, 2} and {s.index for s in rank1} == {1, 3}
    _write(writer, data, rank1)
    _write(writer, data, rank0)
    single = LatentStoreWriter(tmp_path / "single", layout)
    _write(single, data, single.pending_shards())
    assert _files(tmp_path / "multi") == _files(tmp_path / "single")


def test_reopening_with_other_settings_names_the_difference(tmp_path):
    LatentStoreWriter(tmp_path / "s", _layout(10, 5))
    with pytest.raises(BadInputError, match="shard_size"):
        LatentStoreWriter(tmp_path / "s", _layout(10, 4))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(BadInputError, match="not a latent store"):
        LatentStoreWriter(tmp_path / "other", _layout(10, 5))
    with pytest.raises(BadInputError, match="no index.json"):
        LatentStore(tmp_path / "missing")


def test_streamed_statistics_match_numpy_and_survive_the_file(tmp_path):
    data = _data(23)
    writer = LatentStoreWriter(tmp_path / "s", _layout(23, 5))
    _write(writer, data, writer.pending_shards())
    store = LatentStore(tmp_path / "s")
    streamed = compute_field_stats(store, "wplus", rows_per_chunk=4)  # forces the chunk merge
    exact = LatentStats.of(data["wplus"])
    for name in ("min", "max", "mean", "std"):
        np.testing.assert_allclose(getattr(streamed, name), getattr(exact, name), rtol=1e-12, atol=1e-12)
    write_store_stats(store)
    loaded = load_stats(tmp_path / "s", "style")
    np.testing.assert_array_equal(loaded.max, data["style"].astype(np.float64).max(0))
    assert loaded.count == 23
    with pytest.raises(BadInputError, match="no statistics for 'image'"):
        load_stats(tmp_path / "s", "image")


def test_minmax_normalization_maps_the_range_to_unit_interval_and_back():
    x = np.random.default_rng(1).normal(size=(50, 4, 3)) * 3 + 2
    x[:, 0, 0] = 5.0  # a constant element stays finite
    norm = LatentNormalizer.from_stats(LatentStats.of(x), "minmax")
    t = torch.from_numpy(x).float()
    y = norm.normalize(t)
    assert torch.isfinite(y).all()
    assert torch.allclose(y.amin(0)[1:], torch.tensor(-1.0), atol=1e-5)
    assert torch.allclose(y.amax(0)[1:], torch.tensor(1.0), atol=1e-5)
    assert torch.allclose(norm.unnormalize(y), t, atol=1e-5)
    standard = LatentNormalizer.from_stats(LatentStats.of(x), "meanstd").normalize(t)
    assert torch.allclose(standard[:, 1:].std(0, unbiased=False), torch.tensor(1.0), atol=1e-4)
