"""The hash-chained audit log: chaining, tamper detection with the right line, locking, audited()."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sightgraph.errors import SightgraphError, UsageError
from sightgraph.governance.audit import GENESIS, AuditLog, audited, compute_entry_hash


def _fill(path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(path)
    for i in range(n):
        log.append("alice", "analyst", f"case {i}", "trajectory", {"pid": f"pid{i:02d}"}, rows=i)
    return log


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def _canon(obj: dict) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n").encode()


# ---------------------------------------------------------------------------------------------
def test_entries_are_chained_and_hashed(tmp_path: Path) -> None:
    """Each entry's hash is SHA-256 of its canonical JSON without hash; prev is the last hash."""
    log = _fill(tmp_path / "sub" / "audit.jsonl", 4)
    entries = log.read_entries()
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[0]["prev"] == GENESIS
    for before, after in zip(entries, entries[1:], strict=False):
        assert after["prev"] == before["hash"]
    for e in entries:
        body = {k: v for k, v in e.items() if k != "hash"}
        canon = json.dumps(body, sort_keys=True, separators=(",", ":"))
        assert e["hash"] == hashlib.sha256(canon.encode()).hexdigest() == compute_entry_hash(e)
        t = dt.datetime.fromisoformat(e["time"])
        assert t.utcoffset() == dt.timedelta(0)
        assert set(e) == {
            "seq", "time", "user", "role", "purpose", "query", "params", "rows", "prev", "hash"
        }  # fmt: skip
    assert entries[2]["params"] == {"pid": "pid02"} and entries[2]["rows"] == 2
    res = log.verify()
    assert res.ok and bool(res) and res.entries == 4 and res.first_bad_line is None
    assert log.head() == (4, entries[-1]["hash"])


def test_missing_log_verifies_as_empty(tmp_path: Path) -> None:
    res = AuditLog(tmp_path / "none.jsonl").verify()
    assert res.ok and res.entries == 0
    assert AuditLog(tmp_path / "none.jsonl").head() == (0, GENESIS)
    assert AuditLog(tmp_path / "none.jsonl").read_entries() == []


