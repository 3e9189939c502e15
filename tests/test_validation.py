"""batchsteps.validation: each check returns the converted value, raises TypeError for a wrong
type and ValueError for a wrong value, with a message naming the argument, what is allowed and
the value."""

import functools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batchsteps import validation as v


def test_shown_is_one_short_line():
    assert v.shown(-1.0) == "-1.0"
    assert v.shown("adam") == "'adam'"
    long = v.shown(list(range(100)))
    assert len(long) < 60 and "..." in long
    frame = v.shown(pd.DataFrame({"a": range(50)}))
    assert "\n" not in frame and len(frame) <= 90


def test_errors_in_the_house_format():
    error = v.value_error("lr", -1.0, "a real number > 0")
    assert isinstance(error, ValueError)
    assert str(error) == "lr must be a real number > 0, got -1.0"
    error = v.type_error("lr", "0.1", "a real number > 0")
    assert isinstance(error, TypeError)
    assert str(error) == "lr must be a real number > 0, got '0.1' (str)"


@pytest.mark.parametrize(
    ("bounds", "text"),
    [
        ({}, ""),
        ({"low": 0, "low_open": True}, "> 0"),
        ({"low": 1}, ">= 1"),
        ({"high": 1, "high_open": True}, "< 1"),
        ({"high": 2.5}, "<= 2.5"),
        ({"low": 0, "high": 1, "high_open": True}, "in [0, 1)"),
        ({"low": 0, "high": 1, "low_open": True}, "in (0, 1]"),
    ],
)
def test_interval_in_words(bounds, text):
    assert v.interval(**bounds) == text


def test_real_accepts_python_and_numpy_numbers():
    assert v.real("x", 3) == 3.0 and isinstance(v.real("x", 3), float)
    assert v.real("x", np.float32(0.5)) == 0.5
    assert v.real("x", np.int64(2), low=0, high=2) == 2.0
    assert v.real("x", math.inf, finite=False) == math.inf
    assert v.real("x", 0.0, low=0) == 0.0


@pytest.mark.parametrize("value", [True, np.bool_(False), "1", None, [1.0], 1j])
def test_real_rejects_non_numbers_with_type_error(value):
    with pytest.raises(TypeError, match=r"^x must be a finite real number, got .* \(\w+\)$"):
        v.real("x", value)


UNIT_HALF_OPEN = {"low": 0, "high": 1, "high_open": True}


@pytest.mark.parametrize(
    ("value", "bounds", "message"),
    [
        (-1.0, {"low": 0, "low_open": True}, "lr must be a finite real number > 0, got -1.0"),
        (0, {"low": 0, "low_open": True}, "lr must be a finite real number > 0, got 0"),
        (math.inf, {"low": 0}, "lr must be a finite real number >= 0, got inf"),
        (math.nan, {}, "lr must be a finite real number, got nan"),
        (1.0, UNIT_HALF_OPEN, "lr must be a real number in [0, 1), got 1.0"),
        (2, {"high": 1}, "lr must be a finite real number <= 1, got 2"),
        (-math.inf, {"low": 0, "finite": False}, "lr must be a real number >= 0, got -inf"),
    ],
)  # fmt: skip
def test_real_rejects_values_outside_with_value_error(value, bounds, message):
    with pytest.raises(ValueError) as caught:
        v.real("lr", value, **bounds)
    assert str(caught.value) == message


def test_positive():
    assert v.positive("lr", 0.1) == 0.1
    assert v.positive("lr", math.inf, finite=False) == math.inf
    with pytest.raises(ValueError, match=r"^lr must be a finite real number > 0, got 0\.0$"):
        v.positive("lr", 0.0)
    with pytest.raises(ValueError, match=r"lr must be a finite real number > 0, got inf"):
        v.positive("lr", math.inf)
    with pytest.raises(TypeError, match=r"lr must be a finite real number > 0, got True \(bool\)"):
        v.positive("lr", True)


