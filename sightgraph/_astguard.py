"""One thread at a time in :func:`ast.parse` on CPython < 3.12 (gh-106905).

CPython 3.11 keeps the AST constructor's recursion counter in state shared by all threads. When
the garbage collector runs a finalizer while one thread builds AST objects, another thread can
enter :func:`ast.parse` and the first fails with ``SystemError: AST constructor recursion depth
mismatch``. Threads of one job do parse: the standard library does it to format a traceback's
carets and to read a builtin's ``inspect.signature``, Dask's config to read environment
variables; an in-process ``colocate`` failed so once in CI. The fix (per-interpreter state, in
3.12) was not backported, so :func:`install` wraps :func:`ast.parse` (which
:func:`ast.literal_eval` calls too) in a re-entrant lock. Parsing is rare and short in this
process; the lock costs nothing measurable.
"""

from __future__ import annotations

import ast
import functools
import sys
import threading
from typing import Any

_LOCK = threading.RLock()


def install() -> bool:
    """Serialise :func:`ast.parse` where CPython needs it; True when the guard is (now) in place."""
    if sys.version_info >= (3, 12):
        return False
    if getattr(ast.parse, "_sightgraph_guard", False):
        return True
    parse = ast.parse

    @functools.wraps(parse)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return parse(*args, **kwargs)

    guarded._sightgraph_guard = True  # type: ignore[attr-defined]
    ast.parse = guarded  # type: ignore[assignment]
    return True
