"""Skinning of the built-in head: jaw, expressions, neck, global pose, batching, gradients, mirroring."""

from __future__ import annotations

import pytest
import torch

from next3d.head import HeadParams, load_default_head
from next3d.head.lbs import axis_angle_to_matrix

FLIP_X = torch.tensor([-1.0, 1.0, 1.0])


@pytest.fixture(scope="module")
def head():
    return load_default_head()


def _pose(head, **fields) -> HeadParams:
    params = HeadParams.neutral(head, batch=next(iter(fields.values())).shape[0] if fields else 1)
    for name, value in fields.items():
        setattr(params, name, value)
    return params


def _lower_lip(head) -> list[int]:
    """Landmarks on the lower lip: the second half of each contour, corners excluded."""
    outer, inner = head.lip_outer.tolist(), head.lip_inner.tolist()
    return outer[len(outer) // 2 + 1:] + inner[len(inner) // 2 + 1:]


def _upper_lip(head) -> list[int]:
    outer, inner = head.lip_outer.tolist(), head.lip_inner.tolist()
    return outer[1:len(outer) // 2] + inner[1:len(inner) // 2]


def test_jaw_rotation_opens_the_mouth(head):
    rest = head(HeadParams.neutral(head)).landmarks[0]
    opened = head(_pose(head, jaw=torch.tensor([[0.3, 0.0, 0.0]]))).landmarks[0]
    drop = (rest - opened)[:, 1]  # metres, positive = moved down
    assert drop[_lower_lip(head)].min() > 0.005  # every lower-lip landmark moves down by more than 5 mm
    assert drop[_lower_lip(head)].max() > 0.015
    assert (opened - rest)[_upper_lip(head)].norm(dim=1).max() < 0.001  # the upper lip stays (< 1 mm)
    names = head.landmark_names
    gap_rest = rest[names.index("lip_inner_02"), 1] - rest[names.index("lip_inner_06"), 1]
    gap_open = opened[names.index("lip_inner_02"), 1] - opened[names.index("lip_inner_06"), 1]
    assert gap_open - gap_rest > 0.015  # the mouth opening grows by more than 1.5 cm


def test_jaw_open_expression_opens_the_mouth(head):
    expression = torch.zeros(1, head.num_expression)
    expression[0, head.expr_names.index("jawOpen")] = 1.0
    rest = head(HeadParams.neutral(head)).landmarks[0]
    opened = head(_pose(head, expression=expression)).landmarks[0]
    drop = (rest - opened)[:, 1]
    assert drop[_lower_lip(head)].min() > 0.01
    # the Face Units' jawOpen also lowers the upper lip a little, far less than the lower one
    assert drop[_upper_lip(head)].max() < 0.5 * drop[_lower_lip(head)].min()


def test_every_expression_moves_only_face_eye_and_mouth_vertices(head):
    units = torch.eye(head.num_expression)  # one batch item per unit, coefficient 1
    moved = head(_pose(head, expression=units)).vertices - head(HeadParams.neutral(head)).vertices
    still = head.region_mask("scalp", "neck", "ear")
    assert still.sum() > 300
    assert moved[:, still].abs().max() == 0  # bit-exact: no unit touches scalp, neck or ears
    per_unit = moved.norm(dim=2).amax(dim=1)
    assert per_unit.min() > 0.001  # and every unit does move something (> 1 mm)
    tongue = head.expr_names.index("tongueOut")
    assert moved[tongue, head.region_mask("tongue")].norm(dim=1).max() > 0.01


def test_neck_rotation_is_rigid_for_the_head_and_turns_it(head):
    rest = head(HeadParams.neutral(head))
    turned = head(_pose(head, neck=torch.tensor([[0.0, 0.5, 0.0]])))
    rigid = head.lbs_weights[:, 0] == 0  # bound only to the neck joint and its children (jaw, eyes)
    assert rigid.sum() > 1000
    order = torch.randperm(int(rigid.sum()), generator=torch.Generator().manual_seed(0))
    pick = torch.nonzero(rigid)[:, 0][order[:400]]
    exact = "donot_use_mm_for_euclid_dist"
    d_rest = torch.cdist(rest.vertices[0, pick], rest.vertices[0, pick], compute_mode=exact)
    d_turned = torch.cdist(turned.vertices[0, pick], turned.vertices[0, pick], compute_mode=exact)
    assert (d_rest - d_turned).abs().max() < 1e-5
    nose = head.landmark_names.index("nose_tip")
    # yaw about +y turns the face toward +x (the subject's left)
    assert turned.landmarks[0, nose, 0] - rest.landmarks[0, nose, 0] > 0.03
    neck_joint = rest.joints[0, 1]
    assert torch.allclose(turned.joints[0, 1], neck_joint, atol=1e-6)


def test_global_rotation_and_translation_move_everything_rigidly(head):
    rotation = torch.tensor([[0.2, -0.4, 0.1]])
    translation = torch.tensor([[0.01, -0.02, 0.03]])
    rest = head(HeadParams.neutral(head))
    posed = head(_pose(head, rotation=rotation, translation=translation))
    root = rest.joints[0, 0]
    expected = (rest.vertices[0] - root) @ axis_angle_to_matrix(rotation[0]).T + root + translation[0]
    assert torch.allclose(posed.vertices[0], expected, atol=1e-6)
    assert torch.allclose(posed.joints[0], (rest.joints[0] - root) @ axis_angle_to_matrix(rotation[0]).T + root
                          + translation[0], atol=1e-6)


def test_a_batch_equals_its_items_one_by_one(head):
    g = torch.Generator().manual_seed(1)
    params = HeadParams.neutral(head, batch=3)
    for name in ("shape", "expression", "jaw", "neck", "eyes", "rotation", "translation"):
        setattr(params, name, torch.rand(getattr(params, name).shape, generator=g) * 0.3)
    batched = head(params)
    for i in range(3):
        single = head(HeadParams.from_vector(params.to_vector()[i], head))
        assert torch.allclose(batched.vertices[i], single.vertices[0], atol=1e-6)
        assert torch.allclose(batched.landmarks[i], single.landmarks[0], atol=1e-6)


def test_gradients_reach_every_parameter_field(head):
    params = HeadParams.neutral(head, batch=2)
    weights = torch.randn(2, head.num_vertices, 3, generator=torch.Generator().manual_seed(2))
    for name in ("shape", "expression", "jaw", "neck", "eyes", "rotation", "translation"):
        getattr(params, name).requires_grad_(True)
    out = head(params)
    ((out.vertices * weights).sum() + out.landmarks.sum()).backward()
    for name in ("shape", "expression", "jaw", "neck", "eyes", "rotation", "translation"):
        grad = getattr(params, name).grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name


def test_rodrigues_matches_finite_differences_at_and_away_from_zero():
    for point in (torch.zeros(1, 3), torch.tensor([[0.3, -0.2, 0.5]])):
        point = point.double().requires_grad_(True)
        assert torch.autograd.gradcheck(axis_angle_to_matrix, (point,), eps=1e-6, atol=1e-6)
    r = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, torch.pi / 2]]))[0]
    assert torch.allclose(r @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)


