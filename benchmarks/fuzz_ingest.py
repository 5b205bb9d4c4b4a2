"""The long run of the ingest fuzzer (issue 10): the properties of tests/ingest/test_fuzz_ingest.py
for as many minutes as asked, with fresh random examples.

    .venv/bin/python benchmarks/fuzz_ingest.py --minutes 10 [--seed 1] [--out fuzz.json]

Rounds of each property in turn (CSV, JSON Lines and Parquet garbage, and the cross-format
check that NaN and every other value give the same rows and reasons in every format), each a
hypothesis run of ``--batch`` examples with shrinking on, until the time is up. A failure is
printed with its (shrunk) example and counted; the run goes on. Exit 0 when no property failed,
1 otherwise. The summary (examples per property, failures) is printed and, with ``--out``,
written as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

import tests.ingest.test_fuzz_ingest as fuzz  # noqa: E402


def _properties() -> dict[str, Any]:
    """name -> (strategy, check(example, chunk_rows))."""

    def rows(data: Any, chunk: int) -> None:
        picked = fuzz._cross_format_rows(data[0])
        if picked:
            fuzz.check_formats_agree(picked, data[1], chunk)

    def text(suffix: str) -> Any:
        def check(data: Any, chunk: int) -> None:
            with fuzz.seeded_lake() as lake:
                fuzz.check_garbage(
                    data[0], data[2] if suffix == "csv" else suffix, data[1], chunk, lake
                )

        return check

    return {
        "csv": (fuzz.garbage_csv(), text("csv")),
        "jsonl": (fuzz.garbage_jsonl(), text(".jsonl")),
        "parquet": (fuzz.garbage_parquet(), text(".parquet")),
        "formats agree": (fuzz.sighting_rows(), rows),
    }


def run_round(
    name: str, strategy: Any, check: Any, examples: int, round_seed: int
) -> tuple[int, str | None]:
    """One hypothesis run; (examples tried, failure text or None)."""
    count = [0]

    @seed(round_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(strategy, fuzz._CHUNK)
    def prop(data: Any, chunk: int) -> None:
        count[0] += 1
        check(data, chunk)

    try:
        prop()
    except Exception:  # noqa: BLE001 - a property failed: report it, go on
        return count[0], traceback.format_exc(limit=-6)
    return count[0], None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--batch", type=int, default=25, help="examples per hypothesis run")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    props = _properties()
    stats = {name: {"examples": 0, "rounds": 0, "failures": []} for name in props}
    t0 = time.monotonic()
    deadline = t0 + args.minutes * 60
    while time.monotonic() < deadline:
        for name, (strategy, check) in props.items():
            if time.monotonic() >= deadline:
                break
            n, failure = run_round(name, strategy, check, args.batch, rng.getrandbits(32))
            s: dict[str, Any] = stats[name]
            s["examples"] += n
            s["rounds"] += 1
            if failure is not None:
                s["failures"].append(failure)
                print(f"--- {name}: FAILED\n{failure}", flush=True)
        done = time.monotonic() - t0
        print(
            f"[{done / 60:5.1f} min] "
            + ", ".join(
                f"{k} {v['examples']} ex/{len(v['failures'])} fail" for k, v in stats.items()
            ),
            flush=True,
        )
    summary = {
        "minutes": round((time.monotonic() - t0) / 60, 2),
        "properties": {
            k: {"examples": v["examples"], "rounds": v["rounds"], "failures": len(v["failures"])}
            for k, v in stats.items()
        },
        "failure_texts": {k: v["failures"] for k, v in stats.items() if v["failures"]},
    }
    print(json.dumps(summary["properties"], indent=2))
    total = sum(len(v["failures"]) for v in stats.values())
    print(f"{sum(v['examples'] for v in stats.values())} examples, {total} failing rounds")
    if args.out is not None:
        args.out.write_text(json.dumps(summary, indent=2))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