def test_params_are_normalized_to_json(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    e = log.append(
        "bob",
        "Analyst",
        "case",
        "meetings",
        {
            "pids": ("p1", "p2"),
            "start": pd.Timestamp("2024-03-01T08:00:00Z"),
            "window": pd.Timedelta(seconds=60),
            "k": np.int64(3),
            "x": float("nan"),
            "cams": {"c2", "c1"},
            "path": tmp_path,
        },
        rows=np.int64(2).item(),
    )
    p = log.read_entries()[0]["params"]
    assert p == e["params"]
    assert p["pids"] == ["p1", "p2"] and p["start"] == "2024-03-01T08:00:00+00:00"
    assert p["window"] == "P0DT0H1M0S" and p["k"] == 3 and p["x"] == "nan"
    assert p["cams"] == ["c1", "c2"] and p["path"] == str(tmp_path)
    assert e["role"] == "analyst"
    assert log.verify().ok


@pytest.mark.parametrize(
    "params", [{"subject_id": "Alice Smith"}, {"filter": {"raw_id": "x"}}, {"l": [{"RAW": "x"}]}]
)
def test_raw_ids_are_refused(tmp_path: Path, params: dict) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    with pytest.raises(UsageError, match="raw subject id"):
        log.append("bob", "analyst", "case", "trajectory", params, rows=1)
    assert not log.path.exists() or log.path.read_bytes() == b""


@pytest.mark.parametrize(
    "kwargs",
    [
        {"user": ""},
        {"role": "superuser"},
        {"query": " "},
        {"rows": -1},
        {"rows": True},
        {"rows": 1.5},
        {"params": ["pid"]},
        {"purpose": None},
    ],
)
def test_append_validates_arguments(tmp_path: Path, kwargs: dict) -> None:
    args = {"user": "u", "role": "analyst", "purpose": "p", "query": "q", "params": {}, "rows": 0}
    args.update(kwargs)
    with pytest.raises(UsageError):
        AuditLog(tmp_path / "a.jsonl").append(**args)


# ---------------------------------------------------------------------------------------------
# tampering: each case names the line where the chain first breaks
def test_edited_field_is_detected_at_that_line(tmp_path: Path) -> None:
    log = _fill(tmp_path / "a.jsonl")
    lines = _lines(log.path)
    obj = json.loads(lines[2])
    obj["rows"] = 999
    lines[2] = _canon(obj)
    _write(log.path, lines)
    res = log.verify()
    assert (res.ok, res.first_bad_line, res.entries) == (False, 3, 2)
    assert "hash does not match" in res.reason


def test_edit_with_recomputed_hash_is_detected_at_next_line(tmp_path: Path) -> None:
    """Line 3 re-hashed after its purpose was changed: line 4's prev no longer matches."""
    log = _fill(tmp_path / "a.jsonl")
    lines = _lines(log.path)
    obj = json.loads(lines[2])
    obj["purpose"] = "nothing to see"
    obj["hash"] = compute_entry_hash(obj)
    lines[2] = _canon(obj)
    _write(log.path, lines)
    res = log.verify()
    assert (res.ok, res.first_bad_line) == (False, 4)
    assert "prev does not match the hash of line 3" in res.reason


def test_non_canonical_whitespace_edit_is_detected(tmp_path: Path) -> None:
    log = _fill(tmp_path / "a.jsonl")
    lines = _lines(log.path)
    lines[1] = lines[1].replace(b'"rows":1', b'"rows": 1')
    _write(log.path, lines)
    res = log.verify()
    assert (res.ok, res.first_bad_line) == (False, 2)
    assert "canonical" in res.reason


def test_deleted_line_is_detected(tmp_path: Path) -> None:
    log = _fill(tmp_path / "a.jsonl")
    lines = _lines(log.path)
    del lines[1]
    _write(log.path, lines)
    res = log.verify()
    assert (res.ok, res.first_bad_line, res.entries) == (False, 2, 1)
    assert "prev does not match" in res.reason


def test_swapped_lines_are_detected_at_the_first(tmp_path: Path) -> None:
    log = _fill(tmp_path / "a.jsonl")
    lines = _lines(log.path)
    lines[2], lines[3] = lines[3], lines[2]
    _write(log.path, lines)
    res = log.verify()
    assert (res.ok, res.first_bad_line) == (False, 3)


def test_inserted_line_with_own_hash_but_wrong_prev_is_detected(tmp_path: Path) -> None:
    log = _fill(tmp_path / "a.jsonl")
    lines = _lines(log.path)
    forged = dict(json.loads(lines[1]))
    forged.update(purpose="forged", seq=3, prev=GENESIS)
    forged["hash"] = compute_entry_hash(forged)
    lines.insert(2, _canon(forged))
    _write(log.path, lines)
    res = log.verify()
    assert (res.ok, res.first_bad_line) == (False, 3)
    assert "prev does not match the hash of line 2" in res.reason


def test_inserted_line_with_correct_prev_is_detected_at_the_line_after(tmp_path: Path) -> None:
    """A forger who chains the new line correctly still breaks the link to the line after it."""
    log = _fill(tmp_path / "a.jsonl")
    lines = _lines(log.path)
    forged = dict(json.loads(lines[1]))
    forged.update(purpose="forged", seq=3, prev=json.loads(lines[1])["hash"])
    forged["hash"] = compute_entry_hash(forged)
    lines.insert(2, _canon(forged))
    _write(log.path, lines)
    res = log.verify()
    assert (res.ok, res.first_bad_line) == (False, 4)


def test_inserted_blank_line_is_detected(tmp_path: Path) -> None:
    log = _fill(tmp_path / "a.jsonl")
    lines = _lines(log.path)
    lines.insert(1, b"\n")
    _write(log.path, lines)
    res = log.verify()
    assert (res.ok, res.first_bad_line) == (False, 2)


@pytest.mark.parametrize("cut", [1, 20, "newline"])
def test_truncated_last_line_is_detected_and_blocks_appends(tmp_path: Path, cut: int | str) -> None:
    log = _fill(tmp_path / "a.jsonl")
    data = log.path.read_bytes()
    data = data[:-1] if cut == "newline" else data[: -int(cut) - 1]
    log.path.write_bytes(data)
    res = log.verify()
    assert (res.ok, res.first_bad_line, res.entries) == (False, 5, 4)
    assert "truncated" in res.reason
    with pytest.raises(UsageError, match="damaged at line 5"):
        log.append("alice", "analyst", "p", "trajectory", {}, rows=0)
    assert log.path.read_bytes() == data  # nothing glued onto the damaged line


def test_removed_tail_is_detected_only_with_an_anchor(tmp_path: Path) -> None:
    log = _fill(tmp_path / "a.jsonl")
    anchor = log.head()
    assert log.verify(anchor=anchor).ok
    lines = _lines(log.path)
    _write(log.path, lines[:-1])
    assert log.verify().ok  # the chain alone cannot see a removed last line
    res = log.verify(anchor=anchor)
    assert (res.ok, res.first_bad_line, res.entries) == (False, 5, 4)
    assert "removed at the end" in res.reason


def test_rewritten_tail_is_detected_with_an_anchor(tmp_path: Path) -> None:
    log = _fill(tmp_path / "a.jsonl")
    anchor = log.head()
    lines = _lines(log.path)
    obj = json.loads(lines[-1])
    obj["rows"] = 0
    obj["hash"] = compute_entry_hash(obj)
    lines[-1] = _canon(obj)
    _write(log.path, lines)
    assert log.verify().ok
    res = log.verify(anchor=anchor)
    assert (res.ok, res.first_bad_line) == (False, 5)
    log.append("alice", "analyst", "p", "trajectory", {}, rows=0)
    assert not log.verify(anchor=anchor).ok  # still caught after further appends
    with pytest.raises(UsageError, match="anchor"):
        log.verify(anchor=("5", anchor[1]))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
def _appender(path: str, tag: str, n: int) -> None:
    log = AuditLog(path)
    for i in range(n):
        log.append(tag, "analyst", "load test", "trajectory", {"pid": f"{tag}-{i}"}, rows=i)


def test_concurrent_appends_from_two_processes_keep_the_chain(tmp_path: Path) -> None:
    """Two processes append 100 entries each at once: 200 entries, one unbroken chain."""
    path = str(tmp_path / "a.jsonl")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_appender, args=(path, tag, 100)) for tag in ("cli", "dash")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    log = AuditLog(path)
    res = log.verify()
    assert res.ok, res.reason
    assert res.entries == 200
    entries = log.read_entries()
    for tag in ("cli", "dash"):
        mine = [e["params"]["pid"] for e in entries if e["user"] == tag]
        assert mine == [f"{tag}-{i}" for i in range(100)]


