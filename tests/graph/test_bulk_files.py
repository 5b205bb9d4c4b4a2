"""The import files of the bulk load (sightgraph.graph.bulk) and the filtered read of derived
tables that the bulk and online loads share: no server needed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.testing import assert_frame_equal

from sightgraph.graph.bulk import _times


def test_import_datetimes_keep_every_microsecond_and_drop_only_zero_fractions() -> None:
    """The importer's DateTime text: whole seconds without a fraction (parsed faster), any
    other instant with all six digits, before 1970 too; a missing time is an empty cell."""
    ts = pd.Series(
        pd.to_datetime(
            ["2026-03-02 05:07:56", "2026-03-02 05:07:56.000001", "1969-12-31 23:59:59.5",
             "1969-12-31 23:59:59", "1970-01-01 00:00:00", None],
            utc=True,
            format="ISO8601",
        )
    )  # fmt: skip
    assert _times(ts).to_pylist() == [
        "2026-03-02T05:07:56Z",
        "2026-03-02T05:07:56.000001Z",
        "1969-12-31T23:59:59.500000Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
        None,
    ]
    # every text reads back as the instant it came from
    back = pd.to_datetime(pd.Series(_times(ts).to_pylist()), utc=True, format="ISO8601")
    pd.testing.assert_series_equal(back, ts, check_dtype=False)


def test_filtered_derived_table_is_the_dataset_filter_row_group_by_row_group(
    tmp_path: Path,
) -> None:
    """``_read_derived`` (the filter's columns first, the rest only of row groups with a hit)
    gives exactly what ``dataset.to_table(filter=...)`` gives: same rows in file order (a
    pair given twice keeps both, the last still last), same columns and types, only the
    columns asked for that the table has; no hit at all is an empty frame of those columns."""
    import numpy as np
    import pyarrow.dataset as ds

    from sightgraph.graph.bulk import _read_derived
    from sightgraph.graph.loader import contact_filter
    from sightgraph.schema import CONTACT_COLUMNS

    rng = np.random.default_rng(5)
    n = 500
    q = rng.random(n)
    q[rng.choice(n, 40, replace=False)] = rng.random(40) * 0.04  # hits spread over the file
    q[100:170] = 0.5  # some row groups without a hit
    frame = pd.DataFrame(
        {
            "pid_a": [f"a{i % 97:03d}" for i in range(n)],
            "pid_b": [f"b{i:04d}" for i in range(n)],
            "score": rng.gamma(1.5, 1.0, n),
            "p_value": q / 2,
            "q_value": q,
            "meetings": rng.integers(1, 9, n),
            "days": rng.integers(1, 5, n),
            "places": rng.integers(1, 4, n),
            "first_ts": pd.Timestamp("2026-03-02", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "extra": rng.random(n),  # a column the load does not read
        }
    )  # no last_ts: asked for, absent, left out
    frame.loc[499, "pid_a"] = "a003"  # the pair of row 3 again
    frame.loc[499, "pid_b"] = "b0003"
    frame.loc[499, "q_value"] = 0.001
    frame.loc[3, "q_value"] = 0.002
    path = tmp_path / "contacts.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=25)
    cols = [c for c in CONTACT_COLUMNS if c in frame.columns]
    for max_q, min_score in ((0.05, 0.0), (0.05, 1.0), (None, 2.0), (1e-9, 0.0)):
        flt = contact_filter(max_q, min_score)
        got = _read_derived(path, flt, CONTACT_COLUMNS)
        want = ds.dataset(path, format="parquet").to_table(columns=cols, filter=flt).to_pandas()
        assert list(got.columns) == cols
        assert_frame_equal(got, want)
        assert (len(got) == 0) == (max_q == 1e-9)
    hits = _read_derived(path, contact_filter(0.05, 0.0), CONTACT_COLUMNS)
    assert hits["pid_b"].iloc[-1] == "b0003" and (hits["pid_b"] == "b0003").sum() == 2
    whole = _read_derived(path, None, None)
    assert_frame_equal(whole, pq.read_table(path).to_pandas())


def test_whole_second_datetime_text_is_numpys_byte_for_byte() -> None:
    """The table-built text of whole seconds is numpy's ``datetime_as_string`` exactly, over
    the years 1..9999, before 1970, across midnight and with missing values; dates numpy
    writes otherwise (year 10000) or spanning too many days fall back to numpy."""
    import numpy as np

    from sightgraph.graph.bulk import _times, _whole_second_times

    rng = np.random.default_rng(7)
    spans = (
        (1_772_409_600, 1_772_409_600 + 14 * 86_400),
        (-86_400 * 3, 86_400 * 3),
        (-62_135_596_800, -62_135_596_800 + 5 * 86_400),
        (253_402_300_799 - 86_400, 253_402_300_799),
        (-(10**9), 10**9),  # > 100,000 days: numpy's text
    )
    for lo, hi in spans:
        secs = np.append(rng.integers(lo, hi, 5_000), [lo, hi - 1])
        ts = pd.Series(pd.to_datetime(secs, unit="s", utc=True))
        ts = ts.where(np.arange(len(ts)) % 9 != 0)  # every 9th missing
        text = np.datetime_as_string(secs.astype("datetime64[s]"), unit="s", timezone="UTC")
        want = [None if i % 9 == 0 else str(t) for i, t in enumerate(text)]
        got = _times(ts)
        got.validate(full=True)
        assert got.type == pa.string() and got.to_pylist() == want
    missing = np.zeros(2, dtype=bool)
    assert _whole_second_times(np.array([253_402_300_800, 0]), missing) is None  # year 10000
    assert _whole_second_times(np.array([0, 86_400 * 100_000]), missing) is None
    assert _whole_second_times(np.array([0, 0]), np.ones(2, dtype=bool)) is None
