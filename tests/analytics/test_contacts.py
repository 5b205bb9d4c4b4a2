"""Frequent contacts: meetings, busyness, the day-swap null and the score (in memory)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from sightgraph.analytics.colocation import find_colocations
from sightgraph.analytics.contacts import (
    BUSYNESS_COLUMNS,
    CONTACTS_COLUMNS,
    MEETING_COLUMNS,
    build_meetings,
    camera_busyness,
    score_contacts,
)
from sightgraph.errors import UsageError

from .contacts_oracle import (
    DAY,
    MONDAY,
    friends_and_strangers,
    oracle_meetings,
    oracle_null,
    us,
)

T0 = pd.Timestamp("2026-03-02 08:00:00", tz="UTC")


def _sightings(rows: list[tuple[str, str, pd.Timestamp]]) -> pd.DataFrame:
    s = pd.DataFrame(rows, columns=["pid", "camera_id", "ts"])
    s["ts"] = s["ts"].astype("datetime64[us, UTC]")
    s["sighting_id"] = np.arange(len(s), dtype=np.int64)
    s["confidence"] = 1.0
    return s


def _contacts(s: pd.DataFrame, window_s: float = 60, gap_s: float = 900, **kw) -> pd.DataFrame:
    m = build_meetings(find_colocations(s, window_s=window_s, events=True), gap_s=gap_s)
    return score_contacts(m, camera_busyness(s), s, window_s=window_s, gap_s=gap_s, **kw)


def _row(c: pd.DataFrame, a: str, b: str) -> pd.Series:
    r = c[(c["pid_a"] == a) & (c["pid_b"] == b)]
    assert len(r) == 1, f"pair {a} {b} not in the table"
    return r.iloc[0]


# ---------------------------------------------------------------------------------------------
# meetings


events_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(["c1", "c2", "c3"]),
        st.sampled_from(["c1", "c2", "c3"]),
        st.integers(0, 4000),
        st.integers(-60, 60),
        st.floats(0.05, 1.0),
        st.floats(0.05, 1.0),
    ).filter(lambda r: r[0] != r[1]),
    max_size=40,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=events_strategy, gap_s=st.sampled_from([0, 1, 30, 100, 900]))
def test_build_meetings_matches_brute_force(rows, gap_s):
    """Meetings equal a literal reading of DESIGN §4 on random events (any orientation,
    cross-camera events, ties in time, gap 0)."""
    ev = pd.DataFrame(
        [
            (
                pa,
                pb,
                ca,
                cb,
                T0 + pd.Timedelta(seconds=t),
                T0 + pd.Timedelta(seconds=t + dt),
                qa,
                qb,
            )
            for pa, pb, ca, cb, t, dt, qa, qb in rows
        ],
        columns=[
            "pid_a",
            "pid_b",
            "camera_a",
            "camera_b",
            "ts_a",
            "ts_b",
            "confidence_a",
            "confidence_b",
        ],
    )
    for col in ("ts_a", "ts_b"):
        ev[col] = ev[col].astype("datetime64[us, UTC]")
    got = build_meetings(ev, gap_s=gap_s)
    assert list(got.columns) == list(MEETING_COLUMNS)
    expected = oracle_meetings(ev, gap_s)
    actual = sorted(
        (
            r.pid_a,
            r.pid_b,
            r.camera_id,
            int(us(pd.Series([r.start_ts]))[0]),
            int(us(pd.Series([r.end_ts]))[0]),
            r.n_events,
            round(r.confidence, 9),
            round(r.lag_s, 9),
        )
        for r in got.itertuples()
    )
    assert actual == expected
    assert got["n_events"].sum() == len(ev)
    # sorted by pid_a, pid_b, camera_id, start_ts
    assert got.equals(
        got.sort_values(["pid_a", "pid_b", "camera_id", "start_ts"], ignore_index=True)
    )


def test_build_meetings_hand_built():
    """Events at 08:00, 08:10, 08:24 (< 15 min apart: one meeting) and 09:00 (a new one); an event
    given as (b, a) is oriented; a cross-camera event (R > 0) belongs to the camera that sorts
    first."""
    t = [
        T0,
        T0 + pd.Timedelta(minutes=10),
        T0 + pd.Timedelta(minutes=24),
        T0 + pd.Timedelta(minutes=60),
    ]
    ev = pd.DataFrame(
        {
            "pid_a": ["a", "b", "a", "a"],
            "pid_b": ["b", "a", "b", "b"],
            "camera_a": ["c1", "c1", "c2", "c1"],
            "camera_b": ["c1", "c1", "c1", "c1"],
            "ts_a": t,
            "ts_b": [x + pd.Timedelta(seconds=30) for x in t],
            "confidence_a": [1.0, 0.5, 1.0, 1.0],
            "confidence_b": [1.0, 1.0, 1.0, 0.8],
        }
    )
    m = build_meetings(ev)
    assert m[["pid_a", "pid_b", "camera_id", "n_events"]].values.tolist() == [
        ["a", "b", "c1", 3],
        ["a", "b", "c1", 1],
    ]
    assert m.loc[0, "start_ts"] == T0
    assert m.loc[0, "end_ts"] == T0 + pd.Timedelta(minutes=24, seconds=30)
    assert m.loc[0, "confidence"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert m.loc[1, "confidence"] == pytest.approx(0.8)


def test_build_meetings_empty_and_bad_input():
    empty = find_colocations(_sightings([("a", "c1", T0)]), events=True)
    m = build_meetings(empty)
    assert list(m.columns) == list(MEETING_COLUMNS) and len(m) == 0
    assert str(m["start_ts"].dtype) == "datetime64[us, UTC]"
    ev = find_colocations(_sightings([("a", "c1", T0), ("b", "c1", T0)]), events=True)
    with pytest.raises(UsageError, match="gap"):
        build_meetings(ev, gap_s=-1)
    with pytest.raises(UsageError, match="camera_b"):
        build_meetings(ev.drop(columns="camera_b"))
    naive = ev.assign(ts_a=ev["ts_a"].dt.tz_localize(None))
    with pytest.raises(UsageError, match="ts_a"):
        build_meetings(naive)
    with pytest.raises(UsageError, match="pid_a equals pid_b"):
        build_meetings(ev.assign(pid_b="a"))
    with pytest.raises(UsageError, match="DataFrame"):
        build_meetings([1, 2])


def test_camera_busyness_hand_built():
    """c1 saw a and b (twice) between 08:00 and 09:00, a alone after 09:00; c2 saw c."""
    s = _sightings(
        [
            ("a", "c1", T0),
            ("b", "c1", T0 + pd.Timedelta(minutes=5)),
            ("b", "c1", T0 + pd.Timedelta(minutes=50)),
            ("a", "c1", T0 + pd.Timedelta(minutes=61)),
            ("c", "c2", T0),
        ]
    )
    b = camera_busyness(s)
    assert list(b.columns) == list(BUSYNESS_COLUMNS)
    assert b[["camera_id", "subjects"]].values.tolist() == [["c1", 2], ["c1", 1], ["c2", 1]]
    assert b["period_start"].tolist() == [T0, T0 + pd.Timedelta(hours=1), T0]
    assert camera_busyness(s, period_s=7200)["subjects"].tolist() == [2, 1]
    with pytest.raises(UsageError, match="period"):
        camera_busyness(s, period_s=0)


# ---------------------------------------------------------------------------------------------
# the null model


def test_null_expected_hand_computed():
    """A and B pass camera X together at 08:00 on Monday, Tuesday and Wednesday, nowhere else.

    Every swapped pair of days (A's day d, B's day d' != d: 3 * 3 - 3 = 6 of them) also meets,
    so M = 6, C = 6, n = 3: null_expected = 3 * (6 + 1/2) / (6 + 1) = 2.7857; each meeting has
    rho = (6 + 1/2) / 7 and r = 3, so the slot's routine explains min(1, e / r) = 6.5 / 7 of
    each meeting. Only A and B were at X that hour (N = 2): a routine nobody else shares is not
    chance (kappa = 1 - 1 / (N - 1) = 0), so the crowd-aware expectation drops to the shrinkage
    floor 3 * (1/2) / 7 and p = P(Poisson(3 / 14) >= 3)."""
    rows = []
    for d in range(3):
        rows += [("A", "X", T0 + d * DAY), ("B", "X", T0 + d * DAY + pd.Timedelta(seconds=20))]
    c = _contacts(_sightings(rows))
    r = _row(c, "A", "B")
    assert r["null_expected"] == pytest.approx(3 * 6.5 / 7)
    assert r["expected"] == pytest.approx(3 * 0.5 / 7)
    assert r["routine_share"] == pytest.approx(6.5 / 7)
    # nothing of the routine is explained by a crowd: every meeting counts fully
    assert r["effective_meetings"] == pytest.approx(3.0)
    p = stats.poisson.sf(2, 3 * 0.5 / 7)
    assert r["p_value"] == pytest.approx(p)
    # one event per meeting, confidence 1, seen 20 s apart (proximity 1 - 20 / 60), beta =
    # 1 / log2(2) = 1; times the share of meetings beyond the expectation and 1 - p
    assert r["score"] == pytest.approx(3 * (2 / 3) * (1 - 3 * 0.5 / 7 / 3) * (1 - p))
    assert (r["meetings"], r["days"], r["places"], r["days_both"]) == (3, 3, 1, 3)
    assert r["sri"] == r["hwi"] == 1.0
    assert r["exposure_s"] == pytest.approx(3 * 60.0)  # three meetings of one event: W each
    # one subject-pair family: q = p
    assert r["q_value"] == pytest.approx(r["p_value"])


def test_routine_in_a_crowd_is_chance_and_alone_is_a_tie():
    """DESIGN §4 item: a shared routine at a place and slot few others share is evidence, one in
    a crowd is not. (A, B) pass camera Q at 08:00 every weekday of two weeks and nobody else
    does; (C, D) pass camera H at 08:00 every weekday with 40 others in the same hour, all with
    the same routine (the same train). Same routine, same null expectation before the crowd
    adjustment; the quiet pair is significant and ranks first, the crowded pair is not."""
    rows = []
    for d in [0, 1, 2, 3, 4, 7, 8, 9, 10, 11]:
        t = T0 + d * DAY
        rows += [("A", "Q", t), ("B", "Q", t + pd.Timedelta(seconds=20))]
        rows += [("C", "H", t), ("D", "H", t + pd.Timedelta(seconds=20))]
        rows += [(f"x{i:02d}", "H", t + pd.Timedelta(minutes=2 + i)) for i in range(40)]
    c = _contacts(_sightings(rows))
    quiet, crowd = _row(c, "A", "B"), _row(c, "C", "D")
    assert quiet["meetings"] == crowd["meetings"] == 10
    assert quiet["null_expected"] == pytest.approx(crowd["null_expected"])
    assert crowd["expected"] > 0.9 * crowd["null_expected"]
    assert quiet["expected"] < 0.1 * quiet["null_expected"]
    assert quiet["q_value"] < 0.05 < crowd["q_value"]
    assert quiet["score"] > 10 * crowd["score"]
    assert c.index[(c["pid_a"] == "A") & (c["pid_b"] == "B")][0] == 0


sightings_strategy = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from(["X", "Y"]),
        st.integers(0, 8),  # day (Monday + d: two weekend days among them)
        st.integers(0, 30),  # minute after 08:00
    ),
    min_size=2,
    max_size=35,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=sightings_strategy, weekpart=st.booleans())
def test_null_matches_brute_force(rows, weekpart):
    """``expected`` and ``routine_share`` equal a literal replay of every pair of distinct days."""
    s = _sightings([(p, c, T0 + d * DAY + pd.Timedelta(minutes=m)) for p, c, d, m in rows])
    m = build_meetings(find_colocations(s, window_s=120, events=True), gap_s=300)
    c = score_contacts(
        m,
        None,
        s,
        window_s=120,
        gap_s=300,
        strata="weekpart" if weekpart else "none",
        null="day-swap",
    )
    assert c.attrs["null"] == "day-swap"
    assert len(c) == len(m.drop_duplicates(["pid_a", "pid_b"]))
    for r in c.itertuples():
        exp, rhos = oracle_null(s, r.pid_a, r.pid_b, m, 120, 300, weekpart)
        assert r.null_expected == pytest.approx(exp)
        assert r.expected <= r.null_expected + 1e-12
        assert r.routine_share == pytest.approx(np.mean(rhos))
        assert r.meetings == len(rhos)


def test_scores_do_not_depend_on_row_order():
    s = friends_and_strangers(commuters=10, weekdays=5)
    a = _contacts(s)
    shuffled = s.sample(frac=1, random_state=3).reset_index(drop=True)
    m = build_meetings(find_colocations(shuffled, events=True)).sample(frac=1, random_state=4)
    b = score_contacts(m, None, shuffled)
    pd.testing.assert_frame_equal(a, b)


# ---------------------------------------------------------------------------------------------
# the score: monotone in the right directions


def _pair_at(place: str, days: list[int], a: str, b: str, hour: int = 20) -> list[tuple]:
    rows = []
    for d in days:
        t = MONDAY + d * DAY + pd.Timedelta(hours=hour)
        rows += [(a, place, t), (b, place, t + pd.Timedelta(seconds=15))]
    return rows


def _home_days(people: list[str], days: range) -> list[tuple]:
    return [
        (p, f"home_{p}", MONDAY + d * DAY + pd.Timedelta(hours=7)) for p in people for d in days
    ]


def test_a_routine_slot_counts_once_even_when_met_on_some_days_only():
    """A takes the 08:12 every weekday for two weeks, B on five of them (the 08:17 on the
    others), with 40 other commuters at the hub in that hour: five meetings, all in one routine
    slot. Swapped days meet in 45 of the 90 pairs of distinct days, so rho = (45 + 1/2) / 91 =
    1/2 and the slot's expected meetings e = rho * 10 days = 5 = r: the routine explains the
    whole slot, and the crowd (N = 42) explains kappa = 1 - 1/41 of it, so the slot counts about
    once (effective_meetings = 5 (1 - kappa) + kappa) and the pair meets about as often as
    expected: score near 0. Without the crowd the same routine is a tie's (quiet street)."""

    def rows(crowd: int) -> list[tuple]:
        out = []
        for k, d in enumerate([0, 1, 2, 3, 4, 7, 8, 9, 10, 11]):
            day = T0 + d * DAY
            out.append(("A", "hub", day + pd.Timedelta(minutes=12)))
            late = 5 if k % 2 else 0
            out.append(("B", "hub", day + pd.Timedelta(minutes=12 + late, seconds=20)))
            out += [
                (f"x{i:02d}", "hub", day + pd.Timedelta(minutes=30, seconds=i))
                for i in range(crowd)
            ]
        return out

    r = _row(_contacts(_sightings(rows(40))), "A", "B")
    kappa = 1 - 1 / 41
    assert (r["meetings"], r["days_both"]) == (5, 10)
    assert r["routine_share"] == pytest.approx(0.5)
    assert r["null_expected"] == pytest.approx(5.0)
    assert r["expected"] == pytest.approx(5.0 * kappa)
    assert r["effective_meetings"] == pytest.approx(5 * (1 - kappa) + kappa)
    assert r["score"] < 0.01
    alone = _row(_contacts(_sightings(rows(0))), "A", "B")
    assert alone["effective_meetings"] == pytest.approx(5.0)
    assert alone["score"] > 100 * r["score"]


def test_quiet_place_scores_above_busy_place():
    """Pairs (a, b) and (c, d) meet alike (20:00 on Monday and Thursday), (a, b) at a quiet
    camera, (c, d) at a camera that 30 other subjects pass in the same hour (never within the
    window of the pair). Same null, so the same p-value; the busy place gives a lower score."""
    rows = _home_days(["a", "b", "c", "d"], range(5))
    rows += _pair_at("quiet", [0, 3], "a", "b") + _pair_at("busy", [0, 3], "c", "d")
    for d in (0, 3):
        for i in range(30):
            rows.append(
                (
                    f"x{i:02d}",
                    "busy",
                    MONDAY + d * DAY + pd.Timedelta(hours=20, minutes=5 + i, seconds=30),
                )
            )
    c = _contacts(_sightings(rows))
    quiet, busy = _row(c, "a", "b"), _row(c, "c", "d")
    assert quiet["meetings"] == busy["meetings"] == 2
    assert quiet["p_value"] == pytest.approx(busy["p_value"])
    assert busy["mean_busyness"] > quiet["mean_busyness"]
    assert quiet["score"] > busy["score"]


def test_more_days_and_places_raise_the_score():
    """Three pairs meet four times at 20:00, all seen at home every weekday of two weeks:
    (a, b) at one bar on four days, (c, d) at four bars on four days, (e, f) at four bars on one
    day (20:00, 20:20, 20:40, 21:00). Four places on four days beat one place (the repetition is
    explained by their own routine there), and four days beat one day at the same four places
    on the p-value (more days of evidence). Twenty regulars are at every bar and pub in the same
    hour (never within the window of the pairs), so a routine there is a crowd's."""
    rows = _home_days(list("abcdef"), [d for d in range(12) if d % 7 < 5])
    for d in [0, 2, 4, 7, 9]:
        for place in ["bar0", "bar1", "bar2", "bar3", "bar4", "pub0", "pub1", "pub2", "pub3"]:
            for hour in (20, 21):
                t = MONDAY + d * DAY + pd.Timedelta(hours=hour, minutes=30)
                rows += [(f"r{i:02d}", place, t + pd.Timedelta(seconds=i)) for i in range(20)]
    rows += _pair_at("bar0", [0, 2, 7, 9], "a", "b")
    for k, d in enumerate([0, 2, 7, 9]):
        rows += _pair_at(f"bar{k + 1}", [d], "c", "d")
        t = MONDAY + 4 * DAY + pd.Timedelta(hours=20, minutes=20 * k)
        rows += [("e", f"pub{k}", t), ("f", f"pub{k}", t + pd.Timedelta(seconds=10))]
    c = _contacts(_sightings(rows))
    one_place, many, one_day = _row(c, "a", "b"), _row(c, "c", "d"), _row(c, "e", "f")
    assert one_place["meetings"] == many["meetings"] == one_day["meetings"] == 4
    assert (one_place["places"], many["places"], one_day["places"]) == (1, 4, 4)
    assert (one_place["days"], many["days"], one_day["days"]) == (4, 4, 1)
    assert many["score"] > one_place["score"]
    assert many["p_value"] < one_place["p_value"]
    assert many["routine_share"] < one_place["routine_share"]
    assert many["sri"] > one_day["sri"]


def test_low_confidence_lowers_the_score():
    rows = (
        _home_days(["a", "b", "c", "d"], range(5))
        + _pair_at("bar", [0, 3], "a", "b")
        + _pair_at("pub", [0, 3], "c", "d")
    )
    s = _sightings(rows)
    s.loc[s["pid"] == "d", "confidence"] = 0.5
    c = _contacts(s)
    assert _row(c, "a", "b")["score"] == pytest.approx(2 * _row(c, "c", "d")["score"])
    assert _row(c, "c", "d")["mean_confidence"] == pytest.approx(0.5)


def test_seen_closer_in_time_is_more_evidence_not_more_significance():
    """Two pairs met alike, one seen 5 s apart each time, the other 45 s (W = 60 s): the same
    p-value (the null counts meetings), evidence in the ratio of their proximity weights
    ``1 - lag / W``; lag_s is each meeting's mean lag."""
    rows = _home_days(["a", "b", "c", "d"], range(5))
    for d in (0, 3):
        t = MONDAY + d * DAY + pd.Timedelta(hours=20)
        rows += [("a", "bar", t), ("b", "bar", t + pd.Timedelta(seconds=5))]
        rows += [("c", "pub", t), ("d", "pub", t + pd.Timedelta(seconds=45))]
    s = _sightings(rows)
    m = build_meetings(find_colocations(s, window_s=60, events=True))
    assert sorted(m["lag_s"].round(9)) == [5.0, 5.0, 45.0, 45.0]
    c = _contacts(s)
    close, far = _row(c, "a", "b"), _row(c, "c", "d")
    assert close["p_value"] == far["p_value"] and close["meetings"] == far["meetings"] == 2
    assert close["evidence"] == pytest.approx(far["evidence"] * (55 / 60) / (15 / 60))
    # without the lag (a hand-made meetings table) the two are alike
    c0 = score_contacts(m.drop(columns="lag_s"), None, s)
    assert _row(c0, "a", "b")["evidence"] == pytest.approx(_row(c0, "c", "d")["evidence"])
    with pytest.raises(UsageError, match="lag_s"):
        score_contacts(m.assign(lag_s=np.nan), None, s)


def test_friends_outrank_routine_strangers():
    """The issue's scenario (see :func:`friends_and_strangers`): the raw event count ranks the
    strangers (10 events, one every weekday at the hub) above the friends (4 evenings at 4 bars);
    the contact score ranks the friends first, the friends are significant (q < 0.05) and the
    strangers are not (their meetings are what their own routines produce: expected ~ meetings).
    The strangers pass at 08:12 and 17:42: 20 events in 20 meetings; the friends: 8 in 4."""
    s = friends_and_strangers()
    c = _contacts(s)
    friends, strangers = _row(c, "f1", "f2"), _row(c, "s1", "s2")
    assert strangers["n_events"] > friends["n_events"]
    assert (strangers["n_events"], strangers["meetings"]) == (20, 20)
    assert (friends["n_events"], friends["meetings"]) == (8, 4)
    assert friends["score"] > strangers["score"]
    assert c.index[(c["pid_a"] == "f1") & (c["pid_b"] == "f2")][0] == 0  # ranked first overall
    assert friends["q_value"] < 0.05 < strangers["q_value"]
    assert strangers["expected"] > 0.8 * strangers["meetings"]
    assert friends["expected"] < 0.5
    assert friends["places"] == 4 and strangers["places"] == 1


def test_p_and_q_values_are_coherent():
    """p in [0, 1], q >= p, q <= 1, q monotone in p (Benjamini-Hochberg); ordered by score."""
    s = friends_and_strangers(commuters=30, weekdays=10)
    c = _contacts(s)
    assert list(c.columns) == list(CONTACTS_COLUMNS)
    assert ((c["p_value"] >= 0) & (c["p_value"] <= 1)).all()
    assert (c["q_value"] >= c["p_value"] - 1e-15).all() and (c["q_value"] <= 1).all()
    by_p = c.sort_values("p_value", kind="stable")
    assert by_p["q_value"].is_monotonic_increasing
    assert c["score"].is_monotonic_decreasing
    assert (c["pid_a"] < c["pid_b"]).all()
    assert (c["sri"] <= c["hwi"] + 1e-12).all() and ((c["hwi"] >= 0) & (c["hwi"] <= 1)).all()
    assert (c["days"] <= c["days_both"]).all()
    assert (c["excess"] == c["meetings"] - c["expected"]).all()


def test_short_window_for_pedestrians():
    """W = 2 s: two pedestrians crossing a small zone 1 s apart meet; 3 s apart they do not."""
    rows = []
    for d in range(3):
        t = MONDAY + d * DAY + pd.Timedelta(hours=12, minutes=7 * d)
        rows += [
            ("a", "zone", t),
            ("b", "zone", t + pd.Timedelta(seconds=1)),
            ("c", "zone", t + pd.Timedelta(seconds=4)),
        ]
    c = _contacts(_sightings(rows), window_s=2)
    assert c[["pid_a", "pid_b", "meetings"]].values.tolist() == [["a", "b", 3]]


def test_min_meetings_filters_pairs_and_keeps_q_valid():
    s = friends_and_strangers(commuters=20, weekdays=5)
    full = _contacts(s)
    part = _contacts(s, min_meetings=2)
    assert (part["meetings"] >= 2).all() and len(part) < len(full)
    merged = part.merge(full, on=["pid_a", "pid_b"], suffixes=("", "_full"))
    assert np.allclose(merged["p_value"], merged["p_value_full"])
    assert (merged["q_value"] >= merged["q_value_full"] - 1e-12).all()


def test_empty_and_bad_input():
    s = _sightings([("a", "c1", T0), ("b", "c2", T0)])
    m = build_meetings(find_colocations(s, events=True))
    c = score_contacts(m, None, s)
    assert list(c.columns) == list(CONTACTS_COLUMNS) and len(c) == 0
    assert str(c["first_ts"].dtype) == "datetime64[us, UTC]"
    with pytest.raises(UsageError, match="window"):
        score_contacts(m, None, s, window_s=-1)
    with pytest.raises(UsageError, match="gap"):
        score_contacts(m, None, s, gap_s=-5)
    with pytest.raises(UsageError, match="strata"):
        score_contacts(m, None, s, strata="weekly")
    with pytest.raises(UsageError, match="min_meetings"):
        score_contacts(m, None, s, min_meetings=0)
    with pytest.raises(UsageError, match="start_ts"):
        score_contacts(m.drop(columns="start_ts"), None, s)
    s2 = _sightings([("a", "c1", T0), ("b", "c1", T0)])
    m2 = build_meetings(find_colocations(s2, events=True))
    with pytest.raises(UsageError, match="no sightings"):
        score_contacts(m2, None, s2[s2["pid"] == "a"])
    with pytest.raises(UsageError, match="radius"):
        score_contacts(m2, None, s2, radius_m=50)


def test_radius_pairs_cameras_within_r():
    """R = 50 m: A passes camera X and B camera Y (30 m away) together at 08:00 on three days;
    a third camera Z 500 m away sees C at the same times. The meetings' place is X (the id that
    sorts first), and swapped days meet across X and Y just like the real ones:
    expected = 3 * (6 + 1/2) / (6 + 1), as for one camera (see the hand-computed test)."""
    cams = pd.DataFrame(
        {"camera_id": ["X", "Y", "Z"], "lat": [52.0, 52.00027, 52.0045], "lon": [5.0, 5.0, 5.0]}
    )
    rows = []
    for d in range(3):
        t = T0 + d * DAY
        rows += [("A", "X", t), ("B", "Y", t + pd.Timedelta(seconds=20)), ("C", "Z", t)]
    s = _sightings(rows)
    ev = find_colocations(s, radius_m=50, cameras=cams, events=True)
    m = build_meetings(ev)
    assert set(m["camera_id"]) == {"X"} and len(m) == 3
    c = score_contacts(m, None, s, radius_m=50, cameras=cams)
    r = _row(c, "A", "B")
    assert len(c) == 1
    assert r["null_expected"] == pytest.approx(3 * 6.5 / 7)
    assert r["routine_share"] == pytest.approx(6.5 / 7)


def test_rank_and_significance_agree():
    """score = evidence * (1 - q): on the friends-and-strangers scenario no pair with q >= 0.5
    ranks above a significant pair (q < 0.05), the evidence column holds the score before the
    discount, and a pair with q = 1 scores 0."""
    c = _contacts(friends_and_strangers(commuters=30, weekdays=10))
    assert np.allclose(c["score"], c["evidence"] * (1 - c["q_value"]))
    sig = np.flatnonzero(c["q_value"].to_numpy() < 0.05)
    assert len(sig) > 0
    assert (c["q_value"].to_numpy()[: sig[-1]] < 0.5).all()
    assert (c.loc[c["q_value"] >= 1.0, "score"] == 0).all()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.floats(0.0, 1.0, allow_nan=False) | st.sampled_from([0.0, 0.25, 0.5, 1.0]), max_size=60
    ),
    st.integers(0, 3) | st.integers(0, 10_000),
)
def test_bh_qvalues_match_the_textbook_step_up(ps: list[float], extra: int) -> None:
    """Benjamini-Hochberg by its definition: q_(i) = min over k >= i of p_(k) m / k, at most 1,
    at least p; the family has ``len(p) + extra`` tests (the others have p = 1)."""
    from sightgraph.analytics.contacts.score import _bh_qvalues

    p = np.array(ps, np.float64)
    m = len(p) + extra
    q = _bh_qvalues(p, m)
    srt = np.sort(p)
    for i, v in enumerate(p):
        rank = int(np.searchsorted(srt, v, side="right"))  # ties share the largest rank
        want = min(1.0, min(srt[k - 1] * m / k for k in range(rank, len(p) + 1)))
        assert q[i] == pytest.approx(max(want, v), rel=1e-12, abs=0)


