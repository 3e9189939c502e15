"""The engine: exact first steps, agreement with a plain torch loop, divergence, determinism."""

import math
from functools import partial

import numpy as np
import pytest
import torch

import batchsteps.train as bt
from batchsteps.train.engine import flushing_denormals
from batchsteps.train.problems import FunctionalModel, Problem, StackedMLP
from batchsteps.train.reference import plain_steps_to_target
from batchsteps.train.workloads import mlp

DIGITS = dict(lr=0.1, target="loss<=0.5", max_steps=400)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("optimizer", "target", "hyper"),
    [
        ("sgd", "loss<=0.5", {}),
        ("sgd", "grad_norm_sq<=0.05", {}),
        ("momentum", "accuracy>=0.9", {}),
        ("adam", "grad_norm_sq<=0.05", {"beta2": 0.99}),
    ],
)
def test_sparse_checks_with_replay_equal_checking_every_step(optimizer, target, hyper):
    # the full-data measures are noisy (the squared gradient norm jumps by factors of 10 within
    # a check interval), so this holds because replays start before the last near check
    lr = 0.1 if optimizer == "sgd" else 0.01 if optimizer == "momentum" else 0.003
    common = dict(lr=lr, seeds=[0, 1, 2, 3], target=target, max_steps=300, **hyper)
    sparse = bt.measure_steps("digits-mlp", optimizer, 32, check_every=40, **common)
    dense = bt.measure_steps("digits-mlp", optimizer, 32, check_every=1, **common)
    assert (dense.steps > 0).all()
    np.testing.assert_array_equal(sparse.steps, dense.steps)
    assert sparse.replayed_steps > 0


def test_loss_targets_count_first_passages_and_sparse_checks_can_be_late(monkeypatch):
    # SGD at a large rate on digits: the full-data loss hovers about 0.1, meeting the target
    # on some steps and leaving it on the next. A loss target is checked after every step by
    # default (from a bound on the loss, see the next test), so its counts are first passages;
    # checks once per pass over the data (112 steps at b = 16) can land after such a visit.
    common = dict(lr=0.8, seeds=[0, 1, 2], target="loss<=0.1", max_steps=600)
    exact = bt.measure_steps("digits-mlp", "sgd", 16, **common)
    sparse = bt.measure_steps("digits-mlp", "sgd", 16, check_every=112, **common)
    assert exact.check_every == 1 and exact.replayed_steps == 0 and exact.reached.all()
    assert (sparse.steps >= exact.steps).all()
    assert (sparse.steps > exact.steps).any()  # the caveat the docstrings state is real here
    # the bound decides as the full loss does: the same counts with the full loss every step
    monkeypatch.setattr(StackedMLP, "bounded_loss", Problem.bounded_loss)
    full = bt.measure_steps("digits-mlp", "sgd", 16, **common)
    np.testing.assert_array_equal(full.steps, exact.steps)


def test_a_loss_target_is_checked_every_step_where_its_bound_is_cheap():
    # digits: a full-data forward of 3.4e7 FLOPs a replica; 1000 inputs x 64 hidden on 2000
    # rows cost 2.6e8: there a loss target is checked once per pass over the data, as any
    # gradient target is, unless check_every says otherwise
    gen = torch.Generator().manual_seed(0)
    X, y = torch.randn(2000, 1000, generator=gen), torch.randint(0, 10, (2000,), generator=gen)
    wide = bt.Workload("wide", X, y, lambda: bt.mlp((1000, 64, 10)), "cross_entropy")
    common = dict(lr=0.1, seeds=[0], max_steps=20)
    cadence = {
        (wl, target): bt.measure_steps(wl, "sgd", 100, target=target, **common).check_every
        for wl in ("digits-mlp", wide)
        for target in ("loss<=0.01", "grad_norm_sq<=1e-9")
    }
    assert list(cadence.values()) == [1, 18, 20, 20]
    assert (
        bt.measure_steps(wide, "sgd", 100, target="loss<=0.01", check_every=1, **common).check_every
        == 1
    )
    joint = bt.measure_targets(
        "digits-mlp", "sgd", 100, targets=["loss<=0.01", "grad_norm_sq<=1e-9"], **common
    )
    assert [r.check_every for r in joint] == [1, 18]


