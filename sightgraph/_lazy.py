"""Modules imported on first use.

``pd = LazyModule("pandas")`` stands for pandas until one of its attributes is read; then it
imports it. Commands that never touch a DataFrame (``sightgraph colocate`` reads and writes
Parquet with pyarrow) then do not pay pandas' 0.3-0.5 s import. Type checkers see the real
module: import it under ``TYPE_CHECKING`` and bind the lazy one otherwise.
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """A module imported when one of its attributes is first read."""

    def __init__(self, name: str) -> None:
        self._lazy_name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._lazy_name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._lazy_name!r}>"
