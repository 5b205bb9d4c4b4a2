"""The lake's writer lock: one writer at a time, a clear message for the second, no stale lock."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sightgraph.errors import UsageError
from sightgraph.governance.erasure import forget_subject, retention_apply
from sightgraph.ingest.pipeline import ingest
from sightgraph.lake import LOCK_NAME, lake_lock, read_sightings

HOLDER = """
import sys, time
from sightgraph.lake import lake_lock
with lake_lock(sys.argv[1], "test holder"):
    print("locked", flush=True)
    time.sleep(120)
"""


def _csv(path: Path) -> Path:
    pd.DataFrame(
        {
            "subject_id": ["a", "b"],
            "camera_id": ["C1", "C1"],
            "ts": ["2024-05-01T08:00:00Z", "2024-05-01T08:00:30Z"],
        }
    ).to_csv(path, index=False)
    return path


@pytest.fixture
def holder(tmp_path: Path):  # type: ignore[no-untyped-def]
    lake = tmp_path / "lake"
    lake.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lake)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield lake, proc
    finally:
        proc.kill()
        proc.wait()


def test_a_second_writer_fails_at_once_naming_the_holder(tmp_path: Path, holder) -> None:  # type: ignore[no-untyped-def]
    lake, proc = holder
    source = _csv(tmp_path / "s.csv")
    for attempt in (
        lambda: ingest(source, lake, key="k", progress=False),
        lambda: forget_subject(lake, "0123456789abcdef"),
        lambda: retention_apply(lake, 30),
    ):
        with pytest.raises(UsageError, match=rf"busy: pid {proc.pid} \(test holder\)"):
            attempt()
    assert not (lake / "sightings").exists()  # nothing was written by the refused ingest


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path, holder) -> None:  # type: ignore[no-untyped-def]
    lake, proc = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (lake / LOCK_NAME).exists()  # the file stays; the lock went with the process
    report = ingest(_csv(tmp_path / "s.csv"), lake, key="k", progress=False)
    assert report.ingested == 2 and len(read_sightings(lake)) == 2


def test_the_lock_is_released_after_an_error_and_is_not_reentrant(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with pytest.raises(UsageError, match="no data rows"):
        (tmp_path / "empty.csv").write_text("subject_id,camera_id,ts\n")
        ingest(tmp_path / "empty.csv", lake, key="k", progress=False)
    with lake_lock(lake, "outer"), pytest.raises(UsageError, match="busy"):
        ingest(_csv(tmp_path / "s.csv"), lake, key="k", progress=False)
    assert ingest(_csv(tmp_path / "s.csv"), lake, key="k", progress=False).ingested == 2