@pytest.mark.parametrize("name", ["digits-mlp", "teacher-student"])
@pytest.mark.parametrize("level", ["median", "low"])
def test_bounded_loss_is_the_loss_at_or_below_the_threshold_and_above_it_elsewhere(name, level):
    wl = bt.workload(name)
    problem = wl.problem(torch.device("cpu"))
    params = problem.init(list(range(6)))
    for p in params[:2]:  # spread the replicas' losses
        p.mul_(torch.linspace(0.2, 3.0, 6).view(6, 1, 1))
    loss = problem.measure(params, "loss")
    # median: half the replicas below; low: all above, provable from a fifth of the rows
    threshold = float(loss.median()) if level == "median" else 0.15 * float(loss.min())
    below = loss <= threshold
    scores = torch.zeros(6, problem.n)
    # no scores yet (every replica gets the full loss), then the scores the last call left
    # (exact), then stale ones that promise more than the rows give (the first block fails
    # and a second one follows) or less (no proof planned), and random ones
    stale = [lambda s: s, lambda s: s, lambda s: s.mul_(4.0), lambda s: s.mul_(0.1)]
    stale.append(lambda s: s.copy_(torch.rand(s.shape, generator=torch.Generator().manual_seed(0))))
    for change in stale:
        value = problem.bounded_loss(params, threshold, change(scores))
        torch.testing.assert_close(value[below], loss[below])
        assert (value[~below] > threshold).all() and (value[~below] <= loss[~below] + 1e-5).all()
        assert (scores > 0).any(dim=1).all()
    nan = [p.clone() for p in params]
    nan[0][2] = float("nan")
    assert torch.isnan(problem.bounded_loss(nan, threshold, torch.zeros(6, problem.n))[2])


