"""Sweeps on executors and Dask: one store shared by many writers, one DataFrame whoever ran it."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

import batchsteps.train as bt
from batchsteps.train import cluster
from batchsteps.train.store import commit
from batchsteps.train.sweeps import cell_task

RESULT = ["workload", "optimizer", "batch_size", "lr", "beta", "seed", "steps", "reached"]
RESULT += ["reason", "target", "max_steps", "check_every"]
PROVENANCE = ["wall_time", "device", "worker"]
SMALL = dict(lr=0.05, seeds=[0, 1], target="loss<=0.5", max_steps=400, progress=False)
SIZES = [16, 32, 48]


@pytest.mark.parametrize(
    ("env", "cuda", "worker", "expected"),
    [
        ({"BATCHSTEPS_DEVICE": "cuda:3"}, 8, 0, "cuda:3"),  # the variable always wins
        ({"BATCHSTEPS_DEVICE": "cpu"}, 8, None, "cpu"),
        ({}, 0, 5, "cpu"),  # no GPU
        ({"CUDA_VISIBLE_DEVICES": "2"}, 1, 7, "cuda:0"),  # a launcher chose already
        ({}, 4, 6, "cuda:2"),  # LocalCluster worker 6 of 4 GPUs
        ({}, 4, "1", "cuda:1"),
        ({}, 4, "SLURMCluster-0", "cuda"),
        ({}, 4, True, "cuda"),  # a bool is no worker index
        ({}, 2, None, "cuda"),
    ],
)
def test_one_device_per_worker_by_the_documented_rules(env, cuda, worker, expected):
    assert cluster.choose_device(env, cuda, worker) == expected


def test_auto_device_comes_from_the_environment_and_a_bad_one_is_named(monkeypatch):
    monkeypatch.setenv(cluster.DEVICE_ENV, "cpu")
    assert str(cluster.worker_device("auto")) == "cpu"
    df = bt.sweep("nqm", "sgd", [4], lr=0.01, seeds=[0], target=None, max_steps=2, device="auto")
    assert df.device.tolist() == ["cpu"]
    monkeypatch.setenv(cluster.DEVICE_ENV, "abacus")
    with pytest.raises(ValueError, match="abacus.*BATCHSTEPS_DEVICE"):
        cluster.worker_device("auto")


@pytest.mark.parametrize("bad", ["dask", object(), ThreadPoolExecutor, 2])
def test_a_bad_executor_is_a_type_error_naming_it(bad):
    with pytest.raises(TypeError, match="executor must be"):
        bt.sweep("digits-mlp", "sgd", [16], executor=bad, **SMALL)


def test_the_first_writer_of_a_cell_wins_and_later_writers_read_it(tmp_path):
    path = tmp_path / "cell-x.json"
    first = {"key": {"a": 1}, "steps": [3], "wall_time": 1.0, "worker": "one"}
    assert commit(path, first) == first
    seen = (path.read_bytes(), path.stat().st_ino, path.stat().st_mtime_ns)
    assert commit(path, {**first, "wall_time": 2.0, "worker": "two"}) == first
    assert (path.read_bytes(), path.stat().st_ino, path.stat().st_mtime_ns) == seen

    racers = [{**first, "worker": f"w{i}"} for i in range(16)]
    target = tmp_path / "cell-race.json"
    start = threading.Barrier(len(racers))

    def race(record):
        start.wait()
        return commit(target, record)

    with ThreadPoolExecutor(len(racers)) as pool:
        returned = list(pool.map(race, racers))
    assert all(r == returned[0] for r in returned) and returned[0] in racers
    assert json.loads(target.read_text()) == returned[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cell-race.json", "cell-x.json"]


def _cell(store, batch_size):
    df = bt.sweep("digits-mlp", "sgd", [batch_size], store=store, **SMALL)
    return next(iter(store.glob("cell-*.json"))), df


@pytest.mark.slow
def test_a_retried_task_leaves_the_bytes_and_a_recomputation_gives_the_same_result(tmp_path):
    (one, two) = (tmp_path / "one", tmp_path / "two")
    path, _ = _cell(one, 16)
    record = json.loads(path.read_text())
    seen = (path.read_bytes(), path.stat().st_ino, path.stat().st_mtime_ns)
    again, computed = cell_task("digits-mlp", record["key"], "cpu", None, str(one))
    assert not computed and again == record
    assert (path.read_bytes(), path.stat().st_ino, path.stat().st_mtime_ns) == seen

    other, _ = _cell(two, 16)  # the same cell computed afresh, on another store
    assert other.name == path.name
    fresh = json.loads(other.read_text())
    result = ["key", "steps", "reason", "check_every"]
    assert {k: fresh[k] for k in result} == {k: record[k] for k in result}
    assert set(fresh) - set(result) == {"wall_time", "device", "worker"}


CONCURRENT = textwrap.dedent(
    """
    import sys, torch
    torch.set_num_threads(1)
    import batchsteps.train as bt
    sizes = [int(b) for b in sys.argv[3].split(",")]
    df = bt.sweep("digits-mlp", "sgd", sizes, lr=0.05, seeds=[0, 1], target="loss<=0.5",
                  max_steps=400, store=sys.argv[1], progress=False)
    df.to_json(sys.argv[2], orient="records", double_precision=15)
    """
)


@pytest.mark.cluster
def test_two_concurrent_sweeps_share_one_store_without_corrupting_it(tmp_path):
    store, script = tmp_path / "store", tmp_path / "run.py"
    script.write_text(CONCURRENT)
    plans = {"a": "16,32,8", "b": "16,32,48"}  # the shared cells first, in the same order
    procs = [
        subprocess.Popen([sys.executable, str(script), str(store), str(tmp_path / n), sizes])
        for n, sizes in plans.items()
    ]
    assert [p.wait(timeout=240) for p in procs] == [0, 0]
    a, b = (pd.read_json(tmp_path / n, orient="records") for n in plans)
    files = sorted(store.iterdir())
    assert [f.name.startswith("cell-") for f in files] == [True] * 4  # no temp file left
    for f in files:
        json.loads(f.read_text())
    shared = [c for c in a.columns if c != "cached"]
    both = a[a.batch_size.isin([16, 32])][shared].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        both, b[b.batch_size.isin([16, 32])][shared].reset_index(drop=True)
    )
    whole = bt.sweep("digits-mlp", "sgd", [16, 32, 8, 48], store=store, **SMALL)
    assert whole.cached.all()
    stored = pd.concat([a, b[b.batch_size == 48]], ignore_index=True)
    pd.testing.assert_series_equal(whole.steps, stored.steps, check_dtype=False)
    assert whole.wall_time.tolist() == pytest.approx(stored.wall_time.tolist(), rel=1e-12)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with cluster.local_cluster(2) as local, distributed.Client(local) as c:
        yield c


@pytest.fixture(scope="module")
def in_process():
    return bt.sweep("digits-mlp", "sgd", SIZES, **SMALL)


@pytest.mark.cluster
def test_two_dask_workers_give_the_in_process_frame(client, in_process, tmp_path, capsys):
    args = {**SMALL, "progress": True, "device": "auto"}  # each worker's own device
    df = bt.sweep(
        "digits-mlp", "sgd", SIZES, store=tmp_path, executor=client.get_executor(), **args
    )
    assert list(df.columns) == list(in_process.columns)
    pd.testing.assert_frame_equal(df[RESULT], in_process[RESULT])
    assert set(df.worker) <= {"0", "1"} and not df.cached.any() and set(df.device) == {"cpu"}
    err = capsys.readouterr().err
    assert "3/3" in err and "/min" in err
    rates = cluster.throughput(df)
    assert rates.cells.sum() == len(SIZES) and (rates.cells_per_min > 0).all()
    again = bt.sweep("digits-mlp", "sgd", SIZES, store=tmp_path, executor=client, **SMALL)
    assert again.cached.all()  # read by the driver, nothing submitted
    pd.testing.assert_frame_equal(again.drop(columns="cached"), df.drop(columns="cached"))


def _environment(name):
    return os.environ.get(name)


@pytest.mark.cluster
def test_the_local_cluster_has_one_thread_per_worker_and_no_malloc_trimming(client):
    assert sorted(client.nthreads().values()) == [1, 1]
    assert set(client.run(_environment, "MALLOC_TRIM_THRESHOLD_").values()) == {None}
    with pytest.raises(ValueError, match="n_workers.*0"):
        cluster.local_cluster(0)


def _executing(dask_worker):
    return [str(task.key) for task in dask_worker.state.executing]


def _transitions(dask_scheduler):
    return [(str(key), start, finish) for key, start, finish, *_ in dask_scheduler.transition_log]


@pytest.mark.cluster
def test_a_worker_killed_mid_task_has_its_cell_recomputed(client, in_process, tmp_path):
    pids = client.run(os.getpid)
    outcome = {}

    def run():
        outcome["df"] = bt.sweep(
            "digits-mlp", "sgd", SIZES, store=tmp_path, executor=client.get_executor(), **SMALL
        )

    thread = threading.Thread(target=run)
    thread.start()
    deadline, victim = time.monotonic() + 120, None
    while victim is None:  # kill the first worker seen running a cell, at once
        assert time.monotonic() < deadline and thread.is_alive(), "no task started in time"
        busy = {w: keys for w, keys in client.run(_executing).items() if keys}
        victim = next(iter(busy), None)
        time.sleep(0 if victim else 0.01)
    in_flight = busy[victim]
    os.kill(pids[victim], signal.SIGKILL)
    thread.join(timeout=180)
    assert not thread.is_alive() and "df" in outcome
    assert len(in_flight) == 1 and len(list(tmp_path.glob("cell-*.json"))) == len(SIZES)
    story = [t[1:] for t in client.run_on_scheduler(_transitions) if t[0] == in_flight[0]]
    # taken from the dead worker mid-task, then run to the end elsewhere
    assert story.index(("processing", "released")) < story.index(("processing", "memory"))
    pd.testing.assert_frame_equal(outcome["df"][RESULT], in_process[RESULT])
    assert pids[victim] not in client.run(os.getpid).values()


@pytest.mark.cluster
def test_batchsteps_sweeps_without_importing_dask():
    code = (
        "import sys; import batchsteps, batchsteps.train as bt; "
        "bt.sweep('nqm', 'sgd', [4], lr=0.01, seeds=[0], target=None, max_steps=2, "
        "progress=False, executor=__import__('concurrent.futures').futures.ThreadPoolExecutor(1)); "
        "assert not {'dask', 'distributed'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
