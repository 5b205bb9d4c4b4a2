"""Brute-force oracles and hand-built scenarios for the contacts tests.

The oracles read DESIGN §4 and the null model of :mod:`sightgraph.analytics.contacts` literally
(plain Python loops over rows and over pairs of days); nothing is shared with the implementation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sightgraph.schema import SIGHTINGS_ARROW

DAY = pd.Timedelta(days=1)
MONDAY = pd.Timestamp("2026-03-02", tz="UTC")  # a Monday


def us(ts: pd.Series) -> np.ndarray:
    return ((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)).to_numpy(np.int64)


def oracle_meetings(events: pd.DataFrame, gap_s: float) -> list[tuple]:
    """(pid_a, pid_b, place, start_us, end_us, n_events, mean conf product, mean lag s) per
    meeting."""
    g = int(round(gap_s * 1_000_000))
    groups: dict[tuple, list[tuple[int, int, float]]] = {}
    ta, tb = us(events["ts_a"]), us(events["ts_b"])
    for i, r in enumerate(events.itertuples(index=False)):
        a, b = sorted([r.pid_a, r.pid_b])
        place = min(r.camera_a, r.camera_b)
        conf = r.confidence_a * r.confidence_b if "confidence_a" in events.columns else np.nan
        groups.setdefault((a, b, place), []).append((min(ta[i], tb[i]), max(ta[i], tb[i]), conf))
    out = []
    for (a, b, place), evs in groups.items():
        evs.sort(key=lambda e: e[0])
        cur = [evs[0]]
        for e in evs[1:]:
            if e[0] - cur[-1][0] < g:
                cur.append(e)
            else:
                out.append(_close(a, b, place, cur))
                cur = [e]
        out.append(_close(a, b, place, cur))
    return sorted(out)


def _close(a, b, place, cur) -> tuple:
    confs = [c for _, _, c in cur if not np.isnan(c)]
    return (
        a,
        b,
        place,
        cur[0][0],
        max(e[1] for e in cur),
        len(cur),
        round(float(np.mean(confs)), 9) if confs else None,
        round(float(np.mean([t1 - t0 for t0, t1, _ in cur])) / 1e6, 9),
    )


def _meetings_between(
    xa: list[tuple[str, int]], xb: list[tuple[str, int]], w: int, g: int
) -> list[tuple]:
    """Meetings of two subjects' sightings (camera, time of day us), R = 0: (place, start, end)."""
    evs: dict[str, list[tuple[int, int]]] = {}
    for ca, ta in xa:
        for cb, tb in xb:
            if ca == cb and abs(ta - tb) <= w:
                evs.setdefault(ca, []).append((min(ta, tb), max(ta, tb)))
    out = []
    for place, lst in evs.items():
        lst.sort()
        s, e, prev = lst[0][0], lst[0][1], lst[0][0]
        for t0, t1 in lst[1:]:
            if t0 - prev < g:
                e = max(e, t1)
            else:
                out.append((place, s, e))
                s, e = t0, t1
            prev = t0
        out.append((place, s, e))
    return out


def oracle_null(
    sightings: pd.DataFrame,
    pid_a: str,
    pid_b: str,
    meetings: pd.DataFrame,
    window_s: float,
    gap_s: float,
    weekpart: bool = True,
) -> tuple[float, list[float]]:
    """Expected meetings under the day-swap null and rho of each of the pair's meetings.

    Replays every ordered pair of distinct days (A's day d, B's day d', same stratum) on one date.
    """
    w, g = int(round(window_s * 1e6)), int(round(gap_s * 1e6))
    t = us(sightings["ts"])
    day = t // 86_400_000_000
    tod = t - day * 86_400_000_000

    def stratum(d: int) -> int:
        return int(((d + 3) % 7) >= 5) if weekpart else 0

    by_day: dict[str, dict[int, list[tuple[str, int]]]] = {pid_a: {}, pid_b: {}}
    for p, c, d, x in zip(sightings["pid"], sightings["camera_id"], day, tod, strict=True):
        if p in by_day:
            by_day[p].setdefault(int(d), []).append((c, int(x)))
    swapped: dict[int, list[tuple]] = {}
    combos: dict[int, int] = {}
    both: dict[int, int] = {}
    for da, xa in by_day[pid_a].items():
        for db, xb in by_day[pid_b].items():
            if stratum(da) != stratum(db):
                continue
            if da == db:
                both[stratum(da)] = both.get(stratum(da), 0) + 1
                continue
            combos[stratum(da)] = combos.get(stratum(da), 0) + 1
            for place, s, e in _meetings_between(xa, xb, w, g):
                swapped.setdefault(stratum(da), []).append((place, s, e, da, db))
    expected = 0.0
    for st, n in both.items():
        expected += n * (len(swapped.get(st, [])) + 0.5) / (combos.get(st, 0) + 1)
    rhos = []
    mine = meetings[(meetings["pid_a"] == pid_a) & (meetings["pid_b"] == pid_b)]
    for r in mine.itertuples():
        s0 = int(us(pd.Series([r.start_ts]))[0])
        e0 = int(us(pd.Series([r.end_ts]))[0])
        d = s0 // 86_400_000_000
        s_tod = s0 - d * 86_400_000_000
        e_tod = s_tod + (e0 - s0)
        st = stratum(int(d))
        hit = {
            (da, db)
            for place, s, e, da, db in swapped.get(st, [])
            if place == r.camera_id and s <= e_tod + g and e >= s_tod - g
        }
        rhos.append((len(hit) + 0.5) / (combos.get(st, 0) + 1))
    return expected, rhos