def test_probability():
    assert v.probability("p", 0) == 0.0 and v.probability("p", 1) == 1.0
    assert v.probability("level", 0.95, low_open=True, high_open=True) == 0.95
    with pytest.raises(ValueError, match=r"^level must be a real number in \(0, 1\), got 1\.0$"):
        v.probability("level", 1.0, low_open=True, high_open=True)
    with pytest.raises(ValueError, match=r"^beta must be a real number in \[0, 1\), got -0\.1$"):
        v.probability("beta", -0.1, high_open=True)
    with pytest.raises(
        TypeError, match=r"^p must be a real number in \[0, 1\], got '0\.5' \(str\)$"
    ):
        v.probability("p", "0.5")


def test_integer():
    assert v.integer("n", 3) == 3 and type(v.integer("n", np.int32(3))) is int
    assert v.integer("n", 1, low=1, high=1) == 1
    with pytest.raises(ValueError, match=r"^n must be an integer >= 1, got 0$"):
        v.integer("n", 0, low=1)
    with pytest.raises(ValueError, match=r"^n must be an integer in \[1, 4\], got 5$"):
        v.integer("n", 5, low=1, high=4)
    with pytest.raises(ValueError, match=r"^n must be an integer <= 4, got 5$"):
        v.integer("n", 5, high=4)
    for wrong in (True, 2.0, "2", None):
        with pytest.raises(TypeError, match=r"^n must be an integer >= 1, got .* \(\w+\)$"):
            v.integer("n", wrong, low=1)


def test_boolean():
    assert v.boolean("flag", True) is True and v.boolean("flag", np.bool_(False)) is False
    with pytest.raises(TypeError, match=r"^flag must be True or False, got 1 \(int\)$"):
        v.boolean("flag", 1)


def test_string():
    assert v.string("s", "") == "" and v.string("s", "a", nonempty=True) == "a"
    with pytest.raises(TypeError, match=r"^s must be a str, got 3 \(int\)$"):
        v.string("s", 3)
    with pytest.raises(ValueError, match=r"^s must be a non-empty str, got ''$"):
        v.string("s", "", nonempty=True)


def test_one_of():
    assert v.one_of("noise", "lognormal", ("lognormal", "gamma")) == "lognormal"
    assert v.one_of("k", 2, [1, 2]) == 2
    with pytest.raises(ValueError, match=r"^noise must be one of 'lognormal', 'gamma', got 'x'$"):
        v.one_of("noise", "x", ("lognormal", "gamma"))
    with pytest.raises(
        TypeError, match=r"^noise must be one of 'lognormal', 'gamma', got 3 \(int\)$"
    ):
        v.one_of("noise", 3, ("lognormal", "gamma"))
    with pytest.raises(ValueError, match=r"^k must be one of 1, 2, got 3$"):
        v.one_of("k", 3, [1, 2])
    message = r"^name must be an optimizer with a house style: one of 'sgd', got 'newton'$"
    with pytest.raises(ValueError, match=message):
        v.one_of("name", "newton", ["sgd"], "an optimizer with a house style")


def test_instance():
    assert v.instance("p", Path("a"), Path) == Path("a")
    with pytest.raises(TypeError, match=r"^p must be a Path, got 'a' \(str\)$"):
        v.instance("p", "a", Path)
    with pytest.raises(TypeError, match=r"^p must be an int or a float, got 'a' \(str\)$"):
        v.instance("p", "a", (int, float))
    with pytest.raises(TypeError, match=r"^fit must be a Fit \(see fit_steps\), got None"):
        v.instance("fit", None, Path, "a Fit (see fit_steps)")


def test_attributes():
    frame = pd.DataFrame({"a": [1]})
    assert v.attributes("t", frame, ("columns", "index"), "a table") is frame
    with pytest.raises(TypeError, match=r"^t must be a table, got 3 \(int\)$"):
        v.attributes("t", 3, ("columns",), "a table")


def test_real_with_a_note():
    with pytest.raises(
        ValueError, match=r"^sigma must be a real number in \(0, inf\) \(noise\), got nan$"
    ):
        v.real("sigma", math.nan, low=0, high=math.inf, low_open=True, high_open=True, note="noise")