_FLOATS = st.floats(allow_nan=False, width=64) | st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, 5e-324, -5e-324, float("inf"), float("-inf")]
)


@settings(max_examples=80, deadline=None)
@given(st.lists(_FLOATS, max_size=300), st.booleans(), st.sampled_from([4_000_000, 2, 7]))
def test_stable_argsort_is_numpys_stable_argsort(xs: list[float], subset: bool, split) -> None:
    """The compiled radix sort orders floats as ``np.argsort(kind="stable")`` (equal keys, -0.0
    and 0.0 included, in input order), over all rows or, in place, a subset of them, on one
    thread or (from ``split`` rows) in two halves merged."""
    from sightgraph.analytics.contacts import _common

    _common._RADIX_SPLIT_ROWS, before = split, _common._RADIX_SPLIT_ROWS
    try:
        _check_stable_argsort(np.array(xs, np.float64), subset)
    finally:
        _common._RADIX_SPLIT_ROWS = before


def _check_stable_argsort(x: np.ndarray, subset: bool) -> None:
    from sightgraph.analytics.contacts._common import _radix_argsort, stable_argsort

    if subset:
        rows = np.flatnonzero(np.arange(len(x)) % 3 != 1)
        want = rows[np.argsort(x[rows], kind="stable")]
        _radix_argsort(x, rows, np.empty_like(rows))
        assert np.array_equal(rows, want)
    else:
        assert np.array_equal(stable_argsort(x), np.argsort(x, kind="stable"))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, -0.0, 0.5, 1e-9, 3.0]) | st.floats(0, 5),
            st.sampled_from([0.0, -0.0, -1.0]) | st.floats(-5, 5),
        ),
        max_size=200,
    )
)
def test_rank_order_is_the_two_key_lexsort(rows: list[tuple[float, float]]) -> None:
    """The table's order (score descending, then the tie-break, then position) equals
    ``np.lexsort((tie, -score))``: mostly zero scores, ties, -0.0, and a negative score (the
    general sort)."""
    from sightgraph.analytics.contacts._common import rank_order

    score = np.array([r[0] for r in rows], np.float64)
    tie = np.array([r[1] for r in rows], np.float64)
    assert np.array_equal(rank_order(score, tie), np.lexsort((tie, -score)))
    if len(score):
        score[0] = -1.0
        assert np.array_equal(rank_order(score, tie), np.lexsort((tie, -score)))


