"""Column names, dtypes and validators for every table of the lake and the stores (DESIGN §3).

Times are timezone-aware UTC inside; convert to numbers with explicit units via
:func:`ts_to_epoch_us` (pandas may store microseconds or nanoseconds, so never ``astype('int64')``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from sightgraph._lazy import LazyModule
from sightgraph.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")  # imported on first use: `sightgraph colocate` never needs it

__all__ = [
    "CAMERA_COLUMNS",
    "COLOCATION_EVENT_COLUMNS",
    "COLOCATION_EVENT_CONFIDENCE_COLUMNS",
    "COLOCATION_PAIR_COLUMNS",
    "CONTACT_COLUMNS",
    "SIGHTING_COLUMNS",
    "CAMERAS_ARROW",
    "SIGHTINGS_ARROW",
    "TRANSITION_COLUMNS",
    "epoch_us_to_ts",
    "require_columns",
    "ts_to_epoch_us",
    "validate_sightings",
]

# --- input contract (before pseudonymisation) -------------------------------------------
INPUT_REQUIRED = ("subject_id", "camera_id", "ts")
INPUT_OPTIONAL = ("confidence",)
CAMERAS_INPUT_REQUIRED = ("camera_id", "lat", "lon")
CAMERAS_INPUT_OPTIONAL = ("name", "site")

# --- lake tables --------------------------------------------------------------------------
SIGHTING_COLUMNS = ("sighting_id", "pid", "camera_id", "ts", "confidence")
SIGHTINGS_ARROW = pa.schema(
    [
        ("sighting_id", pa.int64()),
        ("pid", pa.string()),
        ("camera_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("confidence", pa.float64()),
    ]
)
CAMERA_COLUMNS = ("camera_id", "lat", "lon", "name", "site")
CAMERAS_ARROW = pa.schema(
    [
        ("camera_id", pa.string()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("name", pa.string()),
        ("site", pa.string()),
    ]
)
COLOCATION_PAIR_COLUMNS = ("pid_a", "pid_b", "n_events", "first_ts", "last_ts")
COLOCATION_EVENT_COLUMNS = (
    "pid_a",
    "pid_b",
    "camera_a",
    "camera_b",
    "ts_a",
    "ts_b",
    "sighting_a",
    "sighting_b",
)
# events as produced by analytics.colocation carry both sightings' confidence after these
COLOCATION_EVENT_CONFIDENCE_COLUMNS = ("confidence_a", "confidence_b")
CONTACT_COLUMNS = (
    "pid_a",
    "pid_b",
    "score",
    "p_value",
    "q_value",
    "meetings",
    "days",
    "places",
    "first_ts",
    "last_ts",
)
TRANSITION_COLUMNS = ("camera_from", "camera_to", "count", "median_travel_s")
QUARANTINE_COLUMNS = (
    "source",
    "line",
    "reason",
    "field",
    "pid",
    "raw",
    "raw_bytes",
    "raw_hash",
    "ts",
    "ingested_at",
)

_US_PER_S = 1_000_000


def ts_to_epoch_us(ts: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Timezone-aware timestamps -> int64 microseconds since the epoch, whatever the resolution."""
    s = pd.Series(ts)
    if s.dt.tz is None:
        raise UsageError("timestamps must be timezone-aware (UTC) inside sightgraph")
    delta = s.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC").as_unit("us")
    return (delta // pd.Timedelta(microseconds=1)).to_numpy(dtype=np.int64)


def epoch_us_to_ts(us: Iterable[int] | np.ndarray) -> pd.Series:
    """int64 microseconds since the epoch -> timestamp[us, UTC] Series."""
    arr = np.asarray(us, dtype=np.int64)
    return pd.Series(pd.to_datetime(arr, unit="us", utc=True)).astype("datetime64[us, UTC]")


def require_columns(df: pd.DataFrame, required: Iterable[str], what: str) -> None:
    """Raise a UsageError naming the missing columns and listing the ones found."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise UsageError(
            f"{what}: missing required column(s) {', '.join(missing)}; "
            f"found: {', '.join(map(str, df.columns)) or '(none)'}"
        )


def validate_sightings(df: pd.DataFrame, what: str = "sightings") -> pd.DataFrame:
    """Check a lake-shaped sightings frame (pid, camera_id, ts UTC-aware); returns it unchanged."""
    require_columns(df, ("pid", "camera_id", "ts"), what)
    if not isinstance(df["ts"].dtype, pd.DatetimeTZDtype):
        raise UsageError(f"{what}: column ts must be timezone-aware (got {df['ts'].dtype})")
    return df