def test_keys():
    values = {"L": 1.0, "sigma": 2.0}
    assert v.keys("values", values, ("L", "sigma", "alpha")) is values
    assert v.keys("values", values, ("L", "sigma"), required=True) is values
    message = r"^the sgd bound's parameters must be among L, sigma, got beta=0\.9$"
    with pytest.raises(ValueError, match=message):
        v.keys("the sgd bound's parameters", {"beta": 0.9}, ("L", "sigma"))
    with pytest.raises(ValueError, match=r"among L \(alpha is tuned\), got alpha=1"):
        v.keys("p", {"alpha": 1}, ("L",), note=lambda key: f" ({key} is tuned)")
    with pytest.raises(ValueError, match=r"^p must include every one of L, sigma, lacks sigma$"):
        v.keys("p", {"L": 1}, ("L", "sigma"), required=True)


def test_sequence_of():
    item = functools.partial(v.integer, low=1)
    assert v.sequence_of("b", (1, 2), item) == [1, 2]
    assert v.sequence_of("b", np.array([4, 8]), item) == [4, 8]
    assert v.sequence_of("b", [], item, min_size=0) == []
    with pytest.raises(ValueError, match=r"^b\[1\] must be an integer >= 1, got 0$"):
        v.sequence_of("b", [1, 0], item)
    with pytest.raises(TypeError, match=r"^b\[0\] must be an integer >= 1, got 1\.5 \(float\)$"):
        v.sequence_of("b", [1.5], item)
    with pytest.raises(
        TypeError, match=r"^b must be a sequence \(list, tuple or array\), got '12'"
    ):
        v.sequence_of("b", "12", item)
    with pytest.raises(TypeError, match=r"^b must be a sequence .*, got 4 \(int\)$"):
        v.sequence_of("b", 4, item)
    with pytest.raises(
        ValueError, match=r"^b must be a sequence of at least 3 entries, got \[1, 2\]$"
    ):
        v.sequence_of("b", [1, 2], item, min_size=3)
    with pytest.raises(
        ValueError,
        match=r"^b must be a sequence of distinct entries \(2 is given twice\), got \[2, 2\]$",
    ):
        v.sequence_of("b", [2, 2], item, distinct=True)


def test_mapping_of():
    assert v.mapping_of("m", {"a": 1}) == {"a": 1}
    assert v.mapping_of("m", {}, nonempty=False) == {}
    checked = v.mapping_of("m", {"a": 2}, functools.partial(v.integer, low=1))
    assert checked == {"a": 2}
    with pytest.raises(TypeError, match=r"^m must be a mapping name -> int, got \[1\] \(list\)$"):
        v.mapping_of("m", [1], what="a mapping name -> int")
    with pytest.raises(ValueError, match=r"^m must be a mapping \(non-empty\), got \{\}$"):
        v.mapping_of("m", {})
    with pytest.raises(ValueError, match=r"^m\['a'\] must be an integer >= 1, got 0$"):
        v.mapping_of("m", {"a": 0}, functools.partial(v.integer, low=1))


def test_prefixed():
    item = functools.partial(v.integer, low=1)
    assert v.prefixed("laws[0]", item, "n", 3) == 3
    with pytest.raises(ValueError, match=r"^laws\[1\]: n must be an integer >= 1, got 0$") as got:
        v.prefixed("laws[1]", item, "n", 0)
    assert type(got.value) is ValueError and got.value.__cause__ is None
    assert got.value.__suppress_context__
    with pytest.raises(TypeError, match=r"^laws\[2\]: n must be an integer .*\(str\)$") as got:
        v.prefixed("laws[2]", item, "n", "3")
    assert type(got.value) is TypeError
    with pytest.raises(KeyError):  # any other error passes through unchanged
        v.prefixed("m['a']", {}.__getitem__, "a")
    with pytest.raises(ValueError, match=r"^text: Expecting") as got:  # a subclass's own
        v.prefixed("text", json.loads, "{")  # constructor takes more: raised as ValueError
    assert type(got.value) is ValueError


