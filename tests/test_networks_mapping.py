"""Mapping network: shapes, camera conditioning, truncation with cutoff, w_avg tracking, determinism."""

from __future__ import annotations

import pytest
import torch

from next3d.errors import BadInputError
from next3d.networks.mapping import MappingConfig, MappingNetwork

CFG = MappingConfig(z_dim=16, c_dim=25, w_dim=12, num_ws=6, num_layers=2)


def _net(seed: int = 0, config: MappingConfig = CFG) -> MappingNetwork:
    torch.manual_seed(seed)
    net = MappingNetwork(config)
    with torch.no_grad():
        net.w_avg.copy_(torch.randn(config.w_dim))
    return net


def _inputs(batch: int = 3, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, CFG.z_dim, generator=g), torch.randn(batch, CFG.c_dim, generator=g)


def test_shapes_and_broadcast_rows_are_identical():
    z, c = _inputs()
    ws = _net()(z, c)
    assert ws.shape == (3, 6, 12)
    assert torch.equal(ws[:, 0], ws[:, 5])


def test_same_seed_same_weights_same_ws():
    z, c = _inputs()
    assert torch.equal(_net(7)(z, c), _net(7)(z, c))
    assert not torch.equal(_net(7)(z, c), _net(8)(z, c))


def test_camera_label_changes_w():
    net = _net()
    z, c = _inputs()
    assert not torch.allclose(net(z, c), net(z, c + 0.5))


def test_truncation_psi_zero_gives_w_avg_up_to_cutoff_and_leaves_later_rows():
    net = _net()
    z, c = _inputs()
    free = net(z, c)
    ws = net(z, c, truncation_psi=0.0, truncation_cutoff=4)
    assert torch.allclose(ws[:, :4], net.w_avg.expand(3, 4, -1))
    assert torch.equal(ws[:, 4:], free[:, 4:])
    half = net(z, c, truncation_psi=0.5)
    assert torch.allclose(half, net.w_avg + 0.5 * (free - net.w_avg), atol=1e-6)
    assert torch.equal(net(z, c, truncation_psi=1.0, truncation_cutoff=2), free)


def test_update_emas_moves_w_avg_toward_batch_mean():
    net = _net()
    z, c = _inputs(batch=5)
    before = net.w_avg.clone()
    ws = net(z, c, update_emas=True)
    want = ws[:, 0].mean(0) + CFG.w_avg_beta * (before - ws[:, 0].mean(0))
    torch.testing.assert_close(net.w_avg, want)
    net(z, c)
    torch.testing.assert_close(net.w_avg, want)  # no update without update_emas


def test_label_only_mapping_for_the_discriminator():
    net = MappingNetwork(MappingConfig(z_dim=0, c_dim=25, w_dim=8, num_ws=None, num_layers=8, w_avg_beta=None))
    assert net(None, torch.randn(2, 25)).shape == (2, 8)
    assert "w_avg" not in dict(net.named_buffers())


def test_wrong_z_shape_is_a_one_line_user_error():
    with pytest.raises(BadInputError, match=r"z must be \(B, 16\)"):
        _net()(torch.randn(2, 15), torch.randn(2, 25))
