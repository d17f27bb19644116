"""HeadParams: the flat vector layout datasets store, and one clear message per wrong input."""

from __future__ import annotations

import pytest
import torch

from next3d.errors import BadInputError
from next3d.head import HeadParams, load_default_head


@pytest.fixture(scope="module")
def head():
    return load_default_head()


def test_vector_layout_is_shape_expression_then_the_18_pose_numbers(head):
    params = HeadParams.neutral(head, batch=2)
    values = {name: torch.randn(getattr(params, name).shape) for name in
              ("shape", "expression", "jaw", "neck", "eyes", "rotation", "translation")}
    for name, value in values.items():
        setattr(params, name, value)
    vec = params.to_vector()
    s, e = head.num_shape, head.num_expression
    assert vec.shape == (2, s + e + 18)
    assert torch.equal(vec[:, :s], values["shape"])
    assert torch.equal(vec[:, s:s + e], values["expression"])
    assert torch.equal(vec[:, s + e:s + e + 3], values["jaw"])
    assert torch.equal(vec[:, s + e + 6:s + e + 12], values["eyes"])
    assert torch.equal(vec[:, -3:], values["translation"])
    back = HeadParams.from_vector(vec, head)
    assert torch.equal(back.to_vector(), vec)
    assert torch.equal(HeadParams.from_vector(vec[1], head).to_vector(), vec[1:])


def test_neutral_clone_detach_and_to(head):
    params = HeadParams.neutral(head, batch=3)
    assert params.batch_size == 3 and params.to_vector().abs().sum() == 0
    copy = params.clone()
    copy.jaw[0, 0] = 1.0
    assert params.jaw[0, 0] == 0
    assert params.to(dtype=torch.float64).shape.dtype == torch.float64
    grad = params.clone()
    grad.neck.requires_grad_(True)
    assert not grad.detach().neck.requires_grad


def test_wrong_shapes_name_the_field_and_the_expected_shape(head):
    params = HeadParams.neutral(head)
    params.expression = torch.zeros(1, 50)
    with pytest.raises(BadInputError, match=r"head params: expression has shape \(1, 50\), expected \(B, 52\) "
                                            r"for head 'next3d-default'"):
        head(params)
    params = HeadParams.neutral(head)
    params.jaw = torch.zeros(2, 3)
    with pytest.raises(BadInputError, match=r"jaw has batch size 2, expected 1"):
        head(params)
    params = HeadParams.neutral(head)
    params.eyes = torch.zeros(1, 3)
    with pytest.raises(BadInputError, match=r"eyes has shape \(1, 3\), expected \(B, 6\)"):
        params.validate(head)
    with pytest.raises(BadInputError, match=r"expected \(B, 80\) for head 'next3d-default'"):
        HeadParams.from_vector(torch.zeros(2, 79), head)


def test_nan_and_integer_inputs_are_refused(head):
    params = HeadParams.neutral(head)
    params.neck = torch.tensor([[0.0, float("nan"), 0.0]])
    with pytest.raises(BadInputError, match="neck contains NaN or Inf"):
        head(params)
    params = HeadParams.neutral(head)
    params.rotation = torch.zeros(1, 3, dtype=torch.long)
    with pytest.raises(BadInputError, match="rotation has dtype torch.int64, expected floating point"):
        head(params)


def test_expand_repeats_a_single_state_and_leaves_full_batches_alone(head):
    one = HeadParams.neutral(head)
    one.jaw[0, 0] = 0.2
    three = one.expand(3)
    assert three.batch_size == 3 and torch.equal(three.jaw[:, 0], torch.full((3,), 0.2))
    assert three.expand(3) is three
