"""The access gate (governance/access.py), driven by its classification of every CLI command.

For each command: a role below its least role is refused (exit 2, one line) before anything is
written; where a purpose is needed, a missing or blank one is refused the same way; an allowed run
appends exactly one audit entry with the row count (none for commands that are not audited). The
CLI runs in-process through `sightgraph.cli.main` (the real entry point: exit codes, one-line
errors) on a tiny lake built once.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from sightgraph import cli
from sightgraph.errors import SightgraphError, UsageError
from sightgraph.governance.access import COMMANDS, gate, resolve_purpose
from sightgraph.governance.roles import ROLES

KEY = "access-test-key"

# command -> (least role, needs a purpose, audited): the table the issue asks for, spelled out
EXPECTED = {
    "generate": ("admin", False, False),
    "ingest": ("admin", False, False),
    "load": ("admin", False, False),
    "colocate": ("analyst", True, True),
    "contacts": ("analyst", True, True),
    "trajectories": ("analyst", True, True),
    "predict": ("analyst", True, True),
    "predict --evaluate": ("viewer", False, False),
    "trajectory": ("analyst", True, True),
    "forget": ("admin", True, True),
    "retention apply": ("admin", True, True),
    "keys rotate": ("admin", True, True),
    "audit head": ("viewer", False, False),
    "audit verify": ("viewer", False, False),
    "demo": ("analyst", True, True),
    "dashboard": ("viewer", False, False),
    "users add": ("admin", False, False),
}


def test_classification_table_is_the_expected_one() -> None:
    got = {c: (r.min_role, r.purpose, r.audited) for c, r in COMMANDS.items()}
    assert got == EXPECTED
    assert {c for c, r in COMMANDS.items() if r.default_purpose} == {
        "forget",
        "retention apply",
        "keys rotate",
        "demo",
    }


def test_every_cli_command_is_classified() -> None:
    """A new command cannot slip past the gate: each one the app registers is in the table."""
    names = {c.name or c.callback.__name__ for c in cli.app.registered_commands}  # type: ignore[union-attr]
    for group in cli.app.registered_groups:
        sub = group.typer_instance
        assert sub is not None
        names |= {f"{group.name} {c.name}" for c in sub.registered_commands}
    assert names == set(COMMANDS) - {"predict --evaluate"}


# ------------------------------------------------------------------------------ a tiny lake
@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lake/ (60 persons, 3 days in 2024, so retention has work) and work/graph.duckdb."""
    from sightgraph.graph.embedded import EmbeddedStore
    from sightgraph.graph.loader import load_lake
    from sightgraph.ingest.pipeline import ingest
    from sightgraph.synthetic.city import generate_city, write_city

    root = tmp_path_factory.mktemp("access-base")
    city = generate_city(persons=60, days=3, seed=1, start="2024-01-01")
    paths = write_city(city, root / "city", format="parquet")
    ingest(paths["sightings"], root / "lake", cameras=paths["cameras"], key=KEY)
    (root / "work").mkdir()
    store = EmbeddedStore(root / "work" / "graph.duckdb")
    try:
        load_lake(root / "lake", store)
    finally:
        store.close()
    return root


@dataclass
class Env:
    root: Path
    lake: Path
    work: Path
    out: Path
    city: Path
    pid: str

    @property
    def log(self) -> Path:
        return self.work / "audit.jsonl"

    def entries(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(x) for x in self.log.read_text().splitlines() if x.strip()]