def test_skinning_gradcheck_in_double_precision(head):
    h = load_default_head().double()  # every call gives a private copy
    g = torch.Generator().manual_seed(3)
    weights = torch.randn(h.num_vertices, 3, generator=g, dtype=torch.float64)
    base = HeadParams.neutral(h)

    units = [h.expr_names.index(n) for n in ("jawOpen", "mouthSmileLeft", "eyeBlinkRight", "browInnerUp")]

    def energy(jaw, neck, some_expressions):
        params = base.clone()
        params.jaw, params.neck = jaw, neck
        params.expression = params.expression.index_put((torch.zeros(4, dtype=torch.long), torch.tensor(units)),
                                                        some_expressions[0])
        return (h(params).vertices[0] * weights).sum()

    inputs = (torch.tensor([[0.2, 0.05, 0.0]], dtype=torch.float64, requires_grad=True),
              torch.tensor([[0.1, -0.3, 0.05]], dtype=torch.float64, requires_grad=True),
              (torch.rand(1, 4, generator=g, dtype=torch.float64) * 0.5).requires_grad_(True))
    assert torch.autograd.gradcheck(energy, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


def test_mirrored_params_give_the_mirrored_head(head):
    """Exact (1e-5 m) for shape, jaw, neck, eyes, rotation, translation: the built-in head's template, shape
    bases, weights and regressor are x-symmetric. The Face Units are hand-made and slightly asymmetric, so
    an expression coefficient of 1 mirrors to within 2.5 mm."""
    mirror = head.vertex_mirror
    g = torch.Generator().manual_seed(4)
    params = HeadParams.neutral(head, batch=4)
    for name in ("shape", "jaw", "neck", "eyes", "rotation", "translation"):
        setattr(params, name, (torch.rand(getattr(params, name).shape, generator=g) - 0.5) * 0.6)
    mirrored = head(params.mirrored(head)).vertices
    expected = head(params).vertices[:, mirror] * FLIP_X
    assert (mirrored - expected).abs().max() < 1e-5
    units = HeadParams.neutral(head, batch=head.num_expression)
    units.expression = torch.eye(head.num_expression)
    error = (head(units.mirrored(head)).vertices - head(units).vertices[:, mirror] * FLIP_X).norm(dim=2).max()
    assert error < 0.0025
    smile_left = head.expr_names.index("mouthSmileLeft")
    assert units.mirrored(head).expression[smile_left, head.expr_names.index("mouthSmileRight")] == 1
    twice = params.mirrored(head).mirrored(head)
    assert torch.equal(twice.to_vector(), params.to_vector())