def write_lake(lake: Path, sightings: pd.DataFrame) -> Path:
    """A minimal lake: LAKE/sightings/date=YYYY-MM-DD/part-0.parquet (hive, UTC dates)."""
    s = sightings.copy()
    if "sighting_id" not in s.columns:
        s["sighting_id"] = np.arange(len(s), dtype=np.int64)
    if "confidence" not in s.columns:
        s["confidence"] = 1.0
    s["ts"] = s["ts"].astype("datetime64[us, UTC]")
    dates = s["ts"].dt.strftime("%Y-%m-%d")
    for date, part in s.groupby(dates):
        folder = lake / "sightings" / f"date={date}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(
            part[list(SIGHTINGS_ARROW.names)], schema=SIGHTINGS_ARROW, preserve_index=False
        )
        pq.write_table(table, folder / "part-0.parquet")
    return lake


def friends_and_strangers(commuters: int = 40, weekdays: int = 10) -> pd.DataFrame:
    """The issue's scenario, by hand.

    Two routine strangers ``s1``, ``s2`` pass the hub ``hub`` within seconds of each other at
    08:12 and at 17:42 every weekday (two weeks), among ``commuters`` other commuters who pass it
    between 07:30 and 08:50 and between 17:00 and 18:20. Two friends ``f1``, ``f2`` meet on four
    evenings, each time at a different bar (``bar1``..``bar4``), and are seen together twice
    there (10 minutes apart). Everyone is also seen at home (their own camera) every morning.

    Expected: the raw event count ranks the strangers first (20 events against 8), the contact
    score ranks the friends first, with q < 0.05 for the friends and q > 0.05 for the
    strangers.
    """
    rows = []
    rng = np.random.default_rng(7)
    days = [MONDAY + DAY * d for d in range(14) if (d % 7) < 5][:weekdays]
    people = ["s1", "s2", "f1", "f2"] + [f"c{i:02d}" for i in range(commuters)]
    for day in days:
        for p in people:
            rows.append(
                (p, f"home_{p}", day + pd.Timedelta(hours=6, minutes=int(rng.integers(0, 50))))
            )
        for train in (pd.Timedelta(hours=8, minutes=12), pd.Timedelta(hours=17, minutes=42)):
            for p in ("s1", "s2"):
                rows.append(
                    (p, "hub", day + train + pd.Timedelta(seconds=int(rng.integers(0, 20))))
                )
        for i in range(commuters):
            for start in (450, 1020):
                t = pd.Timedelta(
                    minutes=start + int(rng.integers(0, 80)), seconds=int(rng.integers(0, 60))
                )
                rows.append((f"c{i:02d}", "hub", day + t))
    for k, d in enumerate(sorted(set(np.linspace(1, weekdays - 1, 4).astype(int).tolist()))):
        day = days[d]
        for j in range(2):
            for p in ("f1", "f2"):
                rows.append(
                    (
                        p,
                        f"bar{k + 1}",
                        day
                        + pd.Timedelta(hours=20, minutes=10 * j, seconds=int(rng.integers(0, 30))),
                    )
                )
    s = pd.DataFrame(rows, columns=["pid", "camera_id", "ts"])
    s["ts"] = s["ts"].astype("datetime64[us, UTC]")
    s["sighting_id"] = np.arange(len(s), dtype=np.int64)
    s["confidence"] = 0.9
    return s


def oracle_time_shift_null(
    sightings: pd.DataFrame,
    pid_a: str,
    pid_b: str,
    meetings: pd.DataFrame,
    window_s: float,
    gap_s: float,
    offsets_s: list[float],
) -> tuple[float, list[float]]:
    """Expected meetings under the time-shift null and rho of each of the pair's meetings.

    Replays B's sightings shifted by every offset against A's (absolute times, R = 0).
    """
    w, g = int(round(window_s * 1e6)), int(round(gap_s * 1e6))
    t = us(sightings["ts"])
    own: dict[str, list[tuple[str, int]]] = {pid_a: [], pid_b: []}
    for p, c, x in zip(sightings["pid"], sightings["camera_id"], t, strict=True):
        if p in own:
            own[p].append((c, int(x)))
    shifted: list[tuple] = []
    for k, off in enumerate(offsets_s):
        d = int(round(off * 1e6))
        xb = [(c, x + d) for c, x in own[pid_b]]
        shifted += [(place, s, e, k) for place, s, e in _meetings_between(own[pid_a], xb, w, g)]
    expected = (len(shifted) + 0.5) / (len(offsets_s) + 1)
    rhos = []
    mine = meetings[(meetings["pid_a"] == pid_a) & (meetings["pid_b"] == pid_b)]
    for r in mine.itertuples():
        s0 = int(us(pd.Series([r.start_ts]))[0])
        e0 = int(us(pd.Series([r.end_ts]))[0])
        hit = {
            k for place, s, e, k in shifted if place == r.camera_id and s <= e0 + g and e >= s0 - g
        }
        rhos.append((len(hit) + 0.5) / (len(offsets_s) + 1))
    return expected, rhos
