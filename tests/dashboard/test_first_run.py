"""`sightgraph dashboard` finds the demo on a first run and never shows a traceback."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from sightgraph.cli import dashboard_paths

APP = str(Path(__file__).resolve().parents[2] / "sightgraph" / "dashboard" / "streamlit_app.py")


def test_paths_prefer_flags_then_the_lakes_workdir_then_the_demo(tmp_path: Path) -> None:
    work = tmp_path / "sightgraph-work"
    demo = work / "demo"
    (demo / "lake").mkdir(parents=True)
    (demo / "graph.duckdb").write_bytes(b"")
    # nothing configured exists yet, the demo does: open the demo, and say so
    lake, wd, note = dashboard_paths(None, None, work)
    assert (lake, wd) == (demo / "lake", demo) and "demo" in note
    # --lake of the demo: its workdir comes with it (the graph store beside it)
    lake, wd, note = dashboard_paths(demo / "lake", None, work)
    assert (lake, wd.resolve(), note) == (demo / "lake", demo.resolve(), "")
    # --workdir wins, its lake unless --lake
    other = tmp_path / "other"
    assert dashboard_paths(None, other, work)[:2] == (other / "lake", other)
    assert dashboard_paths(demo / "lake", other, work)[:2] == (demo / "lake", other)
    # a configured lake that exists is opened as configured
    (work / "lake").mkdir()
    assert dashboard_paths(None, None, work) == (work / "lake", work, "")
    # a lake whose parent holds no store keeps the configured workdir
    bare = tmp_path / "bare" / "lake"
    bare.mkdir(parents=True)
    assert dashboard_paths(bare, None, work)[:2] == (bare, work)


def test_missing_lake_and_store_are_messages(tmp_path: Path, monkeypatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for k, v in {
        "SIGHTGRAPH_WORKDIR": str(empty),
        "SIGHTGRAPH_LAKE": str(empty / "lake"),
        "SIGHTGRAPH_STORE": "embedded",
        "SIGHTGRAPH_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "SIGHTGRAPH_ROLE": "analyst",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SIGHTGRAPH_DASHBOARD_USERS", raising=False)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("sightgraph load" in e.value for e in at.error)
    for page in ("contacts.py", "trajectory.py", "cameras.py", "predictions.py", "audit.py"):
        at.switch_page(str(Path(APP).parent / "app_pages" / page)).run()
        assert not at.exception, page
