"""The hash-chained audit log of person-level queries (DESIGN §8).

One JSON object per line (UTF-8, ASCII-escaped, keys sorted, no spaces: the canonical form)::

    {"hash": "...", "params": {"pid": "9f2c..."}, "prev": "000...0", "purpose": "outbreak 12",
     "query": "trajectory", "role": "analyst", "rows": 42, "seq": 1,
     "time": "2024-05-01T08:00:00.123456+00:00", "user": "alice"}

``hash`` is the SHA-256 (hex) of the canonical JSON of the entry without ``hash`` but with
``prev``; ``prev`` is the previous entry's ``hash`` (64 zeros for the first entry); ``seq`` is the
entry's 1-based line number. Editing, deleting, reordering or inserting lines, or truncating the last
one, breaks the chain at a line that :meth:`AuditLog.verify` names.

What the chain cannot show on its own: removal of whole lines at the *end* of the file, or a
complete rewrite of every hash from some line on (SHA-256 has no secret). Record the log's
:meth:`AuditLog.head` somewhere else now and then (a ticket, a second machine) and pass it as
``verify(anchor=...)`` to detect both.

Appenders (CLI, dashboard, notebooks) lock the file with ``fcntl.flock`` for the whole
read-last-line / write-line step, so concurrent appends never interleave or fork the chain.

Only pseudonyms (pids) belong in the parameters: parameter names that denote raw ids
(``subject_id``, ``raw_id``, ``raw``) are refused.
"""

from __future__ import annotations

import datetime as _dt
import enum
import fcntl
import functools
import hashlib
import inspect
import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from sightgraph.errors import SightgraphError, UsageError
from sightgraph.governance.roles import normalize_role

__all__ = [
    "GENESIS",
    "RAW_ID_PARAMS",
    "AuditLog",
    "Audited",
    "VerifyResult",
    "audited",
    "compute_entry_hash",
]

GENESIS = "0" * 64
"""The ``prev`` of the first entry."""

RAW_ID_PARAMS = frozenset({"subject_id", "raw_id", "raw"})
"""Parameter names refused anywhere in ``params``: the log holds pseudonyms, never raw ids."""

_FIELDS = ("seq", "time", "user", "role", "purpose", "query", "params", "rows", "prev", "hash")

F = TypeVar("F", bound=Callable[..., Any])


# ---------------------------------------------------------------------------------------------
# canonical form and hashing
def _canonical(obj: Any) -> str:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def compute_entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``entry`` without its ``hash`` field.

    Parameters
    ----------
    entry : Mapping
        An audit entry (with ``prev``; a ``hash`` key, if present, is left out).

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(_canonical(body).encode("ascii")).hexdigest()


def _jsonable(value: Any) -> Any:
    """Parameters -> plain JSON values (times as ISO 8601, sets sorted, unknown objects tagged)."""
    import numpy as np  # local: keep the module importable in a bare process quickly

    # a pandas value exists only once pandas is imported: a job that never needed it (such as
    # `sightgraph colocate`) does not import it here to log its parameters
    pd = sys.modules.get("pandas")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else str(f)
    if pd is not None and (value is pd.NaT or value is pd.NA):
        return None
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):  # pandas.Timestamp too
        return value.isoformat()
    if isinstance(value, _dt.timedelta):  # pandas.Timedelta too
        import pandas

        return pandas.Timedelta(value).isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_jsonable(v) for v in value), key=_canonical)
    if isinstance(value, (list, tuple, np.ndarray)) or (
        pd is not None and isinstance(value, pd.Index)
    ):
        return [_jsonable(v) for v in value]
    if pd is not None and isinstance(value, pd.DataFrame):
        return f"<DataFrame {len(value)} rows>"
    if pd is not None and isinstance(value, pd.Series):
        return f"<Series {len(value)} rows>"
    return f"<{type(value).__name__}>"