def test_the_table_order_check_finds_pairs_out_of_order() -> None:
    from sightgraph.analytics.contacts.job import _pairs_in_order

    a = np.array([0, 1, 1, 2], np.int32)
    assert _pairs_in_order(a, np.array([5, 2, 3, 0], np.int32))
    assert not _pairs_in_order(a, np.array([5, 3, 2, 0], np.int32))  # b falls within a = 1
    assert not _pairs_in_order(a, np.array([5, 2, 2, 0], np.int32))  # a pair twice
    assert not _pairs_in_order(a[::-1].copy(), np.array([5, 2, 3, 0], np.int32))
    assert _pairs_in_order(a[:0], a[:0])


def test_day_swap_null_does_not_depend_on_how_pairs_are_grouped(monkeypatch) -> None:
    """The kernel indexes A's cameras once per run of pairs with the same A: pairs given in any
    order (A changing back and forth) get the same values as pairs grouped by A."""
    from sightgraph.analytics.contacts import score as score_module
    from sightgraph.analytics.contacts.nulls.day_swap import _day_swap_null

    calls = []

    def capture(*args):
        calls.append(args)
        return _day_swap_null(*args)

    monkeypatch.setattr(score_module, "_day_swap_null", capture)
    _contacts(friends_and_strangers(commuters=12, weekdays=5))
    (args,) = calls
    grouped = _day_swap_null(*args)
    pair_a, pair_b, m_lo, m_hi = args[:4]
    assert len(np.unique(pair_a)) > 3
    perm = np.random.default_rng(5).permutation(len(pair_a))
    assert (np.diff(pair_a[perm]) != 0).sum() > len(np.unique(pair_a))  # A comes back
    shuffled = _day_swap_null(pair_a[perm], pair_b[perm], m_lo[perm], m_hi[perm], *args[4:])
    expected, days_a, days_b, days_ab, rho, r, slot_expected, floor = grouped
    for got, want in zip(shuffled[:4], (expected, days_a, days_b, days_ab), strict=True):
        assert np.array_equal(got, want[perm])
    assert np.array_equal(shuffled[7], floor[perm])
    for got, want in zip(shuffled[4:7], (rho, r, slot_expected), strict=True):
        assert np.array_equal(got, want)  # per meeting: indexed by meeting, not by pair


