"""Run a ``sightgraph`` command in a fresh interpreter and say whether it imported pandas."""

from __future__ import annotations

import os
import subprocess
import sys

_CODE = (
    "import sys\n"
    "from sightgraph.cli import app\n"
    "try:\n"
    "    app(sys.argv[1:], standalone_mode=False)\n"
    "finally:\n"
    "    print('PANDAS' if 'pandas' in sys.modules else 'NO PANDAS')\n"
)


def imports_pandas(args: list[str], timeout: float = 300) -> bool:
    """Run ``sightgraph *args`` (purpose ``test``, role admin) in a subprocess; it must succeed.
    True if pandas was imported by the end of the command."""
    run = subprocess.run(
        [sys.executable, "-c", _CODE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SIGHTGRAPH_PURPOSE": "test", "SIGHTGRAPH_ROLE": "admin"},
        timeout=timeout,
    )
    assert run.returncode == 0, run.stderr
    last = run.stdout.strip().splitlines()[-1]
    assert last in ("PANDAS", "NO PANDAS"), run.stdout
    return last == "PANDAS"
