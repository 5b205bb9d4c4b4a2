"""Unit and property tests of the ingest building blocks against independent oracles."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sightgraph.errors import UsageError
from sightgraph.ingest.lake_writer import IdSet, make_sighting_ids
from sightgraph.ingest.pseudonymize import normalize_ids, pseudonymize_ids, resolve_key
from sightgraph.ingest.readers import sniff_delimiter
from sightgraph.ingest.validate import (
    REASON_AMBIGUOUS_TS,
    REASON_NONEXISTENT_TS,
    parse_confidence,
    parse_timestamps,
    validate_sightings_chunk,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def oracle_us(dt: datetime) -> int:
    """Microseconds since the epoch of an aware datetime, by exact integer arithmetic."""
    delta = dt.astimezone(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


aware_datetimes = st.builds(
    lambda naive, minutes: naive.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2098, 12, 31)),
    st.integers(-14 * 60, 14 * 60).map(lambda m: m - m % 15),
)


def iso(dt: datetime, style: int) -> str:
    """Several spellings of the same aware instant."""
    if style == 0:
        return dt.isoformat()
    if style == 1:
        return dt.isoformat(sep=" ")
    off = dt.utcoffset() or timedelta(0)
    sign = "-" if off < timedelta(0) else "+"
    hh, mm = divmod(abs(int(off.total_seconds())) // 60, 60)
    body = dt.replace(tzinfo=None).isoformat()
    if style == 2:
        return f"{body}{sign}{hh:02d}{mm:02d}"
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(aware_datetimes, st.integers(0, 3)), min_size=1, max_size=30))
def test_aware_iso_texts_match_datetime_oracle(items: list[tuple[datetime, int]]) -> None:
    """Mixed spellings and offsets in one column: each parses to the exact instant."""
    texts = pd.Series([iso(dt, style) for dt, style in items], dtype="str")
    got, why = parse_timestamps(texts)
    assert list(why) == [None] * len(items)
    assert got.tolist() == [oracle_us(dt) for dt, _ in items]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=datetime(2014, 1, 1), max_value=datetime(2016, 12, 31)),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["America/Vancouver", "Europe/London", "Australia/Sydney"]),
)
def test_naive_texts_in_a_zone_match_zoneinfo_oracle(naive: list[datetime], zone: str) -> None:
    """Naive local times -> UTC as zoneinfo says; DST gaps and repeats are flagged, not guessed."""
    tz = ZoneInfo(zone)
    got, why = parse_timestamps(
        pd.Series([d.isoformat(sep=" ") for d in naive], dtype="str"), tz=zone
    )
    for d, value, reason in zip(naive, got, why, strict=True):
        first, second = d.replace(tzinfo=tz, fold=0), d.replace(tzinfo=tz, fold=1)
        exists = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == d
        if not exists:
            assert reason == REASON_NONEXISTENT_TS
        elif first.utcoffset() != second.utcoffset():
            assert reason == REASON_AMBIGUOUS_TS
        else:
            assert reason is None and value == oracle_us(first)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-2_208_988_800 * 10**6, 4_102_444_799 * 10**6), min_size=1, max_size=20)
)
def test_epoch_seconds_as_text_and_numbers(values_us: list[int]) -> None:
    """Seconds with microsecond fractions round-trip whether given as text or float."""
    secs = [v / 1e6 for v in values_us]
    as_float, why_f = parse_timestamps(pd.Series(secs, dtype="float64"))
    as_text, why_t = parse_timestamps(pd.Series([repr(s) for s in secs], dtype="str"))
    assert list(why_f) == list(why_t) == [None] * len(secs)
    assert as_float.tolist() == as_text.tolist() == [round(s * 1e6) for s in secs]


def test_timestamp_range_bounds() -> None:
    """1900-01-01 is the first accepted instant; 2100-01-01 the first refused."""
    got, why = parse_timestamps(
        pd.Series(
            [
                "1900-01-01T00:00:00Z",
                "1899-12-31T23:59:59.999999Z",
                "2099-12-31T23:59:59Z",
                "2100-01-01T00:00:00Z",
            ],
            dtype="str",
        )
    )
    assert list(why) == [None, "ts out of range", None, "ts out of range"]


def test_timestamps_from_python_objects() -> None:
    """JSON-like mixed objects: ints, floats, texts, None, bools, nested values."""
    got, why = parse_timestamps(
        pd.Series([0, 1.5, "1970-01-01T00:00:02Z", None, True, {"a": 1}], dtype=object)
    )
    assert got[:3].tolist() == [0, 1_500_000, 2_000_000]
    assert list(why) == [None, None, None, "empty ts", "unparsable ts", "unparsable ts"]


def test_parse_confidence_rules() -> None:
    conf, why = parse_confidence(
        pd.Series(["0", "1", " .25 ", "", "1e-1", "-0", "x", "inf", "2"], dtype="str"), 9
    )
    assert conf[:6].tolist() == [0.0, 1.0, 0.25, 1.0, 0.1, 0.0]
    assert list(why) == [None] * 6 + [
        "confidence not a number",
        "confidence not a number",
        "confidence outside 0..1",
    ]
    conf, why = parse_confidence(None, 2)
    assert conf.tolist() == [1.0, 1.0] and list(why) == [None, None]


def test_first_failing_rule_wins() -> None:
    """A row with an empty subject and a bad time is reported for the subject only."""
    v = validate_sightings_chunk(
        {
            "subject_id": pd.Series(["", "a", "a"], dtype="str"),
            "camera_id": pd.Series(["c", "", "c"], dtype="str"),
            "ts": pd.Series(["bad", "bad", "bad"], dtype="str"),
            "confidence": pd.Series(["9", "9", "9"], dtype="str"),
        }
    )
    assert list(v.reason) == ["empty subject_id", "empty camera_id", "unparsable ts"]
    assert list(v.field) == ["subject_id", "camera_id", "ts"]
    assert not v.valid.any()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a,b,c", ","),
        ("a;b;c", ";"),
        ("a\tb\tc", "\t"),
        ("a|b|c", "|"),
        ("abc", ","),
        ('"x;y",b,c', ","),
        ("a;b,c;d", ";"),
    ],
)
def test_sniff_delimiter(header: str, expected: str) -> None:
    assert sniff_delimiter(header) == expected


def test_normalize_ids_across_types() -> None:
    """Strings are trimmed; integral numbers lose their decimal point; missing becomes ''."""
    assert normalize_ids(pd.Series([" a ", None, "b"], dtype="str")).tolist() == ["a", "", "b"]
    assert normalize_ids(pd.Series([2100, 7], dtype="int64")).tolist() == ["2100", "7"]
    assert normalize_ids(pd.Series([2100.0, np.nan, 1.5])).tolist() == ["2100", "", "1.5"]
    assert normalize_ids(pd.Series([2100, "2100", 2100.0, None], dtype=object)).tolist() == [
        "2100"
    ] * 3 + [""]


def test_normalize_ids_does_not_confuse_booleans_with_numbers() -> None:
    """Python says ``False == 0``; a JSON ``false`` id must still not become ``'0'``.

    Found by the JSON Lines fuzz test: ``0`` and ``false`` in one chunk gave both ids the
    same text, while in separate chunks they differed, so the pid depended on the chunk size.
    """
    values = [0, False, 1, True, 1.0, [1], {"a": 1}, None]
    assert normalize_ids(pd.Series(values, dtype=object)).tolist() == [
        "0",
        "false",
        "1",
        "true",
        "1",
        "[1]",
        '{"a": 1}',
        "",
    ]
    for value in values:
        alone = normalize_ids(pd.Series([value], dtype=object)).iloc[0]
        assert normalize_ids(pd.Series([value] + values, dtype=object)).iloc[0] == alone


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=12).filter(lambda s: s.strip()), min_size=1, max_size=20),
    st.text(min_size=1, max_size=20),
)
def test_pseudonymize_ids_is_hmac_of_trimmed_id(ids: list[str], key: str) -> None:
    """pid = first 16 hex of HMAC-SHA256(key, trimmed id), index and name preserved."""
    series = pd.Series(ids, dtype="str", index=range(10, 10 + len(ids)), name="animal")
    got = pseudonymize_ids(series, key)
    expected = [hmac.new(key.encode(), s.strip().encode(), "sha256").hexdigest()[:16] for s in ids]
    assert got.tolist() == expected
    assert list(got.index) == list(series.index) and got.name == "animal"


def test_pseudonymize_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGHTGRAPH_PSEUDONYM_KEY", raising=False)
    with pytest.raises(UsageError, match="needs a key"):
        pseudonymize_ids(pd.Series(["a"]), None)
    monkeypatch.setenv("SIGHTGRAPH_PSEUDONYM_KEY", "k")
    assert resolve_key(None) == b"k"
    assert pseudonymize_ids(pd.Series(["a", None, " "]), None).isna().tolist() == [
        False,
        True,
        True,
    ]


def test_sighting_ids_golden_values() -> None:
    """Pinned values: a change here would break idempotent re-ingest of existing lakes."""
    assert make_sighting_ids(["p"], ["c"], [0]).tolist() == [-1849288846199371498]
    assert make_sighting_ids(["041868E9A8"], ["2100"], [1443746332000000]).tolist() == [
        3868295034439809598
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["p1", "p2", "p3"]), st.sampled_from(["c1", "c2"]), st.integers(0, 5)
        ),
        min_size=1,
        max_size=40,
    )
)
def test_sighting_ids_equal_iff_keys_equal(rows: list[tuple[str, str, int]]) -> None:
    """Same (pid, camera, ts) -> same id, different -> different; independent of row order."""
    pid, cam, ts = (list(x) for x in zip(*rows, strict=True))
    ids = make_sighting_ids(pid, cam, ts)
    assert ids.dtype == np.int64
    by_key = {}
    for key, i in zip(rows, ids.tolist(), strict=True):
        by_key.setdefault(key, set()).add(i)
    assert all(len(v) == 1 for v in by_key.values())
    assert len({next(iter(v)) for v in by_key.values()}) == len(by_key)
    rev = make_sighting_ids(pid[::-1], cam[::-1], ts[::-1])
    assert rev.tolist() == ids.tolist()[::-1]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(-50, 50), max_size=30), max_size=12),
    st.lists(st.integers(-60, 60), max_size=40),
)
def test_idset_matches_python_set(batches: list[list[int]], probes: list[int]) -> None:
    ids, oracle = IdSet(), set()
    for batch in batches:
        ids.add(np.array(batch, dtype=np.int64))
        oracle.update(batch)
        assert ids.contains(np.array(probes, dtype=np.int64)).tolist() == [
            p in oracle for p in probes
        ]
