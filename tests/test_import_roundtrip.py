"""Importing official-layout pickles: our generator written in the official persistence layout imports back
to a generator that renders bit-identical images; doctored files get a report naming exactly what differs."""

from __future__ import annotations

import pytest
import torch
from test_import_layout import (
    EasyDict,
    Node,
    mesh_values,
    official_triplane,
    to_pickle_objects,
    write_official_pickle,
)
from test_import_official_planes import flame_placed

from next3d.errors import BadInputError
from next3d.head import HeadParams, load_default_head
from next3d.io.generator_file import load_generator, save_generator
from next3d.io.official_import import (
    REASON_FILTER,
    REASON_LABEL_STD,
    REASON_MAPPING,
    REASON_MESH,
    REASON_UNBUILT,
    import_meta,
    import_official_generator,
)
from next3d.networks.generator import Next3DGenerator
from next3d.networks.presets import preset_config
from next3d.render import camera

SR_2X = dict(img_resolution=128, sr_block_channels=(128, 64), sr_upsample_first=False)  # SuperresolutionHybrid2X
TRAINING_ONLY = ("preset", "d_channel_base", "d_channel_max", "d_num_fp16_res", "d_mapping_layers", "disc_c_noise")


@pytest.fixture(scope="module")
def head():
    return flame_placed(load_default_head())


def generator_fields(cfg) -> dict:
    return {k: v for k, v in cfg.to_dict().items() if k not in TRAINING_ONLY}


def label(yaw=0.0):
    return camera.make_label(camera.orbit_pose(torch.tensor([yaw]), torch.tensor([0.1])))


def official_file(tmp_path, G, head=None, name="net.pkl", edit=None, protocol=4, snapshot=False):
    """Write G as G_ema in the official layout (snapshot: plus a random G, a D and the extras); return the path."""
    tree = official_triplane(G.config, "SuperresolutionHybrid2X", head)
    values = dict(G.state_dict())
    if head is not None:
        values.update(mesh_values(head))
    if edit:
        edit(tree, values)
    rng = torch.Generator().manual_seed(7)
    networks = {"G_ema": to_pickle_objects(tree, values, generator=rng)}
    extras = {}
    if snapshot:
        discriminator = Node("DualDiscriminator", params={"weight": (4, 4)})
        other = mesh_values(head) if head is not None else {}
        networks.update(G=to_pickle_objects(tree, other, generator=rng), D=to_pickle_objects(discriminator, {}))
        extras = {"training_set_kwargs": EasyDict(resolution=512), "augment_pipe": None}
    path = tmp_path / name
    write_official_pickle(path, networks, protocol=protocol, extras=extras)
    return path


@pytest.fixture(scope="module")
def next3d_source(head):
    torch.manual_seed(11)
    return Next3DGenerator(preset_config("tiny", official_plane_layout=True, **SR_2X), head).eval()


def test_next3d_round_trip_renders_bit_identical_images(tmp_path, head, next3d_source):
    path = official_file(tmp_path, next3d_source, head)
    G, report = import_official_generator(path, head=head)
    assert report.ok, report.lines()
    assert report.architecture == "next3d" and G.config.official_plane_layout
    assert generator_fields(G.config) == generator_fields(next3d_source.config)
    assert set(report.skipped) == {REASON_MAPPING, REASON_UNBUILT, REASON_LABEL_STD, REASON_MESH, REASON_FILTER}
    assert report.skipped[REASON_FILTER] == ["superresolution.resample_filter"]  # 2X keeps a top-level filter
    assert "mouth_backbone.synthesis.b4.const" in report.skipped[REASON_UNBUILT]
    assert report.classes["superresolution"] == "SuperresolutionHybrid2X"
    assert report.classes["decoder"] == "training_avatar_texture.triplane_next3d.OSGDecoder"
    z = torch.randn(1, 512, generator=torch.Generator().manual_seed(3))
    smile = HeadParams.neutral(head)
    smile.expression[:, head.expr_names.index("jawOpen")] = 0.8
    with torch.no_grad():
        ours = next3d_source(z, label(), smile, c_render=label(0.3), truncation_psi=0.7)
        theirs = G(z, label(), smile, c_render=label(0.3), truncation_psi=0.7)
    assert torch.equal(ours.image, theirs.image) and torch.equal(ours.depth, theirs.depth)
    assert ours.image.abs().amax() > 0