@pytest.mark.parametrize("radius", [False, True])
def test_day_swap_null_buffers_that_start_tiny_give_the_same_values(monkeypatch, radius) -> None:
    """The kernel's match buffers start at ``cap`` rows; a pair with more matches makes it grow
    them and score that pair again. Starting at one row (every pair with two or more matches
    overflows) gives the same arrays, with R = 0 (cameras both saw) and R > 0 (cameras near)."""
    from sightgraph.analytics.contacts import score as score_module
    from sightgraph.analytics.contacts.nulls.day_swap import _day_swap_null

    calls = []

    def capture(*args):
        calls.append(args)
        return _day_swap_null(*args)

    monkeypatch.setattr(score_module, "_day_swap_null", capture)
    if radius:
        cams = pd.DataFrame(
            {"camera_id": ["X", "Y", "Z"], "lat": [52.0, 52.00027, 52.0045], "lon": [5.0] * 3}
        )
        rows = []
        for d in range(6):
            for h in (8, 17):
                t = T0 + d * DAY + pd.Timedelta(hours=h - 8)
                rows += [("A", "X", t), ("B", "Y", t + pd.Timedelta(seconds=20)), ("C", "X", t)]
        s = _sightings(rows)
        ev = find_colocations(s, radius_m=50, cameras=cams, events=True)
        score_contacts(build_meetings(ev), None, s, radius_m=50, cameras=cams)
    else:
        _contacts(friends_and_strangers(commuters=12, weekdays=5))
    (args,) = calls
    assert bool(args[-1]) is not radius  # identity: R = 0
    roomy = _day_swap_null(*args)
    tiny = _day_swap_null(*args, 1)
    assert (roomy[0] > 0).any()
    for got, want in zip(tiny, roomy, strict=True):
        assert np.array_equal(got, want)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 3) | st.sampled_from([(1 << 21) + 1, 1 << 30]),
            st.integers(0, 3),
            st.sampled_from([0, 1, 2, (1 << 21) - 1, 1 << 21, (1 << 40) + 3]),
            st.integers(-5, 5) | st.sampled_from([-(1 << 62), 1 << 62, 123_456_789_012]),
        ),
        max_size=60,
    ),
    presort=st.booleans(),
    time_sorted=st.booleans(),
)
def test_pair_place_time_order_is_the_four_key_lexsort(rows, presort, time_sorted):
    """The radix order of meetings and events equals np.lexsort((t, place, b, a)) exactly (ties
    in input order): time-sorted input (a bucket's meetings), shuffled input, times far apart,
    codes that fit 64 bits together and codes that do not (the lexsort itself)."""
    from sightgraph.analytics.contacts._common import pair_place_time_order

    arr = np.array(rows, dtype=np.int64).reshape(-1, 4)
    if presort:
        arr = arr[np.argsort(arr[:, 3], kind="stable")]
    a, b, place, t = (arr[:, i].copy() for i in range(4))
    got = pair_place_time_order(
        a.astype(np.int32), b.astype(np.int32), place, t, time_sorted=time_sorted
    )
    assert np.array_equal(got, np.lexsort((t, place, b, a)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 49), max_size=120), st.booleans())