@pytest.mark.parametrize("name", ["digits-mlp", "teacher-student"])
def test_row_losses_average_to_the_loss_and_pick_the_rows_asked_for(name):
    problem = bt.workload(name).problem(torch.device("cpu"))
    params = problem.init([0, 1, 2])
    every = problem.row_losses(params)
    assert every.shape == (3, problem.n) and (every >= 0).all()
    torch.testing.assert_close(every.mean(1), problem.measure(params, "loss"))
    rows = torch.randint(problem.n, (3, 40), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(problem.row_losses(params, rows), every.gather(1, rows))


@pytest.mark.slow
def test_engine_follows_the_plain_torch_loop_on_the_same_batches():
    seeds = [0, 1, 2]
    for optimizer, lr in [("sgd", 0.1), ("nesterov", 0.02), ("rmsprop", 0.001)]:
        engine = bt.steps_to_target(
            "digits-mlp", optimizer, 16, lr=lr, seeds=seeds, target="loss<=0.6", max_steps=300
        )
        plain = [
            plain_steps_to_target(
                "digits-mlp", optimizer, 16, lr=lr, seed=s, target="loss<=0.6", max_steps=300
            )
            for s in seeds
        ]
        assert (engine > 0).all()
        np.testing.assert_array_equal(engine, plain)


@pytest.mark.slow
def test_median_steps_agree_with_an_independent_plain_loop_within_5_percent():
    # the plain loop samples its own batches with torch.randint: agreement is statistical
    seeds = list(range(32))
    engine = bt.steps_to_target("digits-mlp", "sgd", 32, seeds=seeds, **DIGITS)
    plain = [
        plain_steps_to_target("digits-mlp", "sgd", 32, seed=s + 1000, sampling="torch", **DIGITS)
        for s in seeds
    ]
    assert (engine > 0).all() and min(plain) > 0
    assert abs(np.median(engine) / np.median(plain) - 1) < 0.05


@pytest.mark.slow
def test_same_arguments_same_steps():
    first = bt.steps_to_target(
        "digits-mlp", "momentum", 64, seeds=[5, 6, 7], **{**DIGITS, "lr": 0.03}
    )
    again = bt.steps_to_target(
        "digits-mlp", "momentum", 64, seeds=[5, 6, 7], **{**DIGITS, "lr": 0.03}
    )
    np.testing.assert_array_equal(first, again)


@pytest.mark.slow
def test_a_seed_does_not_depend_on_the_seeds_beside_it():
    many = bt.steps_to_target("digits-mlp", "sgd", 32, seeds=[0, 1, 2, 3, 4, 5], **DIGITS)
    few = bt.steps_to_target("digits-mlp", "sgd", 32, seeds=[4, 1], **DIGITS)
    np.testing.assert_array_equal(few, many[[4, 1]])


def test_diverged_replicas_stop_with_reason_and_leave_the_others_alone(wild):
    seeds = list(range(8))
    result = bt.measure_steps(
        wild, "sgd", 32, lr=0.2, seeds=seeds, target="loss<=0.5", max_steps=300
    )
    diverged = np.array([r == "diverged" for r in result.reason])
    assert 0 < diverged.sum() < len(seeds)
    assert (result.steps[diverged] == -1).all()
    calm = [s for s, d in zip(seeds, diverged, strict=True) if not d]
    alone = bt.steps_to_target(
        wild, "sgd", 32, lr=0.2, seeds=calm, target="loss<=0.5", max_steps=300
    )
    np.testing.assert_array_equal(alone, result.steps[~diverged])
    assert (alone > 0).all()


@pytest.mark.parametrize(
    ("optimizer", "batch_size", "lr", "targets"),
    [
        ("momentum", 128, 0.32, ["loss<=0.1", "grad_norm_sq<=0.001", "accuracy>=0.99"]),
        ("adam", 16, 0.016, ["grad_norm_sq<=0.001", "loss<=0.1"]),  # one never reached
        ("sgd", 8, 0.1, ["loss<=0.3", "loss<=0.5"]),
    ],
)
def test_several_targets_along_one_run_give_each_targets_own_steps(
    optimizer, batch_size, lr, targets
):
    common = dict(lr=lr, seeds=[0, 3, 4], max_steps=400)
    both = bt.measure_targets("digits-mlp", optimizer, batch_size, targets=targets, **common)
    assert [r.target for r in both] == [bt.parse_target(t).text for t in targets]
    assert len({r.wall_time for r in both}) == 1
    for target, joint in zip(targets, both, strict=True):
        alone = bt.measure_steps("digits-mlp", optimizer, batch_size, target=target, **common)
        np.testing.assert_array_equal(joint.steps, alone.steps)
        assert joint.reason == alone.reason
        assert joint.replayed_steps == alone.replayed_steps
        assert joint.check_every == alone.check_every
    assert any((r.steps > 0).any() for r in both)


def test_several_targets_settle_diverged_replicas_for_each_target(wild):
    targets = ["loss<=0.5", "grad_norm_sq<=0.01"]
    common = dict(lr=0.2, seeds=list(range(8)), max_steps=300)
    both = bt.measure_targets(wild, "sgd", 32, targets=targets, **common)
    for target, joint in zip(targets, both, strict=True):
        alone = bt.measure_steps(wild, "sgd", 32, target=target, **common)
        np.testing.assert_array_equal(joint.steps, alone.steps)
        assert joint.reason == alone.reason
    assert "diverged" in both[0].reason


@pytest.mark.parametrize(
    ("targets", "error"),
    [
        ("loss<=0.5", TypeError),
        (None, TypeError),
        ([], ValueError),
        (["loss<=0.5", "loss <= 0.5"], ValueError),
        (["loss<=0.5", None], ValueError),
        (["loss=0.5"], ValueError),
    ],
)
def test_bad_target_lists_are_refused_naming_them(targets, error):
    args = dict(lr=0.1, seeds=[0], max_steps=5)
    with pytest.raises(error, match="target"):
        bt.measure_targets("digits-mlp", "sgd", 8, targets=targets, **args)


@pytest.mark.parametrize(
    ("targets", "error", "pattern"),
    [([5], TypeError, r"targets\[0\] must be"), (["loss<=1", "foo"], ValueError, r"targets\[1\]")],
)
def test_a_bad_entry_of_the_targets_is_named_by_its_index(targets, error, pattern):
    with pytest.raises(error, match=pattern):
        bt.measure_targets("nqm", "sgd", 4, lr=0.1, seeds=[0], targets=targets, max_steps=5)


def test_no_target_trains_max_steps_and_reaches_nothing():
    result = bt.measure_steps("digits-mlp", "adam", 8, lr=1e-3, seeds=2, target=None, max_steps=5)
    assert result.steps.tolist() == [-1, -1]
    assert result.reason == ("no target", "no target")


def test_a_target_met_at_initialisation_is_step_zero():
    steps = bt.steps_to_target(
        "digits-mlp", "sgd", 8, lr=0.1, seeds=[0], target="loss<=10", max_steps=5
    )
    assert steps.tolist() == [0]


def test_unreached_targets_are_minus_one_with_reason_max_steps():
    result = bt.measure_steps(
        "digits-mlp", "sgd", 8, lr=0.01, seeds=[0, 1], target="loss<=0.01", max_steps=20
    )
    assert result.steps.tolist() == [-1, -1]
    assert result.reason == ("max_steps", "max_steps")


def test_record_receives_stacked_params_every_n_steps():
    seen = []
    bt.measure_steps(
        "digits-mlp",
        "sgd",
        8,
        lr=0.1,
        seeds=[3, 4],
        target=None,
        max_steps=10,
        record=lambda s: seen.append((s.step, tuple(s.params[0].shape), list(s.seeds))),
        record_every=5,
    )
    assert seen == [
        (0, (2, 64, 128), [3, 4]),
        (5, (2, 64, 128), [3, 4]),
        (10, (2, 64, 128), [3, 4]),
    ]


def test_a_snapshot_holds_the_update_that_led_to_its_step():
    # heavy ball: m_t = beta m_{t-1} + g_{t-1}, theta_t = theta_{t-1} - lr m_t, read from the hook
    seen = []
    bt.measure_steps(
        "nqm", "momentum", 4, lr=0.1, beta=0.5, seeds=[0, 1], target=None, max_steps=3,
        record=lambda s: seen.append(
            (s.step, s.params[0].clone(), None if s.grads is None else s.grads[0].clone(),
             s.state[0][0].clone(), s.optimizer.name, type(s.problem).__name__)
        ),
    )  # fmt: skip
    assert [step for step, *_ in seen] == [0, 1, 2, 3]
    assert seen[0][2] is None and not seen[0][3].any()  # no update yet, zero momentum
    assert all(name == "momentum" and kind == "NoisyQuadratic" for *_, name, kind in seen)
    for (_, before, _, m_before, *_), (_, after, grad, m_after, *_) in zip(
        seen[:-1], seen[1:], strict=True
    ):
        torch.testing.assert_close(m_after, 0.5 * m_before + grad)
        torch.testing.assert_close(after, before - 0.1 * m_after)


def test_a_full_batch_is_gradient_descent_on_the_whole_training_set():
    wl = bt.workload("digits-mlp", hidden=8)
    seen = {}
    result = bt.measure_steps(
        wl, "sgd", None, lr=0.5, seeds=[3], target=None, max_steps=3,
        record=lambda s: seen.update({s.step: [p[0].clone() for p in s.params]}),
    )  # fmt: skip
    assert result.batch_size is None and result.check_every == 1
    torch.manual_seed(3)
    plain = wl.model()
    for _ in range(3):
        plain.zero_grad()
        torch.nn.functional.cross_entropy(plain(wl.X), wl.y).backward()
        with torch.no_grad():
            for p in plain.parameters():
                p -= 0.5 * p.grad
    ours = bt.replica_module(wl, [p.unsqueeze(0) for p in seen[3]], 0)
    for a, b in zip(ours.parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="batch_size=None .* workload 'nqm' streams"):
        bt.measure_steps("nqm", "sgd", None, lr=0.1, seeds=1, target=None, max_steps=2)


def test_nqm_loss_decays_like_its_exact_expectation():
    # SGD on f = 1/2 sum h theta^2: E theta_{k,i}^2 = (1 - a h_i)^{2k} theta_0^2 + noise terms
    wl = bt.workload("nqm", dim=10)
    lr, b, k = 0.5, 4, 30
    finals = []
    bt.measure_steps(
        wl,
        "sgd",
        b,
        lr=lr,
        seeds=list(range(200)),
        target=None,
        max_steps=k,
        record=lambda s: finals.append(s.params[0].clone()) if s.step == k else None,
    )
    h = wl.curvature.double()
    decay = (1 - lr * h) ** 2
    second = decay**k + lr**2 * h / b * (1 - decay**k) / (1 - decay)
    expected = 0.5 * (h * second).sum().item()
    measured = 0.5 * (h * finals[0].double().square()).sum(1)
    assert abs(measured.mean().item() - expected) < 3 * measured.std().item() / math.sqrt(200)


def test_a_stream_is_checked_after_every_step_so_its_counts_are_first_passages():
    # the noisy quadratic's loss is closed-form and cheap: the default checks every step, and
    # the count is the first step whose loss (recorded alongside) meets the target
    wl = bt.workload("nqm", dim=10)
    losses = []
    common = dict(lr=0.5, seeds=[0, 1, 2], max_steps=200)
    record = lambda s: losses.append(0.5 * (wl.curvature * s.params[0].square()).sum(1))  # noqa: E731
    bt.measure_steps(wl, "sgd", 2, target=None, record=record, **common)
    loss = torch.stack(losses)
    target = float(loss[-50:].median())  # about the noise floor: the loss hovers about it
    result = bt.measure_steps(wl, "sgd", 2, target=f"loss<={target!r}", **common)
    assert result.check_every == 1 and result.replayed_steps == 0
    first = [int(torch.nonzero(loss[:, r] <= target)[0]) for r in range(3)]
    assert result.steps.tolist() == first


@pytest.mark.parametrize("batch", [4, 16])
@pytest.mark.parametrize(
    ("data", "sizes", "loss"),
    [
        ("digits-mlp", (64, 128, 10), "cross_entropy"),  # a widening and a narrowing layer
        ("digits-mlp", (64, 32, 12, 10), "cross_entropy"),  # narrowing hidden layers
        ("teacher-student", None, "mse"),
    ],
)
def test_hand_written_mlp_gradients_equal_torch_func_gradients(data, sizes, loss, batch):
    # batch 4 takes the row-major products, 16 the features-major ones of narrowing layers
    wl = bt.workload(data)
    model = wl.model if sizes is None else partial(mlp, sizes)
    fast = StackedMLP(model, wl.X, wl.y, loss, torch.device("cpu"))
    generic = FunctionalModel(model, wl.X, wl.y, loss, torch.device("cpu"))
    p_fast, p_gen = fast.init([0, 1]), generic.init([0, 1])
    batch = torch.randint(wl.n, (2, batch), generator=torch.Generator().manual_seed(0))
    loss_f, grads_f = fast.loss_grad(p_fast, batch)
    loss_g, grads_g = generic.loss_grad(p_gen, batch)
    torch.testing.assert_close(loss_f, loss_g)
    # generic: weight (out, in), bias (out,); fast: weight in its layout, bias (1, out)
    for i, g in enumerate(grads_g):
        if g.dim() == 2:
            expected = g.unsqueeze(1)
        else:
            expected = g if fast.layout[i // 2] == "out_in" else g.transpose(1, 2)
        torch.testing.assert_close(grads_f[i], expected, atol=1e-6, rtol=1e-5)
    for r, module in enumerate(fast.to_modules(p_fast)):
        for ours, theirs in zip(module.parameters(), p_gen, strict=True):
            torch.testing.assert_close(ours, theirs[r], rtol=0, atol=0)
    accuracy = ("accuracy",) if loss == "cross_entropy" else ()
    for what in ("loss", "grad_norm_sq", *accuracy):
        torch.testing.assert_close(
            fast.measure(p_fast, what), generic.measure(p_gen, what), atol=1e-6, rtol=1e-5
        )


@pytest.mark.slow
def test_generic_modules_run_through_torch_func_and_match_the_plain_loop():
    digits = bt.workload("digits-mlp")
    tanh_net = bt.Workload(
        "digits-tanh",
        digits.X,
        digits.y,
        lambda: torch.nn.Sequential(
            torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10)
        ),
    )
    assert isinstance(tanh_net.problem(torch.device("cpu")), FunctionalModel)
    args = dict(lr=0.2, target="loss<=0.8", max_steps=200)
    engine = bt.steps_to_target(tanh_net, "momentum", 16, seeds=[0, 1], **{**args, "lr": 0.05})
    plain = [
        plain_steps_to_target(tanh_net, "momentum", 16, seed=s, **{**args, "lr": 0.05})
        for s in [0, 1]
    ]
    assert (engine > 0).all()
    np.testing.assert_array_equal(engine, plain)


GOOD = dict(lr=0.1, seeds=[0], target="loss<=0.5", max_steps=5)


@pytest.mark.parametrize(
    ("change", "error", "name"),
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"batch_size": True}, TypeError, "batch_size"),
        ({"lr": -0.1}, ValueError, "lr"),
        ({"lr": float("nan")}, ValueError, "lr"),
        ({"lr": 0}, ValueError, "lr"),
        ({"seeds": []}, ValueError, "seeds"),
        ({"seeds": [-1]}, ValueError, "seeds"),
        ({"seeds": [1, 1]}, ValueError, "seeds"),
        ({"max_steps": 0}, ValueError, "max_steps"),
        ({"workload": "imagenet"}, ValueError, "imagenet"),
        ({"optimizer": "lion"}, ValueError, "lion"),
        ({"beta1": 0.9}, TypeError, "beta1"),
        ({"target": "loss<0.5"}, ValueError, "accepted forms"),
        ({"target": "loss<=x"}, ValueError, "accepted forms"),
        ({"device": "gpu0"}, ValueError, "device"),
        *([({"device": "cuda"}, ValueError, "device")] if not torch.cuda.is_available() else []),
    ],
)
def test_bad_inputs_raise_errors_naming_them(change, error, name):
    args = {"workload": "digits-mlp", "optimizer": "sgd", "batch_size": 8, **GOOD, **change}
    wl, opt, b = args.pop("workload"), args.pop("optimizer"), args.pop("batch_size")
    with pytest.raises(error, match=name):
        bt.steps_to_target(wl, opt, b, **args)