def test_eg3d_round_trip_needs_no_head_and_survives_our_checkpoint(tmp_path):
    torch.manual_seed(12)
    source = Next3DGenerator(preset_config("tiny", architecture="eg3d", **SR_2X), load_default_head()).eval()
    path = official_file(tmp_path, source)
    G, report = import_official_generator(path)
    assert report.ok, report.lines()
    assert report.architecture == "eg3d" and G.is_eg3d and not hasattr(G, "texture_backbone")
    assert G.num_ws == G.backbone.synthesis.num_ws  # EG3D: w rows drive the static tri-plane (and SR) only
    assert report.skipped_keys() == ["dataset_label_std", "superresolution.resample_filter"]
    save_generator(tmp_path / "eg3d.safetensors", G, **import_meta(report))
    reloaded = load_generator(tmp_path / "eg3d.safetensors")
    z = torch.randn(1, 512, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        images = [g(z, label(), HeadParams.neutral(g.head), c_render=label(-0.4)).image for g in (source, G)]
        ws = G.mapping(z, label())
        latent = G.latent_stage(ws)
        smiling = HeadParams.neutral(G.head)
        smiling.expression[:] = 1.0
        planes = G.head_stage(latent, ws, smiling)
    assert torch.equal(images[0], images[1])
    assert reloaded.config == G.config and reloaded.is_eg3d
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in reloaded.state_dict().items())
    assert planes.planes is latent.static_planes  # the head state does not reach an EG3D generator


def test_doctored_pickle_report_lists_exactly_the_removed_renamed_and_reshaped_tensors(tmp_path, head, next3d_source):
    def edit(tree, values):
        decoder_out = tree.modules["decoder"].modules["net"].modules["2"]
        decoder_out.params.pop("bias")  # removed
        torgb = tree.modules["superresolution"].modules["block1"].modules["torgb"]
        torgb.params["weights"] = torgb.params.pop("weight")  # renamed
        values["superresolution.block1.torgb.weights"] = values.pop("superresolution.block1.torgb.weight")
        conv = tree.modules["backbone"].modules["synthesis"].modules["b8"].modules["conv1"]
        conv.params["bias"] = (7,)  # reshaped
        values["backbone.synthesis.b8.conv1.bias"] = torch.zeros(7)

    path = official_file(tmp_path, next3d_source, head, edit=edit)
    G, report = import_official_generator(path, head=head)
    assert G is None and not report.ok
    assert report.missing == ["decoder.net.2.bias (17,)", "superresolution.block1.torgb.weight (3, 64, 1, 1)"]
    assert report.unexpected == ["superresolution.block1.torgb.weights (3, 64, 1, 1)"]
    assert report.misshaped == ["backbone.synthesis.b8.conv1.bias: file (7,) vs model (32,)"]
    assert not report.problems
    assert "MISSING: decoder.net.2.bias (17,)" in report.lines()


def test_mesh_buffers_of_another_topology_are_a_problem(tmp_path, head, next3d_source):
    def edit(tree, values):
        values["faces"] = values["faces"].flip(-1)  # same shape, other winding/topology

    path = official_file(tmp_path, next3d_source, head, edit=edit)
    G, report = import_official_generator(path, head=head)
    assert G is None and not report.missing and not report.unexpected
    assert report.problems == [(f"mesh buffer faces {tuple(head.faces[None].shape)} does not match head model "
                                "'flame-placed' ((7528, 3)): pass the FLAME head this network was trained with")]


def test_which_picks_the_snapshot_network_and_next3d_needs_a_head(tmp_path, head, next3d_source):
    path = official_file(tmp_path, next3d_source, head, protocol=2, snapshot=True)
    G, _ = import_official_generator(path, head=head, which="G")
    assert not torch.equal(G.decoder.net[0].weight, next3d_source.decoder.net[0].weight)  # G holds other weights
    with pytest.raises(BadInputError, match=r"the network is a DualDiscriminator, not an EG3D/Next3D TriPlaneGenerator"):
        import_official_generator(path, head=head, which="D")
    with pytest.raises(BadInputError, match=r"has no 'G_ema_x' network \(it holds: G_ema, G, D\)"):
        import_official_generator(path, head=head, which="G_ema_x")
    with pytest.raises(BadInputError, match="needs the FLAME head model it was trained with"):
        import_official_generator(path)