def test_take_is_fancy_indexing(rows: list[int], wide: bool) -> None:
    from sightgraph.analytics.contacts._common import take

    col = np.arange(50, dtype=np.float64) * 1.5
    idx = np.array(rows, np.int64 if wide else np.int32)
    assert np.array_equal(take(col, idx), col[idx])
    assert np.array_equal(take(col.astype(np.int32), idx), col.astype(np.int32)[idx])
    room = np.full(len(idx) + 3, -1.0)  # into part of a kept buffer: the rest untouched
    assert take(col, idx, out=room[: len(idx)]) is not None
    assert np.array_equal(room[: len(idx)], col[idx]) and (room[len(idx) :] == -1).all()
    with pytest.raises(ValueError, match="take: out must be"):
        take(col, idx, out=np.empty(len(idx) + 1))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 4),  # meetings of the pair
            st.lists(
                st.tuples(
                    st.integers(0, 3),  # place
                    st.integers(0, 6),  # day
                    st.integers(1, 9),  # events
                    st.integers(0, 3),  # confidences known
                    st.sampled_from([np.nan, 0.0, 0.25, 1.0]) | st.floats(0, 3),  # their sum
                    st.floats(0, 90),  # lag (s)
                    st.integers(2, 300),  # busyness
                    st.floats(0, 5) | st.sampled_from([0.0, 1e-300]),  # slot's expectation
                    st.integers(1, 4),  # r
                    st.floats(0, 1),  # rho
                    st.integers(0, 7200),  # duration (s)
                ),
                min_size=4,
                max_size=4,
            ),
        ),
        max_size=40,
    ),
    st.sampled_from([0.0, 20e6, 60e6, 120e6]),  # proximity span (0: no window)
)
def test_pair_totals_are_the_numpy_formulas_and_bincount_sums(pairs, span) -> None:
    """The scoring's one-pass per-pair totals equal NumPy's element-wise form of the package
    docstring's per-meeting quantities (:func:`_crowd_share`, :func:`_novelty`,
    :func:`_proximity`, :func:`_meeting_weight`, ...) summed with ``np.bincount``, ``reduceat``
    and the sets of days and places, bit for bit: the same floats, summed in meeting order."""
    from sightgraph.analytics.contacts import score as sc

    rows = [row for k, ms in pairs for row in sorted(ms[:k], key=lambda r: r[0])]  # by place
    counts = np.array([k for k, _ in pairs], np.int64)
    p_start = np.cumsum(counts) - counts
    p_end = p_start + counts
    idx = np.repeat(np.arange(len(pairs)), counts)
    arr = np.array(rows, np.float64).reshape(-1, 11)
    place, day, n = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]
    conf_n, conf_sum, lag = arr[:, 3].astype(np.int64), arr[:, 4], arr[:, 5] * 1e6
    busy, slot, r, rho = arr[:, 6], arr[:, 7], arr[:, 8].astype(np.int64), arr[:, 9]
    start = (day * 86_400 + place * 7).astype(np.int64) * 10**6
    end = start + arr[:, 10].astype(np.int64) * 10**6
    beta = sc._busyness_weight(busy)
    window_us = int(span) if span else 0
    got = sc._pair_totals(
        p_start, p_end, place, day, 7, start, end, n.astype(np.int64), conf_sum, conf_n, lag,
        busy, beta, slot, r, rho, sc._proximity_span(window_us), 30.0,
    )  # fmt: skip
    n_days, n_places, n_events, first, last, conf_pair, conf_known, sums = got
    # NumPy's form (what _score_meetings computed before the pass was compiled)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(conf_n > 0, conf_sum / np.maximum(conf_n, 1), np.nan)
    c = np.where(np.isnan(conf), 1.0, conf)
    rr = r.astype(np.float64)
    routine = np.minimum(1.0, slot / rr)
    kappa = sc._crowd_share(busy)
    u = sc._novelty(rr, routine * kappa)
    contrib = sc._meeting_weight(n, c, sc._proximity(lag, window_us)) * beta * u
    exposure = np.maximum((end - start) / 1e6, 30.0)
    per_meeting = [routine * (1.0 - kappa), contrib, exposure, rho, u, busy]
    assert len(per_meeting) == len(sc.MEETING_SUMS)
    m = len(pairs)
    for j, x in enumerate(per_meeting):
        assert np.array_equal(sums[j], np.bincount(idx, weights=x, minlength=m)), sc.MEETING_SUMS[j]
    assert np.array_equal(n_events, np.bincount(idx, weights=n, minlength=m).astype(np.int64))
    known = ~np.isnan(conf)
    assert np.array_equal(
        conf_pair, np.bincount(idx, weights=np.where(known, conf, 0.0), minlength=m)
    )
    assert np.array_equal(conf_known, np.bincount(idx, weights=known.astype(float), minlength=m))
    for k in range(m):
        sl = slice(p_start[k], p_end[k])
        assert first[k] == start[sl].min() and last[k] == end[sl].max()
        assert n_days[k] == len(set(day[sl])) and n_places[k] == len(set(place[sl]))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=12), st.booleans(), st.integers(0, 2**31 - 1))
