"""Target strings: the accepted forms parse, every other string is refused with the forms."""

import pytest
import torch

from batchsteps.train import Target, parse_target


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("loss<=0.5", Target("loss", 0.5)),
        (" grad_norm_sq <= 1e-3 ", Target("grad_norm_sq", 1e-3)),
        ("accuracy>=0.9", Target("accuracy", 0.9)),
    ],
)
def test_accepted_forms_parse(text, expected):
    assert parse_target(text) == expected
    assert parse_target(expected.text) == expected


def test_none_means_no_target():
    assert parse_target(None) is None


@pytest.mark.parametrize(
    "text",
    ["loss<0.5", "loss>=0.5", "accuracy<=0.9", "acc>=0.9", "loss<=", "loss<=abc", "loss<=inf", ""],
)
def test_malformed_targets_are_value_errors_showing_the_forms(text):
    with pytest.raises(ValueError, match="accepted forms"):
        parse_target(text)


def test_a_non_string_target_is_a_type_error():
    with pytest.raises(TypeError, match="target"):
        parse_target(0.5)


def test_nan_never_meets_a_target():
    value = torch.tensor([float("nan"), 0.4, 0.6])
    assert parse_target("loss<=0.5").holds(value).tolist() == [False, True, False]
    assert parse_target("accuracy>=0.5").holds(value).tolist() == [False, False, True]
