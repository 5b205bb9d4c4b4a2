"""Pure helpers every store backend shares, so that all backends accept the same input and give
byte-identical answers (the conventions are stated in :mod:`sightgraph.graph.base`).

Three groups:

* **input**: ``prepare_cameras``, ``prepare_sightings``, ``prepare_contacts`` and
  ``prepare_transitions`` validate a frame handed to a ``write_*`` method and return a new frame
  with the canonical columns and dtypes, contacts oriented ``pid_a < pid_b``, and one row per key
  (the last one wins); ``rows_from`` and ``iter_batches`` turn such a frame into batches of plain
  Python rows (for ``UNWIND $rows``);
* **arguments**: ``check_pid``, ``check_hops``, ``check_min_score``, ``check_window``,
  ``check_time_range`` and ``check_cutoff`` validate the arguments of the read methods and raise
  :class:`~sightgraph.errors.UsageError` in the caller's terms;
* **output**: ``normalize_trajectory``, ``normalize_ego_nodes``, ``normalize_edges`` and
  ``normalize_pair_events`` put a backend's raw answer into the contract's columns, dtypes and
  order; ``find_hops`` and ``find_smallest_shortest_path`` run the breadth-first searches over a
  neighbour function that the backend supplies.

String order everywhere is Unicode code point order (Python's ``<`` on ``str``, which equals UTF-8
byte order), never UTF-16 code unit order.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sightgraph.errors import UsageError
from sightgraph.graph.base import (
    EGO_EDGE_COLUMNS,
    EGO_NODE_COLUMNS,
    PAIR_EVENT_COLUMNS,
    TRAJECTORY_COLUMNS,
    EgoNetwork,
)
from sightgraph.schema import (
    CAMERA_COLUMNS,
    CONTACT_COLUMNS,
    SIGHTING_COLUMNS,
    TRANSITION_COLUMNS,
    require_columns,
)

__all__ = [
    "Answer",
    "Expand",
    "Hops",
    "STR_DTYPE",
    "TS_DTYPE",
    "bound_edges",
    "bounded_ego",
    "check_cutoff",
    "check_hops",
    "check_min_score",
    "check_pid",
    "check_time_range",
    "check_window",
    "check_limit",
    "find_hops",
    "find_hops_bounded",
    "find_smallest_shortest_path",
    "iter_batches",
    "normalize_edges",
    "normalize_ego_nodes",
    "normalize_pair_events",
    "normalize_trajectory",
    "prepare_cameras",
    "prepare_contacts",
    "prepare_sightings",
    "prepare_transitions",
    "rows_from",
]

#: dtype of every timestamp column a store returns
TS_DTYPE = pd.DatetimeTZDtype(unit="us", tz="UTC")
#: dtype of every id column a store returns: pandas' default string dtype (``str`` in pandas 3)
STR_DTYPE = pd.Series(["x"]).astype(str).dtype

#: a backend's neighbour function: for some pids, every qualifying edge touching them as
#: (pid, neighbour, score) triples, in any order, duplicates allowed
Expand = Callable[[Sequence[str]], Iterable[tuple[str, str, float]]]

_DTYPES: dict[str, Any] = {
    "sighting_id": "int64",
    "pid": STR_DTYPE,
    "pid_a": STR_DTYPE,
    "pid_b": STR_DTYPE,
    "camera_id": STR_DTYPE,
    "camera_from": STR_DTYPE,
    "camera_to": STR_DTYPE,
    "name": STR_DTYPE,
    "site": STR_DTYPE,
    "ts": TS_DTYPE,
    "ts_a": TS_DTYPE,
    "ts_b": TS_DTYPE,
    "first_ts": TS_DTYPE,
    "last_ts": TS_DTYPE,
    "lat": "float64",
    "lon": "float64",
    "confidence": "float64",
    "score": "float64",
    "p_value": "float64",
    "q_value": "float64",
    "median_travel_s": "float64",
    "meetings": "int64",
    "days": "int64",
    "places": "int64",
    "count": "int64",
    "hop": "int64",
    "sighting_a": "int64",
    "sighting_b": "int64",
}


# --- input frames -----------------------------------------------------------------------------


def _first_bad_row(df: pd.DataFrame, mask: np.ndarray) -> Any:
    """The index label of the first row where ``mask`` is true."""
    return df.index[int(np.flatnonzero(mask)[0])]


def _to_ids(df: pd.DataFrame, col: str, what: str) -> pd.Series:
    """A required id column as non-empty strings (numbers are not silently turned into ids)."""
    s = df[col]
    null = s.isna().to_numpy()
    if null.any():
        raise UsageError(f"{what}: column {col} is empty in row {_first_bad_row(df, null)}")
    if not (
        pd.api.types.is_string_dtype(s.dtype)
        and (s.dtype != object or all(isinstance(v, str) for v in s))
    ):
        raise UsageError(f"{what}: column {col} must hold strings (got {s.dtype})")
    out = s.astype(STR_DTYPE)
    blank = (out.str.len() == 0).to_numpy(dtype=bool)
    if blank.any():
        raise UsageError(
            f"{what}: column {col} is an empty string in row {_first_bad_row(df, blank)}"
        )
    return out.reset_index(drop=True)


def _to_optional_str(df: pd.DataFrame, col: str, what: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series([None] * len(df), dtype=STR_DTYPE)
    s = df[col]
    ok = s.isna() | s.map(lambda v: isinstance(v, str))
    if not bool(ok.all()):
        bad = ~ok.to_numpy(dtype=bool)
        raise UsageError(f"{what}: column {col} must hold text (row {_first_bad_row(df, bad)})")
    return s.astype(STR_DTYPE).reset_index(drop=True)


def _to_float(
    df: pd.DataFrame,
    col: str,
    what: str,
    *,
    required: bool,
    lo: float = -math.inf,
    hi: float = math.inf,
) -> pd.Series:
    if col not in df.columns:
        return pd.Series(np.full(len(df), np.nan), dtype="float64")
    s = df[col]
    if pd.api.types.is_bool_dtype(s.dtype) or not (
        pd.api.types.is_numeric_dtype(s.dtype) or s.isna().all()
    ):
        raise UsageError(f"{what}: column {col} must be numeric (got {s.dtype})")
    arr = s.to_numpy(dtype="float64", na_value=np.nan)
    nan = np.isnan(arr)
    if required and nan.any():
        raise UsageError(f"{what}: column {col} is empty in row {_first_bad_row(df, nan)}")
    bad = ~nan & ~((arr >= lo) & (arr <= hi) & np.isfinite(arr))
    if bad.any():
        row = _first_bad_row(df, bad)
        raise UsageError(
            f"{what}: column {col} must be finite and within [{lo}, {hi}] "
            f"(got {arr[bad][0]!r} in row {row})"
        )
    return pd.Series(arr, dtype="float64")


def _to_count(df: pd.DataFrame, col: str, what: str) -> pd.Series:
    s = df[col]
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        raise UsageError(f"{what}: column {col} must hold whole numbers (got {s.dtype})")
    arr = s.to_numpy(dtype="float64", na_value=np.nan)
    nan = np.isnan(arr)
    if nan.any():
        raise UsageError(f"{what}: column {col} is empty in row {_first_bad_row(df, nan)}")
    bad = (arr < 0) | (arr != np.floor(arr)) | ~np.isfinite(arr)
    if bad.any():
        row = _first_bad_row(df, bad)
        raise UsageError(
            f"{what}: column {col} must be a whole number >= 0 (got {arr[bad][0]!r} in row {row})"
        )
    if pd.api.types.is_integer_dtype(s.dtype):
        return pd.Series(s.to_numpy(dtype="int64"), dtype="int64")
    return pd.Series(arr.astype("int64"), dtype="int64")


def _to_ts(df: pd.DataFrame, col: str, what: str, *, required: bool) -> pd.Series:
    if col not in df.columns:
        return pd.Series(pd.NaT, index=range(len(df)), dtype=TS_DTYPE)
    s = df[col]
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        if s.isna().all() and not required:
            return pd.Series(pd.NaT, index=range(len(df)), dtype=TS_DTYPE)
        raise UsageError(
            f"{what}: column {col} must be timezone-aware timestamps (got {s.dtype}); "
            "parse with utc=True or localise naive times first"
        )
    nat = s.isna().to_numpy()
    if required and nat.any():
        raise UsageError(f"{what}: column {col} is empty in row {_first_bad_row(df, nat)}")
    out = s.dt.tz_convert("UTC")
    if out.dtype != TS_DTYPE:
        out = out.dt.floor("us").astype(TS_DTYPE)
    return out.reset_index(drop=True)


def _keep_last(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    dup = df.duplicated(keys, keep="last").to_numpy()
    if dup.any():
        df = df.loc[~dup].reset_index(drop=True)
    return df


def prepare_cameras(cameras: pd.DataFrame) -> pd.DataFrame:
    """Validate cameras for ``write_cameras``.

    Parameters
    ----------
    cameras : DataFrame
        ``camera_id`` (str), ``lat``, ``lon`` (degrees; empty means unknown), optional ``name``,
        ``site``.

    Returns
    -------
    DataFrame
        A new frame with columns ``camera_id, lat, lon, name, site`` and one row per camera_id
        (the last row wins).
    """
    what = "cameras"
    require_columns(cameras, ("camera_id", "lat", "lon"), what)
    out = pd.DataFrame(
        {
            "camera_id": _to_ids(cameras, "camera_id", what),
            "lat": _to_float(cameras, "lat", what, required=False, lo=-90.0, hi=90.0),
            "lon": _to_float(cameras, "lon", what, required=False, lo=-180.0, hi=180.0),
            "name": _to_optional_str(cameras, "name", what),
            "site": _to_optional_str(cameras, "site", what),
        },
        columns=list(CAMERA_COLUMNS),
    )
    return _keep_last(out, ["camera_id"])


def prepare_sightings(sightings: pd.DataFrame) -> pd.DataFrame:
    """Validate sightings for ``write_sightings``.

    Parameters
    ----------
    sightings : DataFrame
        ``sighting_id`` (integer), ``pid`` (str), ``camera_id`` (str), ``ts`` (timezone-aware),
        optional ``confidence`` (0..1, empty allowed).

    Returns
    -------
    DataFrame
        A new frame with columns ``sighting_id, pid, camera_id, ts, confidence`` (``ts`` as
        ``datetime64[us, UTC]``, sub-microsecond parts floored) and one row per sighting_id (the
        last row wins).
    """
    what = "sightings"
    require_columns(sightings, ("sighting_id", "pid", "camera_id", "ts"), what)
    sid = sightings["sighting_id"]
    if pd.api.types.is_bool_dtype(sid.dtype) or not pd.api.types.is_integer_dtype(sid.dtype):
        raise UsageError(f"{what}: column sighting_id must hold integers (got {sid.dtype})")
    if sid.isna().any():
        raise UsageError(
            f"{what}: column sighting_id is empty in row {_first_bad_row(sightings, sid.isna().to_numpy())}"
        )
    out = pd.DataFrame(
        {
            "sighting_id": pd.Series(sid.to_numpy(dtype="int64"), dtype="int64"),
            "pid": _to_ids(sightings, "pid", what),
            "camera_id": _to_ids(sightings, "camera_id", what),
            "ts": _to_ts(sightings, "ts", what, required=True),
            "confidence": _to_float(sightings, "confidence", what, required=False, lo=0.0, hi=1.0),
        },
        columns=list(SIGHTING_COLUMNS),
    )
    return _keep_last(out, ["sighting_id"])


def prepare_contacts(contacts: pd.DataFrame) -> pd.DataFrame:
    """Validate contacts for ``write_contacts`` and orient every pair ``pid_a < pid_b``.

    Parameters
    ----------
    contacts : DataFrame
        ``pid_a``, ``pid_b`` (str, distinct), ``score`` (finite), ``meetings``, ``days``,
        ``places`` (whole numbers >= 0); optional ``p_value``, ``q_value`` (0..1), ``first_ts``,
        ``last_ts`` (timezone-aware), each may be empty.

    Returns
    -------
    DataFrame
        A new frame with CONTACT_COLUMNS, pairs swapped where ``pid_a > pid_b`` (code point
        order) and one row per pair (the last row wins, whichever way round it was given).
    """
    what = "contacts"
    require_columns(contacts, ("pid_a", "pid_b", "score", "meetings", "days", "places"), what)
    a = _to_ids(contacts, "pid_a", what)
    b = _to_ids(contacts, "pid_b", what)
    same = (a == b).to_numpy(dtype=bool)
    if same.any():
        raise UsageError(
            f"{what}: pid_a equals pid_b in row {_first_bad_row(contacts, same)} "
            "(a subject cannot be its own contact)"
        )
    swap = (a > b).to_numpy(dtype=bool)
    lo = a.where(~swap, b)
    hi = b.where(~swap, a)
    first = _to_ts(contacts, "first_ts", what, required=False)
    last = _to_ts(contacts, "last_ts", what, required=False)
    inverted = (first > last).to_numpy(dtype=bool)
    if inverted.any():
        raise UsageError(
            f"{what}: first_ts is after last_ts in row {_first_bad_row(contacts, inverted)}"
        )
    out = pd.DataFrame(
        {
            "pid_a": lo.astype(STR_DTYPE),
            "pid_b": hi.astype(STR_DTYPE),
            "score": _to_float(contacts, "score", what, required=True),
            "p_value": _to_float(contacts, "p_value", what, required=False, lo=0.0, hi=1.0),
            "q_value": _to_float(contacts, "q_value", what, required=False, lo=0.0, hi=1.0),
            "meetings": _to_count(contacts, "meetings", what),
            "days": _to_count(contacts, "days", what),
            "places": _to_count(contacts, "places", what),
            "first_ts": first,
            "last_ts": last,
        },
        columns=list(CONTACT_COLUMNS),
    )
    return _keep_last(out, ["pid_a", "pid_b"])


def prepare_transitions(transitions: pd.DataFrame) -> pd.DataFrame:
    """Validate camera transitions for ``write_transitions``.

    Parameters
    ----------
    transitions : DataFrame
        ``camera_from``, ``camera_to`` (str; equal allowed: left and came back), ``count``
        (whole number >= 0), optional ``median_travel_s`` (>= 0, empty allowed).

    Returns
    -------
    DataFrame
        A new frame with TRANSITION_COLUMNS and one row per camera pair (the last row wins).
    """
    what = "transitions"
    require_columns(transitions, ("camera_from", "camera_to", "count"), what)
    out = pd.DataFrame(
        {
            "camera_from": _to_ids(transitions, "camera_from", what),
            "camera_to": _to_ids(transitions, "camera_to", what),
            "count": _to_count(transitions, "count", what),
            "median_travel_s": _to_float(
                transitions, "median_travel_s", what, required=False, lo=0.0
            ),
        },
        columns=list(TRANSITION_COLUMNS),
    )
    return _keep_last(out, ["camera_from", "camera_to"])


def rows_from(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain Python rows of a prepared frame: str, int, float, tz-aware ``datetime`` (UTC, whole
    microseconds) and ``None`` for every empty cell (NaN, NaT, missing text)."""
    cols: dict[str, list[Any]] = {}
    for name in df.columns:
        s = df[name]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            conv = s.dt.tz_convert("UTC").astype(object)
            values = [None if v is pd.NaT or v is None else v.to_pydatetime() for v in conv]
        elif pd.api.types.is_integer_dtype(s.dtype) and not s.isna().any():
            values = [int(v) for v in s.to_numpy()]
        elif pd.api.types.is_float_dtype(s.dtype):
            values = [None if math.isnan(v) else float(v) for v in s.to_numpy()]
        else:
            values = [None if _is_missing(v) else v for v in s.astype(object)]
        cols[str(name)] = values
    names = list(cols)
    return [dict(zip(names, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


def _is_missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def iter_batches(df: pd.DataFrame, batch_size: int) -> Iterator[pd.DataFrame]:
    """Consecutive slices of at most ``batch_size`` rows (none for an empty frame)."""
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise UsageError(f"batch_size must be a whole number >= 1 (got {batch_size!r})")
    for start in range(0, len(df), int(batch_size)):
        yield df.iloc[start : start + int(batch_size)]


# --- arguments --------------------------------------------------------------------------------


def check_pid(pid: Any, name: str = "pid") -> str:
    """A subject id argument must be a str (an unknown one is fine: it just matches nothing)."""
    if not isinstance(pid, str):
        raise UsageError(f"{name} must be a string (got {type(pid).__name__})")
    return pid


def check_hops(hops: Any, name: str = "hops") -> int:
    """A hop count must be a whole number >= 0."""
    if isinstance(hops, bool) or not isinstance(hops, numbers.Integral) or hops < 0:
        raise UsageError(f"{name} must be a whole number >= 0 (got {hops!r})")
    return int(hops)


def check_limit(value: Any, name: str) -> int | None:
    """A bound of an ego network: None (no bound) or a whole number >= 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise UsageError(f"{name} must be a whole number >= 1 or None (got {value!r})")
    return int(value)


def check_min_score(min_score: Any) -> float:
    """A score threshold must be a finite number."""
    if (
        isinstance(min_score, bool)
        or not isinstance(min_score, numbers.Real)
        or not math.isfinite(float(min_score))
    ):
        raise UsageError(f"min_score must be a finite number (got {min_score!r})")
    return float(min_score)


def check_window(window_s: Any) -> int:
    """A co-location window in seconds (finite, >= 0) as whole microseconds, rounded to nearest."""
    if (
        isinstance(window_s, bool)
        or not isinstance(window_s, numbers.Real)
        or not math.isfinite(float(window_s))
        or window_s < 0
    ):
        raise UsageError(f"window_s must be a finite number of seconds >= 0 (got {window_s!r})")
    return round(float(window_s) * 1_000_000)


def _to_timestamp(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{name} is not a time: {value!r}") from exc
    if ts is pd.NaT or pd.isna(ts):
        raise UsageError(f"{name} is not a time: {value!r}")
    if ts.tzinfo is None:
        raise UsageError(f"{name} must be timezone-aware (got {value!r}); give a UTC offset")
    return ts.tz_convert("UTC")


def check_time_range(start: Any, end: Any) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Validate optional inclusive bounds ``start <= ts <= end``.

    Returns UTC timestamps at whole microseconds: ``start`` rounded up and ``end`` rounded down,
    so comparing stored microsecond times with them is exact. ``None`` leaves a side open.
    Raises UsageError if a bound is naive or not a time, or if ``start`` is after ``end``.
    """
    lo = None if start is None else _to_timestamp(start, "start")
    hi = None if end is None else _to_timestamp(end, "end")
    if lo is not None and hi is not None and lo > hi:
        raise UsageError(f"start ({lo.isoformat()}) is after end ({hi.isoformat()})")
    if lo is not None:
        lo = lo.ceil("us").as_unit("us")
    if hi is not None:
        hi = hi.floor("us").as_unit("us")
    return lo, hi


def check_cutoff(cutoff: Any) -> pd.Timestamp:
    """A retention cutoff: a timezone-aware time, rounded up to whole microseconds."""
    if cutoff is None:
        raise UsageError("cutoff must be a timezone-aware time (got None)")
    return _to_timestamp(cutoff, "cutoff").ceil("us").as_unit("us")


# --- output frames ----------------------------------------------------------------------------


def _raw_column(values: Any, col: str) -> np.ndarray:
    """One answer column as a plain numpy array: datetime64[us] (UTC, naive), int64, float64,
    or object (str / None)."""
    dtype = _DTYPES[col]
    if isinstance(values, pd.Series | pd.Index):
        if isinstance(dtype, pd.DatetimeTZDtype):
            s = pd.Series(values)
            if not isinstance(s.dtype, pd.DatetimeTZDtype):
                s = pd.to_datetime(s, utc=True)
            s = s.dt.tz_convert("UTC").dt.floor("us").dt.tz_localize(None)
            return s.to_numpy(dtype="datetime64[us]")
        if dtype == STR_DTYPE:
            return np.array([None if _is_missing(v) else v for v in values], dtype=object)
        if dtype == "float64":
            return values.to_numpy(dtype="float64", na_value=np.nan)
        return values.to_numpy(dtype=dtype)
    if isinstance(values, np.ma.MaskedArray):
        if isinstance(dtype, pd.DatetimeTZDtype):
            values = np.ma.filled(values, np.datetime64("NaT"))
        elif dtype == "float64":
            values = np.ma.filled(values.astype("float64"), np.nan)
        elif dtype == STR_DTYPE:
            values = np.ma.filled(values.astype(object), None)
        else:
            raise ValueError(f"store answer: column {col} has empty values")
    if dtype == STR_DTYPE:
        # never via numpy's fixed-width unicode, which drops trailing NUL characters
        return np.asarray(values, dtype=object)
    arr = np.asarray(values)
    if isinstance(dtype, pd.DatetimeTZDtype):
        if arr.dtype.kind != "M":
            return _raw_column(pd.Series(arr, dtype=object), col)
        return arr.astype("datetime64[us]")
    return arr.astype(dtype)


def _permutation(keys: list[np.ndarray]) -> np.ndarray:
    """Stable sort order by the keys (first key first); strings in code point order."""
    n = len(keys[0])
    if all(k.dtype != object for k in keys):
        sortable = [k.view("int64") if k.dtype.kind == "M" else k for k in keys]
        return np.lexsort(sortable[::-1])
    lists = [k.view("int64").tolist() if k.dtype.kind == "M" else k.tolist() for k in keys]
    return np.array(
        sorted(range(n), key=lambda i: tuple(lst[i] for lst in lists)), dtype=np.int64
    ).reshape(n)


#: what the normalisers accept: a DataFrame, or a mapping of column name -> array-like
Answer = pd.DataFrame | Mapping[str, Any]


def _normalize(data: Answer, columns: Sequence[str], order: Sequence[str]) -> pd.DataFrame:
    """Columns, dtypes and row order of the contract, from a DataFrame or a mapping of arrays
    (naive datetime64 arrays are taken as UTC)."""
    missing = [c for c in columns if c not in data]
    if missing:
        raise ValueError(f"store answer: missing column(s) {', '.join(missing)}")
    raw = {c: _raw_column(data[c], c) for c in columns}
    n = len(raw[columns[0]])
    if n > 1:
        perm = _permutation([raw[c] for c in order])
        raw = {c: v[perm] for c, v in raw.items()}
    out: dict[str, pd.Series] = {}
    for col, arr in raw.items():
        out[col] = pd.Series(arr, dtype=_DTYPES[col], copy=False)
    return pd.DataFrame(out, columns=list(columns))


def normalize_trajectory(df: Answer) -> pd.DataFrame:
    """TRAJECTORY_COLUMNS, ordered by ts then sighting_id, RangeIndex."""
    return _normalize(df, TRAJECTORY_COLUMNS, ("ts", "sighting_id"))


def normalize_ego_nodes(df: Answer) -> pd.DataFrame:
    """EGO_NODE_COLUMNS, ordered by hop then pid, RangeIndex."""
    return _normalize(df, EGO_NODE_COLUMNS, ("hop", "pid"))


def normalize_edges(df: Answer) -> pd.DataFrame:
    """EGO_EDGE_COLUMNS, ordered by pid_a then pid_b, RangeIndex."""
    return _normalize(df, EGO_EDGE_COLUMNS, ("pid_a", "pid_b"))


def normalize_pair_events(df: Answer) -> pd.DataFrame:
    """PAIR_EVENT_COLUMNS, ordered by ts_a, ts_b, sighting_a, sighting_b, RangeIndex."""
    return _normalize(df, PAIR_EVENT_COLUMNS, ("ts_a", "ts_b", "sighting_a", "sighting_b"))


# --- graph searches ---------------------------------------------------------------------------


def find_hops(source: str, hops: int, expand: Expand) -> dict[str, int]:
    """Breadth-first search: every pid within ``hops`` edges of ``source`` -> its distance.

    ``expand(frontier)`` returns the qualifying edges touching the frontier; it is called once per
    level (at most ``hops`` times) and never for an empty frontier.
    """
    return find_hops_bounded(source, hops, expand).dist


@dataclass
class Hops:
    """A (bounded) breadth-first search: ``dist`` pid -> hop, ``tree`` pid -> the (parent,
    score) of the edge that reached it, ``left_out`` the neighbours the bounds did not add."""

    dist: dict[str, int]
    tree: dict[str, tuple[str, float]]
    left_out: int


def find_hops_bounded(
    source: str,
    hops: int,
    expand: Expand,
    per_node: int | None = None,
    max_nodes: int | None = None,
) -> Hops:
    """Breadth-first search that keeps the strongest ties first (the ego network's bounds).

    At each level every frontier pid proposes its ``per_node`` strongest edges to pids not
    reached before the level (score descending, then neighbour pid; all when None); a proposed
    pid's strength is its strongest proposing edge, and new pids join in order of strength
    (then pid) while fewer than ``max_nodes`` pids are reached (all when None). Each reached pid
    keeps its strongest proposing edge (ties: the smallest parent) as its tree edge.
    ``left_out`` counts distinct qualifying neighbours never added.
    """
    dist = {source: 0}
    tree: dict[str, tuple[str, float]] = {}
    seen: set[str] = set()
    frontier = [source]
    for level in range(1, hops + 1):
        if not frontier:
            break
        members = set(frontier)
        by_node: dict[str, dict[str, float]] = {}
        for node, nb, score in expand(frontier):
            if node in members and nb not in dist:
                best = by_node.setdefault(node, {})
                best[nb] = max(best.get(nb, -math.inf), float(score))
        offers: dict[str, tuple[float, str]] = {}  # nb -> (score, parent): strongest offer
        for node in sorted(by_node):
            ranked = sorted(by_node[node].items(), key=lambda kv: (-kv[1], kv[0]))
            seen.update(nb for nb, _ in ranked)
            for nb, score in ranked if per_node is None else ranked[:per_node]:
                have = offers.get(nb)
                if have is None or score > have[0] or (score == have[0] and node < have[1]):
                    offers[nb] = (score, node)
        order = sorted(offers, key=lambda nb: (-offers[nb][0], nb))
        if max_nodes is not None:
            order = order[: max(max_nodes - len(dist), 0)]
        for nb in order:
            dist[nb] = level
            tree[nb] = (offers[nb][1], offers[nb][0])
        frontier = sorted(order)
    return Hops(dist, tree, len(seen - dist.keys()))


def bounded_ego(nodes: Answer, edges: Answer, found: Hops, limit: int | None) -> EgoNetwork:
    """The EgoNetwork of a bounded search's nodes and the edges among them (any order)."""
    all_edges = normalize_edges(edges)
    kept = bound_edges(all_edges, found.tree, limit)
    cut = {"subjects": found.left_out, "edges": len(all_edges) - len(kept)}
    return EgoNetwork(normalize_ego_nodes(nodes), kept, cut)


def bound_edges(
    edges: pd.DataFrame, tree: dict[str, tuple[str, float]], limit: int | None
) -> pd.DataFrame:
    """At most ``max(limit, len(tree))`` of an ego network's edges (EGO_EDGE_COLUMNS): every
    reached pid's tree edge, then the strongest others (score descending, then pid_a, pid_b);
    all when ``limit`` is None. Keeps the input's row order."""
    if limit is None or len(edges) <= limit:
        return edges
    pairs = {(min(p, c), max(p, c)) for c, (p, _) in tree.items()}
    is_tree = np.fromiter(
        ((a, b) in pairs for a, b in zip(edges["pid_a"], edges["pid_b"], strict=True)),
        dtype=bool,
        count=len(edges),
    )
    order = np.lexsort(
        (edges["pid_b"].to_numpy(), edges["pid_a"].to_numpy(), -edges["score"].to_numpy(), ~is_tree)
    )
    keep = np.sort(order[: max(limit, int(is_tree.sum()))])
    return edges.iloc[keep].reset_index(drop=True)


def find_smallest_shortest_path(
    source: str, target: str, max_hops: int, expand: Expand
) -> list[str]:
    """The lexicographically smallest among the shortest paths from ``source`` to ``target``.

    A path is a pid sequence ``p0 = source, ..., pk = target`` with a qualifying edge between
    consecutive pids; shortest means smallest ``k``; among those, sequences compare element by
    element in code point order. Returns ``[]`` if no path has ``k <= max_hops``; ``[source]``
    if ``source == target`` (the caller checks that the subject exists).

    Bidirectional breadth-first search (the smaller frontier grows a level at a time) until
    the two sides touch; every shortest path crosses the meeting level, so walking predecessor
    sets back to each end gives all pids on shortest paths, and a greedy walk from ``source``
    (always the smallest next pid that is on a shortest path) gives the smallest sequence.
    """
    if source == target:
        return [source]
    # per side: level of each reached pid, and its neighbours one level nearer that side's root
    level = ({source: 0}, {target: 0})
    preds: tuple[dict[str, set[str]], dict[str, set[str]]] = ({}, {})
    frontier = ([source], [target])
    depth = [0, 0]
    meet: set[str] = set()
    at = 0  # position (distance from the source) of the meeting pids
    while not meet and depth[0] + depth[1] < max_hops:
        side = 0 if len(frontier[0]) <= len(frontier[1]) else 1
        if not frontier[side]:
            return []
        depth[side] += 1
        reached: dict[str, set[str]] = {}
        for node, nb, _ in expand(frontier[side]):
            if nb not in level[side]:
                reached.setdefault(nb, set()).add(node)
        for nb, ps in reached.items():
            level[side][nb] = depth[side]
            preds[side][nb] = ps
        frontier = (sorted(reached), frontier[1]) if side == 0 else (frontier[0], sorted(reached))
        hits = [v for v in reached if v in level[1 - side]]
        if hits:
            best = min(level[1 - side][v] for v in hits)
            meet = {v for v in hits if level[1 - side][v] == best}
            # express the meeting level as a distance from the source
            at = depth[0] if side == 0 else best
    if not meet:
        return []
    total = at + level[1][next(iter(meet))]
    on_path: list[set[str]] = [set() for _ in range(total + 1)]
    on_path[at] = meet
    for i in range(at, 0, -1):  # back towards the source
        for v in on_path[i]:
            on_path[i - 1].update(preds[0][v])
    for i in range(at, total):  # on towards the target
        for v in on_path[i]:
            on_path[i + 1].update(preds[1][v])
    path = [source]
    for i in range(1, total + 1):
        cur = path[-1]
        if i <= at:
            nxt = min(v for v in on_path[i] if cur in preds[0][v])
        else:
            nxt = min(on_path[i] & preds[1][cur])
        path.append(nxt)
    return path
