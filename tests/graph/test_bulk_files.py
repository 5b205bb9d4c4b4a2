"""The importer's CSV text of the bulk load (sightgraph.graph.bulk): no server needed."""

from __future__ import annotations

import pandas as pd

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
