"""Scratch directories of the analytics jobs (sightgraph.analytics.compute.spill_dir)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sightgraph.analytics.compute import spill_dir


def test_spill_dir_removes_what_killed_jobs_of_this_host_left(tmp_path: Path) -> None:
    """A job killed mid-way leaves its scratch directory beside the output; the next job on
    this host removes it, but never one of a running process or of another host."""
    code = (
        "import sys; from sightgraph.analytics.compute import spill_dir; "
        "d = spill_dir(sys.argv[1], 'contacts'); open(d + '/part.npy', 'wb').write(b'x'); print(d)"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    dead = Path(child.stdout.strip())  # its process has exited: as if it had been killed
    assert dead.is_dir() and dead.parent == tmp_path
    mine = Path(spill_dir(tmp_path, "contacts"))
    assert not dead.exists()
    foreign = tmp_path / ".contacts-otherhost-1-abcd"
    foreign.mkdir()
    other_kind = Path(spill_dir(tmp_path, "colocate"))
    again = Path(spill_dir(tmp_path, "contacts"))
    assert mine.is_dir() and foreign.is_dir() and other_kind.is_dir() and again.is_dir()
    assert again != mine and again.name.startswith(".contacts-")


def test_prefetched_yields_every_item_in_order_and_raises_where_the_item_would() -> None:
    import threading

    from sightgraph.analytics.compute import prefetched

    threads: set[str] = set()

    def items():
        for k in range(5):
            threads.add(threading.current_thread().name)
            yield k
        raise ValueError("damaged chunk")

    got = []
    try:
        for k in prefetched(items(), "sightgraph-test"):
            got.append(k)
    except ValueError as exc:
        assert str(exc) == "damaged chunk"
    else:
        raise AssertionError("the producer's error was lost")
    assert got == [0, 1, 2, 3, 4]
    assert threads and all(t.startswith("sightgraph-test") for t in threads)
    assert list(prefetched(iter([]))) == []