def test_bucket_columns_put_each_field_in_the_table_order(tmp_path_factory, sizes, files, seed):
    """Each column of the scored pairs (a spilled field, or one derived from several) is the
    buckets' values (arrays of a small job, or .npy files of a large one, some empty, counts
    int32 in one bucket and int64 in another) in the table's order; a field's files go once
    no column needs them."""
    from sightgraph.analytics.contacts.job import _DERIVED_FROM, _SPILLED_FIELDS, _BucketColumns
    from sightgraph.analytics.contacts.score import DERIVED_FIELDS, _derived_columns

    assert sorted(_DERIVED_FROM) == sorted(DERIVED_FIELDS)
    rng = np.random.default_rng(seed)
    held = []
    for q, k in enumerate(sizes):
        cols = {f: rng.random(k) for f in _SPILLED_FIELDS}
        for f in ("meetings", "days", "days_a", "days_b", "days_both"):
            cols[f] = rng.integers(0, 9, k).astype(np.int32 if q % 2 else np.int64)
        held.append(cols)
    offsets = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    n = int(offsets[-1])
    order = rng.permutation(n).astype(np.int32)
    spill = tmp_path_factory.mktemp("spill")
    dirs = [f"s{q}" for q in range(len(sizes))]
    if files:
        for d, cols in zip(dirs, held, strict=True):
            (spill / d).mkdir()
            for f, v in cols.items():
                np.save(spill / d / f"{f}.npy", v)
    buckets = _BucketColumns(str(spill), dirs, None if files else held, offsets, order)
    whole = {f: np.concatenate([h[f] for h in held]) if held else np.empty(0)
             for f in _SPILLED_FIELDS}  # fmt: skip
    whole |= _derived_columns(*(whole[f] for f in ("meetings", "expected", "days", "days_a",
                                                   "days_b", "days_both")))  # fmt: skip
    for f in [*DERIVED_FIELDS, *_SPILLED_FIELDS]:
        got = buckets.ordered(f)
        assert np.array_equal(got, whole[f][order], equal_nan=True), f
        if len(sizes) and f in ("meetings", "days_a"):  # int32 and int64 buckets: int64
            assert got.dtype == np.int64
        if files and len(sizes) and f in _SPILLED_FIELDS:  # (the derived ones came first)
            assert not (spill / dirs[0] / f"{f}.npy").exists()  # its files went with its last use
    if files:
        assert all(not any((spill / d).iterdir()) for d in dirs)