def test_real_array():
    array = v.real_array("x", [1, 2, 3])
    assert array.dtype == float and array.tolist() == [1.0, 2.0, 3.0]
    assert v.real_array("x", [[1.0]], ndim=2).shape == (1, 1)
    assert np.isnan(v.real_array("x", [np.nan], finite=False)[0])
    assert v.real_array("x", [], min_size=0).size == 0
    with pytest.raises(
        TypeError, match=r"^x must be a 1-d array of finite real numbers, got \[True\]"
    ):
        v.real_array("x", [True])
    with pytest.raises(TypeError, match=r"^x must be a 1-d array .*, got \['a'\] \(list\)$"):
        v.real_array("x", ["a"])
    with pytest.raises(TypeError, match=r"^x must be a 1-d array"):
        v.real_array("x", [[1], [1, 2]])
    with pytest.raises(
        ValueError, match=r"^x must be a 1-d array .* \(shape \(1, 2\) has 2-d\), got"
    ):
        v.real_array("x", [[1, 2]])
    with pytest.raises(ValueError, match=r"with at least 3 entries, got \[1, 2\]$"):
        v.real_array("x", [1, 2], min_size=3)
    with pytest.raises(
        ValueError, match=r"^x must be a 1-d array of finite real numbers, got \[1\.0, inf\]"
    ):
        v.real_array("x", [1.0, math.inf])
    with pytest.raises(
        ValueError, match=r"^b must be a 1-d array of finite real numbers > 0, got \[1, 0\]"
    ):
        v.real_array("b", [1, 0], low=0, low_open=True)


def test_real_array_of_any_shape():
    assert v.real_array("b", 4, ndim=None, low=0, low_open=True).shape == ()
    assert v.real_array("b", [[1, 2]], ndim=None).shape == (1, 2)
    message = r"^b must be a finite real number > 0 or an array of them, got \[1, -1\]$"
    with pytest.raises(ValueError, match=message):
        v.real_array("b", [1, -1], ndim=None, low=0, low_open=True)
    with pytest.raises(TypeError, match=r"^b must be a real number or an array of them, got 'x'"):
        v.real_array("b", "x", ndim=None, finite=False)


def test_bool_array():
    assert v.bool_array("r", [True, False], size=2).tolist() == [True, False]
    with pytest.raises(
        TypeError, match=r"^r must be a 1-d array of booleans, got \[1, 0\] \(list\)$"
    ):
        v.bool_array("r", [1, 0])
    with pytest.raises(ValueError, match=r"^r must be a 1-d array of booleans with 3 entries"):
        v.bool_array("r", [True], size=3)


def test_columns():
    frame = pd.DataFrame({"a": [1], "b": [2]})
    assert v.columns("frame", frame, ("a",)) is frame
    message = r"^frame must have the column\(s\) 'a', 'c', lacks 'c' \(columns: \['a', 'b'\]\)$"
    with pytest.raises(ValueError, match=message):
        v.columns("frame", frame, ("a", "c"))


def test_path(tmp_path):
    assert v.path("p", "a/b") == Path("a/b")
    assert v.path("p", tmp_path) == tmp_path
    with pytest.raises(
        TypeError, match=r"^p must be a path \(str or os\.PathLike\), got 3 \(int\)$"
    ):
        v.path("p", 3)


def test_generator():
    rng = np.random.default_rng(0)
    assert v.generator("seed", rng) is rng
    assert v.generator("seed", np.int64(3)).integers(100) == np.random.default_rng(3).integers(100)
    with pytest.raises(
        ValueError, match=r"^seed must be an integer >= 0 or a numpy Generator, got -1$"
    ):
        v.generator("seed", -1)
    with pytest.raises(TypeError, match=r"^seed must be an integer >= 0 .*, got 1\.0 \(float\)$"):
        v.generator("seed", 1.0)
