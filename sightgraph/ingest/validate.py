"""Vectorised per-row validation of sightings and validation of camera tables (DESIGN §3).

Every rule is a boolean mask over the whole chunk; a row gets the reason of the *first* rule it
fails, in this order: subject, camera, timestamp, confidence, camera known. Reasons are stable
strings (the REASON_* constants) so reports and dashboards can count them.

Timestamps (``ts``) are accepted as

* ISO 8601 text with an offset (``2015-10-01T17:38:52-07:00``, ``...Z``): converted to UTC;
* ISO 8601 text without an offset ("naive"): read in the ``tz`` time zone; without ``tz`` the
  row is quarantined (``naive timestamp, pass --tz``); local times that a DST change makes
  ambiguous or nonexistent are quarantined rather than guessed;
* numbers, or text that is a number: seconds since 1970-01-01 UTC (``tz`` is not applied);
* Parquet timestamp columns (aware, or naive + ``tz``).

Accepted range: 1900-01-01 <= ts < 2100-01-01 UTC (epoch milliseconds read as seconds land far
outside it and are quarantined as ``ts out of range``). A missing confidence (no column, blank
cell, null) is read as 1.0: a detection with no stated doubt. A NaN or infinite confidence (text
``nan``/``inf``, a float NaN or infinity in Parquet or JSON Lines) is not missing: it is
quarantined as ``confidence not a number`` in every format; likewise a NaN or infinite ``ts`` is
``unparsable ts`` in every format, and only a blank cell or null is ``empty ts``. (A pandas float
Series cannot tell NaN from null, so only readers that keep them apart, as ours do, get this
distinction; a plain float64 NaN counts as missing.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sightgraph.errors import UsageError
from sightgraph.ingest.pseudonymize import normalize_ids, normalize_ids_arrow

__all__ = [
    "MAX_TS_US",
    "MIN_TS_US",
    "REASON_AMBIGUOUS_TS",
    "REASON_BAD_CONFIDENCE",
    "REASON_BAD_TS",
    "REASON_CONFIDENCE_RANGE",
    "REASON_EMPTY_CAMERA",
    "REASON_EMPTY_SUBJECT",
    "REASON_EMPTY_TS",
    "REASON_NAIVE_TS",
    "REASON_NONEXISTENT_TS",
    "REASON_TS_RANGE",
    "REASON_UNKNOWN_CAMERA",
    "ValidatedChunk",
    "check_timezone",
    "parse_timestamps",
    "validate_cameras",
    "validate_sightings_chunk",
]

REASON_EMPTY_SUBJECT = "empty subject_id"
REASON_EMPTY_CAMERA = "empty camera_id"
REASON_EMPTY_TS = "empty ts"
REASON_BAD_TS = "unparsable ts"
REASON_NAIVE_TS = "naive timestamp, pass --tz"
REASON_AMBIGUOUS_TS = "ambiguous local time (DST change)"
REASON_NONEXISTENT_TS = "nonexistent local time (DST change)"
REASON_TS_RANGE = "ts out of range"
REASON_BAD_CONFIDENCE = "confidence not a number"
REASON_CONFIDENCE_RANGE = "confidence outside 0..1"
REASON_UNKNOWN_CAMERA = "camera not in cameras file"

_US_PER_S = 1_000_000
MIN_TS_US = int(
    (pd.Timestamp("1900-01-01", tz="UTC") - pd.Timestamp(0, tz="UTC"))
    // pd.Timedelta(microseconds=1)
)
MAX_TS_US = int(
    (pd.Timestamp("2100-01-01", tz="UTC") - pd.Timestamp(0, tz="UTC"))
    // pd.Timedelta(microseconds=1)
)

_NUMBER_RE = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
# a clock time followed by Z or a numeric offset at the very end of the text
_OFFSET_RE = r"\d:\d\d(?::\d\d(?:[.,]\d*)?)?\s*(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"


def check_timezone(tz: str | None) -> str | None:
    """Return ``tz`` if pandas knows it (IANA name such as ``'America/Vancouver'``, or ``'UTC'``).

    Raises
    ------
    UsageError
        Naming the unknown zone.
    """
    if tz is None:
        return None
    if not isinstance(tz, str) or not tz.strip():
        raise UsageError(f"time zone must be a name such as 'Europe/London', got {tz!r}")
    try:
        pd.Timestamp("2000-01-01").tz_localize(tz.strip())
    except Exception as exc:  # pytz/zoneinfo raise different classes
        raise UsageError(
            f"unknown time zone {tz!r}: use an IANA name such as 'America/Vancouver' or 'UTC'"
        ) from exc
    return tz.strip()


def _to_arrow_strings(values: pd.Series) -> pa.Array:
    arr = pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _seconds_to_us(seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float epoch seconds -> (int64 microseconds, in-range mask); out of range gives 0."""
    ok = (
        np.isfinite(seconds)
        & (seconds >= MIN_TS_US / _US_PER_S)
        & (seconds < MAX_TS_US / _US_PER_S)
    )
    us = np.zeros(len(seconds), dtype=np.int64)
    us[ok] = np.round(seconds[ok] * _US_PER_S).astype(np.int64)
    return us, ok


