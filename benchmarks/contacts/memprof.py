"""compute_contacts on a lake with its RSS and phase sampled every 5 s (where memory goes).

    python benchmarks/contacts/memprof.py LAKE OUT.parquet [CROWD_CAP]

Prints one line per sample (seconds, RSS, the sightgraph functions every thread is in) and a
last line ``done SECONDS PAIRS EVENTS PEAK_RSS_GIB``.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
import traceback

from sightgraph.analytics.contacts import compute_contacts


def _rss_gib() -> float:
    with open(f"/proc/{os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def main() -> None:
    t0 = time.time()

    def sample() -> None:
        while True:
            time.sleep(5)
            names = []
            for frame in sys._current_frames().values():
                stack = [
                    s.name for s in traceback.extract_stack(frame) if "sightgraph" in s.filename
                ]
                if stack:
                    names.append(">".join(stack[-4:]))
            print(
                f"{time.time() - t0:6.0f}s rss={_rss_gib():5.2f}G {' | '.join(names)[:300]}",
                flush=True,
            )

    threading.Thread(target=sample, daemon=True).start()
    kw = {"crowd_cap": int(sys.argv[3])} if len(sys.argv) > 3 else {}
    r = compute_contacts(sys.argv[1], sys.argv[2], progress=False, **kw)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print("done", round(time.time() - t0, 1), r.pairs, r.events, round(peak, 2))


if __name__ == "__main__":
    main()