@pytest.mark.parametrize(
    ("near", "error"), [(0.5, ValueError), (-1.0, ValueError), ("wide", TypeError)]
)
def test_a_replay_margin_below_one_or_not_a_number_is_refused(near, error):
    with pytest.raises(error, match="near"):
        bt.measure_steps("digits-mlp", "sgd", 8, near=near, **GOOD)


def test_accuracy_targets_need_a_classification_workload():
    with pytest.raises(ValueError, match="accuracy"):
        bt.steps_to_target(
            "teacher-student", "sgd", 8, lr=0.1, seeds=[0], target="accuracy>=0.9", max_steps=5
        )


@pytest.mark.parametrize(
    ("device", "error", "pattern"),
    [
        (3.5, TypeError, r"device must be 'cpu', 'cuda'.*got 3\.5 \(float\)"),
        (["cpu"], TypeError, r"device must be .*got \['cpu'\] \(list\)"),
        ("meta", ValueError, "device must be a CPU or CUDA device.*got 'meta'"),
        (torch.device("meta"), ValueError, "device must be a CPU or CUDA device"),
        ("warp-drive", ValueError, "device must be 'cpu', 'cuda'.*got 'warp-drive'"),
        ("cuda:99", ValueError, "device must be a .*got 'cuda:99'"),
    ],
)
def test_a_device_other_than_cpu_or_cuda_is_refused_naming_it(device, error, pattern):
    with pytest.raises(error, match=pattern):
        bt.resolve_device(device)