def _aware_to_us(ts: pd.Series) -> np.ndarray:
    """Aware datetimes without NaT -> int64 microseconds since the epoch (any resolution/year)."""
    wall = ts.dt.tz_convert("UTC").dt.as_unit("us").dt.tz_localize(None)
    return np.array(wall.to_numpy(dtype="datetime64[us]").view(np.int64), copy=True)


def _localize(naive: pd.Series, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """Naive datetimes (no NaT) in zone tz -> (us, reason or None) per row."""
    reasons = np.full(len(naive), None, dtype=object)
    us = np.zeros(len(naive), dtype=np.int64)
    if len(naive) == 0:
        return us, reasons
    local = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    bad = local.isna().to_numpy(copy=True)
    if bad.any():
        dst_guess = naive[bad].dt.tz_localize(tz, ambiguous=True, nonexistent="NaT")
        nonexistent = dst_guess.isna().to_numpy(copy=True)
        idx = np.flatnonzero(bad)
        reasons[idx[nonexistent]] = REASON_NONEXISTENT_TS
        reasons[idx[~nonexistent]] = REASON_AMBIGUOUS_TS
    good = ~bad
    us[good] = _aware_to_us(local[good])
    return us, reasons


def _parse_datetime_series(values: pd.Series, tz: str | None) -> tuple[np.ndarray, np.ndarray]:
    """A datetime64 Series (aware or naive) -> (us, reason)."""
    n = len(values)
    us = np.zeros(n, dtype=np.int64)
    reasons = np.full(n, None, dtype=object)
    missing = values.isna().to_numpy(copy=True)
    reasons[missing] = REASON_EMPTY_TS
    present = ~missing
    sub = values[present]
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        sub_us = _aware_to_us(sub)
        sub_reason = np.full(len(sub), None, dtype=object)
    elif tz is None:
        sub_us = np.zeros(len(sub), dtype=np.int64)
        sub_reason = np.full(len(sub), REASON_NAIVE_TS, dtype=object)
    else:
        sub_us, sub_reason = _localize(sub, tz)
    us[present] = sub_us
    reasons[present] = sub_reason
    return us, reasons


def _try_cast(arr: pa.Array, to: pa.DataType) -> pa.Array | None:
    """Cast the whole array, or None if any value does not parse."""
    try:
        return pc.cast(arr, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _cast_each(values: list[str], to: pa.DataType) -> list[object | None]:
    """Per-value cast for the few values a vectorised parser refused (None where arrow refuses too)."""
    out: list[object | None] = []
    for v in values:
        got = _try_cast(pa.array([v], pa.string()), to)
        if got is not None and pa.types.is_timestamp(to):
            got = got.cast(pa.int64())
        out.append(None if got is None else got[0].as_py())
    return out


_TS_AWARE = pa.timestamp("us", tz="UTC")
_TS_NAIVE = pa.timestamp("us")


def _timestamps_us(arr: pa.Array) -> np.ndarray:
    return np.array(arr.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _parse_strings(arr: pa.Array, tz: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Stripped non-empty timestamp texts (pyarrow strings) -> (us, reason).

    A text is accepted when pyarrow's ISO 8601 cast or pandas' ISO 8601 parser accepts it; the
    whole-array pyarrow casts are tried first (the common case: one format per file).
    """
    n = len(arr)
    us = np.zeros(n, dtype=np.int64)
    reasons = np.full(n, None, dtype=object)
    if n == 0:
        return us, reasons
    sample = arr.slice(0, 64)
    for target in (pa.float64(), _TS_AWARE, _TS_NAIVE):
        # a failing cast costs a full pass, so only try the kinds the first values have
        if _try_cast(sample, target) is None:
            continue
        whole = _try_cast(arr, target)
        if whole is None:
            continue
        if target == pa.float64():
            return _numbers_to_us(np.array(whole.to_numpy(zero_copy_only=False), dtype=np.float64))
        if target == _TS_AWARE:
            return _timestamps_us(whole), reasons
        return _naive_us_to_utc(_timestamps_us(whole), tz)
    numeric = np.array(
        pc.match_substring_regex(arr, _NUMBER_RE).to_numpy(zero_copy_only=False), dtype=bool
    )
    if numeric.any():
        idx = np.flatnonzero(numeric)
        sub = arr.filter(pa.array(numeric))
        cast = _try_cast(sub, pa.float64())
        seconds = (
            np.array(cast.to_numpy(zero_copy_only=False), dtype=np.float64)
            if cast is not None
            else np.array(
                [np.nan if v is None else v for v in _cast_each(sub.to_pylist(), pa.float64())],
                dtype=np.float64,
            )
        )
        us[idx], reasons[idx] = _numbers_to_us(seconds)
    rest = ~numeric
    if not rest.any():
        return us, reasons
    aware = rest & np.array(
        pc.match_substring_regex(arr, _OFFSET_RE).to_numpy(zero_copy_only=False), dtype=bool
    )
    naive = rest & ~aware
    for mask, target, utc in ((aware, _TS_AWARE, True), (naive, _TS_NAIVE, False)):
        if not mask.any():
            continue
        idx = np.flatnonzero(mask)
        sub = arr.filter(pa.array(mask))
        cast = _try_cast(sub, target)
        if cast is not None:
            sub_us = _timestamps_us(cast)
            bad = np.zeros(len(idx), dtype=bool)
        else:
            # utc=True never raises on mixed offsets; naive texts come back as wall-clock "UTC"
            parsed = pd.to_datetime(
                pd.Series(sub.to_pandas(), dtype="str"), format="ISO8601", utc=True, errors="coerce"
            )
            bad = parsed.isna().to_numpy(copy=True)
            sub_us = np.zeros(len(idx), dtype=np.int64)
            if (~bad).any():
                sub_us[~bad] = _aware_to_us(parsed[~bad])
            if bad.any():
                retry = _cast_each(sub.filter(pa.array(bad)).to_pylist(), target)
                fixed = np.array([v is not None for v in retry], dtype=bool)
                bad_idx = np.flatnonzero(bad)
                sub_us[bad_idx[fixed]] = [v for v in retry if v is not None]
                bad[bad_idx[fixed]] = False
        reasons[idx[bad]] = REASON_BAD_TS
        ok_idx = idx[~bad]
        if utc:
            us[ok_idx] = sub_us[~bad]
        else:
            us[ok_idx], reasons[ok_idx] = _naive_us_to_utc(sub_us[~bad], tz)
    return us, reasons


def _numbers_to_us(seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds -> (us, reason): non-finite is unparsable, else range-checked."""
    us, ok = _seconds_to_us(seconds)
    reasons = np.full(len(seconds), None, dtype=object)
    reasons[~ok] = REASON_TS_RANGE
    reasons[~np.isfinite(seconds)] = REASON_BAD_TS
    return us, reasons


def _naive_us_to_utc(wall_us: np.ndarray, tz: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock microseconds (naive) -> UTC microseconds in zone tz, or the naive reason."""
    n = len(wall_us)
    if tz is None:
        return np.zeros(n, dtype=np.int64), np.full(n, REASON_NAIVE_TS, dtype=object)
    in_range = (wall_us >= MIN_TS_US - 2 * 86_400 * _US_PER_S) & (
        wall_us < MAX_TS_US + 2 * 86_400 * _US_PER_S
    )
    us = np.zeros(n, dtype=np.int64)
    reasons = np.full(n, REASON_TS_RANGE, dtype=object)
    if in_range.any():
        naive = pd.Series(pd.to_datetime(wall_us[in_range], unit="us"))
        sub_us, sub_reason = _localize(naive, tz)
        us[in_range] = sub_us
        reasons[in_range] = sub_reason
    return us, reasons


def parse_timestamps(values: pd.Series, tz: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Parse one chunk of input timestamps to UTC epoch microseconds, row by row but vectorised.

    Parameters
    ----------
    values : pandas.Series
        Text (ISO 8601 or epoch seconds), numbers (epoch seconds), datetimes, or a mix (JSON).
    tz : str, optional
        Zone for naive times (an IANA name); offsets in the text always win.

    Returns
    -------
    us : numpy.ndarray of int64
        Microseconds since 1970-01-01 UTC (0 where the row failed).
    reason : numpy.ndarray of object
        ``None`` where parsed and in range, else a REASON_* string.

    Examples
    --------
    >>> us, why = parse_timestamps(pd.Series(["2015-10-01 17:38:52"]), tz="America/Vancouver")
    >>> pd.Timestamp(us[0], unit="us", tz="UTC"), why[0]
    (Timestamp('2015-10-02 00:38:52+0000', tz='UTC'), None)
    """
    n = len(values)
    values = values.reset_index(drop=True)
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        us, reasons = _parse_datetime_series(values, tz)
    elif pd.api.types.is_bool_dtype(dtype):
        us = np.zeros(n, dtype=np.int64)
        reasons = np.full(n, REASON_BAD_TS, dtype=object)
    elif pd.api.types.is_numeric_dtype(dtype):
        seconds = values.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        us, reasons = _numbers_to_us(seconds)  # NaN, +-inf: unparsable, as text "nan" is
        # null is empty; so is NaN in a plain float64 column, which cannot tell them apart
        # (the readers give Arrow-backed floats, which can)
        reasons[values.isna().to_numpy(dtype=bool)] = REASON_EMPTY_TS
    elif pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        us, reasons = _parse_text_column(values, tz)
    else:
        us, reasons = _parse_object_column(values, tz)
    reasons = np.asarray(reasons, dtype=object)
    in_range = (us >= MIN_TS_US) & (us < MAX_TS_US)
    reasons[(reasons == None) & ~in_range] = REASON_TS_RANGE  # noqa: E711 (elementwise)
    us[reasons != None] = 0  # noqa: E711
    return us, reasons


def _parse_text_column(values: pd.Series, tz: str | None) -> tuple[np.ndarray, np.ndarray]:
    n = len(values)
    arr = pc.utf8_trim_whitespace(pc.fill_null(_to_arrow_strings(values), ""))
    empty = np.array(pc.equal(arr, "").to_numpy(zero_copy_only=False), dtype=bool)
    if not empty.any():
        return _parse_strings(arr, tz)
    us = np.zeros(n, dtype=np.int64)
    reasons = np.full(n, None, dtype=object)
    reasons[empty] = REASON_EMPTY_TS
    idx = np.flatnonzero(~empty)
    if len(idx):
        us[idx], reasons[idx] = _parse_strings(arr.filter(pa.array(~empty)), tz)
    return us, reasons


def _parse_object_column(values: pd.Series, tz: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Mixed Python objects (JSON Lines): numbers, texts, datetimes, None."""
    n = len(values)
    objs = values.to_numpy(dtype=object)
    kinds = np.array([_kind(v) for v in objs], dtype=np.int8) if n else np.zeros(0, dtype=np.int8)
    us = np.zeros(n, dtype=np.int64)
    reasons = np.full(n, REASON_BAD_TS, dtype=object)
    reasons[kinds == 0] = REASON_EMPTY_TS
    num = np.flatnonzero(kinds == 1)
    if len(num):
        us[num], reasons[num] = _numbers_to_us(
            np.array([float(v) for v in objs[num]], dtype=np.float64)
        )
    # a float NaN is a number that is not a time (unparsable, as text "nan"), not a missing one
    nan = np.array([isinstance(v, float | np.floating) and v != v for v in objs], dtype=bool)
    reasons[nan] = REASON_BAD_TS
    txt = np.flatnonzero((kinds == 2) | (kinds == 3))
    if len(txt):
        texts = [v if isinstance(v, str) else v.isoformat() for v in objs[txt]]
        sub_us, sub_reason = _parse_text_column(pd.Series(texts, dtype="str"), tz)
        us[txt] = sub_us
        reasons[txt] = sub_reason
    return us, reasons


def _kind(value: object) -> int:
    """0 missing, 1 number, 2 text, 3 datetime, 4 other."""
    if value is None or value is pd.NA or value is pd.NaT:
        return 0
    if isinstance(value, bool | np.bool_):
        return 4
    if isinstance(value, int | float | np.integer | np.floating | Decimal):
        return 0 if isinstance(value, float | np.floating) and np.isnan(value) else 1
    if isinstance(value, str):
        return 2
    if hasattr(value, "isoformat"):
        return 3
    return 4


def parse_confidence(values: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Confidence per row -> (float64 in 0..1, reason); missing (no column, blank, null) means 1.0."""
    conf = np.ones(n, dtype=np.float64)
    reasons = np.full(n, None, dtype=object)
    if values is None:
        return conf, reasons
    values = values.reset_index(drop=True)
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        reasons[:] = REASON_BAD_CONFIDENCE
        return conf, reasons
    num = np.full(n, np.nan)
    if pd.api.types.is_numeric_dtype(dtype):
        num = values.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        missing = values.isna().to_numpy(dtype=bool)  # NaN too, unless an Arrow-backed float
        bad = ~missing & ~np.isfinite(num)  # NaN and +-inf: not a number, as in text
    else:
        other = np.zeros(n, dtype=bool)
        if pd.api.types.is_object_dtype(dtype):
            objs = values.to_numpy(dtype=object)
            kinds = np.array([_kind(v) for v in objs], dtype=np.int8) if n else np.zeros(0, np.int8)
            values = pd.Series(
                [
                    v if k == 2 else (repr(float(v)) if k == 1 else "")
                    for v, k in zip(objs, kinds, strict=True)
                ],
                dtype="str",
            )
            nan = np.array([isinstance(v, float | np.floating) and v != v for v in objs], bool)
            other = (kinds >= 3) | nan
        arr = pc.utf8_trim_whitespace(pc.fill_null(_to_arrow_strings(values), ""))
        missing = np.array(pc.equal(arr, "").to_numpy(zero_copy_only=False), dtype=bool) & ~other
        whole = None if missing.any() or other.any() else _try_cast(arr, pa.float64())
        if whole is not None:
            num = np.array(whole.to_numpy(zero_copy_only=False), dtype=np.float64)
        else:
            todo = np.flatnonzero(~missing & ~other)
            texts = arr.take(pa.array(todo, pa.int64()))
            numeric = np.array(
                pc.match_substring_regex(texts, _NUMBER_RE).to_numpy(zero_copy_only=False),
                dtype=bool,
            )
            if numeric.any():
                got = _try_cast(texts.filter(pa.array(numeric)), pa.float64())
                if got is not None:
                    num[todo[numeric]] = np.array(
                        got.to_numpy(zero_copy_only=False), dtype=np.float64
                    )
                else:
                    numeric[:] = False
            if (~numeric).any():
                retry = _cast_each(texts.filter(pa.array(~numeric)).to_pylist(), pa.float64())
                num[todo[~numeric]] = [np.nan if v is None else v for v in retry]
        bad = ~missing & ~np.isfinite(num)
    reasons[bad] = REASON_BAD_CONFIDENCE
    present = ~missing & ~bad
    out_of_range = present & ~((num >= 0.0) & (num <= 1.0))
    reasons[out_of_range] = REASON_CONFIDENCE_RANGE
    ok = present & ~out_of_range
    conf[ok] = num[ok]
    return conf, reasons


@dataclass
class ValidatedChunk:
    """Result of :func:`validate_sightings_chunk` (one entry per input row in every field).

    ``subject`` and ``camera`` are normalised ids as pyarrow string arrays; ``ts_us`` is UTC
    microseconds (0 where invalid); ``reason``/``field`` are None where the row is valid, else the
    REASON_* string and the canonical column it concerns; ``ts_ok`` is True where ``ts`` was read
    (whatever else failed), so a quarantined row's time is known when it could be.
    """

    subject: pa.Array
    camera: pa.Array
    ts_us: np.ndarray
    confidence: np.ndarray
    reason: np.ndarray
    field: np.ndarray
    ts_ok: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """Boolean mask of the rows that passed every rule."""
        return np.asarray(self.reason == None, dtype=bool)  # noqa: E711


def _bool_mask(arr: pa.Array) -> np.ndarray:
    return np.array(arr.to_numpy(zero_copy_only=False), dtype=bool)


def validate_sightings_chunk(
    columns: dict[str, pd.Series],
    tz: str | None = None,
    known_cameras: Iterable[str] | None = None,
) -> ValidatedChunk:
    """Check every row of one chunk; the first failing rule gives the row's reason.

    Parameters
    ----------
    columns : dict of str to pandas.Series
        ``subject_id``, ``camera_id``, ``ts`` and optionally ``confidence``, as read.
    tz : str, optional
        Zone for naive timestamps.
    known_cameras : iterable of str, optional
        When given, rows whose camera is not in it fail with ``camera not in cameras file``.

    Returns
    -------
    ValidatedChunk

    Examples
    --------
    >>> v = validate_sightings_chunk({"subject_id": pd.Series(["a", " "]),
    ...     "camera_id": pd.Series(["c1", "c1"]), "ts": pd.Series([1.5e9, 1.5e9])})
    >>> list(v.reason)
    [None, 'empty subject_id']
    """
    for name in ("subject_id", "camera_id", "ts"):
        if name not in columns:
            raise UsageError(f"validate_sightings_chunk: missing column {name}")
    n = len(columns["ts"])
    subject = normalize_ids_arrow(columns["subject_id"])
    camera = normalize_ids_arrow(columns["camera_id"])
    reason = np.full(n, None, dtype=object)
    field = np.full(n, None, dtype=object)
    unset = np.ones(n, dtype=bool)

    def flag(mask: np.ndarray, why: str | np.ndarray, name: str) -> None:
        hit = mask & unset
        if not hit.any():
            return
        reason[hit] = why[hit] if isinstance(why, np.ndarray) else why
        field[hit] = name
        unset[hit] = False

    flag(_bool_mask(pc.equal(subject, "")), REASON_EMPTY_SUBJECT, "subject_id")
    flag(_bool_mask(pc.equal(camera, "")), REASON_EMPTY_CAMERA, "camera_id")
    ts_us, ts_reason = parse_timestamps(columns["ts"], tz)
    flag(ts_reason != None, ts_reason, "ts")  # noqa: E711
    conf, conf_reason = parse_confidence(columns.get("confidence"), n)
    flag(conf_reason != None, conf_reason, "confidence")  # noqa: E711
    if known_cameras is not None:
        known = pa.array(sorted(set(known_cameras)), type=pa.string())
        flag(~_bool_mask(pc.is_in(camera, value_set=known)), REASON_UNKNOWN_CAMERA, "camera_id")
    ts_ok = np.asarray(ts_reason == None, dtype=bool)  # noqa: E711 (elementwise)
    return ValidatedChunk(subject, camera, ts_us, conf, reason, field, ts_ok)


def validate_cameras(columns: dict[str, pd.Series], lines: np.ndarray, what: str) -> pd.DataFrame:
    """Check a cameras table; any bad row is a UsageError naming its line (cameras are reference data).

    Parameters
    ----------
    columns : dict of str to pandas.Series
        ``camera_id``, ``lat``, ``lon`` and optionally ``name``, ``site``.
    lines : numpy.ndarray
        Line (or row) number of each row, for messages.
    what : str
        How to name the file in messages.

    Returns
    -------
    pandas.DataFrame
        camera_id, lat, lon, name, site (name/site null when absent).
    """
    n = len(columns["camera_id"])
    camera = normalize_ids(columns["camera_id"].reset_index(drop=True))
    empty = np.flatnonzero((camera == "").to_numpy(dtype=bool))
    if len(empty):
        raise UsageError(f"{what} line {lines[empty[0]]}: empty camera_id")
    coords = {}
    for name, lo, hi in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
        raw = columns[name].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
            num = raw.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        else:
            num = pd.to_numeric(normalize_ids(raw).replace("", np.nan), errors="coerce").to_numpy(
                dtype=np.float64
            )
        bad = np.flatnonzero(~np.isfinite(num))
        if len(bad):
            i = bad[0]
            raise UsageError(
                f"{what} line {lines[i]}: {name} is not a number ({raw.iloc[i]!r}) for camera {camera.iloc[i]!r}"
            )
        out = np.flatnonzero((num < lo) | (num > hi))
        if len(out):
            i = out[0]
            raise UsageError(
                f"{what} line {lines[i]}: {name} {num[i]} outside {lo:g}..{hi:g} for camera {camera.iloc[i]!r}"
            )
        coords[name] = num
    dup = camera.duplicated(keep=False).to_numpy(dtype=bool)
    if dup.any():
        first = camera[dup].iloc[0]
        where = lines[np.flatnonzero((camera == first).to_numpy(dtype=bool))]
        raise UsageError(
            f"{what}: duplicate camera_id {first!r} on lines {', '.join(map(str, where[:5]))}"
            f" ({int(camera[dup].nunique())} duplicated id(s) in all)"
        )
    out_df = pd.DataFrame({"camera_id": camera, "lat": coords["lat"], "lon": coords["lon"]})
    for name in ("name", "site"):
        if name in columns:
            text = normalize_ids(columns[name].reset_index(drop=True))
            out_df[name] = text.where(text != "", None)
        else:
            out_df[name] = pd.Series([None] * n, dtype="str")
    return out_df
