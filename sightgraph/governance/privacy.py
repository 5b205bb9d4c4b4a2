"""Small-cell suppression for aggregates (DESIGN §8).

Aggregates shown to viewers (camera flows, counts per camera and hour) must not single anybody out:
a cell computed from fewer than k distinct subjects (default 5) is suppressed, either dropped or
masked. Count distinct *subjects*, not sightings: one person seen 40 times at a camera is still one
person. Suppression here is per cell; it does not protect against differencing a suppressed cell
from a published total (publish totals only over unsuppressed cells, or suppress a second cell).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sightgraph._lazy import LazyModule
from sightgraph.errors import UsageError
from sightgraph.schema import require_columns

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")  # imported on first use: `sightgraph colocate` never needs it

__all__ = ["SUPPRESSED_COLUMN", "distinct_subject_counts", "suppress_small_cells"]

SUPPRESSED_COLUMN = "suppressed"
"""Boolean column added by ``suppress_small_cells(..., how='mask')``."""


def _as_list(by: str | Sequence[str], what: str) -> list[str]:
    cols = [by] if isinstance(by, str) else list(by)
    if not cols:
        raise UsageError(f"{what}: give at least one column to group by")
    return cols


def distinct_subject_counts(
    sightings: pd.DataFrame, by: str | Sequence[str], pid_col: str = "pid"
) -> pd.DataFrame:
    """Distinct subjects and sightings per group.

    Parameters
    ----------
    sightings : DataFrame
        Lake-shaped sightings (at least ``pid_col`` and the ``by`` columns).
    by : str or list of str
        Columns that define a cell, e.g. ``["camera_id"]`` or ``["camera_id", "hour"]``.
    pid_col : str, default 'pid'
        Subject column.

    Returns
    -------
    DataFrame
        One row per cell (the ``by`` columns, then ``n_subjects`` and ``n_sightings``), sorted by
        ``by``. Cells whose key is missing are kept as their own cell; missing pids are not counted
        as subjects.

    Examples
    --------
    >>> df = pd.DataFrame({"pid": ["a", "a", "b"], "camera_id": ["c1", "c1", "c1"]})
    >>> distinct_subject_counts(df, by="camera_id")
      camera_id  n_subjects  n_sightings
    0        c1           2            3
    """
    cols = _as_list(by, "distinct_subject_counts")
    if pid_col in cols:
        raise UsageError(f"distinct_subject_counts: cannot group by the subject column {pid_col}")
    require_columns(sightings, [*cols, pid_col], "distinct_subject_counts")
    grouped = sightings.groupby(cols, dropna=False, sort=True, observed=True)[pid_col]
    out = pd.DataFrame(
        {"n_subjects": grouped.nunique(dropna=True), "n_sightings": grouped.size()}
    ).reset_index()
    out["n_subjects"] = out["n_subjects"].astype("int64")
    out["n_sightings"] = out["n_sightings"].astype("int64")
    return out


def suppress_small_cells(
    df: pd.DataFrame,
    count_col: str = "n_subjects",
    k: int = 5,
    *,
    how: str = "drop",
    keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Suppress aggregate cells computed from fewer than ``k`` distinct subjects.

    Parameters
    ----------
    df : DataFrame
        One row per cell, with a distinct-subject count in ``count_col``.
    count_col : str, default 'n_subjects'
        Distinct subjects behind each cell.
    k : int, default 5
        Minimum subjects for a cell to be shown (``k=1`` suppresses nothing but empty cells).
    how : {'drop', 'mask'}, default 'drop'
        ``'drop'`` removes small cells; ``'mask'`` keeps their rows but sets every value column
        (``count_col`` included) to missing and adds a boolean ``suppressed`` column.
    keys : list of str, optional
        With ``how='mask'``: the columns that identify a cell and stay visible. Default: every
        non-numeric column (give ``keys`` when a key is numeric, e.g. an hour).

    Returns
    -------
    DataFrame
        A new frame (``df`` is not changed). ``result.attrs["n_suppressed"]`` holds how many cells
        were suppressed and ``result.attrs["k"]`` the threshold. Cells with a missing count are
        suppressed too (their size is unknown).

    Examples
    --------
    >>> cells = pd.DataFrame({"camera_id": ["c1", "c2"], "n_subjects": [7, 2]})
    >>> out = suppress_small_cells(cells, k=5)
    >>> list(out["camera_id"]), out.attrs["n_suppressed"]
    (['c1'], 1)
    """
    if not isinstance(df, pd.DataFrame):
        raise UsageError(f"suppress_small_cells: expected a DataFrame, got {type(df).__name__}")
    require_columns(df, [count_col], "suppress_small_cells")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise UsageError(f"suppress_small_cells: k must be an integer >= 1, got {k!r}")
    if how not in ("drop", "mask"):
        raise UsageError(f"suppress_small_cells: how must be 'drop' or 'mask', got {how!r}")
    counts = df[count_col]
    if not (pd.api.types.is_numeric_dtype(counts) and not pd.api.types.is_bool_dtype(counts)):
        raise UsageError(
            f"suppress_small_cells: column {count_col} must hold subject counts (got {counts.dtype})"
        )
    small = (counts.isna() | (counts < k)).to_numpy(dtype=bool)
    n_small = int(small.sum())

    if how == "drop":
        out = df.loc[~small].reset_index(drop=True).copy()
    else:
        if keys is None:
            key_cols = [
                c
                for c in df.columns
                if c != count_col
                and (not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))
            ]
        else:
            key_cols = list(keys)
            require_columns(df, key_cols, "suppress_small_cells keys")
            if count_col in key_cols:
                raise UsageError(
                    f"suppress_small_cells: the count column {count_col} cannot be a key"
                )
        out = df.copy()
        for col in out.columns:
            if col in key_cols:
                continue
            series = out[col]
            if pd.api.types.is_integer_dtype(series) and not isinstance(
                series.dtype, pd.api.types.CategoricalDtype
            ):
                series = series.astype("Int64")
            elif pd.api.types.is_bool_dtype(series):
                series = series.astype("boolean")
            out[col] = series.mask(small)
        out[SUPPRESSED_COLUMN] = small
    out.attrs = {**df.attrs, "n_suppressed": n_small, "k": k}
    return out
