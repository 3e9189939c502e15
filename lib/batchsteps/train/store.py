"""The result store of sweeps: one JSON file per cell, written whole, first writer wins.

A store is a folder. A cell (one optimizer, batch size, learning rate and hyperparameter
setting, all seeds at once) is the file ``cell-<hash of its key>.json`` holding a record:
``key`` (everything that determines the result), the result fields ``steps``, ``reason``,
``check_every`` and the provenance fields ``wall_time``, ``device``, ``worker``.

What the store guarantees, and how each promise is kept:

- **A cell is whole or absent.** It is written to a temporary file in the same folder
  (``.tmp-*``), fsynced, then published under its name by a hard link; a writer killed,
  interrupted or stopped by a full disk leaves no cell, and its temporary file is removed
  (a SIGKILL can leave one: :func:`check_store` finds it, ``clean=True`` removes it).
- **The first writer wins.** ``os.link`` refuses an existing name, so a duplicated or retried
  writer leaves the file's bytes, inode and mtime as the first writer left them, and every
  reader returns what the file holds (without hard links: ``os.replace`` after an existence
  check, each file still whole; two writers racing on one cell may then both write).
- **A damaged cell is never trusted.** A reader checks every cell it reads: valid JSON, the
  record's fields and their types, steps and reasons that agree, one per seed, and a key that
  hashes to the file's name. A cell that fails is a :class:`DamagedCellError` naming the file
  and what is wrong; :func:`quarantine` moves it aside (``<name>.damaged-<time>-<id>``, never
  deleted) so that it is recomputed.
- **A newer format is an error, never a recompute.** This code writes and reads cell format
  :data:`FORMAT_VERSION` = 1: the records written since stores exist, without a ``format``
  field (their content is checked by the schema and key above, no checksum). A later format
  must carry ``"format": N``; a cell with any format other than 1 raises
  :class:`StoreVersionError` naming it.
- **Concurrent sweeps share a cell's work.** A writer about to compute a cell first claims it
  (:func:`claim`: a file ``.claim-<cell name>`` created exclusively, naming its host and
  process); another sweep wanting the same cell waits for the cell to appear instead of
  computing it too. A claim whose process is gone (same host) or older than ``STALE_AFTER``
  (another host) is taken over; a failed computation releases its claim. Claims only save
  work: without them (or where they go stale), the first writer still wins.
- **Write failures name the store.** A full disk, a read-only folder or a missing permission
  raise ``OSError`` (its ``errno`` kept) naming the folder and the cause; a read-only store
  can still be read.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from .. import validation

__all__ = [
    "FORMAT_VERSION",
    "TEMP_PREFIX",
    "DAMAGED_MARK",
    "CLAIM_PREFIX",
    "STALE_AFTER",
    "DamagedCellError",
    "StoreVersionError",
    "StoreWarning",
    "StoreReport",
    "cell_path",
    "read_cell",
    "commit",
    "write_cell",
    "claim",
    "quarantine",
    "check_writable",
    "check_store",
]

#: The cell format this code writes and reads (a record without a ``format`` field).
FORMAT_VERSION = 1
#: Temporary files of writers in flight start with this.
TEMP_PREFIX = ".tmp-"
#: Damaged cells moved aside get this mark and a time stamp after their name.
DAMAGED_MARK = ".damaged-"
#: A writer computing a cell holds a file named this followed by the cell's file name.
CLAIM_PREFIX = ".claim-"
#: Temporary files and claims older than this (seconds) belong to no live writer: ``clean``
#: removes them, and a claim this old from another host is taken over.
STALE_AFTER = 3600.0

_FIELDS = ("key", "steps", "reason", "check_every", "wall_time", "device")
_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV)
_CAUSES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the folder is on a read-only file system",
    errno.EACCES: "no permission to write there",
    errno.EPERM: "no permission to write there",
}


class DamagedCellError(ValueError):
    """A cell file that cannot be trusted: ``path`` and ``problem`` (what is wrong)."""

    def __init__(self, path: Path, problem: str, identity: tuple[int, ...] | None = None):
        super().__init__(f"damaged cell {str(path)!r}: {problem}")
        self.path, self.problem, self.identity = path, problem, identity


class StoreVersionError(ValueError):
    """A cell written in a format this code cannot read (a newer batchsteps wrote it)."""

    def __init__(self, path: Path, version: Any):
        super().__init__(
            f"store file {str(path)!r} is in cell format {version!r}; this batchsteps reads "
            f"format {FORMAT_VERSION} only. If a newer batchsteps wrote it, upgrade; else give "
            f"this version a store= folder of its own (nothing was changed or recomputed)"
        )
        self.path, self.version = path, version


class StoreWarning(UserWarning):
    """Damaged cells were found, moved aside and recomputed."""


def cell_path(folder: str | os.PathLike, key: Mapping[str, Any]) -> Path:
    """File of the cell whose identity is ``key``: ``cell-<sha256 of its JSON>.json``.

    >>> cell_path("store", {"a": 1}).name
    'cell-f9d86028c6e0d64e225186f9.json'
    """
    text = json.dumps(key, sort_keys=True)
    return Path(folder) / f"cell-{hashlib.sha256(text.encode()).hexdigest()[:24]}.json"


def _parse(path: Path, data: bytes, identity: tuple[int, ...] | None) -> dict:
    """The record in ``data``, or :class:`DamagedCellError`; :class:`StoreVersionError` for a
    format other than this one."""
    try:
        record = json.loads(data)
    except (ValueError, RecursionError) as err:  # JSONDecodeError and UnicodeDecodeError
        problem = f"not valid JSON ({err}); truncated or overwritten?"
        raise DamagedCellError(path, problem, identity) from None
    if not isinstance(record, dict):
        raise DamagedCellError(
            path, f"holds a JSON {type(record).__name__}, not a record", identity
        )
    version = record.get("format", FORMAT_VERSION)
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise StoreVersionError(path, version)
    return record


def _problem(record: dict, path: Path) -> str | None:
    """What is wrong with a parsed cell record at ``path``, or ``None``."""
    missing = [f for f in _FIELDS if f not in record]
    if missing:
        return f"lacks the field(s) {', '.join(missing)}"
    key = record["key"]
    if not isinstance(key, dict) or cell_path(path.parent, key).name != path.name:
        return "its key is not the cell its file name says (edited, or copied under this name)"
    seeds, steps, reason = key.get("seeds"), record["steps"], record["reason"]
    if not isinstance(seeds, list) or not seeds:
        return "its key has no list of seeds"
    if not isinstance(steps, list) or len(steps) != len(seeds):
        return f"steps is not a list of {len(seeds)} values, one per seed"
    if not all(type(s) is int and s >= -1 for s in steps):
        return "steps holds a value that is not an int >= -1"
    if not isinstance(reason, list) or len(reason) != len(steps):
        return f"reason is not a list of {len(seeds)} values, one per seed"
    pairs = zip(steps, reason, strict=True)
    if any(not isinstance(r, str) or (s >= 0) != (r == "reached") for s, r in pairs):
        return "steps and reason disagree (a step count exactly where the reason is 'reached')"
    if type(record["check_every"]) is not int or record["check_every"] < 1:
        return "check_every is not an int >= 1"
    wall = record["wall_time"]
    if isinstance(wall, bool) or not isinstance(wall, (int, float)) or not wall >= 0:
        return "wall_time is not a number >= 0"
    if not isinstance(record["device"], str):
        return "device is not a string"
    if not isinstance(record.get("worker"), (str, type(None))):
        return "worker is not a string"
    return None


def _as_record(value: object, argument: str) -> dict[str, Any]:
    return validation.mapping_of(argument, value, what="a mapping (a JSON object)", nonempty=False)


def _identity(stat: os.stat_result) -> tuple[int, ...]:
    """Tells a file from the one that takes its name later (inode numbers are reused)."""
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _checked(record: dict, path: Path, identity: tuple[int, ...] | None = None) -> dict:
    problem = _problem(record, path)
    if problem is not None:
        raise DamagedCellError(path, problem, identity)
    return record


def _load(path: Path) -> dict | None:
    """The cell record at ``path`` checked, ``None`` if there is no file."""
    try:
        with open(path, "rb") as f:
            identity = _identity(os.fstat(f.fileno()))
            data = f.read()
    except FileNotFoundError:
        return None
    return _checked(_parse(path, data, identity), path, identity)


def read_cell(folder: str | os.PathLike, key: Mapping[str, Any]) -> dict | None:
    """The record of the cell ``key`` in the store ``folder``, ``None`` if it is not there.

    Raises :class:`DamagedCellError` for a cell that fails the checks (nothing is moved:
    see :func:`quarantine`) and :class:`StoreVersionError` for a cell of another format.
    """
    return _load(cell_path(validation.path("folder", folder), _as_record(key, "key")))


def _store_error(err: OSError, folder: Path) -> OSError:
    cause = _CAUSES.get(err.errno, "the write failed")
    return OSError(
        err.errno,
        f"cannot write to the result store {str(folder)!r}: {err.strerror} ({cause}); no "
        f"partial cell was left, and the cells it holds can still be read",
    )


def _publish(tmp: str, path: Path) -> bool:
    """Give the file ``tmp`` the name ``path`` unless a file has it; whether it did."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as err:  # no hard links here: last writer wins, each file whole
        if err.errno not in _NO_LINKS:
            raise
        if path.exists():
            return False
        os.replace(tmp, path)
    return True


