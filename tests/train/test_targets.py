"""Target strings: the accepted forms parse, every other string is refused with the forms."""

import pytest
import torch

from batchsteps.train import Target, parse_target, parse_targets


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


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("loss<=-1", r"x >= 0 for loss, got 'loss<=-1'"),
        ("grad_norm_sq<=-1e-3", r"x >= 0 for grad_norm_sq, got 'grad_norm_sq<=-1e-3'"),
        ("accuracy>=1.5", r"x in \[0, 1\] for accuracy, got 'accuracy>=1.5'"),
        ("accuracy>=-0.1", r"x in \[0, 1\] for accuracy, got 'accuracy>=-0.1'"),
    ],
)
def test_thresholds_the_measure_can_never_meet_are_refused(text, pattern):
    with pytest.raises(ValueError, match=f"target must be .*{pattern}"):
        parse_target(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("loss<=0", Target("loss", 0.0)), ("accuracy>=1", Target("accuracy", 1.0))],
)
def test_thresholds_at_the_ends_of_the_range_parse(text, expected):
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    ("args", "error", "pattern"),
    [
        (("foo", 1.0), ValueError, r"measure must be one of 'loss', .*got 'foo'"),
        ((3, 1.0), TypeError, r"measure must be one of .*got 3 \(int\)"),
        (("loss", "x"), TypeError, r"threshold must be a finite real number >= 0 .*got 'x'"),
        (("loss", float("nan")), ValueError, r"threshold must be .*got nan"),
        (("loss", -1.0), ValueError, r"threshold must be a finite real number >= 0"),
        (("accuracy", 1.5), ValueError, r"threshold must be a real number in \[0, 1\]"),
        (("loss", True), TypeError, "threshold"),
    ],
)
def test_a_target_built_directly_is_checked_like_a_parsed_one(args, error, pattern):
    with pytest.raises(error, match=pattern):
        Target(*args)


def test_a_target_built_with_an_int_threshold_keeps_a_float_and_parses_back():
    target = Target("loss", 1)
    assert isinstance(target.threshold, float) and parse_target(target.text) == target


@pytest.mark.parametrize(
    ("targets", "error", "pattern"),
    [
        (["loss<=1", 3], TypeError, r"targets\[1\] must be a Target or a str"),
        (["loss<=1", None], ValueError, r"targets\[1\] must be a target: "),
        (["loss<=1", "loss<=-1"], ValueError, r"targets\[1\] must be .*got 'loss<=-1'"),
        (["lossy"], ValueError, r"targets\[0\] must be"),
    ],
)
def test_a_bad_entry_of_a_target_list_is_named_by_its_index(targets, error, pattern):
    with pytest.raises(error, match=pattern):
        parse_targets(targets)
