"""CPython 3.11's AST constructor state is shared by threads (gh-106905): two threads parsing
while the garbage collector runs finalizers fail one of them with ``SystemError``. Importing
sightgraph serialises :func:`ast.parse`. The race runs in a subprocess, with and without the
guard, so the test shows both that it happens here and that the guard stops it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

RACE = textwrap.dedent(
    """
    import ast, sys, threading, time
    sys.setswitchinterval(1e-5)
    if sys.argv[1] == "guarded":
        import sightgraph  # noqa: F401  (installs the guard)
    src = "\\n".join(f"x{i} = [a.b(c, d=[1, 2, {{3: 4}}]) for a in y if a]" for i in range(100))

    class Finalised:
        def __del__(self):
            time.sleep(0)  # lets another thread run while the collector is inside ast.parse

    errors = []

    def work(depth):
        if depth:
            return work(depth - 1)  # the two threads parse at different stack depths
        end = time.monotonic() + 2.0
        while time.monotonic() < end and not errors:
            for _ in range(5):
                a, b = Finalised(), Finalised()
                a.o, b.o = b, a
            try:
                ast.parse(src)
            except SystemError as e:
                errors.append(str(e))

    threads = [threading.Thread(target=work, args=(d,)) for d in (10, 30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(len(errors), errors[:1])
    """
)


def _race(mode: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", RACE, mode], capture_output=True, text=True, timeout=60, check=True
    )
    return proc.stdout.strip()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="CPython 3.12 keeps the state per thread")
def test_threads_parsing_at_once_fail_without_the_guard_and_not_with_it() -> None:
    assert "recursion depth mismatch" in _race("bare")
    assert _race("guarded") == "0 []"


def test_the_guard_keeps_ast_parse_working() -> None:
    import ast

    import sightgraph  # noqa: F401

    tree = ast.parse("a = [1, 2]")
    assert isinstance(tree.body[0], ast.Assign)
    assert ast.literal_eval("{'x': (1, 2.5)}") == {"x": (1, 2.5)}
    if sys.version_info < (3, 12):
        assert getattr(ast.parse, "_sightgraph_guard", False)
