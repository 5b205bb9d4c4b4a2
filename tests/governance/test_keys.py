"""`sightgraph keys rotate` (issue 10, Keys): every pid of the lake, its exports and the graph is
wrapped under the new key, consistently (re-ingest with the key chain adds nothing, event sighting
ids match the sightings), the old key alone is refused afterwards, and an interrupted rotation is
finished by running it again."""

from __future__ import annotations

import hashlib
import hmac
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sightgraph.governance import keys as keys_mod
from sightgraph.governance.verify import verify_erasure
from sightgraph.graph.embedded import EmbeddedStore
from sightgraph.ingest.pseudonymize import (
    ROTATIONS_ENV,
    KeyChain,
    fingerprint_key,
    pseudonym_of,
    pseudonymize_ids,
    resolve_key,
    rewrap,
)
from sightgraph.lake import ROTATION_JOURNAL_NAME, read_key_record
from tests.governance.conftest import KEY, _env, _main

NEW = "rotated-key-2"


@pytest.fixture
def run(demo_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    shutil.copytree(demo_run["lake"], tmp_path / "lake")
    shutil.copytree(demo_run["work"], tmp_path / "work")
    _env(monkeypatch, tmp_path / "work")
    monkeypatch.delenv(ROTATIONS_ENV, raising=False)
    monkeypatch.setenv("NEW_KEY", NEW)
    return {**demo_run, "lake": tmp_path / "lake", "work": tmp_path / "work", "tmp": tmp_path}


def _pid_values(root: Path) -> dict[str, set[str]]:
    """Every non-null value of every pid-named column, per Parquet file (relative name with
    pid-named folders collapsed, so a renamed hive folder is the same file)."""
    out: dict[str, set[str]] = {}
    for f in sorted(root.rglob("*.parquet")):
        if any(p.startswith(".") for p in f.relative_to(root).parts):
            continue
        t = pq.read_table(f)
        vals: set[str] = set()
        for name in t.column_names:
            if name == "pid" or name.startswith("pid_"):
                vals |= {str(v) for v in t.column(name).to_pylist() if v is not None}
        out[str(f.relative_to(root))] = vals
    return out


def _sightings(lake: Path) -> pd.DataFrame:
    return pd.read_parquet(lake / "sightings")


def _rotate(lake: Path, *extra: str) -> int:
    return _main(["keys", "rotate", "--lake", lake, "--new-key-env", "NEW_KEY", *extra])


def test_a_chain_wraps_the_first_keys_pseudonym() -> None:
    chain = KeyChain(b"k1", (b"k2", b"k3"))
    assert pseudonym_of(" A1 ", chain) == rewrap(b"k3", rewrap(b"k2", pseudonym_of("A1", b"k1")))
    ids = pd.Series(["A1", "B2", "A1"])
    assert list(pseudonymize_ids(ids, chain)) == [pseudonym_of(x, chain) for x in ids]
    # a key never rotated keeps its fingerprint (lakes made before rotation existed)
    plain = hmac.new(b"k1", b"sightgraph key fingerprint v1", hashlib.sha256).hexdigest()[:12]
    assert fingerprint_key(b"k1") == plain != fingerprint_key(chain)
    assert resolve_key("k1", rotations="k2,k3") == chain
    assert fingerprint_key(resolve_key("k1", rotations="k2,k3")) == fingerprint_key(chain)
    assert "k1" not in repr(chain) and "k2" not in repr(chain)


def test_rotation_rewrites_every_pid_and_the_chain_reingests_nothing_new(
    run: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    lake, work = run["lake"], run["work"]
    export = run["tmp"] / "exports" / "contacts.parquet"
    assert _main(["contacts", "--lake", lake, "--out", export]) == 0
    assert _main(["predict", "--lake", lake]) == 0  # a saved model (the demo's forget dropped it)
    before_lake, before_export = _pid_values(lake), _pid_values(export.parent)
    before_sightings = _sightings(lake)
    store = EmbeddedStore(work / "graph.duckdb")
    graph_before = store.counts()
    store.close()
    old_pid = before_sightings["pid"].iloc[0]
    assert (lake / "models").exists() and any((lake / "models").iterdir())

    assert _rotate(lake) == 0

    new = NEW.encode()
    # every pid of every file (lake and export) is the old one wrapped, file by file
    after_lake = _pid_values(lake)
    wrapped = {
        rel: {rewrap(new, p) for p in vals}
        for rel, vals in before_lake.items()
        if not rel.startswith("models/")
    }
    assert after_lake == wrapped
    assert _pid_values(export.parent) == {
        rel: {rewrap(new, p) for p in vals} for rel, vals in before_export.items()
    }
    # pair tables keep pid_a < pid_b; event sighting ids are the sightings' new ids
    contacts = pd.read_parquet(lake / "contacts" / "contacts.parquet")
    assert len(contacts) and (contacts["pid_a"] < contacts["pid_b"]).all()
    events = pd.read_parquet(lake / "colocation_events")
    assert (events["pid_a"] < events["pid_b"]).all()
    after_sightings = _sightings(lake)
    ids = set(after_sightings["sighting_id"])
    assert set(events["sighting_a"]) <= ids and set(events["sighting_b"]) <= ids
    assert not ids & set(before_sightings["sighting_id"])
    assert not (lake / "models").exists() or not any((lake / "models").iterdir())
    # the lake's key is now the chain
    chain = KeyChain(KEY.encode(), (new,))
    assert read_key_record(lake)["key_fingerprint"] == fingerprint_key(chain)
    # the graph holds the rotated pids and no byte of an old one
    store = EmbeddedStore(work / "graph.duckdb")
    try:
        assert store.counts() == graph_before
        assert len(store.trajectory(rewrap(new, old_pid))) > 0
    finally:
        store.close()
    assert verify_erasure(lake, old_pid, store=work / "graph.duckdb") == []

    source = next(run["city"].glob("sightings.*"))
    # the old key alone is refused, nothing written
    assert _main(["ingest", source, "--lake", lake]) != 0
    assert len(_sightings(lake)) == len(after_sightings)
    # with the chain, the same file gives the same pids and sighting ids: only the subject the
    # demo run forgot comes back
    monkeypatch.setenv(ROTATIONS_ENV, NEW)
    assert _main(["ingest", source, "--lake", lake]) == 0
    again = _sightings(lake)
    forgotten = pseudonym_of(run["raw_ids"][-1], chain)
    assert set(again["pid"]) == set(after_sightings["pid"]) | {forgotten}
    kept = again[again["pid"] != forgotten]
    assert sorted(kept["sighting_id"]) == sorted(after_sightings["sighting_id"])
    # forget --raw finds the rotated pseudonym
    raw = run["raw_ids"][0]
    assert _main(["forget", "--raw", raw, "--lake", lake]) == 0
    assert pseudonym_of(raw, chain) not in set(_sightings(lake)["pid"])


def test_the_wrong_key_or_role_changes_nothing(
    run: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = run["lake"]
    snapshot = {p: p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()}
    monkeypatch.setenv("SIGHTGRAPH_PSEUDONYM_KEY", "another-key")
    assert _rotate(lake) != 0
    monkeypatch.setenv("SIGHTGRAPH_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "analyst")
    assert _rotate(lake) != 0
    monkeypatch.setenv("SIGHTGRAPH_ROLE", "admin")
    monkeypatch.setenv("NEW_KEY", "has,comma")
    assert _rotate(lake) != 0
    monkeypatch.setenv("NEW_KEY", KEY)  # already the lake's key
    assert _rotate(lake) != 0
    after = {p: p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()}
    assert after.keys() == snapshot.keys()
    assert all(after[p] == snapshot[p] for p in snapshot if p.name != ".sightgraph.lock")


def test_an_interrupted_rotation_blocks_ingest_until_run_again(
    run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = run["lake"]
    reference = tmp_path / "reference"
    shutil.copytree(lake, reference)
    assert _rotate(reference) == 0
    finish = keys_mod._finish

    def crash(root: Path, doc: dict[str, Any]) -> None:  # moves half of the files, then dies
        half = {**doc, "moves": doc["moves"][: len(doc["moves"]) // 2], "deletes": []}
        for tmp, final in half["moves"]:
            Path(tmp).replace(final)
        raise RuntimeError("killed")

    monkeypatch.setattr(keys_mod, "_finish", crash)
    assert _rotate(lake) != 0
    assert (lake / ROTATION_JOURNAL_NAME).exists()
    source = next(run["city"].glob("sightings.*"))
    monkeypatch.setenv(ROTATIONS_ENV, NEW)
    n = len(_sightings(lake))
    assert _main(["ingest", source, "--lake", lake]) != 0  # refused: half rotated
    assert len(_sightings(lake)) == n
    monkeypatch.setattr(keys_mod, "_finish", finish)
    monkeypatch.delenv(ROTATIONS_ENV)
    assert _rotate(lake) == 0  # the same keys finish it
    assert not (lake / ROTATION_JOURNAL_NAME).exists()
    assert _pid_values(lake) == _pid_values(reference)
    ref, got = _sightings(reference), _sightings(lake)
    assert sorted(ref["sighting_id"]) == sorted(got["sighting_id"])