def commit(path: str | os.PathLike, record: Mapping[str, Any]) -> dict:
    """Write ``record`` as JSON to ``path`` unless a file is there (first writer wins); return
    what the file holds.

    The record goes to a temporary file in the same folder, fsynced, then hard-linked to
    ``path``; the temporary file is removed whatever happens. A write that fails (full disk,
    read-only folder) raises ``OSError`` naming the folder and the cause. When another writer
    was first, its record is returned (:class:`DamagedCellError` if it is not valid JSON).
    """
    path = validation.path("path", path)
    data = json.dumps(_as_record(record, "record"), sort_keys=True, indent=1).encode()
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".json", dir=path.parent)
    except OSError as err:
        raise _store_error(err, path.parent) from err
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        first = _publish(tmp, path)
    except OSError as err:
        raise _store_error(err, path.parent) from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if first:
        return json.loads(data)
    with open(path, "rb") as f:
        return _parse(path, f.read(), None)


def write_cell(folder: str | os.PathLike, record: Mapping[str, Any]) -> dict:
    """Commit the cell ``record`` to the store ``folder`` (first writer wins); return the
    record the store holds. A damaged file in the cell's place is moved aside (a
    :class:`StoreWarning`) and the record written in its stead."""
    key = _as_record(_as_record(record, "record").get("key"), "record['key']")
    path = cell_path(validation.path("folder", folder), key)
    try:
        return _checked(commit(path, record), path)
    except DamagedCellError as damage:
        quarantine([damage])
    return _checked(commit(path, record), path)


