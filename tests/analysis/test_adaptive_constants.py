"""The constants of the Adam-type bound from a run's record: the algebra of the summed one-step
identity, the envelope of several runs, the bound's value."""

import numpy as np
import pytest

from batchsteps.analysis import AdaptiveRun, adaptive_run, bound_at, envelope
from batchsteps.theory import bound

ALPHA, BETA1 = 0.05, 0.9


def _record(steps=30, d=6, seed=0, dead=(4,)):
    """A run that obeys the book's update exactly: m_k = b1 m_{k-1} + (1 - b1) g_k and
    theta_{k+1} = theta_k - alpha m_k / h_k, with h growing slowly; coordinates ``dead`` get
    no gradient at all."""
    rng = np.random.default_rng(seed)
    grad = rng.standard_normal((steps, d))
    grad[:, list(dead)] = 0.0
    precond = np.cumsum(rng.uniform(0.0, 0.1, (steps, d)), axis=0) + 0.5
    precond[5] *= 0.9  # one step where h shrinks
    momentum = np.zeros((steps, d))
    theta = np.zeros((steps + 1, d))
    theta[0] = rng.standard_normal(d)
    previous = np.zeros(d)
    for k in range(steps):
        momentum[k] = BETA1 * previous + (1 - BETA1) * grad[k]
        theta[k + 1] = theta[k] - ALPHA * momentum[k] / precond[k]
        previous = momentum[k]
    full = grad + 0.1 * rng.standard_normal((steps, d))
    full[:, list(dead)] = 0.0
    return dict(theta=theta, full_grad=full, grad=grad, momentum=momentum, precond=precond)


def _run(record=None, **changes) -> AdaptiveRun:
    args = dict(
        sigma_sq=4.0, loss_initial=2.0, loss_final=1.0, reference="final", batch_size=8,
        alpha=ALPHA, beta1=BETA1, beta2=0.999, delta=1e-8, seed=0,
    )  # fmt: skip
    return adaptive_run(**(record or _record()), **(args | changes))


def test_the_summed_one_step_identity_holds_on_a_run_that_obeys_the_update():
    for reference in ("final", "initial"):
        run = _run(reference=reference)
        measured = sum(value for value, _ in run.terms().values())
        assert measured == pytest.approx(run.stochastic_variational, rel=1e-10)


def test_step_4_in_its_two_inequalities():
    record = _record()
    run = _run(record)
    moved = np.ones(6, dtype=bool)
    moved[4] = False
    m = record["momentum"][:, moved]
    assert run.momentum_sq == pytest.approx((m**2).sum(axis=1).mean())
    steps = run.noise_steps()
    assert steps["measured"] == run.terms()["noise_and_drift"][0]
    assert steps["bound"] == run.terms()["noise_and_drift"][1]
    c = 2 * ALPHA * (1 - BETA1)
    assert steps["unweighted"] == pytest.approx(ALPHA**2 * run.momentum_sq / (run.h_min * c))
    # h >= h_min gives the first; ||m_k|| <= G (m is a sub-average of the g_j) the second
    assert steps["measured"] <= steps["unweighted"] <= steps["bound"]
    fields = {f: getattr(run, f) for f in run.__dataclass_fields__ if f != "momentum_sq"}
    assert np.isnan(AdaptiveRun(**fields).noise_steps()["unweighted"])  # not recorded


def test_constants_are_read_off_the_record():
    record = _record()
    run = _run(record)
    assert (run.d, run.d_total, run.steps) == (5, 6, 30)  # the dead coordinate is left out
    moved = np.ones(6, dtype=bool)
    moved[4] = False
    assert run.h_min == pytest.approx(record["precond"][:, moved].min())
    assert run.h_max == pytest.approx(record["precond"][:, moved].max())
    offset = record["theta"][:, moved] - record["theta"][-1, moved]
    assert run.D == pytest.approx((offset**2).max())
    norms = [np.linalg.norm(record[name], axis=1).max() for name in ("grad", "full_grad")]
    assert run.G == pytest.approx(max(norms))
    assert run.sigma == 2.0 and run.loss_final == 1.0 and run.reference == "final"
    assert 0 < run.shrink_fraction < 0.1 and run.max_shrink == pytest.approx(0.1, rel=0.2)