def test_cpu_devices_resolve_as_before():
    cpu = torch.device("cpu")
    assert bt.resolve_device("cpu") == bt.resolve_device(cpu) == cpu
    assert bt.resolve_device(None).type in ("cpu", "cuda")


def _never(_):
    raise AssertionError("training started")


@pytest.mark.parametrize("measure", ["steps", "targets", "stacked"])
def test_an_on_check_that_is_not_callable_is_refused_before_training(measure):
    common = dict(seeds=[0], max_steps=5, on_check=5)
    with pytest.raises(TypeError, match=r"on_check must be a callable\(step\) or None, got 5"):
        if measure == "steps":
            bt.measure_steps("nqm", "sgd", 4, lr=0.1, target="loss<=0.1", record=_never, **common)
        elif measure == "targets":
            bt.measure_targets(
                "nqm", "sgd", 4, lr=0.1, targets=["loss<=0.1"], record=_never, **common
            )
        else:
            bt.measure_stacked("nqm", [bt.optimizer("sgd", 0.1)], 4, targets=[None], **common)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@CUDA
@pytest.mark.parametrize("kind", [StackedMLP, FunctionalModel])
def test_cuda_computes_the_cpu_gradients_and_measures(kind):
    wl = bt.workload("digits-mlp")
    cpu = kind(wl.model, wl.X, wl.y, wl.loss, torch.device("cpu"))
    gpu = kind(wl.model, wl.X, wl.y, wl.loss, torch.device("cuda"))
    p_cpu, p_gpu = cpu.init([0, 1, 2]), gpu.init([0, 1, 2])
    batch = torch.randint(wl.n, (3, 32), generator=torch.Generator().manual_seed(0))
    loss_c, grads_c = cpu.loss_grad(p_cpu, batch)
    loss_g, grads_g = gpu.loss_grad(p_gpu, batch.cuda())
    torch.testing.assert_close(loss_g.cpu(), loss_c, atol=1e-5, rtol=1e-4)
    for g, c in zip(grads_g, grads_c, strict=True):
        torch.testing.assert_close(g.cpu(), c, atol=1e-5, rtol=1e-4)
    for what in ("loss", "accuracy", "grad_norm_sq"):
        torch.testing.assert_close(
            gpu.measure(p_gpu, what).cpu(), cpu.measure(p_cpu, what), atol=1e-5, rtol=1e-4
        )