def test_busyness_table_and_search_give_the_same_table(monkeypatch) -> None:
    """Each meeting's busyness comes from a dense (camera, period) table when it is small
    enough, else from a binary search of the sorted keys: the same contacts either way, with
    the lake's busyness or one passed in (a camera it does not know and a period before the
    sightings' first included)."""
    from sightgraph.analytics.contacts import context as context_module

    s = friends_and_strangers(commuters=12, weekdays=5)
    ev = find_colocations(s, window_s=60, events=True)
    m = build_meetings(ev, gap_s=900)
    busy = camera_busyness(s)
    extra = busy.iloc[:2].copy()
    extra["camera_id"] = ["nowhere", busy["camera_id"].iloc[0]]
    extra["period_start"] = busy["period_start"].min() - pd.Timedelta(hours=5)
    busy = pd.concat([busy, extra], ignore_index=True)
    for busyness in (None, busy):
        table = score_contacts(m, busyness, s, window_s=60, gap_s=900)
        assert table["mean_busyness"].gt(2).any()
        with monkeypatch.context() as patch:
            patch.setattr(context_module, "BUSY_TABLE_CELLS", 0)
            search = score_contacts(m, busyness, s, window_s=60, gap_s=900)
        pd.testing.assert_frame_equal(table, search, check_exact=True)