def _claim_owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}


def _claim_is_dead(path: Path) -> bool:
    """Whether the claim at ``path`` belongs to no live writer: its process is gone (same
    host), or it is older than ``STALE_AFTER`` (another host), or it holds no owner."""
    try:
        age = time.time() - path.stat().st_mtime
        owner = json.loads(path.read_bytes())
    except FileNotFoundError:
        return False  # released meanwhile: the caller looks again
    except ValueError:  # being written (a few bytes, microseconds) or damaged
        return age > 1.0
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return age > STALE_AFTER
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, KeyError, TypeError, ValueError, OverflowError):
        return age > STALE_AFTER
    return False


def _present(path: Path) -> dict | None:
    """The cell at ``path`` if it is there and whole (a damaged one counts as absent)."""
    try:
        return _load(path)
    except DamagedCellError:
        return None


@contextmanager
def claim(
    folder: str | os.PathLike, key: Mapping[str, Any], *, poll: float = 0.2
) -> Iterator[dict | None]:
    """Hold the cell ``key`` of the store ``folder`` while computing it.

    Yields the cell's record if it is (or, after waiting, comes to be) in the store, else
    ``None``: the caller holds the claim, computes the cell and writes it (:func:`write_cell`)
    before leaving the block, which releases the claim whatever happens. While another live
    writer holds the claim, this waits (polling every ``poll`` seconds) for its cell or for
    the claim to be released or to go stale. Where no claim can be created (a read-only
    store), it yields ``None`` at once.
    """
    path = cell_path(validation.path("folder", folder), _as_record(key, "key"))
    poll = validation.positive("poll", poll)
    held = path.with_name(CLAIM_PREFIX + path.name)
    while True:
        found = _present(path)
        if found is not None:
            yield found
            return
        try:
            fd = os.open(held, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _claim_is_dead(held):
                with suppress(FileNotFoundError):
                    held.unlink()
            else:
                time.sleep(poll)
            continue
        except OSError:  # no claim possible (read-only store): compute unclaimed
            yield None
            return
        break
    try:
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(_claim_owner(), f)
        except OSError:  # a full disk: compute unclaimed (the write then names the store)
            held.unlink()
            yield None
            return
        yield _present(path)  # a writer may have finished between the look and the claim
    finally:
        with suppress(FileNotFoundError):
            held.unlink()


def quarantine(damaged: Sequence[DamagedCellError], *, warn: bool = True) -> list[Path | None]:
    """Move each damaged cell aside to ``<name>.damaged-<UTC time>-<id>`` (never deleted), so
    that it is recomputed; with ``warn``, one :class:`StoreWarning` names them all, with what
    was wrong. Returns where each went (``None``: another writer moved it first)."""
    damaged = validation.sequence_of(
        "damaged", damaged, partial(validation.instance, types=DamagedCellError), min_size=0
    )
    warn = validation.boolean("warn", warn)
    moved: list[Path | None] = []
    for damage in damaged:
        path = damage.path
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = path.with_name(f"{path.name}{DAMAGED_MARK}{stamp}-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            moved.append(None)
            continue
        except OSError as err:
            raise _store_error(err, path.parent) from err
        if damage.identity is not None and _identity(os.stat(aside)) != damage.identity:
            # a writer replaced the damaged file with a whole cell meanwhile: put it back,
            # unless yet another writer has published the cell (then this copy is surplus)
            _publish(str(aside), path)
            if os.path.exists(aside):
                os.unlink(aside)
            moved.append(None)
            continue
        moved.append(aside)
    if warn and damaged:
        lines = [
            f"  {d.path.name}: {d.problem} -> "
            + (to.name if to is not None else "moved aside by another writer")
            for d, to in zip(damaged, moved, strict=True)
        ]
        warnings.warn(
            f"{len(damaged)} damaged cell(s) in the result store {str(damaged[0].path.parent)!r} "
            f"moved aside (not deleted) and recomputed:\n" + "\n".join(lines),
            StoreWarning,
            stacklevel=3,
        )
    return moved


def check_writable(folder: str | os.PathLike) -> None:
    """Raise ``OSError`` naming ``folder`` and the cause unless a cell can be created there."""
    folder = validation.path("folder", folder)
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    except OSError as err:
        raise _store_error(err, folder) from err
    os.close(fd)
    os.unlink(tmp)


@dataclass(frozen=True)
class StoreReport:
    """What :func:`check_store` found in a store (and its subfolders).

    ``cells``: cells that pass every check; ``damaged``: path -> what is wrong (moved aside
    when ``clean``); ``newer``: path -> format of cells this version cannot read (left alone);
    ``temporary``: files of writers that never finished (removed when ``clean`` and older
    than an hour, ``STALE_AFTER`` seconds); ``claimed``: claims of cells being computed now
    (or left by a writer that died: removed when ``clean``); ``quarantined``: damaged cells
    moved aside before, kept for inspection (delete them by hand once looked at).
    """

    folder: Path
    cells: int
    damaged: Mapping[Path, str] = field(default_factory=dict)
    newer: Mapping[Path, Any] = field(default_factory=dict)
    temporary: tuple[Path, ...] = ()
    claimed: tuple[Path, ...] = ()
    quarantined: tuple[Path, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every file of the store is a whole, readable cell (quarantine aside)."""
        return not (self.damaged or self.newer or self.temporary)

    def __str__(self) -> str:
        return (
            f"store {str(self.folder)!r}: {self.cells} cells ok, {len(self.damaged)} damaged, "
            f"{len(self.newer)} of a newer format, {len(self.temporary)} temporary files, "
            f"{len(self.claimed)} claimed, {len(self.quarantined)} moved aside earlier"
        )


def check_store(folder: str | os.PathLike, *, clean: bool = False) -> StoreReport:
    """Check every cell of the store ``folder`` (subfolders included) as a sweep reads it.

    With ``clean``, damaged cells are moved aside (never deleted), temporary files older
    than an hour (left by a killed writer; a live writer keeps one for milliseconds) are
    removed, and so are claims no live writer holds (``store.claim``); cells of a newer format
    and files moved aside earlier are left alone. Returns a :class:`StoreReport` of what was
    found; a second check after ``clean`` finds no damaged cell, no stale temporary file and
    no dead claim.
    """
    folder = validation.path("folder", folder)
    clean = validation.boolean("clean", clean)
    if not folder.is_dir():
        raise validation.value_error("folder", str(folder), "a directory (a result store)")
    cells, damaged, newer = 0, [], {}
    temporary, claimed, quarantined = [], [], []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        if path.name.startswith(TEMP_PREFIX):
            temporary.append(path)
        elif path.name.startswith(CLAIM_PREFIX):
            claimed.append(path)
        elif DAMAGED_MARK in path.name:
            quarantined.append(path)
        elif path.name.startswith("cell-") and path.suffix == ".json":
            try:
                cells += _load(path) is not None  # None: moved or removed since listed
            except DamagedCellError as damage:
                damaged.append(damage)
            except StoreVersionError as err:
                newer[path] = err.version
    if clean:
        quarantine(damaged, warn=False)
        for path in temporary:
            try:
                if time.time() - path.stat().st_mtime > STALE_AFTER:
                    path.unlink()
            except FileNotFoundError:  # its writer finished meanwhile
                pass
        for path in claimed:
            if _claim_is_dead(path):
                with suppress(FileNotFoundError):
                    path.unlink()
    return StoreReport(
        folder=folder,
        cells=cells,
        damaged={d.path: d.problem for d in damaged},
        newer=newer,
        temporary=tuple(temporary),
        claimed=tuple(path for path in claimed if path.exists()),
        quarantined=tuple(quarantined),
    )