# ---------------------------------------------------------------------------------------------
def test_audited_decorator_logs_params_and_rows(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    calls = []

    @audited(log, "alice", "analyst", "outbreak 12", "trajectory", skip=("store",))
    def trajectory(store: object, pid: str, start: pd.Timestamp | None = None) -> pd.DataFrame:
        calls.append(pid)
        return pd.DataFrame({"camera_id": ["c1", "c2", "c3"]})

    df = trajectory(object(), "9f2c", start=pd.Timestamp("2024-03-01", tz="UTC"))
    assert len(df) == 3 and calls == ["9f2c"]
    (e,) = log.read_entries()
    assert e["params"] == {"pid": "9f2c", "start": "2024-03-01T00:00:00+00:00"}
    assert (e["rows"], e["user"], e["role"], e["purpose"], e["query"]) == (
        3, "alice", "analyst", "outbreak 12", "trajectory"
    )  # fmt: skip
    trajectory(None, "77ab")
    assert [x["params"]["pid"] for x in log.read_entries()] == ["9f2c", "77ab"]
    assert log.verify().entries == 2


def test_audited_refuses_viewers_and_blank_purposes_before_running(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    with pytest.raises(UsageError, match="role viewer may not run person-level query trajectory"):
        audited(log, "vic", "viewer", "curious", "trajectory")
    for blank in ("", "   "):
        with pytest.raises(UsageError, match="needs a purpose"):
            audited(log, "alice", "analyst", blank, "trajectory")
    with pytest.raises(UsageError, match="raw subject id"):
        audited(log, "alice", "analyst", "case", "trajectory", {"subject_id": "Alice"})
    assert log.read_entries() == []


def test_audited_decorator_refuses_raw_id_arguments_before_running(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    ran = []

    @audited(log, "alice", "analyst", "case", "lookup")
    def lookup(subject_id: str) -> list[str]:
        ran.append(subject_id)
        return []

    with pytest.raises(UsageError, match="raw subject id"):
        lookup("Alice Smith")
    assert ran == [] and log.read_entries() == []


def test_audited_context_manager(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    with audited(log, "alice", "admin", "case", "meetings", {"pid_a": "a", "pid_b": "b"}) as a:
        rows = a.record([1, 2])
    assert rows == [1, 2] and a.entry is not None
    assert log.read_entries()[0]["rows"] == 2
    assert log.read_entries()[0]["params"] == {"pid_a": "a", "pid_b": "b"}

    with pytest.raises(RuntimeError), audited(log, "alice", "analyst", "case", "meetings") as a:
        raise RuntimeError("store down")
    assert len(log.read_entries()) == 1  # a failed query returned nothing and is not logged

    with (
        pytest.raises(SightgraphError, match="without a row count"),
        audited(log, "alice", "analyst", "case", "meetings"),
    ):
        pass
    assert len(log.read_entries()) == 1
    assert log.verify().ok


def test_audited_custom_count(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    f = audited(log, "a", "analyst", "p", "predict", count=lambda r: len(r["top"]))(
        lambda pid: {"top": ["c1", "c2", "c3"], "p": [0.5, 0.3, 0.2]}
    )
    f("x")
    assert log.read_entries()[0]["rows"] == 3
