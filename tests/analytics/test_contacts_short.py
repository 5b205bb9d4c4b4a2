"""Contacts on short sessions: the time-shift null (oracle and properties), the automatic
choice of the null, co-movement against standing together, and the exposure ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sightgraph.analytics.colocation import find_colocations
from sightgraph.analytics.contacts import build_meetings, score_contacts
from sightgraph.analytics.contacts.context import (
    AUTO_MIN_DAYS,
    choose_null,
    clock_tick_us,
    default_shift_us,
)
from sightgraph.analytics.contacts.nulls.time_shift import shift_offsets
from sightgraph.errors import UsageError

from .contacts_oracle import DAY, oracle_time_shift_null

T0 = pd.Timestamp("2026-03-02 10:00:00", tz="UTC")
S = pd.Timedelta(seconds=1)


def _sightings(rows: list[tuple[str, str, pd.Timestamp]]) -> pd.DataFrame:
    s = pd.DataFrame(rows, columns=["pid", "camera_id", "ts"])
    s["ts"] = s["ts"].astype("datetime64[us, UTC]")
    s["sighting_id"] = np.arange(len(s), dtype=np.int64)
    return s


def _contacts(s: pd.DataFrame, window_s: float = 2, gap_s: float = 5, **kw) -> pd.DataFrame:
    m = build_meetings(find_colocations(s, window_s=window_s, events=True), gap_s=gap_s)
    return score_contacts(m, None, s, window_s=window_s, gap_s=gap_s, strata="none", **kw)


def _row(c: pd.DataFrame, a: str, b: str) -> pd.Series:
    r = c[(c["pid_a"] == a) & (c["pid_b"] == b)]
    assert len(r) == 1, f"pair {a} {b} not in the table"
    return r.iloc[0]


def test_shift_offsets():
    assert shift_offsets(4, 3).tolist() == [-12, -8, -4, 4, 8, 12]


def test_default_shift_is_longer_than_the_meeting_scale():
    """The default step is max(G, 2 W, 1 s): the table equals the one with that step given."""
    us = 1_000_000
    assert default_shift_us(2 * us, 5 * us) == 5 * us  # G (Zara: W = 2 s, G = 5 s)
    assert default_shift_us(20 * us, 5 * us) == 40 * us  # 2 W
    assert default_shift_us(0, 0) == us
    rows = []
    for i in range(0, 16, 2):  # 16 s together: offsets of 4, 8, 12 s still meet, 21 s not
        rows += [("A", "X", T0 + i * S), ("B", "X", T0 + (i + 1) * S)]
    rows += _walk("A", ["c1", "c2", "c3"], T0 + 60 * S) + _walk(
        "B", ["c1", "c2", "c3"], T0 + 61 * S
    )
    s = _sightings(rows)
    default = _contacts(s, window_s=2, gap_s=7, null="time-shift")
    given_step = _contacts(s, window_s=2, gap_s=7, null="time-shift", shift_s=7)
    other_step = _contacts(s, window_s=2, gap_s=7, null="time-shift", shift_s=4)
    pd.testing.assert_frame_equal(default, given_step)
    assert (default["null_expected"] != other_step["null_expected"]).any()


shifted_rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from(["X", "Y", "Z"]),
        st.integers(0, 90),  # seconds after 10:00
    ),
    min_size=2,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=shifted_rows, shift=st.sampled_from([3.0, 4.0, 10.0]), k=st.integers(1, 4))
def test_time_shift_null_matches_brute_force(rows, shift, k):
    """``null_expected`` and ``routine_share`` (mean rho) equal a literal replay of B shifted by
    every offset +-j * shift (j = 1..k)."""
    s = _sightings([(p, c, T0 + x * S) for p, c, x in rows])
    m = build_meetings(find_colocations(s, window_s=2, events=True), gap_s=5)
    c = score_contacts(
        m, None, s, window_s=2, gap_s=5, null="time-shift", shift_s=shift, shifts=k, strata="none"
    )
    assert c.attrs["null"] == "time-shift"
    offsets = [j * shift for j in range(-k, k + 1) if j]
    for r in c.itertuples():
        exp, rhos = oracle_time_shift_null(s, r.pid_a, r.pid_b, m, 2, 5, offsets)
        assert r.null_expected == pytest.approx(exp)
        assert r.routine_share == pytest.approx(np.mean(rhos))
        assert r.meetings == len(rhos)
        assert 0.0 <= r.p_value <= 1.0 and r.score >= 0.0
        assert r.expected <= r.null_expected + 1e-12


def test_time_shift_hand_computed():
    """A and B stand at X together for 20 s (sightings every 2 s, 1 s apart): one meeting. With
    offsets +-4 s and +-8 s every shifted replay still meets there (4 of 4), so
    null_expected = (4 + 1/2) / 5 and rho = (4 + 1/2) / 5: standing together is what a shift
    reproduces."""
    rows = []
    for i in range(0, 20, 2):
        rows += [("A", "X", T0 + i * S), ("B", "X", T0 + (i + 1) * S)]
    c = _contacts(_sightings(rows), null="time-shift", shift_s=4, shifts=2)
    r = _row(c, "A", "B")
    assert r["meetings"] == 1
    assert r["null_expected"] == pytest.approx(4.5 / 5)
    assert r["routine_share"] == pytest.approx(4.5 / 5)


def _walk(pid: str, cells: list[str], t0: pd.Timestamp, step_s: float = 2.0) -> list[tuple]:
    return [(pid, c, t0 + i * step_s * S) for i, c in enumerate(cells)]


def test_walking_together_beats_standing_together_and_exposure_ranks_the_other_way():
    """Co-movement is evidence, a long stay side by side is not (it survives a time shift):
    (g1, g2) walk through six cells together, 1 s apart; (s1, s2) stand in cell Q for two
    minutes; (p1, p2) cross paths once. The walking pair ranks first and is significant; by
    exposure (time together) the standing pair ranks first."""
    cells = [f"c{i}" for i in range(6)]
    rows = _walk("g1", cells, T0) + _walk("g2", cells, T0 + S)
    for i in range(0, 120, 2):
        rows += [("s1", "Q", T0 + i * S), ("s2", "Q", T0 + (i + 1) * S)]
    rows += _walk("p1", ["c3", "d1", "d2"], T0 + 60 * S) + _walk(
        "p2", ["e1", "c3", "e2"], T0 + 59 * S
    )
    s = _sightings(rows)
    c = _contacts(s)
    assert c.attrs["null"] == "time-shift"  # one session: auto picks the time shift
    walk, stand = _row(c, "g1", "g2"), _row(c, "s1", "s2")
    assert (walk["meetings"], walk["places"]) == (6, 6)
    assert stand["meetings"] == 1
    assert c.iloc[0][["pid_a", "pid_b"]].tolist() == ["g1", "g2"]
    assert walk["score"] > stand["score"]
    assert walk["p_value"] < 0.01 < stand["p_value"]
    by_exposure = _contacts(s, rank="exposure")
    assert by_exposure.iloc[0][["pid_a", "pid_b"]].tolist() == ["s1", "s2"]
    assert by_exposure["exposure_s"].is_monotonic_decreasing
    assert stand["exposure_s"] > walk["exposure_s"]
    # same pairs, same values, another order
    key = ["pid_a", "pid_b"]
    pd.testing.assert_frame_equal(
        c.sort_values(key).reset_index(drop=True),
        by_exposure.sort_values(key).reset_index(drop=True),
    )


def test_time_shift_null_buffers_that_start_tiny_give_the_same_values(monkeypatch):
    """The time-shift kernel's match buffers start at ``cap`` rows and double whenever a pair
    needs more (that pair is replayed again): starting at one row gives the same arrays (the
    standing pair alone has hundreds of shifted matches)."""
    from sightgraph.analytics.contacts import score as score_module
    from sightgraph.analytics.contacts.nulls.time_shift import _time_shift_null

    calls = []

    def capture(*args):
        calls.append(args)
        return _time_shift_null(*args)

    monkeypatch.setattr(score_module, "_time_shift_null", capture)
    rows = _walk("g1", [f"c{i}" for i in range(6)], T0) + _walk("g2", ["c0", "c1"], T0 + S)
    for i in range(0, 120, 2):
        rows += [("s1", "Q", T0 + i * S), ("s2", "Q", T0 + (i + 1) * S)]
    _contacts(_sightings(rows))
    (args,) = calls
    roomy = _time_shift_null(*args)
    tiny = _time_shift_null(*args, 1)
    assert (roomy[2] > roomy[1].min()).any()  # some meeting survives a shift
    for got, want in zip(tiny, roomy, strict=True):
        assert np.array_equal(got, want)


def test_auto_chooses_the_null_from_the_days_seen():
    assert choose_null("auto", np.array([1, 1, 2, 1]))[0] == "time-shift"
    assert choose_null("auto", np.array([AUTO_MIN_DAYS] * 3 + [1]))[0] == "day-swap"
    assert choose_null("auto", np.array([0, 0, 1, 2, 2]))[0] == "time-shift"  # unseen ignored
    assert choose_null("day-swap", np.array([1]))[0] == "day-swap"
    many = []
    for d in range(5):
        many += [("A", "X", T0 + d * DAY), ("B", "X", T0 + d * DAY + S)]
    c = _contacts(_sightings(many), window_s=60, gap_s=900)
    assert (
        c.attrs["null"] == "day-swap" and "median subject seen on 5 days" in c.attrs["null_reason"]
    )


def test_bad_null_rank_and_shift():
    s = _sightings([("a", "X", T0), ("b", "X", T0 + S)])
    m = build_meetings(find_colocations(s, window_s=2, events=True))
    with pytest.raises(UsageError, match="null must be one of"):
        score_contacts(m, None, s, null="permute")
    with pytest.raises(UsageError, match="rank must be one of"):
        score_contacts(m, None, s, rank="events")
    with pytest.raises(UsageError, match="shift"):
        score_contacts(m, None, s, shift_s=0)
    with pytest.raises(UsageError, match="shifts"):
        score_contacts(m, None, s, shifts=0)


def test_a_coarse_clock_keeps_one_tick_apart_as_evidence():
    """Badges that report every 20 s with W = 20 s: (a, b) walk through eight cells, b always
    one tick (20 s = W) after a: significant (no shifted replay meets). A crowd of 12 stands at
    Q for ten minutes (explained: every shift still meets, and the crowd shares the slot). On a
    clock this coarse the proximity weight reaches 0 at W + tick, so one tick apart weighs 1/2
    and (a, b) ranks first: no pair with q >= 0.5 above a significant one. On a 1-s clock the
    same lags are a whole window (weight 0, score v4): (a, b) then sits below them."""
    rows = []
    for i in range(8):
        rows += [("a", f"c{i}", T0 + 60 * i * S), ("b", f"c{i}", T0 + (60 * i + 20) * S)]
    for k in range(30):  # ten minutes at Q, one report each per tick
        rows += [(f"s{j:02d}", "Q", T0 + 20 * k * S) for j in range(12)]

    def first_significant_below_explained(c: pd.DataFrame) -> bool:
        q = c["q_value"].to_numpy()
        last = np.flatnonzero(q < 0.05)[-1]
        return bool((q[:last] >= 0.5).any())

    coarse = _contacts(_sightings(rows), window_s=20, gap_s=120)
    walk = _row(coarse, "a", "b")
    assert (walk["meetings"], walk["places"]) == (8, 8) and walk["q_value"] < 0.05
    assert (coarse["q_value"] >= 0.5).sum() == 66 and (coarse["score"] > 0).all()
    assert coarse.iloc[0][["pid_a", "pid_b"]].tolist() == ["a", "b"]
    assert not first_significant_below_explained(coarse)
    # the same scene on a 1-s clock (one report a second off the grid)
    fine = _contacts(_sightings(rows + [("s00", "Q", T0 + 1 * S)]), window_s=20, gap_s=120)
    assert _row(fine, "a", "b")["evidence"] == 0.0 and _row(fine, "a", "b")["q_value"] < 0.05
    assert first_significant_below_explained(fine)


def test_clock_tick():
    """The clock's resolution is the gcd of the times (0 below the threshold asked about, or
    when every time is equal), read in chunks (1M times with a 20 s grid and one stray)."""
    us = 1_000_000
    grid = np.arange(0, 3_000_000, 3, dtype=np.int64) * 20 * us + 7
    assert clock_tick_us(grid) == 60 * us
    assert clock_tick_us(grid, at_least=10 * us) == 60 * us
    stray = np.append(grid, grid[-1] + us)
    assert clock_tick_us(stray) == us and clock_tick_us(stray, at_least=10 * us) == 0
    assert clock_tick_us(np.array([5, 5], np.int64)) == 0
    assert clock_tick_us(np.array([], np.int64)) == 0
