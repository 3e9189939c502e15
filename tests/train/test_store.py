"""The result store under the faults a trusted store is tested against: damaged cells, a newer
format, an interrupted sweep, a full disk, a read-only folder (concurrent writers:
test_cluster.py)."""

import errno
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
import torch

import batchsteps.train as bt
from batchsteps.train import store

_G = torch.Generator().manual_seed(0)
X = torch.randn(256, 4, generator=_G)
Y = (X[:, 0] + X[:, 1] > 0).long()
TINY = bt.Workload("tiny", X, Y, lambda: bt.mlp((4, 16, 2)))
SIZES = [8, 16, 32]
ARGS = dict(lr=0.2, seeds=[0, 1], target="loss<=0.3", max_steps=500, progress=False)
RESULT = ["optimizer", "batch_size", "lr", "seed", "steps", "reached", "reason", "check_every"]


def run(folder, sizes=SIZES, workload=TINY, **extra):
    return bt.sweep(workload, "sgd", sizes, store=folder, **ARGS, **extra)


def cells(folder):
    return sorted(folder.glob("cell-*.json"))


def leftovers(folder):
    """Files in the store that are neither cells nor damaged cells moved aside."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("cell-"))


def batch_size(path):
    return json.loads(path.read_bytes())["key"]["batch_size"]


def edited(data, _):
    record = json.loads(data)
    record["steps"][0] = -1  # a stray edit: reason still says "reached"
    return json.dumps(record).encode()


DAMAGES = {
    "truncated": (lambda data, _: data[: len(data) // 2], "not valid JSON"),
    "empty": (lambda data, _: b"", "not valid JSON.*Expecting value"),
    "garbage": (lambda data, _: random.Random(18).randbytes(400), "not valid JSON"),
    "a list": (lambda data, _: b"[1, 2, 3]", "a JSON list, not a record"),
    "edited": (edited, "steps and reason disagree"),
    "another key": (lambda data, other: other, "key is not the cell its file name says"),
}


@pytest.mark.parametrize("kind", DAMAGES)
def test_a_damaged_cell_is_moved_aside_named_in_one_warning_and_recomputed(tmp_path, kind):
    first = run(tmp_path)
    victim, other = cells(tmp_path)[:2]
    size, original = batch_size(victim), victim.read_bytes()
    damage, problem = DAMAGES[kind]
    bad = damage(original, other.read_bytes())
    victim.write_bytes(bad)
    with pytest.warns(bt.StoreWarning) as caught:
        again = run(tmp_path)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert str(tmp_path) in message and victim.name in message
    assert re.search(problem, message), message
    (aside,) = tmp_path.glob(f"{victim.name}.damaged-*")
    assert aside.read_bytes() == bad and aside.name in message  # moved, never deleted
    pd.testing.assert_frame_equal(again[RESULT], first[RESULT])
    assert again[~again.cached].batch_size.tolist() == [size, size]
    assert json.loads(victim.read_bytes())["steps"] == json.loads(original)["steps"]
    assert len(cells(tmp_path)) == len(SIZES) and leftovers(tmp_path) == []


def test_several_damaged_cells_share_one_warning(tmp_path):
    first = run(tmp_path)
    for path in cells(tmp_path)[:2]:
        path.write_bytes(path.read_bytes()[:50])
    with pytest.warns(bt.StoreWarning, match=r"2 damaged cell\(s\)") as caught:
        again = run(tmp_path)
    assert len(caught) == 1
    assert all(p.name in str(caught[0].message) for p in cells(tmp_path)[:2])
    pd.testing.assert_frame_equal(again[RESULT], first[RESULT])
    assert (~again.cached).sum() == 2 * len(ARGS["seeds"])


def test_cells_are_written_in_format_1_and_read_whether_marked_or_not(tmp_path):
    first = run(tmp_path, [8])
    (path,) = cells(tmp_path)
    record = json.loads(path.read_bytes())
    assert "format" not in record  # format 1: the records written since stores exist
    path.write_text(json.dumps({**record, "format": 1}))
    again = run(tmp_path, [8])
    assert again.cached.all()
    pd.testing.assert_frame_equal(again[RESULT], first[RESULT])


@pytest.mark.parametrize("version", [2, "2.0", None])
def test_a_cell_of_another_format_is_an_error_naming_it_not_a_recompute(tmp_path, version):
    run(tmp_path, [8])
    (path,) = cells(tmp_path)
    path.write_text(json.dumps({**json.loads(path.read_bytes()), "format": version}))
    before = path.read_bytes()
    with pytest.raises(bt.StoreVersionError, match=rf"cell format {re.escape(repr(version))}"):
        run(tmp_path, [8, 16])
    assert cells(tmp_path) == [path] and path.read_bytes() == before  # nothing computed
    assert bt.check_store(tmp_path).newer == {path: version}


def interrupting(folder, after):
    """A workload (TINY's data, so TINY's cells) whose next cell is interrupted once the store
    holds ``after`` cells, as Ctrl-C would interrupt it; ``armed["on"] = False`` disarms it."""
    armed = {"on": True}

    def model():
        if armed["on"] and len(cells(folder)) >= after:
            raise KeyboardInterrupt
        return bt.mlp((4, 16, 2))

    return bt.Workload("tiny", X, Y, model), armed


@pytest.mark.slow
@pytest.mark.parametrize("executor", [None, "threads"])
@pytest.mark.parametrize("seed", [1, 2])
def test_an_interrupted_sweep_keeps_its_finished_cells_and_says_how_many(tmp_path, executor, seed):
    sizes = [8, 16, 24, 32, 40]
    after = random.Random(seed).randrange(1, len(sizes))  # the cell the interrupt falls in
    workload, armed = interrupting(tmp_path, after)
    pool = ThreadPoolExecutor(1) if executor else None
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning, match="interrupted") as caught:
        run(tmp_path, sizes, workload, executor=pool)
    if pool:
        pool.shutdown()
    (message,) = [str(w.message) for w in caught if "interrupted" in str(w.message)]
    assert f"{after} of {len(sizes)} cells are kept" in message and str(tmp_path) in message
    assert f"only the other {len(sizes) - after}" in message
    assert len(cells(tmp_path)) == after and leftovers(tmp_path) == []
    stamps = {p: p.stat().st_mtime_ns for p in cells(tmp_path)}
    armed["on"] = False
    again = run(tmp_path, sizes, workload)
    assert again.cached.sum() == after * len(ARGS["seeds"])
    assert {p: p.stat().st_mtime_ns for p in cells(tmp_path) if p in stamps} == stamps
    pd.testing.assert_frame_equal(again[RESULT], run(tmp_path / "fresh", sizes)[RESULT])


def test_an_interrupt_while_a_cell_is_written_leaves_no_part_of_it(tmp_path, monkeypatch):
    run(tmp_path, [8])
    faulty_writes(monkeypatch, tmp_path, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning, match="1 of 2 cells are kept"):
        run(tmp_path, [8, 16])
    assert len(cells(tmp_path)) == 1 and leftovers(tmp_path) == []


def test_an_interrupted_sweep_without_a_store_says_nothing_was_kept(tmp_path):
    workload, _ = interrupting(tmp_path, 0)  # at once
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning, match="0 of 2 cells; wi"):
        bt.sweep(workload, "sgd", [8, 16], **ARGS)


# Ctrl-C as in a terminal: SIGINT raises KeyboardInterrupt even where this test runs in a
# background job, whose children inherit SIGINT ignored
CTRL_C = textwrap.dedent(
    """
    import signal, sys, torch
    signal.signal(signal.SIGINT, signal.default_int_handler)
    torch.set_num_threads(1)
    import batchsteps.train as bt
    bt.sweep("digits-mlp", "sgd", [8, 16, 24, 32, 40, 48], lr=0.05, seeds=[0, 1],
             target="loss<=0.4", max_steps=600, store=sys.argv[1], progress=False)
    """
)


@pytest.mark.slow  # a fresh interpreter importing torch: about 10 s on two busy cores
def test_ctrl_c_in_a_terminal_keeps_the_finished_cells_and_leaves_no_temporary_file(tmp_path):
    folder, script = tmp_path / "store", tmp_path / "run.py"
    script.write_text(CTRL_C)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(folder)], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not cells(folder):
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    kept = len(cells(folder))
    assert f"{kept} of 6 cells are kept in the store" in err and leftovers(folder) == []


@pytest.fixture
def tmpfs(tmp_path):
    """A 256 KiB tmpfs folder, where the test can mount one (root with CAP_SYS_ADMIN)."""
    folder = tmp_path / "mnt"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root; the simulated variant runs instead")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True
    )
    if made.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip()!r}); simulated runs instead")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def fill(folder):
    """Fill the file system of ``folder`` to the last block."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as err:
        assert err.errno == errno.ENOSPC
    finally:
        os.close(fd)


