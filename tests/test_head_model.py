"""The built-in head asset: schema contents, file round trip, stable hash, placement for the EG3D camera."""

from __future__ import annotations

import torch

from next3d.head import HeadModel, HeadParams, default_head_path, load_default_head
from next3d.render.camera import intrinsics, orbit_pose, project

ARKIT_52 = {
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel",
    "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight",
    "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight", "browDownLeft",
    "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff", "cheekSquintLeft",
    "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
}


def test_builtin_asset_is_small_and_complete():
    path = default_head_path()
    assert path.stat().st_size <= 8 * 2**20
    assert (path.parent / "ATTRIBUTION.md").is_file() and (path.parent / "LICENSE-CC0-1.0.md").is_file()
    head = load_default_head()
    assert 4000 <= head.faces.shape[0] <= 10000
    assert set(head.expr_names) == ARKIT_52 and len(head.expr_names) == 52
    assert 5 <= head.num_shape <= 10
    assert head.joint_names == ["global", "neck", "jaw", "eye_left", "eye_right"]
    assert {"face", "scalp", "neck", "ear", "eye_left", "eye_right", "teeth"} <= set(head.region_names)
    assert len(head.lip_outer) >= 8 and len(head.lip_inner) >= 8 and len(head.mouth_corners) == 2
    assert head.uvs.min() >= 0 and head.uvs.max() <= 1
    mask = head.uv_mask
    assert mask.ndim == 2 and 0.05 < mask.mean() < 0.6 and set(mask.unique().tolist()) <= {0.0, 1.0}


def test_uv_mask_covers_face_and_eyes_but_not_scalp_or_neck():
    head = load_default_head()

    def mask_at(region: str) -> torch.Tensor:
        faces = head.face_mask(region)
        uv = head.uvs[head.uv_faces[faces]].mean(1)  # (n, 2) triangle centres, v up
        h, w = head.uv_mask.shape
        rows = ((1 - uv[:, 1]) * h).long().clamp(0, h - 1)
        cols = (uv[:, 0] * w).long().clamp(0, w - 1)
        return head.uv_mask[rows, cols]

    assert mask_at("eye_left").mean() == 1 and mask_at("eye_right").mean() == 1
    assert mask_at("face").mean() > 0.6
    assert mask_at("scalp").mean() < 0.05 and mask_at("neck").mean() < 0.05


def test_save_load_round_trip_keeps_everything_and_the_hash(tmp_path):
    head = load_default_head()
    path = tmp_path / "copy.safetensors"
    head.save(path)
    again = HeadModel.load(path)
    assert again.content_hash() == head.content_hash()
    assert len(head.content_hash()) == 64
    for name, tensor in head.named_buffers():
        assert torch.equal(tensor, dict(again.named_buffers())[name]), name
    assert again.expr_names == head.expr_names and again.landmark_names == head.landmark_names
    assert again.world_scale == head.world_scale
    assert [p.name for p in tmp_path.iterdir()] == ["copy.safetensors"]  # atomic write left no temp file


def test_hash_changes_with_geometry_not_with_provenance():
    head = load_default_head()
    data = head.to_data()
    data.provenance["note"] = "rebuilt"
    assert HeadModel(data).content_hash() == head.content_hash()
    data.v_template = data.v_template.clone()
    data.v_template[0, 0] += 1e-6
    assert HeadModel(data).content_hash() != head.content_hash()


def test_head_fits_the_triplane_box_and_is_framed_like_ffhq():
    head = load_default_head()
    with torch.no_grad():
        out = head(HeadParams.neutral(head))
    world = head.to_world(out.vertices)[0]
    not_neck = ~head.region_mask("neck")
    assert world[not_neck].abs().max() <= 0.475  # skull, face, ears inside [-0.5, 0.5]^3 with a 5 % margin
    uv, _ = project(world[None], orbit_pose(0.0, 0.0), intrinsics(batch=1))
    lm, _ = project(head.to_world(out.landmarks), orbit_pose(0.0, 0.0), intrinsics(batch=1))
    names = head.landmark_names
    eyes = lm[0, [names.index(n) for n in ("eye_left_inner", "eye_left_outer", "eye_right_inner", "eye_right_outer")]]
    assert abs(eyes[:, 0].mean() - 0.5) < 0.01  # centred left-right
    assert 0.40 < eyes[:, 1].mean() < 0.5  # eyes a little above the centre
    face = uv[0, head.region_mask("face")]
    width = face[:, 0].max() - face[:, 0].min()
    assert 0.45 < width < 0.75  # the face fills roughly the central 60 %
    chin, nose = lm[0, names.index("chin")], lm[0, names.index("nose_tip")]
    assert 0.75 < chin[1] < 0.95 and 0.5 < nose[1] < 0.65  # chin well inside the image, nose just below centre
    # the subject's left (+x) appears on the image's right in the frontal view
    assert eyes[:2, 0].mean() > 0.5


def test_default_heads_are_independent_modules():
    """Generators move their head with them (G.to(device)); moving one must not move another's head."""
    first, second = load_default_head(), load_default_head()
    first.to(torch.float64)  # stands in for .to("cuda") on a CPU-only machine
    assert second.v_template.dtype == torch.float32
    assert load_default_head().v_template.dtype == torch.float32
    first.v_template.zero_()
    assert load_default_head().v_template.abs().sum() > 0
    assert load_default_head().content_hash() == second.content_hash()
