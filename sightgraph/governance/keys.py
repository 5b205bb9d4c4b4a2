"""Key rotation: ``sightgraph keys rotate`` re-pseudonymises a lake, its exports and the graph.

The lake holds no raw ids, so the new key cannot be applied to them. A rotation *wraps* every
pseudonym instead (:func:`sightgraph.ingest.pseudonymize.rewrap`): ``pid' = HMAC(k_new, pid)``,
16 hex, and the same for the quarantine's line hashes (64 hex). From then on the lake's key is
the chain ``k1, ..., k_new`` (``$SIGHTGRAPH_PSEUDONYM_KEY`` plus
``$SIGHTGRAPH_PSEUDONYM_KEY_ROTATIONS``, oldest first), and an ingest of the same raw file
gives exactly the rotated pids and sighting ids (nothing new is written). Whoever holds only
the old key, a leaked one, can no longer link a raw id to the lake's pids.

What is rewritten, by the lake's table registry (:data:`sightgraph.lake.TABLES`):

- ``sightings``: ``pid`` wrapped, ``sighting_id`` recomputed from the new pid, camera and time
  (the id ingest would give, so re-ingest stays idempotent);
- ``quarantine``: ``pid`` wrapped, the row's old pid replaced by the new one in its ``raw``
  text, ``raw_hash`` wrapped;
- derived tables and every export still on disk (``LAKE/_exports.jsonl``): each pid column
  wrapped; in pair tables (``pid_a < pid_b``) a pair whose new pids sort the other way has
  every ``*_a`` / ``*_b`` column swapped, and event sighting ids (``sighting_a``,
  ``sighting_b``) are recomputed; hive folders named by a pid (``pid=<pid>``) are renamed;
- ``models``: the saved prediction models are dropped (the estimator file holds pids inside a
  pickle); the next ``predict`` fits a new one. Logs, cameras and the transition aggregates
  hold no ids and are left as they are;
- the graph store is a view of the lake: its contents are cleared and the rotated lake loaded
  again (CONTACT edges as ``load`` does by default); the embedded file is then compacted so
  no bytes of an old pid remain in it.

Atomic and resumable: every new file is first written beside its target under a scratch name,
then a journal (``LAKE/_rotation.json``: the files to move and delete, the old and new key
fingerprints, never a key) is synced, then the files are moved into place, the lake's key
record is rewritten with the new fingerprint, the erasure generation is raised (an analytics
job that read the lake before refuses to commit its old-pid table) and the journal removed. A
run interrupted before the journal leaves the lake as it was; after it, the lake refuses every
reader of its key record (ingest, ``forget --raw``) until ``keys rotate`` is run again with the
same keys, which finishes the moves. The audit log keeps its entries as they were (it is
append-only and hash-chained): entries before the rotation name old pids.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sightgraph.errors import UsageError
from sightgraph.governance.erasure import (
    _check_lake,
    _fsync_dir,
    _is_pid_column,
    _is_pid_name,
    _registered_tables,
)
from sightgraph.ingest.lake_writer import make_sighting_ids
from sightgraph.ingest.pseudonymize import KeyChain, fingerprint_key, rewrap
from sightgraph.lake import (
    DERIVED,
    MODE_PSEUDONYMISED,
    QUARANTINE,
    ROTATION_JOURNAL_NAME,
    LakeTable,
    bump_erasure_generation,
    export_files,
    in_lake,
    lake_lock,
    read_exports,
    read_key_record,
    write_key_record,
)
from sightgraph.schema import ts_to_epoch_us

__all__ = ["RotationReport", "check_new_key", "rotate_lake"]

_JOURNAL_FORMAT = "sightgraph-key-rotation"


@dataclass
class RotationReport:
    """What a rotation changed: rows rewritten per table, files, models dropped, fingerprints."""

    old_fingerprint: str
    new_fingerprint: str
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    exports: int = 0
    models_dropped: int = 0
    resumed: bool = False


def check_new_key(new_key: str, current: bytes) -> bytes:
    """The new rotation key as bytes; refuses an empty key, a comma (the chain's separator in
    ``$SIGHTGRAPH_PSEUDONYM_KEY_ROTATIONS``) or a key already in the chain."""
    text = new_key.strip()
    if not text:
        raise UsageError("keys rotate: the new key is empty")
    if "," in text:
        raise UsageError(
            "keys rotate: the new key contains a comma, the separator of "
            "$SIGHTGRAPH_PSEUDONYM_KEY_ROTATIONS; choose another"
        )
    raw = text.encode("utf-8")
    if raw == bytes(current) or raw in getattr(current, "rotations", ()):
        raise UsageError("keys rotate: the new key is already in the lake's key chain")
    return raw


# ---------------------------------------------------------------------------------------------
# rewriting one table
def _wrap_array(arr: pa.Array | pa.ChunkedArray, new_key: bytes) -> pa.Array:
    """Every non-null value wrapped under ``new_key`` (each distinct value hashed once)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], arr.type)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    arr = arr.cast(pa.string())
    enc = pc.dictionary_encode(arr)
    uniques = [rewrap(new_key, v) for v in enc.dictionary.to_pylist()]
    return pa.array(uniques, pa.string()).take(enc.indices)