@CUDA
def test_cuda_median_steps_agree_with_cpu_within_5_percent():
    # CUDA draws the batches from CUDA generators, another stream: agreement is statistical
    cpu = bt.measure_steps("digits-mlp", "sgd", 32, seeds=list(range(32)), device="cpu", **DIGITS)
    gpu = bt.measure_steps("digits-mlp", "sgd", 32, seeds=list(range(32)), device="cuda", **DIGITS)
    assert gpu.device.startswith("cuda")
    assert (cpu.steps > 0).all() and (gpu.steps > 0).all()
    assert abs(np.median(gpu.steps) / np.median(cpu.steps) - 1) < 0.05


def _denormal_survives() -> bool:
    return torch.tensor(1e-37).div(100).item() != 0.0


def test_denormals_are_flushed_while_training_and_the_mode_is_restored():
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU has no flush-to-zero mode")
    assert _denormal_survives()
    seen = []
    bt.measure_steps(
        "digits-mlp", "momentum", 8, lr=0.05, seeds=[0], target=None, max_steps=2,
        record=lambda s: seen.append(_denormal_survives()),
    )  # fmt: skip
    assert seen == [False, False, False]
    assert _denormal_survives()
    with flushing_denormals():
        assert not _denormal_survives()
    assert _denormal_survives()