def test_a_given_reference_point_and_the_initial_one():
    record = _record()
    given = _run(record, reference=record["theta"][0])
    initial = _run(record, reference="initial")
    assert given.reference == "given" and given.variational == initial.variational
    one_step = {k: v[:2] if k == "theta" else v[:1] for k, v in record.items()}
    # one step: V_1(theta_0) = <theta_0 - theta_0, grad f(theta_0)> = 0
    assert _run(one_step, reference="initial").variational == 0.0


def test_envelope_takes_the_worst_constants():
    first, other = _run(), _run(_record(seed=1, dead=(1, 2)), batch_size=4, sigma_sq=9.0)
    both = envelope([first, other])
    assert both["G"] == max(first.G, other.G) and both["D"] == max(first.D, other.D)
    assert both["d"] == max(first.d, other.d) == 5
    assert both["h_min"] == min(first.h_min, other.h_min)
    assert both["h_max"] == max(first.h_max, other.h_max)
    assert both["sigma"] == 3.0
    assert bound("amsgrad").subs(**both, epsilon=1e12).min_steps > 0
    with pytest.raises(ValueError, match=r"runs must be a sequence of at least 1 entry, got \[\]"):
        envelope([])
    with pytest.raises(TypeError, match=r"runs\[0\] must be an AdaptiveRun, got 3"):
        envelope([3])
    with pytest.raises(ValueError, match="runs disagree on alpha"):
        envelope([first, _run(alpha=1e-3)])


def test_bound_at_is_the_template_value():
    values = _run().values()
    bnd = bound("amsgrad")
    num = bnd.subs(**values, epsilon=2 * bound_at(bnd, values, 10**15, 1e15))
    assert bound_at(bnd, values, 100, 8) == pytest.approx(num.A / 100 + num.B / 8 + num.C)
    with pytest.raises(ValueError, match="steps must be .*, got 0"):
        bound_at(bnd, values, 0, 8)
    with pytest.raises(TypeError, match="batch_size must be .*, got '8'"):
        bound_at(bnd, values, 10, "8")


@pytest.mark.parametrize(
    ("bnd", "values", "error", "pattern"),
    [
        ("amsgrad", None, TypeError, "values must be a mapping"),
        (5, {}, TypeError, "bound must be a batchsteps.theory.Bound"),
        ("amsgrad", {"foo": 1.0}, ValueError, "foo"),
        ("amsgrad", {}, ValueError, "alpha"),
        ("amsgrad", {"alpha": float("nan")}, ValueError, r"alpha must be .*, got nan"),
        ("amsgrad", {"alpha": -1.0}, ValueError, r"alpha must be .*, got -1"),
        ("amsgrad", {"epsilon": 0.1}, ValueError, "epsilon must be left out"),
    ],
)
def test_bound_at_checks_its_arguments_first(bnd, values, error, pattern):
    """Bad values are refused by name before anything is computed: every parameter but
    epsilon, in its range (a bound with some values missing or replaced by bad ones)."""
    base = _run().values()
    given = None if values is None else {**base, **values}
    if values == {}:
        given = {k: v for k, v in base.items() if k != "alpha"}
    with pytest.raises(error, match=pattern):
        bound_at(bound(bnd) if isinstance(bnd, str) else bnd, given, 10, 8)


def test_bound_constants_do_not_depend_on_the_target():
    values = _run().values()
    bnd = bound("amsgrad")
    num = bnd.subs(**values, epsilon=1e3)
    assert bnd.constants(**values) == pytest.approx((num.A, num.B, num.C))


@pytest.mark.parametrize(
    ("change", "error", "pattern"),
    [
        (
            {"reference": "middle"},
            ValueError,
            r"reference must be one of 'final', 'initial', got 'middle'",
        ),
        ({"reference": np.zeros(3)}, ValueError, r"reference of shape \(3,\) must be a flat"),
        ({"amsgrad": 1}, TypeError, r"amsgrad must be True or False, got 1 \(int\)"),
    ],
)
def test_bad_arguments_are_named(change, error, pattern):
    with pytest.raises(error, match=pattern):
        _run(**change)


def test_records_of_the_wrong_shape_are_named():
    record = _record()
    with pytest.raises(ValueError, match=r"precond of shape \(29, 6\) must have shape \(30, 6\)"):
        _run(record | {"precond": record["precond"][1:]})
    with pytest.raises(
        ValueError, match=r"theta must be a 2-d array .*\(shape \(6,\) has 1-d\), got array"
    ):
        _run(record | {"theta": record["theta"][0]})