def _set(table: pa.Table, name: str, values: Any) -> pa.Table:
    i = table.schema.get_field_index(name)
    typ = table.schema.field(name).type
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    if not pa.types.is_dictionary(typ):
        arr = arr.cast(typ)
    return table.set_column(i, table.schema.field(name).with_type(arr.type), arr)


def _epoch_us(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return ts_to_epoch_us(col.to_pandas())


def _rotate_sightings(t: pa.Table, new_key: bytes) -> pa.Table:
    pid = _wrap_array(t.column("pid"), new_key)
    ids = make_sighting_ids(
        pid, t.column("camera_id").to_pandas().astype(str), _epoch_us(t.column("ts"))
    )
    return _set(_set(t, "pid", pid), "sighting_id", pa.array(ids, pa.int64()))


def _rotate_quarantine(t: pa.Table, new_key: bytes) -> pa.Table:
    if "pid" in t.column_names:
        old = t.column("pid").to_pylist()
        new = _wrap_array(t.column("pid"), new_key)
        if "raw" in t.column_names:
            raws = t.column("raw").to_pylist()
            fixed = [
                r.replace(o, n) if (r is not None and o) else r
                for r, o, n in zip(raws, old, new.to_pylist(), strict=True)
            ]
            t = _set(t, "raw", pa.array(fixed, pa.string()))
        t = _set(t, "pid", new)
    if "raw_hash" in t.column_names:
        t = _set(t, "raw_hash", _wrap_array(t.column("raw_hash"), new_key))
    return t


def _pair_stems(names: list[str]) -> list[str]:
    return [n[:-2] for n in names if n.endswith("_a") and f"{n[:-2]}_b" in names]


def _rotate_pids(t: pa.Table, new_key: bytes, registered: frozenset[str]) -> pa.Table:
    """Wrap every pid column; swap ``*_a``/``*_b`` where a pair's new pids sort the other way;
    recompute event sighting ids from the new pids."""
    for f in t.schema:
        if _is_pid_column(f, registered):
            t = _set(t, f.name, _wrap_array(t.column(f.name), new_key))
    names = t.column_names
    if "pid_a" in names and "pid_b" in names and t.num_rows:
        a = t.column("pid_a").to_numpy(zero_copy_only=False).astype(str)
        b = t.column("pid_b").to_numpy(zero_copy_only=False).astype(str)
        flip = a > b
        swap = pa.array(flip)
        if flip.any():
            for stem in _pair_stems(names):
                ca, cb = t.column(f"{stem}_a"), t.column(f"{stem}_b")
                if ca.type != cb.type:
                    continue
                t = _set(t, f"{stem}_a", pc.if_else(swap, cb, ca))
                t = _set(t, f"{stem}_b", pc.if_else(swap, ca, cb))
    for side in ("a", "b"):
        cols = (f"sighting_{side}", f"pid_{side}", f"camera_{side}", f"ts_{side}")
        if all(c in names for c in cols) and t.num_rows:
            ids = make_sighting_ids(
                t.column(f"pid_{side}").to_pandas().astype(str),
                t.column(f"camera_{side}").to_pandas().astype(str),
                _epoch_us(t.column(f"ts_{side}")),
            )
            t = _set(t, f"sighting_{side}", pa.array(ids, pa.int64()))
    return t


def _renamed(path: Path, top: Path, new_key: bytes) -> Path:
    """``path`` with hive folders named by a pid (``pid=<pid>``) below ``top`` renamed."""
    rel = path.relative_to(top)
    parts = []
    for part in rel.parts[:-1]:
        key, sep, value = part.partition("=")
        parts.append(f"{key}={rewrap(new_key, value)}" if sep and _is_pid_name(key) else part)
    return top.joinpath(*parts, rel.name)


# ---------------------------------------------------------------------------------------------
# plan (write scratch files), journal, apply
@dataclass
class _Plan:
    moves: list[tuple[Path, Path]] = field(default_factory=list)  # scratch -> final
    deletes: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    exports: int = 0
    models: int = 0


def _stage(
    plan: _Plan,
    name: str,
    path: Path,
    target: Path,
    rotate: Callable[[pa.Table], pa.Table],
) -> None:
    pf = pq.ParquetFile(path)
    table = pf.read()
    out = rotate(table).replace_schema_metadata(table.schema.metadata)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.rotate-{uuid.uuid4().hex[:12]}.tmp")
    pq.write_table(out, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    plan.moves.append((tmp, target))
    if target != path:
        plan.deletes.append(path)
    plan.rows[name] = plan.rows.get(name, 0) + table.num_rows


def _rotation(entry: LakeTable, new_key: bytes) -> Callable[[pa.Table], pa.Table]:
    """How one registered table's files are rewritten under ``new_key``."""
    if entry.name == "sightings":
        return lambda t: _rotate_sightings(t, new_key)
    if entry.kind == QUARANTINE:
        return lambda t: _rotate_quarantine(t, new_key)
    if entry.kind == DERIVED:
        registered = frozenset(entry.pid_columns)
        return lambda t: _rotate_pids(t, new_key, registered)
    raise UsageError(f"keys rotate: no rule for table {entry.name}")  # pragma: no cover


def _plan(root: Path, new_key: bytes, progress: Callable[[str], None]) -> _Plan:
    plan = _Plan()
    try:
        for entry, files in _registered_tables(root, "keys rotate"):
            if not entry.holds_subjects:
                continue
            progress(f"{entry.name}: {len(files)} file(s)")
            if entry.name == "models":
                continue  # dropped below
            rotate = _rotation(entry, new_key)
            for path in files:
                _stage(plan, entry.name, path, _renamed(path, root, new_key), rotate)
        models = [
            p for p in (root / "models").glob("*") if p.is_file() and not p.name.startswith(".")
        ]
        plan.deletes.extend(models)
        plan.models = len({p.stem for p in models})
        for record in read_exports(root):
            files = export_files(record)
            base = Path(record["path"])
            top = base if base.is_dir() else base.parent
            for path in files:
                if in_lake(root, path):
                    continue
                _stage(
                    plan,
                    "exports",
                    path,
                    _renamed(path, top, new_key),
                    lambda t: _rotate_pids(t, new_key, frozenset()),
                )
            plan.exports += bool(files)
    except BaseException:
        for tmp, _ in plan.moves:
            tmp.unlink(missing_ok=True)
        raise
    return plan


def _write_journal(root: Path, doc: dict[str, Any]) -> None:
    path = root / ROTATION_JOURNAL_NAME
    tmp = root / f".{ROTATION_JOURNAL_NAME}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(root)


def _read_journal(root: Path) -> dict[str, Any] | None:
    path = root / ROTATION_JOURNAL_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"lake {root}: its key-rotation journal {path} is damaged ({exc})"
        ) from exc
    if not isinstance(doc, dict) or doc.get("format") != _JOURNAL_FORMAT:
        raise UsageError(f"lake {root}: {path} is not a key-rotation journal")
    return doc


def _finish(root: Path, doc: dict[str, Any]) -> None:
    """Apply a synced journal: move the scratch files into place, delete what it lists, write
    the new key record, raise the erasure generation, remove the journal. Idempotent."""
    for tmp, final in doc["moves"]:
        if Path(tmp).exists():
            os.replace(tmp, final)
    for old in doc["deletes"]:
        Path(old).unlink(missing_ok=True)
    for folder in sorted(doc.get("prune", []), key=lambda f: -len(Path(f).parts)):
        with contextlib.suppress(OSError):
            Path(folder).rmdir()  # a pid-named hive folder left empty (only when empty)
    write_key_record(root, MODE_PSEUDONYMISED, doc["to"], origin=f"keys rotate from {doc['from']}")
    bump_erasure_generation(root, "key rotation")
    (root / ROTATION_JOURNAL_NAME).unlink(missing_ok=True)
    _fsync_dir(root)


def rotate_lake(
    lake: str | os.PathLike[str],
    key: bytes,
    new_key: bytes,
    progress: Callable[[str], None] | None = None,
) -> RotationReport:
    """Wrap every pseudonym of ``lake`` (and of its exports) under ``new_key``.

    Parameters
    ----------
    lake : path
        A pseudonymised lake.
    key : bytes
        The lake's current key chain (:func:`~sightgraph.ingest.pseudonymize.resolve_key`):
        checked against the lake's key record.
    new_key : bytes
        The key to rotate to (:func:`check_new_key`).
    progress : callable, optional
        Called with a line per table.

    Returns
    -------
    RotationReport

    Raises
    ------
    UsageError
        The lake is not pseudonymised, ``key`` is not its key, it is busy, or it holds a file of
        no registered table. Nothing is changed then.
    """
    root = _check_lake(lake)
    say = progress or (lambda _line: None)
    chain = key if isinstance(key, KeyChain) else KeyChain(bytes(key))
    after = chain.then(new_key)
    old_fp, new_fp = fingerprint_key(chain), fingerprint_key(after)
    with lake_lock(root, "keys rotate"):
        journal = _read_journal(root)
        if journal is not None:
            if (journal["from"], journal["to"]) != (old_fp, new_fp):
                raise UsageError(
                    f"keys rotate: lake {root} has an unfinished rotation from key "
                    f"{journal['from']} to {journal['to']}; run keys rotate again with those keys "
                    f"(these give {old_fp} to {new_fp})"
                )
            say("finishing an interrupted rotation")
            _finish(root, journal)
            return RotationReport(old_fp, new_fp, resumed=True)
        record = read_key_record(root)
        if record is None or record.get("mode") != MODE_PSEUDONYMISED:
            raise UsageError(
                f"keys rotate: lake {root} is not pseudonymised (no keyed ingest recorded); "
                "there is no key to rotate"
            )
        if record.get("key_fingerprint") != old_fp:
            raise UsageError(
                f"keys rotate: $SIGHTGRAPH_PSEUDONYM_KEY (with its rotations) is not the key of "
                f"lake {root} (fingerprint {old_fp}, the lake's {record.get('key_fingerprint')}); "
                "nothing was changed"
            )
        plan = _plan(root, new_key, say)
        prune = sorted({str(p.parent) for p in plan.deletes})
        journal = {
            "format": _JOURNAL_FORMAT,
            "from": old_fp,
            "to": new_fp,
            "moves": [[str(a), str(b)] for a, b in plan.moves],
            "deletes": [str(p) for p in plan.deletes],
            "prune": prune,
        }
        _write_journal(root, journal)
        _finish(root, journal)
    return RotationReport(
        old_fp,
        new_fp,
        rows=plan.rows,
        files=len(plan.moves),
        exports=plan.exports,
        models_dropped=plan.models,
    )