@pytest.fixture
def env(base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    from sightgraph.lake import read_sightings

    root = tmp_path / "r"
    shutil.copytree(base, root)
    (root / "out").mkdir()
    for name in (
        "SIGHTGRAPH_PURPOSE",
        "SIGHTGRAPH_AUDIT_LOG",
        "SIGHTGRAPH_LAKE",
        "SIGHTGRAPH_ROLE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SIGHTGRAPH_WORKDIR", str(root / "work"))
    monkeypatch.setenv("SIGHTGRAPH_STORE", "embedded")
    monkeypatch.setenv("SIGHTGRAPH_USER", "tester")
    monkeypatch.setenv("SIGHTGRAPH_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("ACCESS_TEST_NEW_KEY", "access-rotated-key")  # for keys rotate
    pid = str(read_sightings(root / "lake", columns=["pid"])["pid"].value_counts().index[0])
    return Env(root, root / "lake", root / "work", root / "out", root / "city", pid)


def sg(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run the CLI's entry point in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        cli.main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _table_rows(*paths: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in paths)


def _removed(out: str) -> int:
    line = next(x for x in out.splitlines() if x.startswith("removed from lake:"))
    return sum(int(n.replace(",", "")) for n in re.findall(r" (\d[\d,]*)", line))


def _sightings_of(e: Env) -> int:
    from sightgraph.lake import read_sightings

    return int((read_sightings(e.lake, columns=["pid"])["pid"] == e.pid).sum())


# command -> (argv, expected rows of its audit entry after an allowed run, or None)
Case = tuple[Callable[[Env], list[object]], Callable[[Env, str], int] | None]
CASES: dict[str, Case] = {
    "generate": (
        lambda e: ["generate", "--out", e.out / "city", "--persons", "30", "--days", "2"],
        None,
    ),
    "ingest": (lambda e: ["ingest", e.city / "sightings.parquet", "--lake", e.lake], None),
    "load": (lambda e: ["load", "--lake", e.lake], None),
    "colocate": (
        lambda e: ["colocate", "--lake", e.lake, "--out", e.out / "pairs.parquet"],
        lambda e, _: _table_rows(e.out / "pairs.parquet"),
    ),
    "contacts": (
        lambda e: ["contacts", "--lake", e.lake, "--out", e.out / "c.parquet"],
        lambda e, _: _table_rows(e.out / "c.parquet"),
    ),
    "trajectories": (
        lambda e: ["trajectories", "--lake", e.lake, "--out", e.out / "traj"],
        lambda e, _: _table_rows(e.out / "traj" / "visits.parquet"),  # flows: aggregates
    ),
    "predict": (
        lambda e: ["predict", "--lake", e.lake, "--k", "2"],
        lambda e, _: _table_rows(e.lake / "predictions" / "predictions.parquet"),
    ),
    "predict --evaluate": (lambda e: ["predict", "--lake", e.lake, "--evaluate", "--json"], None),
    "trajectory": (lambda e: ["trajectory", e.pid], lambda e, _: _sightings_of(e)),
    "forget": (lambda e: ["forget", e.pid, "--lake", e.lake], lambda e, out: _removed(out)),
    "retention apply": (
        lambda e: ["retention", "apply", "--days", "30", "--lake", e.lake],
        lambda e, out: _removed(out),
    ),
    "keys rotate": (
        lambda e: ["keys", "rotate", "--lake", e.lake, "--new-key-env", "ACCESS_TEST_NEW_KEY"],
        lambda e, out: sum(int(n.replace(",", "")) for n in re.findall(r"(\d[\d,]*) rows", out)),
    ),
    "audit head": (lambda e: ["audit", "head"], None),
    "audit verify": (lambda e: ["audit", "verify"], None),
    "demo": (
        lambda e: ["demo", "--workdir", e.out / "demo", "--persons", "60", "--days", "3"],
        None,
    ),
}
RUNNABLE = sorted(set(CASES) - {"demo"})  # the demo's own test is below; dashboard never runs
BELOW = [(c, r) for c in sorted(CASES) for r in ROLES[: ROLES.index(EXPECTED[c][0])]]
NEEDS_PURPOSE = sorted(c for c in RUNNABLE if EXPECTED[c][1])
# missing (no --purpose, no SIGHTGRAPH_PURPOSE: forget and retention have a default), "", blank
PURPOSE_CASES = [
    (c, g)
    for c in NEEDS_PURPOSE
    for g in ("missing", "", "   ")
    if g != "missing" or not COMMANDS[c].default_purpose
]


@pytest.mark.parametrize(("command", "role"), BELOW, ids=[f"{c}-{r}" for c, r in BELOW])
def test_role_below_the_least_role_is_refused_before_anything_is_written(
    env: Env,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    role: str,
) -> None:
    monkeypatch.setenv("SIGHTGRAPH_ROLE", role)
    monkeypatch.setenv("SIGHTGRAPH_PURPOSE", "case 7")  # a purpose does not make up for the role
    before = snapshot(env.root)
    code, _, err = sg(capsys, *CASES[command][0](env))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert f"role {role} may not" in err and f"ask an {EXPECTED[command][0]}" in err
    assert snapshot(env.root) == before  # lake, graph, audit log, output folder: untouched
    assert not any(env.out.iterdir())


@pytest.mark.parametrize(
    ("command", "given"), PURPOSE_CASES, ids=[f"{c}-{g!r}" for c, g in PURPOSE_CASES]
)
def test_missing_or_blank_purpose_is_refused_before_anything_is_written(
    env: Env,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    given: str,
) -> None:
    monkeypatch.setenv("SIGHTGRAPH_ROLE", EXPECTED[command][0])
    monkeypatch.setenv("SIGHTGRAPH_PURPOSE", "case 7")  # an explicit blank is not a fallback
    if given == "missing":
        monkeypatch.delenv("SIGHTGRAPH_PURPOSE")
    argv = CASES[command][0](env) + ([] if given == "missing" else ["--purpose", given])
    before = snapshot(env.root)
    code, _, err = sg(capsys, *argv)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "purpose" in err
    assert snapshot(env.root) == before
    assert not any(env.out.iterdir())


@pytest.mark.parametrize("command", RUNNABLE)
def test_allowed_run_appends_exactly_one_entry_with_the_row_count(
    env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    role, needs_purpose, audited = EXPECTED[command]
    monkeypatch.setenv("SIGHTGRAPH_ROLE", role)
    argv = CASES[command][0](env) + (["--purpose", "case 7"] if needs_purpose else [])
    code, out, err = sg(capsys, *argv)
    assert code == 0, err
    entries = env.entries()
    if not audited:
        assert entries == []
        return
    assert len(entries) == 1
    (entry,) = entries
    assert (entry["user"], entry["role"], entry["purpose"]) == ("tester", role, "case 7")
    assert entry["query"] == command
    rows = CASES[command][1]
    assert rows is not None
    assert entry["rows"] == rows(env, out) and entry["rows"] > 0


def test_purpose_from_the_environment_and_the_option_wins(
    env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGHTGRAPH_PURPOSE", "outbreak ward 3")
    assert sg(capsys, "trajectory", env.pid)[0] == 0
    assert sg(capsys, "trajectory", env.pid, "--purpose", "case 7")[0] == 0
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "admin")
    assert sg(capsys, "forget", env.pid, "--lake", env.lake)[0] == 0
    assert [e["purpose"] for e in env.entries()] == ["outbreak ward 3", "case 7", "outbreak ward 3"]
    monkeypatch.delenv("SIGHTGRAPH_PURPOSE")
    assert sg(capsys, "retention", "apply", "--days", "30", "--lake", env.lake)[0] == 0
    assert env.entries()[-1]["purpose"] == "retention policy"


def test_a_damaged_audit_log_refuses_before_the_run(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry that could not be appended afterwards stops the command before it runs."""
    env.log.write_text('{"seq": 1, "trunc')
    before = snapshot(env.root)
    code, _, err = sg(
        capsys, "colocate", "--lake", env.lake, "--out", env.out / "p.parquet", "--purpose", "x"
    )
    assert code == 2 and "damaged" in err
    assert snapshot(env.root) == before


def test_unknown_role_is_refused(
    env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "root")
    code, _, err = sg(capsys, "audit", "verify")
    assert code == 2 and "unknown role" in err


def test_demo_refuses_a_viewer_and_audits_its_steps_for_an_analyst(
    env: Env, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = CASES["demo"][0](env) + ["--no-dashboard"]
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "viewer")
    code, _, err = sg(capsys, *argv)
    assert code == 2 and "role viewer may not" in err
    assert not (env.out / "demo").exists()
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "analyst")
    monkeypatch.setenv("SIGHTGRAPH_PURPOSE", "not the demo's")
    code, out, err = sg(capsys, *argv)
    assert code == 0, err
    assert "purpose 'demo on synthetic data'" in out
    log = env.out / "demo" / "audit.jsonl"
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    assert [e["query"] for e in entries] == ["colocate", "contacts", "trajectories", "predict"]
    assert {(e["role"], e["purpose"]) for e in entries} == {("analyst", "demo on synthetic data")}
    assert all(e["rows"] > 0 for e in entries)
    assert env.entries() == []  # the session's own log is not the demo's


# ------------------------------------------------------------------------------ gate itself
def _settings(role: str = "analyst", purpose: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(user="u", role=role, purpose=purpose, audit_path=lambda: None)


def test_gate_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGHTGRAPH_PURPOSE", raising=False)
    with pytest.raises(SightgraphError, match="not classified"):
        gate(_settings(), "no-such-command")
    s = gate(_settings("viewer"), "predict --evaluate")
    assert (s.role, s.purpose, s.audit_log) == ("viewer", None, None)
    assert s.audit({}, 3) is None  # not audited: nothing to append
    with pytest.raises(UsageError, match=r"^contacts: needs a purpose"):
        gate(_settings(), "contacts")
    with pytest.raises(UsageError, match=r"^contacts: --purpose is empty"):
        gate(_settings(purpose="case 7"), "contacts", "")
    assert resolve_purpose("forget", None, "") == "erasure request"
    assert resolve_purpose("forget", None, " case 9 ") == "case 9"
    assert resolve_purpose("audit verify", None, "case 9") is None


# --- the same gate for dashboard pages and the Python API ------------------------------------


def test_query_gate_checks_role_purpose_user_and_log_before_and_audits_after(tmp_path) -> None:
    from sightgraph.governance.access import query_gate
    from sightgraph.governance.audit import AuditLog

    log = tmp_path / "audit.jsonl"
    with pytest.raises(UsageError, match="viewer may not"):
        query_gate("ana", "viewer", "case 7", "ego_network", log)
    for blank in (None, "", "   "):
        with pytest.raises(UsageError, match="purpose"):
            query_gate("ana", "analyst", blank, "ego_network", log)
    with pytest.raises(UsageError, match="user"):
        query_gate(" ", "analyst", "case 7", "ego_network", log)
    with pytest.raises(UsageError, match="audit log"):
        query_gate("ana", "analyst", "case 7", "ego_network", None)
    assert not log.exists()  # nothing refused wrote anything
    # an aggregate needs neither purpose nor log, and is not audited
    agg = query_gate("vic", "viewer", None, "camera-flows", None)
    assert agg.audit_log is None and agg.audit({}, 3) is None
    ok = query_gate("ana", "analyst", " case 7 ", "ego_network", log)
    ok.audit({"pid": "abc"}, 12)
    (entry,) = AuditLog(log).read_entries()
    assert (entry["user"], entry["role"], entry["purpose"], entry["query"], entry["rows"]) == (
        "ana",
        "analyst",
        "case 7",
        "ego_network",
        12,
    )
    # a damaged last line refuses before the query, not after
    log.write_text(log.read_text() + "{not json")
    with pytest.raises(UsageError):
        query_gate("ana", "analyst", "case 7", "ego_network", log)


def test_dashboard_and_python_api_use_the_one_gate(tmp_path, monkeypatch) -> None:
    """The dashboard's loaders and ``audited`` refuse exactly what query_gate refuses."""
    from sightgraph.dashboard import loaders
    from sightgraph.governance import access
    from sightgraph.governance.audit import audited

    calls: list[str] = []
    real = access.query_gate

    def spy(*args, **kwargs):
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(access, "query_gate", spy)
    monkeypatch.setenv("SIGHTGRAPH_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    with pytest.raises(UsageError, match="purpose"):
        loaders.authorise(loaders.Session("ana", "analyst", ""), "trajectory")
    with pytest.raises(UsageError, match="viewer may not"):
        audited(tmp_path / "audit.jsonl", "vic", "viewer", "case", "trajectory")
    assert calls == ["trajectory", "trajectory"]