def _check_no_raw_ids(params: Any, where: str = "params") -> None:
    if isinstance(params, Mapping):
        for key, val in params.items():
            if str(key).lower() in RAW_ID_PARAMS:
                raise UsageError(
                    f"audit parameter {where}.{key} looks like a raw subject id; "
                    "log pseudonyms (pid) only"
                )
            _check_no_raw_ids(val, f"{where}.{key}")
    elif isinstance(params, list):
        for i, val in enumerate(params):
            _check_no_raw_ids(val, f"{where}[{i}]")


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :meth:`AuditLog.verify`.

    Attributes
    ----------
    ok : bool
        True if every line is intact and chained (and matches the anchor, if one was given).
    entries : int
        Number of entries verified intact (all of them when ``ok``; those before
        ``first_bad_line`` otherwise).
    first_bad_line : int or None
        1-based line number of the first line that fails, None when ``ok``.
    reason : str
        Why that line fails (or a summary when ``ok``).
    """

    ok: bool
    entries: int
    first_bad_line: int | None
    reason: str

    def __bool__(self) -> bool:
        return self.ok


@contextmanager
def _locked(path: Path, exclusive: bool) -> Iterator[IO[bytes]]:
    fh: IO[bytes]
    if exclusive:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        fh = os.fdopen(fd, "a+b")
    else:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield fh
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()


def _read_last_line(fh: IO[bytes]) -> bytes:
    """The last line of an open binary file including its line end (b'' for an empty file)."""
    fh.seek(0, os.SEEK_END)
    end = fh.tell()
    if end == 0:
        return b""
    pos = end
    chunk = 4096
    buf = b""
    while pos > 0:
        step = min(chunk, pos)
        pos -= step
        fh.seek(pos)
        buf = fh.read(step) + buf
        # a newline other than the file's very last byte marks the start of the last line
        idx = buf.rfind(b"\n", 0, len(buf) - 1)
        if idx >= 0:
            return buf[idx + 1 :]
    return buf


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


class AuditLog:
    """An append-only, hash-chained JSON-lines audit log.

    Parameters
    ----------
    path : str or Path
        The log file (created with its folder on the first append).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl")
    >>> e = log.append("alice", "analyst", "outbreak 12", "trajectory", {"pid": "9f2c"}, rows=3)
    >>> e["seq"], e["prev"] == GENESIS, log.verify().ok
    (1, True, True)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    # -- writing -----------------------------------------------------------------------------
    def append(
        self,
        user: str,
        role: str,
        purpose: str,
        query: str,
        params: Mapping[str, Any] | None,
        rows: int,
    ) -> dict[str, Any]:
        """Append one entry under an exclusive file lock and return it (with ``hash``).

        Parameters
        ----------
        user : str
            Who ran the query (non-empty).
        role : {'viewer', 'analyst', 'admin'}
            The role they acted in.
        purpose : str
            Why (may be empty only for entries that are not person-level queries; the
            :func:`audited` helper insists on one).
        query : str
            Query or action name (non-empty), e.g. ``"trajectory"``.
        params : Mapping or None
            Query parameters: pids, times, windows. Converted to plain JSON (times as ISO 8601).
            Names that denote raw ids (:data:`RAW_ID_PARAMS`) are refused.
        rows : int
            Number of rows returned (>= 0).

        Returns
        -------
        dict
            The entry as written: seq, time, user, role, purpose, query, params, rows, prev, hash.

        Raises
        ------
        UsageError
            On bad arguments, or when the log's last line is damaged (run :meth:`verify`):
            appending after a damaged line would hide the damage.
        """
        if not isinstance(user, str) or not user.strip():
            raise UsageError("audit: user must be a non-empty name")
        role = normalize_role(role)
        if not isinstance(purpose, str):
            raise UsageError(f"audit: purpose must be text, got {type(purpose).__name__}")
        if not isinstance(query, str) or not query.strip():
            raise UsageError("audit: query must be a non-empty name")
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise UsageError(f"audit: rows must be a non-negative integer, got {rows!r}")
        if params is not None and not isinstance(params, Mapping):
            raise UsageError(f"audit: params must be a dict, got {type(params).__name__}")
        clean_params = _jsonable(dict(params or {}))
        _check_no_raw_ids(clean_params)

        with _locked(self.path, exclusive=True) as fh:
            last = _read_last_line(fh)
            prev, seq = self._tail_state(last)
            entry: dict[str, Any] = {
                "seq": seq + 1,
                "time": _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds"),
                "user": user,
                "role": role,
                "purpose": purpose,
                "query": query,
                "params": clean_params,
                "rows": int(rows),
                "prev": prev,
            }
            entry["hash"] = compute_entry_hash(entry)
            fh.seek(0, os.SEEK_END)
            fh.write((_canonical(entry) + "\n").encode("ascii"))
            fh.flush()
            os.fsync(fh.fileno())
        return entry

    def _tail_state(self, last: bytes) -> tuple[str, int]:
        """(hash, seq) of the last line, or (GENESIS, 0) for an empty log; damaged -> UsageError."""
        if last == b"":
            return GENESIS, 0
        problem = None
        if not last.endswith(b"\n"):
            problem = "its last line has no line end (truncated write)"
        else:
            try:
                obj = json.loads(last)
            except ValueError:
                obj = None
            if (
                not isinstance(obj, dict)
                or not isinstance(obj.get("hash"), str)
                or len(obj["hash"]) != 64
                or isinstance(obj.get("seq"), bool)
                or not isinstance(obj.get("seq"), int)
            ):
                problem = "its last line is not a valid entry"
            else:
                return obj["hash"], obj["seq"]
        n = _count_lines(self.path)
        raise UsageError(
            f"audit log {self.path} is damaged at line {n}: {problem}; "
            "run `sightgraph audit verify` and have an admin repair it"
        )

    # -- reading -----------------------------------------------------------------------------
    def read_entries(self) -> list[dict[str, Any]]:
        """All entries as dicts, in file order, without verifying the chain (see :meth:`verify`).

        Raises
        ------
        UsageError
            Naming the first line that is not a JSON object.
        """
        if not self.path.exists():
            return []
        out: list[dict[str, Any]] = []
        with _locked(self.path, exclusive=False) as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    obj = json.loads(raw)
                except ValueError:
                    obj = None
                if not isinstance(obj, dict):
                    raise UsageError(
                        f"audit log {self.path}: line {lineno} is not a JSON object; "
                        "run `sightgraph audit verify`"
                    )
                out.append(obj)
        return out

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last entry ((0, GENESIS) for an empty or missing log).

        Keep it elsewhere and pass it back as ``verify(anchor=...)`` to detect later removal of
        lines at the end, which the chain alone cannot show.
        """
        if not self.path.exists():
            return 0, GENESIS
        with _locked(self.path, exclusive=False) as fh:
            last = _read_last_line(fh)
        hash_, seq = self._tail_state(last)
        return seq, hash_

    def verify(self, anchor: tuple[int, str] | None = None) -> VerifyResult:
        """Check every line: canonical JSON, own hash, link to the previous line, sequence.

        Parameters
        ----------
        anchor : (int, str), optional
            A ``(seq, hash)`` pair from an earlier :meth:`head`; the log must still hold that entry
            with that hash (detects lines removed from, or rewritten at, the end).

        Returns
        -------
        VerifyResult
            ``ok``; ``entries`` verified; ``first_bad_line`` (1-based) and ``reason`` otherwise.
            A missing log verifies as empty (0 entries) unless an anchor says entries existed.

        Notes
        -----
        Which line is named:

        - a field edited without recomputing the hash: that line ("hash does not match");
        - an edited line whose own hash was recomputed: the *next* line ("prev does not match");
        - a deleted line: the line that now takes its place;
        - two swapped lines: the first of them;
        - an inserted line: that line (or, if its ``prev`` was forged correctly, the next one);
        - a truncated last line: that line.
        """
        if anchor is not None and (
            not isinstance(anchor, tuple)
            or len(anchor) != 2
            or isinstance(anchor[0], bool)
            or not isinstance(anchor[0], int)
            or anchor[0] < 0
            or not isinstance(anchor[1], str)
        ):
            raise UsageError(
                f"audit verify: anchor must be (seq, hash) from head(), got {anchor!r}"
            )
        if not self.path.exists():
            if anchor is not None and anchor[0] > 0:
                return VerifyResult(False, 0, 1, f"audit log {self.path} is missing")
            return VerifyResult(True, 0, None, "no audit log yet (0 entries)")

        prev = GENESIS
        good = 0
        anchor_seen = anchor is None or anchor[0] == 0
        with _locked(self.path, exclusive=False) as fh:
            for lineno, raw in enumerate(fh, start=1):
                reason = self._check_line(raw, lineno, prev)
                if reason is not None:
                    return VerifyResult(False, good, lineno, reason)
                obj = json.loads(raw)
                prev = obj["hash"]
                good += 1
                if anchor is not None and obj["seq"] == anchor[0]:
                    if obj["hash"] != anchor[1]:
                        return VerifyResult(
                            False,
                            good - 1,
                            lineno,
                            f"hash {obj['hash'][:12]}... differs from the anchor's "
                            f"{str(anchor[1])[:12]}... (log rewritten from here)",
                        )
                    anchor_seen = True
        if not anchor_seen:
            assert anchor is not None
            return VerifyResult(
                False,
                good,
                good + 1,
                f"the anchor records entry {anchor[0]} but the log ends after {good} "
                "(lines removed at the end)",
            )
        return VerifyResult(True, good, None, f"{good} entries, hash chain intact")

    @staticmethod
    def _check_line(raw: bytes, lineno: int, prev: str) -> str | None:
        if not raw.endswith(b"\n"):
            return "no line end (truncated)"
        body = raw[:-1]
        if not body.strip():
            return "empty line (inserted or edited)"
        try:
            obj = json.loads(body)
        except ValueError:
            return "not valid JSON (edited or truncated)"
        if not isinstance(obj, dict):
            return "not a JSON object (edited or forged)"
        missing = [f for f in _FIELDS if f not in obj]
        extra = sorted(set(obj) - set(_FIELDS))
        if missing or extra:
            parts = []
            if missing:
                parts.append("lacks " + ", ".join(missing))
            if extra:
                parts.append("has unexpected " + ", ".join(extra))
            return f"entry {' and '.join(parts)} (edited or forged)"
        try:
            canonical = _canonical(obj)
        except ValueError:
            return "values outside JSON (edited)"
        if canonical.encode("ascii") != body:
            return "not in canonical form (edited)"
        if compute_entry_hash(obj) != obj["hash"]:
            return "hash does not match the content (edited)"
        if obj["prev"] != prev:
            what = "the start of the log" if lineno == 1 else f"line {lineno - 1}"
            return (
                f"prev does not match the hash of {what} "
                "(a line was edited, deleted, inserted or reordered)"
            )
        if obj["seq"] != lineno:
            return (
                f"seq is {obj['seq']!r}, expected {lineno} (lines deleted, inserted or reordered)"
            )
        return None


# ---------------------------------------------------------------------------------------------
def _count_rows(result: Any) -> int:
    """Rows in a query result: len() of frames, series, lists, tuples, sets; 0 for None; else 1."""
    import pandas as pd

    if result is None:
        return 0
    if isinstance(result, (pd.DataFrame, pd.Series, list, tuple, set, frozenset)):
        return len(result)
    return 1


class Audited:
    """Audits one person-level query; use as a decorator or as a context manager.

    Create it with :func:`audited`. The role and the purpose are checked when it is created, so a
    refused query never runs.

    Attributes
    ----------
    rows : int or None
        Row count to log (set by :meth:`record`, or directly, inside a ``with`` block).
    entry : dict or None
        The entry appended (after the call or block).
    """

    def __init__(
        self,
        log: AuditLog | str | os.PathLike[str],
        user: str,
        role: str,
        purpose: str,
        query: str,
        params: Mapping[str, Any] | None = None,
        count: Callable[[Any], int] | None = None,
        skip: tuple[str, ...] = (),
    ) -> None:
        from sightgraph.governance.access import query_gate

        self.log = log if isinstance(log, AuditLog) else AuditLog(log)
        # the one gate (role, purpose, user, a writable log) before anything runs
        self.role = query_gate(user, role, purpose, query, self.log.path).role
        self.user = user
        self.purpose = purpose
        self.query = query
        self.params: dict[str, Any] = dict(params or {})
        _check_no_raw_ids(_jsonable(self.params))
        self.count = count or _count_rows
        self.skip = tuple(skip)
        self.rows: int | None = None
        self.entry: dict[str, Any] | None = None

    # -- context manager ---------------------------------------------------------------------
    def record(self, result: Any) -> Any:
        """Set :attr:`rows` from a query result and return the result unchanged."""
        self.rows = int(self.count(result))
        return result

    def __enter__(self) -> Audited:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            return  # the query failed: nothing was returned, nothing is logged
        if self.rows is None:
            raise SightgraphError(
                f"audited block for query {self.query} ended without a row count; "
                "call .record(result) or set .rows"
            )
        self.entry = self.log.append(
            self.user, self.role, self.purpose, self.query, self.params, self.rows
        )

    # -- decorator ---------------------------------------------------------------------------
    def __call__(self, fn: F) -> F:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            call_params = {k: v for k, v in bound.arguments.items() if k not in self.skip}
            call_params.update(self.params)
            clean = _jsonable(call_params)
            _check_no_raw_ids(clean)  # before the query runs
            result = fn(*args, **kwargs)
            rows = int(self.count(result))
            self.rows = rows
            self.entry = self.log.append(
                self.user, self.role, self.purpose, self.query, clean, rows
            )
            return result

        return wrapper  # type: ignore[return-value]


def audited(
    log: AuditLog | str | os.PathLike[str],
    user: str,
    role: str,
    purpose: str,
    query: str,
    params: Mapping[str, Any] | None = None,
    *,
    count: Callable[[Any], int] | None = None,
    skip: tuple[str, ...] = (),
) -> Audited:
    """Audit a person-level query: check role and purpose now, log parameters and row count after.

    Parameters
    ----------
    log : AuditLog or path
        Where to append.
    user, role, purpose : str
        Who, in which role, and why. ``role`` must allow ``query`` (see
        :func:`sightgraph.governance.roles.require`); ``purpose`` must not be blank.
    query : str
        The query's name (``"trajectory"``, ``"meetings"``, ...).
    params : Mapping, optional
        Parameters to log. As a decorator, the wrapped function's bound arguments are logged too
        (these explicit ones win); as a context manager, only these.
    count : callable, optional
        ``result -> rows``; default: ``len()`` of frames, series and sequences, 0 for None, else 1.
    skip : tuple of str
        Argument names the decorator leaves out of the log (e.g. ``("store",)``; objects that are
        not plain values are logged only as ``"<TypeName>"`` anyway).

    Returns
    -------
    Audited
        Use as ``@audited(...)`` on a query function, or as ``with audited(...) as a:`` followed by
        ``df = a.record(run_query())``. A query that raises is not logged.

    Raises
    ------
    UsageError
        When the role may not run the query, the purpose is blank, or a parameter is a raw id.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl")
    >>> @audited(log, "alice", "analyst", "case 7", "trajectory")
    ... def trajectory(pid, start=None):
    ...     return [("cam1", 1), ("cam2", 2)]
    >>> len(trajectory("9f2c"))
    2
    >>> log.read_entries()[0]["params"], log.read_entries()[0]["rows"]
    ({'pid': '9f2c', 'start': None}, 2)
    """
    return Audited(log, user, role, purpose, query, params, count=count, skip=skip)