def test_days_as_bits_give_the_merged_day_lists(monkeypatch) -> None:
    """With at most 64 days the day-swap kernel counts the days each subject was seen (per
    stratum: weekdays, weekend) from bit masks; beyond, it merges the sorted day lists. Both
    give the same table (the lists forced here)."""
    from sightgraph.analytics.contacts import context as context_module

    s = friends_and_strangers(commuters=12, weekdays=10)
    day = s["ts"].dt.floor("D")
    rng = np.random.default_rng(3)
    absent = {k: rng.random() < 0.3 for k in set(zip(s["pid"], day, strict=True))}
    s = s[[not absent[k] for k in zip(s["pid"], day, strict=True)]].reset_index(drop=True)
    bits = _contacts(s)
    assert (bits["days_both"] < bits["days_a"]).any() and (bits["days_a"] != bits["days_b"]).any()
    empty = np.empty(0, np.uint64)
    monkeypatch.setattr(context_module, "_day_masks", lambda *args: (empty, empty))
    lists = _contacts(s)
    pd.testing.assert_frame_equal(bits, lists, check_exact=True)


def test_prefetch_is_only_a_hint() -> None:
    """``_prefetch`` compiles for the kernels' array types and changes nothing: a compiled sum
    that prefetches ahead (also past the array's end, as a kernel may near its last pair, and
    into a 2-D array by flat index) equals NumPy's."""
    import numba

    from sightgraph.analytics.contacts._common import _prefetch

    @numba.njit
    def summed(x, ahead):
        flat = x.ravel()
        total = flat.dtype.type(0)
        for i in range(len(flat)):
            _prefetch(x, i + ahead)
            total += flat[i]
        return total

    rng = np.random.default_rng(0)
    for x in (
        rng.integers(0, 1000, 1000).astype(np.int64),
        rng.integers(0, 1000, (300, 2)).astype(np.int64),
        rng.integers(0, 2**40, 64).astype(np.uint64),
        rng.random(77),
    ):
        for ahead in (0, 3, 16, 10_000):
            assert summed(x, ahead) == pytest.approx(x.sum(), rel=1e-12)
