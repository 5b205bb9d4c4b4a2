"""Pure helpers every store backend shares, so that all backends accept the same input and give
byte-identical answers (the conventions are stated in :mod:`sightgraph.graph.base`).

Three groups:

* **input**: ``prepare_cameras``, ``prepare_sightings``, ``prepare_contacts``,
  ``prepare_transitions`` validate a frame handed to a ``write_*`` method and return a new frame with
  the canonical columns, dtypes, contact orientation (``pid_a < pid_b``) and one row per key (the
  last one wins); ``rows_from`` and ``iter_batches`` turn such a frame into batches of plain Python
  rows (for ``UNWIND $rows``);
* **arguments**: ``check_pid``, ``check_hops``, ``check_min_score``, ``check_window``,
  ``check_time_range``, ``check_cutoff`` validate the arguments of the read methods and raise
  :class:`~sightgraph.errors.UsageError` in the caller's terms;
* **output**: ``normalize_trajectory``, ``normalize_ego_nodes``, ``normalize_edges``,
  ``normalize_pair_events`` put a backend's raw answer into the contract's columns, dtypes and order;
  ``find_hops`` and ``find_smallest_shortest_path`` run the breadth-first searches over a
  backend-supplied neighbour function.

String order everywhere is Unicode code point order (Python's ``<`` on ``str``, equal to UTF-8 byte
order), never UTF-16 code unit order.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from sightgraph.base_types import *  # noqa: F401,F403  (placeholder, replaced below)