def faulty_writes(monkeypatch, folder, fault):
    """Writes into files of ``folder`` stop with ``fault`` raised after 100 bytes, as on a disk
    that fills or under a Ctrl-C that falls in the middle of a write."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to tell the store's files")
    real, written = os.write, {}

    def write(fd, data):
        if not os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder)):
            return real(fd, data)
        if written.get(fd, 0) >= 100:
            raise fault
        written[fd] = written.get(fd, 0) + real(fd, bytes(data[:100]))
        return min(len(data), 100)

    monkeypatch.setattr(os, "write", write)


@pytest.mark.parametrize("disk", ["simulated", "tmpfs"])
def test_a_full_disk_is_an_error_naming_the_store_and_leaves_no_partial_cell(
    request, tmp_path, monkeypatch, disk
):
    base = tmp_path if disk == "simulated" else request.getfixturevalue("tmpfs")
    folder = base / "store"
    first = run(folder, [8])
    if disk == "simulated":
        faulty_writes(monkeypatch, folder, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    else:
        fill(base)
    with pytest.raises(OSError, match=rf"{re.escape(str(folder))}.*disk is full") as err:
        run(folder, [8, 16])
    assert err.value.errno == errno.ENOSPC
    assert len(cells(folder)) == 1 and leftovers(folder) == []
    pd.testing.assert_frame_equal(run(folder, [8])[RESULT], first[RESULT])  # still readable
    monkeypatch.undo()
    (base / "filler").unlink(missing_ok=True)
    again = run(folder, [8, 16])
    assert again.cached.tolist() == [True, True, False, False]


def read_only(how, folder, monkeypatch):
    if how == "simulated":  # the file system refuses to create files in the store
        real = os.open

        def refuse(path, flags, *args, **kwargs):
            if flags & os.O_CREAT and str(path).startswith(str(folder)):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            return real(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refuse)
    elif how == "mount":
        subprocess.run(["mount", "-o", "remount,ro", str(folder.parent)], check=True)
    else:
        folder.chmod(0o555)


@pytest.mark.parametrize("how", ["simulated", "mount", "chmod"])
def test_a_read_only_store_is_read_and_refuses_new_cells_naming_the_folder(
    request, tmp_path, monkeypatch, how
):
    if how == "chmod" and os.geteuid() == 0:
        pytest.skip("root writes into a folder whatever its mode; 'mount' and 'simulated' run")
    base = request.getfixturevalue("tmpfs") if how == "mount" else tmp_path
    folder = base / "store"
    first = run(folder, SIZES)
    read_only(how, folder, monkeypatch)
    try:
        again = run(folder, SIZES)
        assert again.cached.all()
        pd.testing.assert_frame_equal(again[RESULT], first[RESULT])
        built = []  # models built: the one the key digests, no replica: refused before any work
        counting = bt.Workload("tiny", X, Y, lambda: built.append(1) or bt.mlp((4, 16, 2)))
        with pytest.raises(OSError, match=re.escape(str(folder))) as err:
            run(folder, [*SIZES, 64], counting)
        assert built == [1]
        assert err.value.errno in (errno.EROFS, errno.EACCES)
        assert re.search("read-only|permission", str(err.value))
        assert len(cells(folder)) == len(SIZES) and leftovers(folder) == []
    finally:
        if how == "chmod":
            folder.chmod(0o755)


def test_check_store_finds_every_fault_and_clean_leaves_the_store_whole(tmp_path):
    run(tmp_path / "a", SIZES)
    run(tmp_path / "b", [8])
    damaged, newer = cells(tmp_path / "a")[:2]
    damaged.write_bytes(b'{"key": ')
    newer.write_text(json.dumps({**json.loads(newer.read_bytes()), "format": 3}))
    stale, fresh = tmp_path / "b" / ".tmp-stale.json", tmp_path / "b" / ".tmp-live.json"
    stale.write_text("{")
    fresh.write_text("{")
    old = time.time() - 2 * store.STALE_AFTER
    os.utime(stale, (old, old))
    found = bt.check_store(tmp_path)
    assert isinstance(found, bt.StoreReport) and not found.ok
    assert found.cells == 2 and found.newer == {newer: 3} and found.quarantined == ()
    assert list(found.damaged) == [damaged] and "not valid JSON" in found.damaged[damaged]
    assert found.temporary == tuple(sorted([stale, fresh]))
    assert "2 cells ok, 1 damaged" in str(found)
    cleaned = bt.check_store(tmp_path, clean=True)
    assert cleaned == found  # what was found; then cleaned
    after = bt.check_store(tmp_path)
    assert after.damaged == {} and after.temporary == (fresh,) and after.newer == {newer: 3}
    (aside,) = after.quarantined
    assert aside.name.startswith(damaged.name + ".damaged-") and aside.read_bytes() == b'{"key": '


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: bt.check_store(3), TypeError, "folder must be a path"),
        (
            lambda: bt.check_store("no/such"),
            ValueError,
            "folder must be a directory .*got 'no/such'",
        ),
        (
            lambda: bt.check_store(".", clean="yes"),
            TypeError,
            "clean must be True or False, got 'yes'",
        ),
        (lambda: store.read_cell(".", "k"), TypeError, "key must be a mapping .*got 'k'"),
        (
            lambda: store.commit("cell-x.json", [1]),
            TypeError,
            r"record must be a mapping .*got \[1\]",
        ),
        (
            lambda: store.write_cell(".", {"steps": []}),
            TypeError,
            r"record\['key'\] must be a mapping .*got None",
        ),
        (lambda: store.quarantine(["x"]), TypeError, r"damaged\[0\] must be a DamagedCellError"),
        (lambda: store.quarantine([], warn=1), TypeError, "warn must be True or False, got 1"),
    ],
)
def test_bad_store_arguments_name_the_culprit(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_damaged_file_replaced_by_a_whole_cell_before_it_is_moved_stays(tmp_path):
    run(tmp_path, [8])
    (path,) = cells(tmp_path)
    whole = path.read_bytes()
    path.write_bytes(b"garbage")
    key = json.loads(whole)["key"]
    with pytest.raises(store.DamagedCellError, match="not valid JSON") as damage:
        store.read_cell(tmp_path, key)
    path.rename(tmp_path / "moved-by-another-writer")  # which then published the cell again
    path.write_bytes(whole)
    with pytest.warns(bt.StoreWarning, match="moved aside by another writer"):
        assert store.quarantine([damage.value]) == [None]
    assert path.read_bytes() == whole and leftovers(tmp_path) == ["moved-by-another-writer"]
    assert store.read_cell(tmp_path, key) == json.loads(whole)


def test_write_cell_replaces_a_damaged_file_in_its_place_with_a_warning(tmp_path):
    run(tmp_path, [8])
    (path,) = cells(tmp_path)
    record = json.loads(path.read_bytes())
    path.write_bytes(b"\x00\x01")
    with pytest.warns(bt.StoreWarning, match=re.escape(path.name)):
        assert store.write_cell(tmp_path, record) == record
    assert json.loads(path.read_bytes()) == record
    assert len(list(tmp_path.glob(path.name + ".damaged-*"))) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.write_cell(tmp_path, {**record, "worker": "late"}) == record  # first wins


def slowed(monkeypatch, seconds=0.3):
    """Every cell takes at least ``seconds``, so that two sweeps started together overlap."""
    real = bt.sweeps.measure_stacked

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(bt.sweeps, "measure_stacked", slow)


def test_two_sweeps_on_one_store_compute_each_cell_once_and_agree(tmp_path, monkeypatch):
    slowed(monkeypatch)
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: run(tmp_path), range(2))
    computed = (~first.groupby("batch_size").cached.first()).astype(int) + (
        ~second.groupby("batch_size").cached.first()
    ).astype(int)
    assert computed.tolist() == [1] * len(SIZES)  # each cell by one sweep, read by the other
    pd.testing.assert_frame_equal(first[RESULT], second[RESULT])
    assert len(cells(tmp_path)) == len(SIZES) and leftovers(tmp_path) == []


KEY = {"workload": "tiny", "batch_size": 8, "seeds": [0]}


def record(key=KEY):
    return {
        "key": key,
        "steps": [3],
        "reason": ["reached"],
        "check_every": 1,
        "wall_time": 0.1,
        "device": "cpu",
    }


def test_a_claimed_cell_is_waited_for_and_read_not_computed_again(tmp_path):
    def wait():
        with store.claim(tmp_path, KEY, poll=0.01) as other:
            return other

    pool = ThreadPoolExecutor(1)  # outside the claim: a failure below releases the waiter
    try:
        with store.claim(tmp_path, KEY) as found:
            assert found is None  # this caller computes it
            (claim_file,) = tmp_path.glob(store.CLAIM_PREFIX + "*")
            assert json.loads(claim_file.read_bytes())["pid"] == os.getpid()
            waiting = pool.submit(wait)
            time.sleep(0.3)
            assert not waiting.done()
            written = store.write_cell(tmp_path, record())
        assert waiting.result(timeout=10) == written
    finally:
        pool.shutdown(wait=False)
    assert leftovers(tmp_path) == []


def test_a_failed_computation_releases_its_claim(tmp_path):
    with pytest.raises(RuntimeError, match="diverged"), store.claim(tmp_path, KEY):
        raise RuntimeError("diverged")
    assert leftovers(tmp_path) == []
    with store.claim(tmp_path, KEY, poll=0.01) as found:  # free again, at once
        assert found is None


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def plant(folder, host, pid, age=0.0):
    path = store.cell_path(folder, KEY)
    claim_file = path.with_name(store.CLAIM_PREFIX + path.name)
    claim_file.write_text(json.dumps({"host": host, "pid": pid, "time": time.time() - age}))
    os.utime(claim_file, (time.time() - age, time.time() - age))
    return claim_file


@pytest.mark.parametrize(
    "owner",
    ["process gone", "other host, stale", "not json"],
)
def test_a_claim_no_live_writer_holds_is_taken_over(tmp_path, owner):
    import socket

    if owner == "process gone":
        plant(tmp_path, socket.gethostname(), dead_pid())
    elif owner == "other host, stale":
        plant(tmp_path, "elsewhere", 1, age=2 * store.STALE_AFTER)
    else:
        claim_file = plant(tmp_path, "x", 1, age=10)
        claim_file.write_text("{")
        os.utime(claim_file, (time.time() - 10, time.time() - 10))
    with ThreadPoolExecutor(1) as pool:
        taken = pool.submit(lambda: store.claim(tmp_path, KEY, poll=0.01).__enter__())
        assert taken.result(timeout=10) is None


def test_a_live_claim_of_another_host_is_waited_for_until_released(tmp_path):
    claim_file = plant(tmp_path, "elsewhere", 1)

    def wait():
        with store.claim(tmp_path, KEY, poll=0.01) as found:
            return found

    pool = ThreadPoolExecutor(1)
    try:
        waiting = pool.submit(wait)
        time.sleep(0.3)
        assert not waiting.done()
    finally:
        claim_file.unlink()  # the other host's writer failed: this one computes
    assert waiting.result(timeout=10) is None
    pool.shutdown()


def test_check_store_lists_claims_and_clean_removes_only_dead_ones(tmp_path):
    import socket

    run(tmp_path, [8])
    live = plant(tmp_path, socket.gethostname(), os.getpid())
    dead_key = {**KEY, "batch_size": 16}
    dead_path = store.cell_path(tmp_path, dead_key)
    dead = dead_path.with_name(store.CLAIM_PREFIX + dead_path.name)
    dead.write_text(json.dumps({"host": socket.gethostname(), "pid": dead_pid()}))
    found = bt.check_store(tmp_path)
    assert found.ok and found.cells == 1 and found.claimed == tuple(sorted([live, dead]))
    assert "2 claimed" in str(found)
    bt.check_store(tmp_path, clean=True)
    assert bt.check_store(tmp_path).claimed == (live,)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(key="k"), TypeError, "key must be a mapping .*got 'k'"),
        (dict(poll=0), ValueError, "poll must be .*got 0"),
        (dict(poll="1"), TypeError, "poll must be"),
    ],
)
def test_bad_claim_arguments_name_the_culprit(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match), store.claim(tmp_path, **{"key": KEY, **kwargs}):
        pass
