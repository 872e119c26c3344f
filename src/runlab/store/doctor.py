"""Checking a store for damage, and repairing what can be repaired.

Contract:
- :func:`check_store` only reads: it changes no file and no index row. (It reads
  the index directly, not through :meth:`Store.records`, which repairs as it
  lists.) Each problem is a :class:`Finding` of one of these kinds:

  ============== ============================================ =====================
  kind           what is wrong                                repair
  ============== ============================================ =====================
  dead-running   run.json says running; its process is gone   record it crashed
  orphan-row     an index row without a run folder            drop the row
  missing-row    a run folder without an index row            index the folder
  stale-row      an index row that differs from its folder    re-index the run
  torn-series    a metric file ends in part of a record       cut the partial record
  torn-manifest  a line of names*.jsonl does not parse        rewrite without it
  unreadable     run.json or config.yaml cannot be read       none (``runlab rm``)
  stray-temp     a ``.*.tmp`` file over an hour old           delete it
  ============== ============================================ =====================

- A run whose process is alive is checked only for stray temporary files: its
  row, series and manifests change under the doctor, its owner indexes it, and
  its own writer cuts a torn tail before it appends.
- :func:`fix_findings` repairs in a safe order (run.json, then files, then the
  index), looks again before each repair, and returns the findings it repaired
  with ``action`` saying what it did. A finding that no longer holds, or whose
  repair failed (logged as a warning), is left out.
- Paths in findings are relative to the store folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runlab import _json
from runlab.errors import RunlabError, StoreError
from runlab.store import layout
from runlab.store.files import read_json, write_text_atomic
from runlab.store.record import build_record, live_status
from runlab.store.series import MANIFEST, RECORD_SIZE, _owned_files
from runlab.store.store import Store
from runlab.store.stored import iso_time

__all__ = ["KINDS", "STRAY_TEMP_AGE_S", "Finding", "check_store", "fix_findings"]

logger = logging.getLogger(__name__)

# In the order fix_findings repairs them: run.json first, the index last, so
# that rows are rebuilt from folders that are already repaired.
KINDS = (
    "dead-running",
    "torn-series",
    "torn-manifest",
    "stray-temp",
    "orphan-row",
    "missing-row",
    "stale-row",
    "unreadable",
)

# An atomic write lives for milliseconds; a temp file this old is a leftover.
STRAY_TEMP_AGE_S = 3600.0


@dataclass(frozen=True)
class Finding:
    """One problem in a store.

    Attributes:
        kind: one of :data:`KINDS`.
        run_id: the run it concerns, or None for a file outside any run.
        path: the folder or file, relative to the store; None for an index row.
        detail: what is wrong, naming the file, for a person to read.
        fixable: whether :func:`fix_findings` can repair it.
        action: what the repair did; None until repaired.
    """

    kind: str
    run_id: str | None
    path: str | None
    detail: str
    fixable: bool
    action: str | None = None


# Checking --------------------------------------------------------------------


def check_store(store: Store) -> list[Finding]:
    """Return every problem found in ``store``, run by run, then stray temp files.

    Raises:
        StoreError: the store folder does not exist, or its index cannot be read.
    """
    if not store.path.is_dir():
        raise StoreError(
            f"No store at {store.path}; "
            "give the store folder with --store or RUNLAB_DIR."
        )
    rows = _index_rows(store)
    on_disk = store.run_ids_on_disk()

    findings = [
        Finding("orphan-row", run_id, None, "index row without a run folder", True)
        for run_id in sorted(set(rows) - set(on_disk))
    ]
    for run_id in on_disk:
        try:
            findings += _check_run(store, run_id, rows.get(run_id))
        except OSError as err:
            # One folder the doctor cannot read must not hide the others.
            findings.append(_unreadable(store.run_dir(run_id), run_id, str(err)))
    findings += _check_temp_files(store.path, time.time())
    return findings


def _index_rows(store: Store) -> dict[str, dict[str, Any]]:
    # No index yet is an empty index; opening it would create one.
    if not store.index.path.exists():
        return {}
    return {record["id"]: record for record in store.index.records()}


def _check_run(store: Store, run_id: str, row: dict[str, Any] | None) -> list[Finding]:
    run_dir = store.run_dir(run_id)
    record = build_record(run_dir)
    findings = _check_readable(run_dir, record)
    is_live = record["status"] == "running" and live_status(record) == "running"
    # A live run's owner indexes it a moment after start, and on every beat.
    if row is None and not is_live:
        findings.append(
            Finding("missing-row", run_id, run_id, "run folder not in the index", True)
        )
    if record["status"] != "running":
        return findings + _check_files(run_dir, record, row)
    if is_live:
        return findings

    beat = record.get("heartbeat") or record.get("started")
    detail = f"marked running, but its process is gone; last heartbeat {iso_time(beat)}"
    findings.append(Finding("dead-running", run_id, run_id, detail, True))
    # Recording the crash re-indexes the run, so a stale row needs no finding.
    return findings + _check_files(run_dir, record, None)


def _check_files(
    run_dir: Path, record: dict[str, Any], row: dict[str, Any] | None
) -> list[Finding]:
    findings = _check_series(run_dir) + _check_manifests(run_dir)
    changed = _changed_fields(row, record) if row is not None else []
    if changed:
        detail = f"index row differs from the folder in: {_listed(changed)}"
        findings.append(Finding("stale-row", run_dir.name, None, detail, True))
    return findings


def _listed(names: list[str], most: int = 5) -> str:
    more = len(names) - most
    return ", ".join(names[:most]) + (f" and {more} more" if more > 0 else "")


def _changed_fields(row: dict[str, Any], record: dict[str, Any]) -> list[str]:
    # Compare as JSON, as the index holds them: NaN then equals NaN.
    old, new = json.loads(_json.dumps(row)), json.loads(_json.dumps(record))
    if new.get("status") == "unreadable":
        # Such a record's start time is the folder's mtime, which any edit moves.
        old.pop("started", None)
        new.pop("started", None)
    return sorted(
        key for key in old.keys() | new.keys() if old.get(key) != new.get(key)
    )


def _check_readable(run_dir: Path, record: dict[str, Any]) -> list[Finding]:
    from runlab.config import load_config

    findings = []
    if record["status"] == "unreadable":
        error = str(record.get("error"))
        findings.append(_unreadable(run_dir, layout.RUN_FILE, error))
    config = run_dir / layout.CONFIG_FILE
    try:
        if config.exists():
            load_config(config)
    except RunlabError as err:
        findings.append(_unreadable(run_dir, layout.CONFIG_FILE, str(err)))
    return findings


def _unreadable(run_dir: Path, name: str, error: str) -> Finding:
    # Errors name files by absolute path; within a run's row, its own is enough.
    reason = error.replace(f"{run_dir}{os.sep}", "")
    advice = (
        f"repair it by hand, or move the run to the trash: `runlab rm {run_dir.name}`"
    )
    path = name if name == run_dir.name else f"{run_dir.name}/{name}"
    return Finding("unreadable", run_dir.name, path, f"{reason}; {advice}", False)


def _check_series(run_dir: Path) -> list[Finding]:
    metrics = run_dir / layout.METRICS_DIR
    findings = []
    for path in sorted(metrics.glob("*.bin")) if metrics.is_dir() else []:
        torn = path.stat().st_size % RECORD_SIZE if path.is_file() else 0
        if torn:
            detail = f"{_inside(path, run_dir)} ends in a torn record ({torn} byte(s))"
            findings.append(_file_finding("torn-series", run_dir, path, detail))
    return findings


def _check_manifests(run_dir: Path) -> list[Finding]:
    findings = []
    for path in _owned_files(run_dir / layout.METRICS_DIR, MANIFEST):
        if not path.is_file():
            continue
        bad = [n for n, line in enumerate(_lines(path), 1) if not _is_entry(line)]
        if bad:
            numbers = ", ".join(map(str, bad))
            detail = f"{_inside(path, run_dir)}: line(s) {numbers} do not parse"
            findings.append(_file_finding("torn-manifest", run_dir, path, detail))
    return findings


def _file_finding(kind: str, run_dir: Path, path: Path, detail: str) -> Finding:
    return Finding(kind, run_dir.name, _inside(path, run_dir.parent), detail, True)


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line]


def _is_entry(line: bytes) -> bool:
    # The same test as read_manifest: a crash can cut a line inside a character.
    try:
        entry = json.loads(line.decode("utf-8"))
        return isinstance(entry["name"], str) and isinstance(entry["file"], str)
    except (ValueError, KeyError, TypeError):
        return False


def _check_temp_files(root: Path, now: float) -> list[Finding]:
    findings = []
    # Reproductions are git worktrees of the user's code: not the store's files.
    worktrees = root / layout.INDEX_DIR / "reproduce"
    for folder, dirs, files in os.walk(root):
        if Path(folder) == root and layout.TRASH_DIR in dirs:
            dirs.remove(layout.TRASH_DIR)
        if Path(folder) == worktrees:
            dirs.clear()
            continue
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if name.startswith(".") and name.endswith(".tmp"):
                findings += _check_temp_file(root, path, now)
    return findings


def _check_temp_file(root: Path, path: Path, now: float) -> list[Finding]:
    try:
        age = now - path.lstat().st_mtime
    except OSError:
        return []  # gone already: its write finished or failed meanwhile
    if age <= STRAY_TEMP_AGE_S:
        return []
    relative = _inside(path, root)
    top = relative.split("/", 1)[0]
    run_id = top if layout.is_run_id(top) and top != relative else None
    shown = relative.split("/", 1)[1] if run_id else relative
    detail = f"{shown}: temporary file of an interrupted write, {age / 3600:.1f} h old"
    return [Finding("stray-temp", run_id, relative, detail, True)]


def _inside(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


# Fixing ----------------------------------------------------------------------


def fix_findings(store: Store, findings: Sequence[Finding]) -> list[Finding]:
    """Repair the fixable ``findings``; return those repaired, with ``action`` set.

    Each repair looks again first, so a finding that no longer holds is skipped.
    A repair that fails is logged as a warning and left out of the result.
    """
    fixable = [f for f in findings if f.fixable]
    repaired = []
    for finding in sorted(fixable, key=lambda f: KINDS.index(f.kind)):
        try:
            action = _FIXES[finding.kind](store, finding)
        except (OSError, RunlabError) as err:
            logger.warning("Could not repair %s: %s", _label(finding), err)
            continue
        if action:
            logger.info("Repaired %s: %s.", _label(finding), action)
            repaired.append(dataclasses.replace(finding, action=action))
    return repaired


def _label(finding: Finding) -> str:
    where = finding.path or finding.run_id or "the store"
    return f"{finding.kind} at {where}"


def _fix_dead_running(store: Store, finding: Finding) -> str | None:
    run_id = str(finding.run_id)
    # The store's own crash recording: it checks again under the run's lock.
    store._record_crash({"id": run_id})
    meta = read_json(store.run_dir(run_id) / layout.RUN_FILE)
    if meta.get("status") != "crashed":
        return None
    ended = iso_time(meta.get("ended"))
    return f"recorded as crashed, ended at the last heartbeat ({ended})"


def _fix_torn_series(store: Store, finding: Finding) -> str | None:
    path = store.path / str(finding.path)
    size = path.stat().st_size
    torn = size % RECORD_SIZE
    if not torn:
        return None
    os.truncate(path, size - torn)
    whole = (size - torn) // RECORD_SIZE
    return f"cut {torn} byte(s) of a torn record; {whole} whole record(s) kept"


def _fix_torn_manifest(store: Store, finding: Finding) -> str | None:
    path = store.path / str(finding.path)
    lines = _lines(path)
    good = [line.decode("utf-8") for line in lines if _is_entry(line)]
    if len(good) == len(lines):
        return None
    write_text_atomic(path, "".join(f"{line}\n" for line in good))
    return f"rewrote it without {len(lines) - len(good)} torn line(s)"


def _fix_stray_temp(store: Store, finding: Finding) -> str | None:
    try:
        (store.path / str(finding.path)).unlink()
    except FileNotFoundError:
        return None
    return "deleted it"


def _fix_orphan_row(store: Store, finding: Finding) -> str | None:
    run_id = str(finding.run_id)
    if store.run_dir(run_id).is_dir() or store.index.get(run_id) is None:
        return None
    store.index.remove([run_id])
    return "dropped the index row"


def _fix_row(store: Store, finding: Finding) -> str | None:
    run_id = str(finding.run_id)
    if not store.run_dir(run_id).is_dir():
        return None
    if finding.kind == "missing-row" and store.index.get(run_id) is not None:
        return None
    store.index_run(run_id)
    return (
        "indexed the folder" if finding.kind == "missing-row" else "re-indexed the run"
    )


_FIXES: dict[str, Callable[[Store, Finding], str | None]] = {
    "dead-running": _fix_dead_running,
    "torn-series": _fix_torn_series,
    "torn-manifest": _fix_torn_manifest,
    "stray-temp": _fix_stray_temp,
    "orphan-row": _fix_orphan_row,
    "missing-row": _fix_row,
    "stale-row": _fix_row,
}
