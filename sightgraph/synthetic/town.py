"""A second synthetic town with planted truth, built on different assumptions from ``city``.

The point of this module is evaluation on data the ranking was *not* tuned on: it was written
independently of the first generator and deliberately makes other modelling choices.

The model
=========

Space
    A 2-D plane (km) with ``K ~ persons/250`` neighbourhoods scattered in a disc whose radius grows
    with ``sqrt(persons)``; neighbourhood 0 is the centre.  Each neighbourhood has residential
    blocks, one bus/tram stop and one arterial street; shops, cafés, parks, offices, schools, gyms
    and community halls are scattered around neighbourhood centres (offices pulled towards the
    centre).  A railway station near the centre links to jobs outside the map (25% of full-time
    workers commute out of town, mostly by train).  Popularity within a kind is Zipf-like
    (``1/rank``).  Places are *not* all watched: a place gets a camera with a kind-specific
    probability that also falls with distance from the centre (uneven coverage); schools, stops and
    the station are (almost) always covered, home streets in the outskirts rarely.
Choice of places
    Gravity model: ``P(place) ∝ attractiveness · exp(-distance / d0)`` with its own ``d0`` for jobs
    (62% of jobs in offices, 20% shops, 8% cafés, 7% schools, 3% gyms), lunch and leisure.  Leisure follows an exploration / preferential-return process in the spirit
    of Song et al. (2010): everyone starts with 1-6 favourite places with heterogeneous weights; each
    trip explores a new place (gravity from home) with probability ``rho · S^-gamma`` (``S`` = places
    known so far, rho=0.6, gamma=0.21) and otherwise returns to a known place in proportion to past
    visits.  Evening outings go to cafés/bars by gravity.  There are no fixed leisure schedules.
Time
    Continuous time in local clock (Europe/Berlin), stored as UTC.  Leisure trips are arrivals of an
    inhomogeneous Poisson process with person-specific rate and daily/weekly profiles (different for
    weekdays, weekends and night-shift workers); dwell times are log-normal per place kind.  Jobs:
    full-time (workplace-specific opening time, most arrive a few minutes before, 30% flexible),
    part-time (three fixed weekdays, morning or afternoon), night shifts (about 4 nights a week,
    22:00-06:30), shop/café staff (Mon-Sat with one weekday off); 4% daily absence.  Children: pupils
    are walked or driven to the nearest primary school by one parent (the same one every day) and
    sometimes picked up; secondary students travel alone.  Conflicts between activities are resolved
    by priority (work/school > classes/clubs > meetings > solo leisure).  Everybody is at home
    (unobserved) between activities.
Travel
    Walk inside a neighbourhood or below a personal walking threshold, else car (car owners) or
    transit.  Car/walk legs across neighbourhoods pass the arterial-street cameras of both
    neighbourhoods; legs from/to a home pass that block's street camera.  Transit follows a
    timetable (each stop has a fixed headway of 10-30 min and an offset): a traveller plans
    backwards from the wanted arrival, catches the latest service that makes it, waits at the stop a
    personal habitual time (1-6 min) and is seen while waiting (after an activity 70% time their walk
    to the timetable, the others wait for the next service); alighting is seen at the destination
    stop.  Trips out of town go by bike/feeder to the station and by train (every 20-30 min).  Hence
    commuters with stable habits take the *same bus or train at the same stop on most weekdays*.
Observation
    Cameras sample a present subject as a Poisson process with a per-camera detection probability:
    ``pass`` cameras (home street, arterial street) see a passer-by at most once; ``door`` cameras
    (office, hall, school gate) only see the first and last 30-90 s of a stay; ``area`` cameras
    (shop, café, park, stop, station, gym studio) sample all along a stay at a kind-specific rate
    (capped at 12 sightings per stay).  Cameras go offline (about 0.3 outages per camera-week, log-normal
    length, median 5 h, up to 3 days).  Recognition noise: a camera-specific share (about 3%) of
    sightings is a false match attributed to someone else - half the time a regular of the same
    camera, 30% one of the true subject's three look-alikes, 20% anyone.  Confidence is
    Beta-distributed, high for correct matches (scaled by camera quality) and around 0.45 for false
    ones, so it is informative but overlapping.
Ties (planted truth, ``ties``)
    * ``partners``: couples share a home and go out together (joint trips leave home at the same
      second, take the same route and pass the same cameras).
    * ``family``: parent-child and siblings in a household (school runs, weekend family outings) and
      relatives in *other* households who meet 1-4 times (a third of the visits at the host's home,
      where only the visitor passes a street camera).
    * ``carpool``: 2-3 office workers from the same neighbourhood, colleagues at the same office,
      who drive together on ~85% of workdays (same arrival, same route cameras).
    * ``colleagues-close``: lunch groups of 2-3 colleagues going out together at varying places on a
      group-specific share of days.
    * ``club``: 4-12 members meeting weekly at a fixed hall and hour; after some sessions a subset
      goes for a drink together.  A routine slot shared by few people - evidence of a tie.
    * ``friends``: most are weak (2-4 meetings in two weeks), some strong.
    Strength is heterogeneous by construction; ``n_planned`` counts planned joint events (-1 for
    co-residents, who are together every day).
Routine strangers (``strangers``)
    Non-tied pairs that share a busy routine slot on at least half of the slot's days (and at least
    twice): the same boarding (stop or station, service) on weekday mornings, arriving at the same
    school gate within 90 s in the morning (parents dropping off, pupils, students), or the same gym
    class session (classes of about 10-40 members, once or twice a week).  They do nothing else
    together on purpose, but being neighbours or schoolmates they also meet by chance.  Only slots
    with a camera are listed.  At most ``strangers_max`` (20,000) pairs are kept, sampled uniformly
    within a venue with the quota balanced across venues; ``params`` records the totals.
Chance co-presence (unlabelled)
    Customers and staff of the same shop, café or park, neighbours passing the same street camera,
    colleagues entering the same office door, commuters alighting together.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Town", "generate_town", "read_town_truth", "write_town"]

MIN = 60.0
HOUR = 3600.0
DAY = 86400.0

# place kinds (the camera kind is the place kind)
(
    K_BLOCK,
    K_SHOP,
    K_CAFE,
    K_PARK,
    K_OFFICE,
    K_SCHOOL,
    K_GYM,
    K_HALL,
    K_STOP,
    K_STREET,
    K_AWAY,
) = range(11)
KIND_NAMES = (
    "home_street",
    "shop",
    "cafe",
    "park",
    "office",
    "school",
    "gym",
    "hall",
    "stop",
    "street",
    "away",
)
# roles
R_DAY, R_PART, R_NIGHT, R_HOME, R_PUPIL, R_STUDENT = range(6)
ROLE_NAMES = ("day", "part", "night", "home", "pupil", "student")
# travel modes
WALK, CAR, TRANSIT = 0, 1, 2
MODE_NAMES = ("walk", "car", "transit")
# camera observation modes
CM_PASS, CM_DOOR, CM_AREA = 0, 1, 2
CM_NAMES = ("pass", "door", "area")
# activity tags
(
    T_WORK,
    T_SCHOOL,
    T_DROP,
    T_PICK,
    T_LUNCH,
    T_GYM,
    T_CLUB,
    T_DRINK,
    T_COUPLE,
    T_FAMILY,
    T_MEET,
    T_OUTING,
) = range(12)

WALK_V = 4.8 / HOUR  # km/s
CAR_V = 24.0 / HOUR
TRANSIT_V = 20.0 / HOUR
TRAIN_V = 60.0 / HOUR
FEEDER_V = 12.0 / HOUR  # bike or feeder bus to the station
ROAD_V = 70.0 / HOUR  # out of town by car
AWAY_KM = 30.0
DETOUR = 1.3
TZ = "Europe/Berlin"
LAT0, LON0 = 48.137, 11.575
STRANGERS_MAX = 20_000
MAX_PER_STAY = 12

# kind -> (coverage, coverage falls off outside the centre, camera mode, p_detect Beta(a, b),
#          sampling rate per minute while in the observed window, door edge window in seconds)
_CAM_CFG: dict[int, tuple[float, bool, int, tuple[float, float], float, float]] = {
    K_BLOCK: (0.6, True, CM_PASS, (6.0, 3.0), 0.0, 0.0),
    K_SHOP: (0.75, True, CM_AREA, (5.0, 3.0), 0.25, 0.0),
    K_CAFE: (0.55, True, CM_AREA, (5.0, 3.0), 0.10, 0.0),
    K_PARK: (0.6, True, CM_AREA, (4.0, 3.0), 0.06, 0.0),
    K_OFFICE: (0.6, True, CM_DOOR, (8.0, 2.0), 2.0, 30.0),
    K_SCHOOL: (1.0, False, CM_DOOR, (8.0, 2.0), 1.0, 90.0),
    K_GYM: (0.9, False, CM_AREA, (8.0, 2.0), 0.15, 0.0),
    K_HALL: (0.8, False, CM_DOOR, (7.0, 2.0), 1.5, 60.0),
    K_STOP: (0.95, False, CM_AREA, (6.0, 2.0), 1.0, 0.0),
    K_STREET: (0.9, True, CM_PASS, (6.0, 3.0), 0.0, 0.0),
    K_AWAY: (0.0, False, CM_PASS, (1.0, 1.0), 0.0, 0.0),
}

# log-normal dwell (median minutes, sigma) for leisure places
_DWELL = {K_SHOP: (15.0, 0.6), K_CAFE: (45.0, 0.5), K_PARK: (40.0, 0.6)}


@dataclass
class Town:
    """A generated town: observations, cameras and the planted truth."""

    sightings: pd.DataFrame
    cameras: pd.DataFrame
    ties: pd.DataFrame
    strangers: pd.DataFrame
    persons: pd.DataFrame
    params: dict[str, Any]
    outages: pd.DataFrame = field(default_factory=pd.DataFrame)


# --------------------------------------------------------------------------------------------
# small vectorised helpers


class _Gravity:
    """Sample destinations with P(j | origin i) ∝ attract_j · exp(-d_ij / d0), vectorised."""

    def __init__(
        self,
        ox: np.ndarray,
        oy: np.ndarray,
        dx: np.ndarray,
        dy: np.ndarray,
        attract: np.ndarray,
        d0: float,
    ) -> None:
        d = np.hypot(ox[:, None] - dx[None, :], oy[:, None] - dy[None, :])
        w = attract[None, :] * (np.exp(-d / d0) + 1e-9)
        c = np.cumsum(w, axis=1)
        c /= c[:, -1:]
        c[:, -1] = 1.0
        self.n = len(dx)
        self.flat = (c + np.arange(len(ox), dtype=np.float64)[:, None]).ravel()

    def sample(self, origin: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        o = np.asarray(origin, dtype=np.int64)
        pos = np.searchsorted(self.flat, o + rng.random(o.size), side="right")
        return np.clip(pos - o * self.n, 0, self.n - 1)


def _lognormal(rng: np.random.Generator, median: float, sigma: float, size: Any) -> np.ndarray:
    return rng.lognormal(math.log(median), sigma, size)


def _profile(
    bumps: list[tuple[float, float, float]], sleep: tuple[float, float] | None
) -> np.ndarray:
    """Density over 288 five-minute bins from Gaussian bumps (hour, sd, weight)."""
    h = (np.arange(288) + 0.5) / 12.0
    y = np.full(288, 0.002)
    for mu, sd, a in bumps:
        y += a * np.exp(-0.5 * ((h - mu) / sd) ** 2)
    if sleep is not None:
        lo, hi = sleep
        y[(h >= lo) & (h < hi)] *= 0.02
    return y / y.sum()


def _sample_tod(profiles: np.ndarray, which: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seconds of day drawn from the chosen profiles (rows of ``profiles``)."""
    c = np.cumsum(profiles, axis=1)
    c /= c[:, -1:]
    c[:, -1] = 1.0
    flat = (c + np.arange(len(profiles))[:, None]).ravel()
    w = np.asarray(which, dtype=np.int64)
    b = np.searchsorted(flat, w + rng.random(w.size), side="right") - w * 288
    b = np.clip(b, 0, 287)
    return (b + rng.random(w.size)) * 300.0


def _starts(*keys: np.ndarray) -> np.ndarray:
    """True where a run of equal keys (all given arrays) begins; works for empty input."""
    n = len(keys[0])
    out = np.zeros(n, bool)
    if n:
        out[0] = True
        for k in keys:
            out[1:] |= k[1:] != k[:-1]
    return out


def _ends(key: np.ndarray) -> np.ndarray:
    """True where a run of equal keys ends; works for empty input."""
    n = len(key)
    out = np.zeros(n, bool)
    if n:
        out[-1] = True
        out[:-1] |= key[1:] != key[:-1]
    return out


def _chunk_groups(
    keys: np.ndarray, members: np.ndarray, rng: np.random.Generator, sizes: tuple[int, ...]
) -> list[np.ndarray]:
    """Split members sharing a key into small random groups (sizes drawn from ``sizes``)."""
    out: list[np.ndarray] = []
    if len(members) == 0:
        return out
    order = np.lexsort((rng.random(len(members)), keys))
    k, m = keys[order], members[order]
    bounds = np.flatnonzero(np.r_[True, k[1:] != k[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        i = a
        while b - i >= 2:
            s = int(rng.choice(sizes))
            s = min(s, b - i)
            if b - i - s == 1:
                s = b - i if s + 1 <= max(sizes) else s - 1
            if s < 2:
                break
            out.append(m[i : i + s])
            i += s
    return out


def _pairs_in_groups(
    group: np.ndarray, t: np.ndarray | None, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) of rows in the same group (and within ``tol`` seconds if ``t``)."""
    order = np.lexsort((t,) + (group,)) if t is not None else np.argsort(group, kind="stable")
    g = group[order]
    tt = t[order] if t is not None else None
    ia: list[np.ndarray] = []
    ib: list[np.ndarray] = []
    k = 1
    while k < len(g):
        same = g[k:] == g[:-k]
        if tt is not None:
            same &= (tt[k:] - tt[:-k]) <= tol
        if not same.any():
            break
        ia.append(order[:-k][same])
        ib.append(order[k:][same])
        k += 1
    if not ia:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(ia), np.concatenate(ib)


def _greedy_nonoverlap(p: np.ndarray, s: np.ndarray, e: np.ndarray, margin: float) -> np.ndarray:
    """Keep a per-person non-overlapping subset (earlier first); returns a keep mask."""
    n = len(p)
    keep = np.ones(n, bool)
    if n == 0:
        return keep
    order = np.lexsort((s, p))
    for it in range(40):
        idx = order[keep[order]]
        pp, ss, ee = p[idx], s[idx], e[idx]
        same = np.r_[False, pp[1:] == pp[:-1]]
        prev_end = np.r_[-np.inf, ee[:-1]]
        bad = same & (ss < prev_end + margin)
        if not bad.any():
            break
        if it < 39:
            bad &= ~np.r_[False, bad[:-1]]  # drop only the first clash of a chain
        keep[idx[bad]] = False
    return keep


def _overlaps(
    kp: np.ndarray,
    ks: np.ndarray,
    ke: np.ndarray,
    cp: np.ndarray,
    cs: np.ndarray,
    ce: np.ndarray,
    margin: float,
    span: float,
) -> np.ndarray:
    """Candidates overlapping (with margin) any kept interval of the same person.

    Kept intervals must be non-overlapping per person.
    """
    if len(kp) == 0 or len(cp) == 0:
        return np.zeros(len(cp), bool)
    order = np.lexsort((ks, kp))
    kp, ks, ke = kp[order], ks[order], ke[order]
    # non-overlapping per person -> ends are sorted too; make it robust anyway
    key_k = kp * span + (ks + DAY)
    key_c = cp * span + (ce + margin + DAY)
    idx = np.searchsorted(key_k, key_c, side="left") - 1
    ok = idx >= 0
    idx = np.clip(idx, 0, None)
    return ok & (kp[idx] == cp) & (ke[idx] + margin > cs)


# --------------------------------------------------------------------------------------------
# the builder


class _Builder:
    def __init__(self, persons: int, days: int, seed: int, start: str) -> None:
        if persons < 20:
            raise ValueError("persons must be at least 20")
        if days < 1:
            raise ValueError("days must be at least 1")
        self.N = int(persons)
        self.D = int(days)
        self.seed = int(seed)
        self.start = pd.Timestamp(start).normalize()
        if self.start.tzinfo is not None:
            self.start = self.start.tz_localize(None)
        self.T = self.D * DAY
        names = [
            "pop",
            "geo",
            "people",
            "work",
            "school",
            "class",
            "social",
            "leisure",
            "obs",
            "truth",
        ]
        seqs = np.random.SeedSequence([self.seed, 0x70E4]).spawn(len(names))
        self.rngs = {n: np.random.default_rng(s) for n, s in zip(names, seqs, strict=True)}
        self.dow = (self.start.weekday() + np.arange(self.D)) % 7
        self.weekend = self.dow >= 5
        self.acts: list[dict[str, np.ndarray]] = []
        self.tie_a: list[np.ndarray] = []
        self.tie_b: list[np.ndarray] = []
        self.tie_kind: list[np.ndarray] = []
        self.tie_n: list[np.ndarray] = []
        self.strangers_by_venue = {"stop": 0, "school": 0, "gym": 0}

    # ---------------------------------------------------------------- households
    def households(self) -> None:
        rng = self.rngs["pop"]
        N = self.N
        s = rng.choice(np.arange(1, 6), size=N, p=[0.30, 0.32, 0.15, 0.16, 0.07])
        cum = np.cumsum(s)
        H = int(np.searchsorted(cum, N)) + 1
        s = s[:H].copy()
        s[-1] = N - (int(cum[H - 2]) if H > 1 else 0)
        self.H = H
        self.hh_size = s

    # ---------------------------------------------------------------- geography
    def geography(self) -> None:
        rng = self.rngs["geo"]
        N, H = self.N, self.H
        K = max(3, int(round(N / 250)))
        R = 1.6 * math.sqrt(N / 1500.0)
        xs_c, ys_c = [0.0], [0.0]
        min_d = 0.8 * R / math.sqrt(K)
        tries = 0
        while len(xs_c) < K:
            rad = R * math.sqrt(rng.random())
            phi = 2 * math.pi * rng.random()
            qx, qy = rad * math.cos(phi), rad * math.sin(phi)
            tries += 1
            near = min(math.hypot(qx - u, qy - v) for u, v in zip(xs_c, ys_c, strict=True))
            if near >= min_d or tries > 50_000:
                xs_c.append(qx)
                ys_c.append(qy)
        cx, cy = np.array(xs_c), np.array(ys_c)
        self.K, self.R = K, R
        nbw = rng.lognormal(0.0, 0.5, K)
        spread = R / math.sqrt(K) * rng.uniform(0.3, 0.45, K)
        dc = np.hypot(cx, cy)
        cover = np.clip(0.5 + 0.5 * np.exp(-dc / R) + rng.normal(0, 0.15, K), 0.15, 1.0)
        self.nb_cover = cover

        kinds: list[np.ndarray] = []
        nbs: list[np.ndarray] = []
        pxs: list[np.ndarray] = []
        pys: list[np.ndarray] = []
        attrs: list[np.ndarray] = []
        subs: list[np.ndarray] = []
        types: list[np.ndarray] = []

        def add(
            kind: int,
            nb: np.ndarray,
            x: np.ndarray,
            y: np.ndarray,
            a: np.ndarray,
            sub: np.ndarray | float = 0.0,
            typ: np.ndarray | int = 0,
        ) -> None:
            n = len(nb)
            kinds.append(np.full(n, kind, np.int8))
            nbs.append(nb.astype(np.int32))
            pxs.append(x)
            pys.append(y)
            attrs.append(a.astype(np.float64))
            subs.append(np.broadcast_to(np.asarray(sub, np.float64), (n,)).copy())
            types.append(np.broadcast_to(np.asarray(typ, np.int8), (n,)).copy())

        def scatter(n: int, w: np.ndarray, mult: float = 1.0) -> tuple[np.ndarray, ...]:
            nb = rng.choice(K, size=n, p=w / w.sum())
            x = cx[nb] + rng.normal(0, 1, n) * spread[nb] * mult
            y = cy[nb] + rng.normal(0, 1, n) * spread[nb] * mult
            return nb, x, y

        def zipf(n: int, s: float = 1.0) -> np.ndarray:
            return 1.0 / rng.permutation(np.arange(1, n + 1)).astype(np.float64) ** s

        # residential blocks (home streets): at least one per neighbourhood
        n_blocks = max(2 * K, math.ceil(H / 12))
        nb = np.r_[np.arange(K), rng.choice(K, size=n_blocks - K, p=nbw / nbw.sum())]
        x = cx[nb] + rng.normal(0, 1, n_blocks) * spread[nb]
        y = cy[nb] + rng.normal(0, 1, n_blocks) * spread[nb]
        add(K_BLOCK, nb, x, y, rng.lognormal(0.0, 0.6, n_blocks))
        # leisure and workplaces
        for kind, n in (
            (K_SHOP, max(4, N // 18)),
            (K_CAFE, max(3, N // 45)),
            (K_PARK, max(2, N // 180)),
        ):
            nb, x, y = scatter(n, nbw, 1.2 if kind == K_PARK else 1.0)
            add(kind, nb, x, y, zipf(n))
        n_off = max(3, N // 30)
        w_off = nbw * np.exp(-dc / (0.5 * R))
        nb, x, y = scatter(n_off, w_off)
        office_start = rng.choice(
            np.array([7.5, 8.0, 8.5, 9.0]) * HOUR, size=n_off, p=[0.15, 0.3, 0.35, 0.2]
        )
        add(K_OFFICE, nb, x, y, zipf(n_off, 1.1), office_start)
        n_pri, n_sec = max(1, N // 500), max(1, N // 1500)
        nb, x, y = scatter(n_pri, nbw)
        add(K_SCHOOL, nb, x, y, np.ones(n_pri), 8.5 * HOUR, 0)
        nb, x, y = scatter(n_sec, w_off)
        add(K_SCHOOL, nb, x, y, np.ones(n_sec), 8.25 * HOUR, 1)
        for kind, n in ((K_GYM, max(2, N // 600)), (K_HALL, max(2, N // 500))):
            nb, x, y = scatter(n, nbw)
            add(kind, nb, x, y, zipf(n, 0.7))
        # one stop and one arterial street per neighbourhood
        ks = np.arange(K)
        add(
            K_STOP,
            ks,
            cx + rng.normal(0, 0.1, K) * spread,
            cy + rng.normal(0, 0.1, K) * spread,
            np.ones(K),
        )
        ang = np.where(dc > 1e-9, np.arctan2(-cy, -cx), rng.uniform(0, 2 * math.pi, K))
        add(
            K_STREET,
            ks,
            cx + 0.6 * spread * np.cos(ang),
            cy + 0.6 * spread * np.sin(ang),
            np.ones(K),
        )
        # the railway station near the centre, and the world outside the map (jobs, a far stop
        # and a far road in a virtual neighbourhood K; no cameras there)
        add(
            K_STOP,
            np.array([0]),
            np.array([cx[0] + 0.3 * spread[0]]),
            np.array([cy[0]]),
            np.ones(1),
        )
        add(
            K_AWAY,
            np.array([K, K, K]),
            np.array([AWAY_KM, AWAY_KM, AWAY_KM - 1.0]),
            np.array([0.0, 0.05, 0.0]),
            np.ones(3),
        )

        self.pk = np.concatenate(kinds)
        self.pnb = np.concatenate(nbs)
        self.px = np.concatenate(pxs)
        self.py = np.concatenate(pys)
        self.pattr = np.concatenate(attrs)
        self.psub = np.concatenate(subs)
        self.ptype = np.concatenate(types)
        P = len(self.pk)
        self.P = P
        self.blocks = np.flatnonzero(self.pk == K_BLOCK)
        stops = np.flatnonzero(self.pk == K_STOP)
        away = np.flatnonzero(self.pk == K_AWAY)
        self.station = int(stops[-1])
        self.away_job = int(away[0])
        self.stop_of_nb = np.r_[stops[:-1], away[1]]
        self.art_of_nb = np.r_[np.flatnonzero(self.pk == K_STREET), away[2]]
        self.boff = rng.uniform(15.0, 120.0, P)  # seconds from the door to the street camera
        self.headway = rng.choice([600.0, 900.0, 1200.0, 1800.0], size=P, p=[0.2, 0.3, 0.3, 0.2])
        self.headway[self.station] = rng.choice([1200.0, 1800.0])
        self.headway[away[1]] = self.headway[self.station]
        self.hoffset = rng.random(P) * self.headway

        # cameras
        base = np.array([_CAM_CFG[k][0] for k in range(11)])
        scaled = np.array([_CAM_CFG[k][1] for k in range(11)])
        pk = self.pk.astype(np.int64)
        prob = base[pk] * np.where(scaled[pk], np.r_[cover, 0.0][self.pnb], 1.0)
        prob[self.station] = 1.0
        has = rng.random(P) < prob
        cam_place = np.flatnonzero(has)
        C = len(cam_place)
        self.C = C
        self.pcam = np.full(P, -1, np.int64)
        self.pcam[cam_place] = np.arange(C)
        ck = pk[cam_place]
        self.cam_place = cam_place
        self.cam_kind = ck
        self.cam_mode = np.array([_CAM_CFG[k][2] for k in range(11)])[ck]
        a = np.array([_CAM_CFG[k][3][0] for k in range(11)])[ck]
        b = np.array([_CAM_CFG[k][3][1] for k in range(11)])[ck]
        self.cam_pdet = rng.beta(a, b)
        self.cam_rate = np.array([_CAM_CFG[k][4] for k in range(11)])[ck] / MIN
        self.cam_edge = np.array([_CAM_CFG[k][5] for k in range(11)])[ck]
        self.cam_quality = rng.beta(8.0, 2.0, C)
        self.cam_pfm = np.clip(rng.beta(1.5, 45.0, C) * (1.6 - self.cam_quality), 0.0, 0.2)
        perm = rng.permutation(C)
        width = max(4, len(str(C)))
        self.cam_ids = np.array([f"C{int(i):0{width}d}" for i in perm], dtype=object)
        self.cam_x = self.px[cam_place] + rng.normal(0, 0.01, C)
        self.cam_y = self.py[cam_place] + rng.normal(0, 0.01, C)
        # outages
        n_out = rng.poisson(0.3 * self.D / 7.0, C)
        oc = np.repeat(np.arange(C), n_out)
        os_ = rng.random(len(oc)) * self.T
        od = np.minimum(_lognormal(rng, 5 * HOUR, 1.2, len(oc)), 3 * DAY)
        self.out_cam, self.out_start, self.out_end = oc, os_, os_ + od

    # ---------------------------------------------------------------- people
    def people(self) -> None:
        rng = self.rngs["people"]
        N, H = self.N, self.H
        size = self.hh_size
        u = rng.random(H)
        couple = ((size == 2) & (u < 0.8)) | ((size >= 3) & (u < 0.88))
        n_ad = np.where(size == 1, 1, np.where(couple, 2, 1))
        senior_hh = ((size == 1) & (rng.random(H) < 0.35)) | (
            (size == 2) & couple & (rng.random(H) < 0.25)
        )
        hh_start = np.r_[0, np.cumsum(size)[:-1]]
        hh = np.repeat(np.arange(H), size)
        pos = np.arange(N) - hh_start[hh]
        adult = pos < n_ad[hh]
        senior = adult & senior_hh[hh]
        age = np.where(adult, rng.integers(25, 60, N), rng.integers(4, 18, N))
        age = np.where(senior, rng.integers(66, 85, N), age)
        role = rng.choice([R_DAY, R_PART, R_NIGHT, R_HOME], size=N, p=[0.58, 0.17, 0.08, 0.17])
        role = np.where(senior, R_HOME, role)
        role = np.where(~adult, np.where(age <= 11, R_PUPIL, R_STUDENT), role)
        self.hh, self.hh_start, self.n_ad, self.couple = hh, hh_start, n_ad, couple
        self.adult, self.senior, self.age, self.role = adult, senior, age, role
        # homes: households into blocks by block capacity
        bcap = self.pattr[self.blocks]
        hh_block = self.blocks[rng.choice(len(self.blocks), size=H, p=bcap / bcap.sum())]
        self.home = hh_block[hh]
        self.hnb = self.pnb[self.home]
        car_hh = rng.random(H) < np.where(senior_hh, 0.4, 0.55)
        self.uses_car = adult & car_hh[hh] & (rng.random(N) < 0.8)
        self.walk_thr = _lognormal(rng, 1.0, 0.35, N)
        self.wait_habit = rng.uniform(60.0, 360.0, N)
        self.chrono = (role == R_NIGHT).astype(np.int64)
        look = rng.integers(0, N - 1, (N, 3))
        self.lookalike = look + (look >= np.arange(N)[:, None])
        # ---- jobs
        px, py, pk = self.px, self.py, self.pk
        bx, by = px[self.blocks], py[self.blocks]
        self.block_row = np.full(self.P, -1, np.int64)
        self.block_row[self.blocks] = np.arange(len(self.blocks))
        wp = np.flatnonzero(np.isin(pk, [K_OFFICE, K_SHOP, K_CAFE, K_SCHOOL, K_GYM]))
        # share of jobs by kind, spread within a kind by attractiveness (Zipf for offices)
        share = {K_OFFICE: 0.62, K_SHOP: 0.2, K_CAFE: 0.08, K_SCHOOL: 0.07, K_GYM: 0.03}
        cap = np.zeros(len(wp))
        for k, sh in share.items():
            m = pk[wp] == k
            cap[m] = sh * self.pattr[wp][m] / self.pattr[wp][m].sum()
        d0w = max(1.2, 0.8 * self.R)
        g_work = _Gravity(bx, by, px[wp], py[wp], cap, d0w)
        offices = np.flatnonzero(pk == K_OFFICE)
        g_night = _Gravity(bx, by, px[offices], py[offices], self.pattr[offices], d0w)
        workers = np.flatnonzero(np.isin(role, [R_DAY, R_PART, R_NIGHT]))
        work = np.full(N, -1, np.int64)
        work[workers] = wp[g_work.sample(self.block_row[self.home[workers]], rng)]
        nw = workers[role[workers] == R_NIGHT]
        work[nw] = offices[g_night.sample(self.block_row[self.home[nw]], rng)]
        # out-of-town commuters (mostly by train from the station)
        out = (role == R_DAY) & (rng.random(N) < 0.25)
        work[out] = self.away_job
        self.uses_car = self.uses_car & (~out | (rng.random(N) < 0.4))
        self.work = work
        wk = np.where(work >= 0, pk[np.maximum(work, 0)], -1)
        self.work_kind = wk
        pstart = np.where(wk == K_OFFICE, self.psub[np.maximum(work, 0)], 0.0)
        pstart = np.where(wk == K_SHOP, 9.5 * HOUR, pstart)
        pstart = np.where(wk == K_CAFE, rng.choice([7.5 * HOUR, 11.0 * HOUR], N), pstart)
        pstart = np.where(wk == K_SCHOOL, 8.0 * HOUR, pstart)
        pstart = np.where(wk == K_GYM, 7.0 * HOUR, pstart)
        pstart = np.where(wk == K_AWAY, rng.choice(np.array([8.0, 8.5, 9.0]) * HOUR, N), pstart)
        flexible = rng.random(N) < 0.3
        ws = np.where(
            flexible,
            pstart + rng.normal(0, 30 * MIN, N),
            pstart - rng.uniform(2 * MIN, 15 * MIN, N),
        )
        sig = np.where(
            flexible, _lognormal(rng, 12 * MIN, 0.4, N), _lognormal(rng, 3 * MIN, 0.4, N)
        )
        dur = np.where(
            np.isin(wk, [K_SHOP, K_CAFE]), 8.0 * HOUR, _lognormal(rng, 8.6 * HOUR, 0.06, N)
        )
        part = role == R_PART
        afternoon = part & (rng.random(N) < 0.45)
        ws = np.where(afternoon, 13 * HOUR - rng.uniform(2 * MIN, 15 * MIN, N), ws)
        dur = np.where(part, _lognormal(rng, 4.5 * HOUR, 0.1, N), dur)
        night = role == R_NIGHT
        ws = np.where(
            night, np.clip(rng.normal(22 * HOUR, 30 * MIN, N), 21 * HOUR, 23.5 * HOUR), ws
        )
        dur = np.where(night, 8.5 * HOUR, dur)
        sig = np.where(night, 5 * MIN, sig)
        workdays = np.zeros((N, 7), bool)
        workdays[:, :5] = True
        staff = np.isin(wk, [K_SHOP, K_CAFE]) & (role == R_DAY)
        workdays[staff, 5] = True
        off = rng.integers(0, 5, N)
        workdays[staff, off[staff]] = False
        pdays = np.argsort(rng.random((N, 5)), axis=1)[:, :2]  # two weekdays off
        rows = np.flatnonzero(part)
        workdays[rows[:, None], pdays[rows]] = False
        workdays[work < 0] = False
        self.ws_h, self.dur_h, self.sig_h, self.workdays = ws, dur, sig, workdays
        self.afternoon = afternoon
        # ---- schools
        sch = np.flatnonzero(pk == K_SCHOOL)
        pri, sec = sch[self.ptype[sch] == 0], sch[self.ptype[sch] == 1]
        school = np.full(N, -1, np.int64)
        pupils = np.flatnonzero(role == R_PUPIL)
        hx, hy = px[self.home], py[self.home]
        dpri = np.hypot(hx[pupils, None] - px[pri][None, :], hy[pupils, None] - py[pri][None, :])
        school[pupils] = pri[np.argmin(dpri, axis=1)]
        students = np.flatnonzero(role == R_STUDENT)
        g_sec = _Gravity(bx, by, px[sec], py[sec], np.ones(len(sec)), max(1.5, self.R))
        school[students] = sec[g_sec.sample(self.block_row[self.home[students]], rng)]
        self.school = school
        self.school_arr_h = np.where(
            role == R_STUDENT, 8.25 * HOUR - rng.uniform(3 * MIN, 15 * MIN, N), np.nan
        )
        # escorts: one adult per household with pupils walks/drives them every school day
        hh_pupil = np.zeros(H, bool)
        hh_pupil[hh[pupils]] = True
        eh = np.flatnonzero(hh_pupil)
        a0 = hh_start[eh]
        a1 = np.where(n_ad[eh] == 2, a0 + 1, a0)
        pref = np.array([0.0, 1.0, 2.0, 3.0, -9.0, -9.0])
        sc0 = pref[role[a0]] + rng.random(len(eh))
        sc1 = pref[role[a1]] + rng.random(len(eh))
        esc = np.where(sc1 > sc0, a1, a0)
        self.escort_hh = np.full(H, -1, np.int64)
        self.escort_hh[eh] = esc
        first_pupil = np.full(H, -1, np.int64)
        first_pupil[hh[pupils[::-1]]] = pupils[::-1]
        esc_school = school[first_pupil[eh]]
        gate_h = self.psub[esc_school] - rng.uniform(3 * MIN, 20 * MIN, len(eh))
        self.gate_h = np.full(H, np.nan)
        self.gate_h[eh] = gate_h
        self.esc_school = np.full(H, -1, np.int64)
        self.esc_school[eh] = esc_school
        late = np.isin(role[esc], [R_DAY, R_PART]) & ~afternoon[esc] & (ws[esc] < gate_h + 25 * MIN)
        le = esc[late]
        self.ws_h[le] = 8.5 * HOUR + rng.uniform(20 * MIN, 40 * MIN, len(le))
        self.pickup_hh = np.zeros(H, bool)
        self.pickup_hh[eh] = np.isin(role[esc], [R_HOME, R_NIGHT])
        d_es = np.hypot(px[esc_school] - hx[esc], py[esc_school] - hy[esc])
        self.esc_mode = np.full(H, WALK, np.int64)
        self.esc_mode[eh] = np.where(
            (d_es > 1.5 * self.walk_thr[esc]) & self.uses_car[esc], CAR, WALK
        )
        self.is_escort = np.zeros(N, bool)
        self.is_escort[esc] = True
        # ---- carpools: car-using office day workers from one neighbourhood working in one
        # neighbourhood become colleagues at the driver's office
        elig = np.flatnonzero(
            (role == R_DAY)
            & self.uses_car
            & (wk == K_OFFICE)
            & ~self.is_escort
            & (rng.random(N) < 0.55)
        )
        key = self.hnb[elig] * self.K + self.pnb[work[elig]]
        groups = _chunk_groups(key, elig, rng, (2, 2, 3))
        self.carpool = np.full(N, -1, np.int64)
        leaders = []
        for gi, g in enumerate(groups):
            self.carpool[g] = gi
            leaders.append(g[0])
            work[g] = work[g[0]]  # colleagues at the driver's office
            self.ws_h[g] = self.ws_h[g[0]]
            self.dur_h[g] = self.dur_h[g[0]]
            self.sig_h[g] = self.sig_h[g[0]]
        self.carpool_groups = groups
        self.carpool_leader = np.array(leaders, np.int64)
        self.carpool_joint = self.rngs["work"].random((len(groups), self.D)) < 0.85
        # ---- lunch groups of close colleagues
        elig = np.flatnonzero(
            np.isin(role, [R_DAY, R_PART])
            & np.isin(wk, [K_OFFICE, K_SCHOOL])
            & (rng.random(N) < 0.35)
        )
        self.lunch_groups = _chunk_groups(work[elig], elig, rng, (2, 2, 3))
        # ---- gym classes (strangers' routine)
        gyms = np.flatnonzero(pk == K_GYM)
        n_cls = 3 * len(gyms)
        self.cls_gym = np.repeat(gyms, 3)
        day_sets = [(0, 2), (1, 3), (0, 3), (2, 4), (1, 4), (5,)]
        pick = rng.integers(0, len(day_sets), n_cls)
        self.cls_days = np.zeros((n_cls, 7), bool)
        for c in range(n_cls):
            self.cls_days[c, list(day_sets[pick[c]])] = True
        sat = self.cls_days[:, 5]
        self.cls_start = np.where(
            sat, 10 * HOUR, rng.choice(np.array([17.5, 18.0, 18.5, 19.0, 19.5]) * HOUR, n_cls)
        )
        self.cls_dur = np.where(rng.random(n_cls) < 0.5, 45 * MIN, 60 * MIN)
        gm = np.flatnonzero((adult & ~senior | (role == R_STUDENT)) & (rng.random(N) < 0.14))
        g_gym = _Gravity(bx, by, px[gyms], py[gyms], self.pattr[gyms], 1.5)
        gidx = g_gym.sample(self.block_row[self.home[gm]], rng)
        self.gym_class = np.full(N, -1, np.int64)
        self.gym_class[gm] = gidx * 3 + rng.integers(0, 3, len(gm))
        self.gym_p = rng.beta(5.0, 2.0, N)
        self.gym_off = rng.uniform(3 * MIN, 12 * MIN, N)
        # ---- leisure
        base_rate = np.select(
            [role == R_HOME, role == R_PUPIL, role == R_STUDENT],
            [rng.gamma(2.0, 0.8, N), np.full(N, 0.1), rng.gamma(2.0, 0.3, N)],
            rng.gamma(2.0, 0.45, N),
        )
        self.outing_rate = base_rate

    # ---------------------------------------------------------------- helpers
    def _add(
        self,
        p: np.ndarray,
        pl: np.ndarray,
        s: np.ndarray,
        e: np.ndarray,
        tier: int,
        tag: int,
        ovr: np.ndarray | int = -1,
        ovr_out: np.ndarray | int | None = None,
        aux: np.ndarray | int = -1,
    ) -> None:
        n = len(p)
        if n == 0:
            return
        o = np.broadcast_to(np.asarray(ovr, np.int64), (n,)).copy()
        oo = (
            o.copy()
            if ovr_out is None
            else np.broadcast_to(np.asarray(ovr_out, np.int64), (n,)).copy()
        )
        self.acts.append(
            {
                "p": np.asarray(p, np.int64),
                "pl": np.asarray(pl, np.int64),
                "s": np.asarray(s, np.float64),
                "e": np.asarray(e, np.float64),
                "tier": np.full(n, tier, np.int8),
                "tag": np.full(n, tag, np.int8),
                "ovr": o,
                "ovr_out": oo,
                "aux": np.broadcast_to(np.asarray(aux, np.int64), (n,)).copy(),
            }
        )

    def _dist(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.hypot(self.px[a] - self.px[b], self.py[a] - self.py[b])

    def _auto_mode(self, p: np.ndarray, o: np.ndarray, d: np.ndarray) -> np.ndarray:
        same = self.pnb[o] == self.pnb[d]
        near = same | (self._dist(o, d) < self.walk_thr[p])
        return np.where(near, WALK, np.where(self.uses_car[p], CAR, TRANSIT))

    def _est_tt(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._dist(a, b) * DETOUR / (12.0 / HOUR) + 4 * MIN

    def _tie(self, a: np.ndarray, b: np.ndarray, kind: str, n: np.ndarray | int) -> None:
        a = np.asarray(a, np.int64)
        b = np.asarray(b, np.int64)
        self.tie_a.append(np.minimum(a, b))
        self.tie_b.append(np.maximum(a, b))
        self.tie_kind.append(np.full(len(a), kind, dtype=object))
        self.tie_n.append(np.broadcast_to(np.asarray(n, np.int64), (len(a),)).copy())

    def _group_pairs(self, groups: list[np.ndarray], kind: str, n: list[int]) -> None:
        for g, k in zip(groups, n, strict=True):
            ia, ib = np.triu_indices(len(g), 1)
            self._tie(g[ia], g[ib], kind, k)

    # ---------------------------------------------------------------- work, lunch
    def work_and_lunch(self) -> None:
        rng = self.rngs["work"]
        N, D = self.N, self.D
        W = np.flatnonzero(self.work >= 0)
        nW = len(W)
        roww = np.full(N, -1, np.int64)
        roww[W] = np.arange(nW)
        dayi = np.arange(D, dtype=np.float64)
        works = self.workdays[W][:, self.dow]
        night = self.role[W] == R_NIGHT
        works[night] = rng.random((int(night.sum()), D)) < 4 / 7
        works &= rng.random((nW, D)) >= 0.04
        jit = rng.normal(0, 1, (nW, D)) * self.sig_h[W, None]
        djit = rng.normal(0, 15 * MIN, (nW, D))
        ovr = np.full((nW, D), -1, np.int64)
        cp = self.carpool[W]
        m = cp >= 0
        if m.any():
            lead = roww[self.carpool_leader[cp[m]]]
            joint = self.carpool_joint[cp[m]]
            jit[m] = np.where(joint, jit[lead], jit[m])
            djit[m] = np.where(joint, djit[lead], djit[m])
            ovr[m] = np.where(joint, CAR, -1)
            njoint = (self.carpool_joint & ~self.weekend[None, :]).sum(axis=1)
            self._group_pairs(self.carpool_groups, "carpool", [int(x) for x in njoint])
        ws = dayi[None, :] * DAY + self.ws_h[W, None] + jit
        we = ws + self.dur_h[W, None] + djit
        r, d = np.nonzero(works)
        wp, wd, wst, wen, wov = W[r], d, ws[r, d], we[r, d], ovr[r, d]
        works_pd = np.zeros((N, D), bool)
        works_pd[wp, wd] = True
        ws_pd = np.full((N, D), np.nan)
        we_pd = np.full((N, D), np.nan)
        ws_pd[wp, wd] = wst
        we_pd[wp, wd] = wen

        # lunch places: gravity from the workplace over shops and cafés
        lp_ = np.flatnonzero(np.isin(self.pk, [K_SHOP, K_CAFE]))
        g_lunch = _Gravity(self.px, self.py, self.px[lp_], self.py[lp_], self.pattr[lp_], 0.5)
        # group lunches
        lunch_p: list[np.ndarray] = []
        lunch_d: list[np.ndarray] = []
        lunch_s: list[np.ndarray] = []
        lunch_e: list[np.ndarray] = []
        lunch_pl: list[np.ndarray] = []
        lunch_ov: list[np.ndarray] = []
        G = len(self.lunch_groups)
        if G:
            gp = rng.beta(2.0, 2.5, G)
            gh = rng.normal(12.25 * HOUR, 20 * MIN, G)
            go = rng.random((G, D)) < gp[:, None]
            gs = dayi[None, :] * DAY + gh[:, None] + rng.normal(0, 8 * MIN, (G, D))
            ge = gs + _lognormal(rng, 45 * MIN, 0.3, (G, D))
            gwork = np.array([self.work[g[0]] for g in self.lunch_groups])
            gpl = lp_[g_lunch.sample(np.repeat(gwork, D), rng)].reshape(G, D)
            gmode = np.where(self._dist(gpl.ravel(), np.repeat(gwork, D)) < 1.5, WALK, CAR)
            gmode = gmode.reshape(G, D)
            mem_g = np.concatenate([np.full(len(g), i) for i, g in enumerate(self.lunch_groups)])
            mem_p = np.concatenate(self.lunch_groups)
            ok = go[mem_g] & works_pd[mem_p]
            ok &= (ws_pd[mem_p] + HOUR < gs[mem_g]) & (ge[mem_g] + HOUR < we_pd[mem_p])
            cnt = np.zeros((G, D), np.int64)
            mi, di = np.nonzero(ok)
            np.add.at(cnt, (mem_g[mi], di), 1)
            keep = cnt[mem_g[mi], di] >= 2
            mi, di = mi[keep], di[keep]
            g_of = mem_g[mi]
            lunch_p.append(mem_p[mi])
            lunch_d.append(di)
            lunch_s.append(gs[g_of, di])
            lunch_e.append(ge[g_of, di])
            lunch_pl.append(gpl[g_of, di])
            lunch_ov.append(gmode[g_of, di])
            held = (cnt >= 2).sum(axis=1)
            self._group_pairs(self.lunch_groups, "colleagues-close", [int(x) for x in held])
        has_group = np.zeros((N, D), bool)
        if lunch_p:
            has_group[lunch_p[0], lunch_d[0]] = True
        # solo lunches
        sel = np.isin(self.role[wp], [R_DAY, R_PART]) & ~has_group[wp, wd]
        sel &= self.work_kind[wp] != K_AWAY
        psolo = rng.beta(1.0, 4.0, N)
        sel &= rng.random(len(wp)) < psolo[wp]
        sp, sd = wp[sel], wd[sel]
        ss = sd * DAY + rng.normal(12.5 * HOUR, 25 * MIN, len(sp))
        se = ss + _lognormal(rng, 30 * MIN, 0.35, len(sp))
        ok = (ws_pd[sp, sd] + HOUR < ss) & (se + HOUR < we_pd[sp, sd])
        lunch_p.append(sp[ok])
        lunch_d.append(sd[ok])
        lunch_s.append(ss[ok])
        lunch_e.append(se[ok])
        lunch_pl.append(lp_[g_lunch.sample(self.work[sp[ok]], rng)])
        lunch_ov.append(np.full(int(ok.sum()), -1, np.int64))
        lp = np.concatenate(lunch_p)
        ld = np.concatenate(lunch_d)
        ls = np.concatenate(lunch_s)
        le = np.concatenate(lunch_e)
        lpl = np.concatenate(lunch_pl)
        lov = np.concatenate(lunch_ov)
        # split work around lunch
        lidx = np.full((N, D), -1, np.int64)
        lidx[lp, ld] = np.arange(len(lp))
        li = lidx[wp, wd]
        has = li >= 0
        back = self._dist(lpl, self.work[lp]) * DETOUR / WALK_V + MIN
        w2s = np.full(len(wp), np.nan)
        w2s[has] = le[li[has]] + back[li[has]]
        # first part (or whole day)
        w1e = wen.copy()
        w1e[has] = ls[li[has]]
        self._add(wp, self.work[wp], wst, w1e, 0, T_WORK, wov)
        self._add(lp, lpl, ls, le, 0, T_LUNCH, lov, -1)
        h = np.flatnonzero(has)
        self._add(wp[h], self.work[wp[h]], w2s[h], wen[h], 0, T_WORK, lov[li[h]], wov[h])

    # ---------------------------------------------------------------- school runs
    def school_runs(self) -> None:
        rng = self.rngs["school"]
        sdays = np.flatnonzero(~self.weekend)
        nd = len(sdays)
        if nd == 0:
            return
        dd = sdays.astype(np.float64)
        eh = np.flatnonzero(self.escort_hh >= 0)
        esc = self.escort_hh[eh]
        school = self.esc_school[eh]
        end_tod = np.where(self.dow[sdays] == 2, 12.5 * HOUR, 15.0 * HOUR)
        ga = dd[None, :] * DAY + self.gate_h[eh, None] + rng.normal(0, 90.0, (len(eh), nd))
        ga += np.where(rng.random((len(eh), nd)) < 0.05, rng.uniform(3 * MIN, 10 * MIN), 0.0)
        drop_end = ga + _lognormal(rng, 4 * MIN, 0.4, (len(eh), nd))
        pick = self.pickup_hh[eh]
        pick_h = rng.uniform(2 * MIN, 10 * MIN, len(eh))
        pt = (
            dd[None, :] * DAY
            + end_tod[None, :]
            - pick_h[:, None]
            + rng.normal(0, MIN, (len(eh), nd))
        )
        pe = dd[None, :] * DAY + end_tod[None, :] + rng.uniform(MIN, 6 * MIN, (len(eh), nd))
        mode = self.esc_mode[eh]
        hi, di = np.nonzero(np.ones((len(eh), nd), bool))
        self._add(esc[hi], school[hi], ga[hi, di], drop_end[hi, di], 0, T_DROP, mode[hi])
        pk_ = pick[hi]
        self._add(
            esc[hi][pk_],
            school[hi][pk_],
            pt[hi, di][pk_],
            pe[hi, di][pk_],
            0,
            T_PICK,
            mode[hi][pk_],
        )
        # pupils travel with the escort
        pupils = np.flatnonzero(self.role == R_PUPIL)
        hrow = np.full(self.H, -1, np.int64)
        hrow[eh] = np.arange(len(eh))
        pr = hrow[self.hh[pupils]]
        pp = np.repeat(pupils, nd)
        prr = np.repeat(pr, nd)
        pdi = np.tile(np.arange(nd), len(pupils))
        present = rng.random(len(pp)) >= 0.03
        alone_end = sdays[pdi] * DAY + end_tod[pdi] + rng.uniform(0, 15 * MIN, len(pp))
        pend = np.where(pick[prr], pe[prr, pdi], alone_end)
        pov_out = np.where(pick[prr], mode[prr], -1)
        sel = present
        self._add(
            pp[sel],
            self.school[pp[sel]],
            ga[prr, pdi][sel],
            pend[sel],
            0,
            T_SCHOOL,
            mode[prr][sel],
            pov_out[sel],
        )
        # students travel alone
        st = np.flatnonzero(self.role == R_STUDENT)
        sp = np.repeat(st, nd)
        sdi = np.tile(np.arange(nd), len(st))
        present = rng.random(len(sp)) >= 0.03
        s = sdays[sdi] * DAY + self.school_arr_h[sp] + rng.normal(0, 3 * MIN, len(sp))
        e = sdays[sdi] * DAY + 15.5 * HOUR + rng.uniform(0, 30 * MIN, len(sp))
        self._add(sp[present], self.school[sp[present]], s[present], e[present], 0, T_SCHOOL)
        # household ties (partners, family) with -1 planned events (co-residents)
        a, b = [], []
        for size_ in range(2, 6):
            hs = np.flatnonzero(self.hh_size == size_)
            st0 = self.hh_start[hs]
            ia, ib = np.triu_indices(size_, 1)
            a.append((st0[:, None] + ia[None, :]).ravel())
            b.append((st0[:, None] + ib[None, :]).ravel())
        if a:
            A, B = np.concatenate(a), np.concatenate(b)
            partners = self.adult[A] & self.adult[B]
            self._tie(A[partners], B[partners], "partners", -1)
            self._tie(A[~partners], B[~partners], "family", -1)

    # ---------------------------------------------------------------- gym classes, clubs
    def classes_and_clubs(self) -> None:
        rng = self.rngs["class"]
        N, D = self.N, self.D
        dayi = np.arange(D, dtype=np.float64)
        # gym classes
        gm = np.flatnonzero(self.gym_class >= 0)
        cls = self.gym_class[gm]
        on = self.cls_days[cls][:, self.dow] & (rng.random((len(gm), D)) < self.gym_p[gm, None])
        r, d = np.nonzero(on)
        p, c = gm[r], cls[r]
        s = d * DAY + self.cls_start[c] - self.gym_off[p] + rng.normal(0, 90.0, len(p))
        e = d * DAY + self.cls_start[c] + self.cls_dur[c] + _lognormal(rng, 6 * MIN, 0.5, len(p))
        self._add(p, self.cls_gym[c], s, e, 1, T_GYM, -1, -1, c)
        self.cls_sessions = self.cls_days[:, self.dow].sum(axis=1)
        # clubs (ties)
        halls = np.flatnonzero(self.pk == K_HALL)
        n_club = max(2, N // 60)
        club_hall = halls[
            rng.choice(len(halls), n_club, p=self.pattr[halls] / self.pattr[halls].sum())
        ]
        weekendc = rng.random(n_club) < 0.3
        cday = np.where(weekendc, rng.integers(5, 7, n_club), rng.integers(0, 4, n_club))
        ctod = np.where(
            weekendc, 10 * HOUR, rng.choice(np.array([19.0, 19.5, 20.0]) * HOUR, n_club)
        )
        cdur = _lognormal(rng, 2 * HOUR, 0.2, n_club)
        size = rng.integers(4, 13, n_club)
        eligible = np.flatnonzero(self.adult | (self.role == R_STUDENT))
        blocks = self.blocks
        bpop = np.bincount(self.block_row[self.home], minlength=len(blocks)).astype(np.float64)
        g = _Gravity(
            self.px[club_hall],
            self.py[club_hall],
            self.px[blocks],
            self.py[blocks],
            bpop + 1e-6,
            1.2,
        )
        el_block = self.block_row[self.home[eligible]]
        order = np.argsort(el_block, kind="stable")
        el_sorted, elb = eligible[order], el_block[order]
        b_lo = np.searchsorted(elb, np.arange(len(blocks)), "left")
        b_hi = np.searchsorted(elb, np.arange(len(blocks)), "right")
        members: list[np.ndarray] = []
        for ci in range(n_club):
            want = int(size[ci])
            got: list[int] = []
            for _ in range(6):
                bb = g.sample(np.full(want * 2, ci), rng)
                cnt = b_hi[bb] - b_lo[bb]
                bb = bb[cnt > 0]
                pick = b_lo[bb] + (rng.random(len(bb)) * (b_hi[bb] - b_lo[bb])).astype(np.int64)
                for q in el_sorted[pick]:
                    if int(q) not in got:
                        got.append(int(q))
                if len(got) >= want:
                    break
            members.append(np.array(got[:want], np.int64))
        self.club_members = members
        self.club_hall = club_hall
        sess_days = [np.flatnonzero(self.dow == cday[ci]) for ci in range(n_club)]
        self._group_pairs(members, "club", [len(x) for x in sess_days])
        club_of = np.full(N, -1, np.int64)
        mp, mc = [], []
        for ci, mem in enumerate(members):
            mp.append(mem)
            mc.append(np.full(len(mem), ci))
            club_of[mem] = ci
        self.club_of = club_of
        if not mp:
            return
        MP, MC = np.concatenate(mp), np.concatenate(mc)
        patt = rng.beta(8.0, 2.0, len(MP))
        off = rng.uniform(0, 12 * MIN, len(MP))
        ok = (self.dow[None, :] == cday[MC][:, None]) & (rng.random((len(MP), D)) < patt[:, None])
        r, d = np.nonzero(ok)
        p, c = MP[r], MC[r]
        s = dayi[d] * DAY + ctod[c] - off[r] + rng.normal(0, 2 * MIN, len(p))
        end_common = dayi[d] * DAY + ctod[c] + cdur[c]
        # drinks after some sessions: a subset leaves together for a café
        sess = c * D + d
        drink_sess = rng.random(n_club * D) < 0.3
        go = drink_sess[sess] & (rng.random(len(p)) < 0.6)
        n_go = np.bincount(sess[go], minlength=n_club * D)
        go &= n_go[sess] >= 2
        e = np.where(go, end_common + 2 * MIN, end_common + rng.normal(0, MIN, len(p)))
        self._add(p, club_hall[c], s, e, 1, T_CLUB, -1, -1, c)
        cafes = np.flatnonzero(self.pk == K_CAFE)
        gc = _Gravity(
            self.px[club_hall],
            self.py[club_hall],
            self.px[cafes],
            self.py[cafes],
            self.pattr[cafes],
            0.6,
        )
        sess_cafe = cafes[gc.sample(np.repeat(np.arange(n_club), D), rng)]
        sess_len = _lognormal(rng, 60 * MIN, 0.4, n_club * D)
        gi = np.flatnonzero(go)
        cafe = sess_cafe[sess[gi]]
        tt = self._dist(cafe, club_hall[c[gi]]) * DETOUR / WALK_V
        ds = end_common[gi] + 2 * MIN + np.minimum(tt, 20 * MIN)
        mode = np.where(tt > 20 * MIN, CAR, WALK)
        self._add(p[gi], cafe, ds, ds + sess_len[sess[gi]], 1, T_DRINK, mode, -1)

    # ---------------------------------------------------------------- social life
    def social(self) -> None:
        rng = self.rngs["social"]
        N, D = self.N, self.D
        dayi = np.arange(D, dtype=np.float64)
        disc = np.flatnonzero(np.isin(self.pk, [K_SHOP, K_CAFE, K_PARK]))
        bx, by = self.px[self.blocks], self.py[self.blocks]
        g_disc = _Gravity(bx, by, self.px[disc], self.py[disc], self.pattr[disc], 0.9)
        self.g_disc, self.disc = g_disc, disc
        park_w = np.where(self.pk[disc] == K_PARK, 4.0, 1.0)
        g_fam = _Gravity(bx, by, self.px[disc], self.py[disc], self.pattr[disc] * park_w, 1.2)
        dwell_med = np.zeros(self.P)
        dwell_sig = np.zeros(self.P)
        for k, (m, sg) in _DWELL.items():
            dwell_med[self.pk == k] = m * MIN
            dwell_sig[self.pk == k] = sg
        self.dwell_med, self.dwell_sig = dwell_med, dwell_sig

        def dwell(pl: np.ndarray, scale: float = 1.0) -> np.ndarray:
            z = rng.normal(0, 1, len(pl))
            return scale * dwell_med[pl] * np.exp(dwell_sig[pl] * z)

        # couples going out together
        ch = np.flatnonzero(self.couple)
        a, b = self.hh_start[ch], self.hh_start[ch] + 1
        lam = rng.gamma(1.5, 0.3, len(ch))
        fday = np.where(self.weekend, 2.2, 1.0)
        n = rng.poisson(lam[:, None] * fday[None, :])
        r, d = np.nonzero(n)
        reps = n[r, d]
        r, d = np.repeat(r, reps), np.repeat(d, reps)
        prof = np.stack(
            [
                _profile([(19.5, 1.2, 1.0), (11.0, 1.0, 0.2)], (0.0, 8.0)),
                _profile([(11.5, 1.5, 1.0), (15.5, 2.0, 1.0), (20.0, 1.2, 0.6)], (0.0, 8.5)),
            ]
        )
        t = dayi[d] * DAY + _sample_tod(prof, self.weekend[d].astype(np.int64), rng)
        pl = disc[g_disc.sample(self.block_row[self.home[a[r]]], rng)]
        dur = dwell(pl, 1.3)
        mode = self._auto_mode(a[r], self.home[a[r]], pl)
        both = np.r_[a[r], b[r]]
        self._add(
            both,
            np.r_[pl, pl],
            np.r_[t, t],
            np.r_[t + dur, t + dur],
            2,
            T_COUPLE,
            np.r_[mode, mode],
        )
        # weekend family outings (households with children)
        kids_hh = np.flatnonzero(self.n_ad < self.hh_size)
        wk = np.flatnonzero(self.weekend)
        if len(kids_hh) and len(wk):
            go = rng.random((len(kids_hh), len(wk))) < 0.45
            r, c = np.nonzero(go)
            hsel, d = kids_hh[r], wk[c]
            t = d * DAY + rng.uniform(10 * HOUR, 16 * HOUR, len(hsel))
            lead = self.hh_start[hsel]
            pl = disc[g_fam.sample(self.block_row[self.home[lead]], rng)]
            dur = _lognormal(rng, 90 * MIN, 0.4, len(hsel))
            mode = self._auto_mode(lead, self.home[lead], pl)
            sz = self.hh_size[hsel]
            rep = np.repeat(np.arange(len(hsel)), sz)
            who = self.hh_start[hsel][rep] + (
                np.arange(sz.sum()) - np.repeat(np.cumsum(sz) - sz, sz)
            )
            self._add(who, pl[rep], t[rep], t[rep] + dur[rep], 2, T_FAMILY, mode[rep])
        # ties across households: relatives and friends
        adults = np.flatnonzero(self.adult)
        fa = adults[rng.random(len(adults)) < 0.3]
        fb = self._person_by_gravity(fa, rng, local=rng.random(len(fa)) < 0.5, d0=1.5)
        keep = self.hh[fa] != self.hh[fb]
        fa, fb = fa[keep], fb[keep]
        n_fam = np.maximum(1, np.round(rng.integers(1, 5, len(fa)) * D / 14.0)).astype(np.int64)
        cand = np.flatnonzero(self.adult | (self.role == R_STUDENT))
        n_fr = int(0.35 * N)
        xa = cand[rng.integers(0, len(cand), n_fr)]
        xb = self._person_by_gravity(xa, rng, local=np.ones(n_fr, bool), d0=1.0, pool=cand)
        keep = self.hh[xa] != self.hh[xb]
        xa, xb = xa[keep], xb[keep]
        weak = rng.random(len(xa)) < 0.6
        n_weak = np.maximum(1, np.round(rng.integers(2, 5, len(xa)) * D / 14.0))
        n_strong = np.maximum(1, rng.poisson(D * rng.lognormal(math.log(0.35), 0.5, len(xa))))
        n_fr_m = np.where(weak, n_weak, n_strong).astype(np.int64)
        self._tie(fa, fb, "family", n_fam)
        self._tie(xa, xb, "friends", n_fr_m)
        ma = np.r_[fa, xa]
        mb = np.r_[fb, xb]
        nm = np.r_[n_fam, n_fr_m]
        is_fam = np.r_[np.ones(len(fa), bool), np.zeros(len(xa), bool)]
        r = np.repeat(np.arange(len(ma)), nm)
        A, B = ma[r], mb[r]
        dw = np.where(self.weekend, 2.5, 1.0)
        d = rng.choice(D, size=len(r), p=dw / dw.sum())
        wkd = self.weekend[d]
        tod = np.where(
            wkd,
            rng.uniform(10.5 * HOUR, 19.5 * HOUR, len(r)),
            np.clip(rng.normal(19.25 * HOUR, 0.9 * HOUR, len(r)), 17 * HOUR, 22 * HOUR),
        )
        t = d * DAY + tod
        host_is_a = rng.random(len(r)) < 0.5
        host = np.where(host_is_a, A, B)
        guest = np.where(host_is_a, B, A)
        at_home = is_fam[r] & (rng.random(len(r)) < 0.35)
        pl = disc[g_disc.sample(self.block_row[self.home[host]], rng)]
        dur = dwell(pl, 1.5)
        pl = np.where(at_home, self.home[host], pl)
        dur = np.where(at_home, _lognormal(rng, 2 * HOUR, 0.4, len(r)), dur)
        end = t + dur
        sa = t + np.abs(rng.normal(0, 4 * MIN, len(r)))
        sb = t + np.abs(rng.normal(0, 4 * MIN, len(r)))
        out = ~at_home
        self._add(host[out], pl[out], sa[out], end[out], 2, T_MEET)
        self._add(guest, pl, sb, end, 2, T_MEET)
        self.n_family_visits_home = int(at_home.sum())

    def _person_by_gravity(
        self,
        src: np.ndarray,
        rng: np.random.Generator,
        local: np.ndarray,
        d0: float,
        pool: np.ndarray | None = None,
    ) -> np.ndarray:
        """A partner for each source person: a block by gravity, then someone living there."""
        if pool is None:
            pool = np.flatnonzero(self.adult)
        blocks = self.blocks
        pb = self.block_row[self.home[pool]]
        order = np.argsort(pb, kind="stable")
        ps, pbs = pool[order], pb[order]
        lo = np.searchsorted(pbs, np.arange(len(blocks)), "left")
        hi = np.searchsorted(pbs, np.arange(len(blocks)), "right")
        cnt = (hi - lo).astype(np.float64)
        g = _Gravity(
            self.px[blocks], self.py[blocks], self.px[blocks], self.py[blocks], cnt + 1e-9, d0
        )
        out = pool[rng.integers(0, len(pool), len(src))]
        need = np.flatnonzero(local)
        for _ in range(8):
            if len(need) == 0:
                break
            bb = g.sample(self.block_row[self.home[src[need]]], rng)
            okb = hi[bb] > lo[bb]
            pick = lo[bb] + (rng.random(len(bb)) * (hi[bb] - lo[bb])).astype(np.int64)
            cand = ps[np.minimum(pick, len(ps) - 1)]
            good = okb & (cand != src[need])
            out[need[good]] = cand[good]
            need = need[~good]
        same = out == src
        out[same] = pool[(np.searchsorted(pool, src[same]) + 1) % len(pool)]
        return out

    # ---------------------------------------------------------------- solo leisure (EPR)
    def leisure(self) -> None:
        rng = self.rngs["leisure"]
        profs = np.stack(
            [
                _profile(
                    [(10.5, 1.2, 0.6), (13.0, 1.0, 0.4), (17.5, 1.2, 1.0), (20.5, 1.0, 0.5)],
                    (0.0, 7.0),
                ),
                _profile([(11.0, 1.5, 1.0), (15.0, 2.0, 1.0), (20.0, 1.3, 0.5)], (0.0, 8.0)),
                _profile([(15.0, 2.0, 1.0), (19.0, 1.0, 0.4)], (7.0, 13.5)),
                _profile([(13.0, 2.0, 1.0), (17.0, 2.0, 1.0)], (7.0, 12.0)),
            ]
        )
        fday = np.where(self.weekend, 1.3, 1.0)
        n = rng.poisson(self.outing_rate[:, None] * fday[None, :])
        p, d = np.nonzero(n)
        reps = n[p, d]
        p, d = np.repeat(p, reps), np.repeat(d, reps)
        which = self.chrono[p] * 2 + self.weekend[d].astype(np.int64)
        t = d * DAY + _sample_tod(profs, which, rng)
        self._add(
            p, np.full(len(p), -1), t, t + _lognormal(rng, 30 * MIN, 0.5, len(p)), 3, T_OUTING
        )

    def choose_leisure_places(self, p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exploration and preferential return (Song et al. 2010) in time order, per person."""
        rng = self.rngs["leisure"]
        N = self.N
        disc = self.disc
        M = 48
        rho, gamma = 0.6, 0.21
        mem = np.full((N, M), -1, np.int64)
        cnt = np.zeros((N, M))
        home_rows = self.block_row[self.home]
        s0 = np.clip(2 + rng.poisson(1.5, N), 1, 6)
        for k in range(6):
            rows = np.flatnonzero(s0 > k)
            mem[rows, k] = self.g_disc.sample(home_rows[rows], rng)
            cnt[rows, k] = rng.gamma(0.8, 3.0, len(rows)) + 0.5
        order = np.lexsort((t, p))
        ps = p[order]
        first = _starts(ps)
        grp_start = np.maximum.accumulate(np.where(first, np.arange(len(ps)), 0))
        rank = np.arange(len(ps)) - grp_start
        tod = np.mod(t[order], DAY)
        evening = (tod >= 19.5 * HOUR) | (tod < 5 * HOUR)
        out = np.full(len(ps), -1, np.int64)
        cafes = np.flatnonzero(self.pk == K_CAFE)
        bx, by = self.px[self.blocks], self.py[self.blocks]
        g_bar = _Gravity(bx, by, self.px[cafes], self.py[cafes], self.pattr[cafes], 0.9)
        ev = np.flatnonzero(evening)
        out[ev] = cafes[g_bar.sample(home_rows[ps[ev]], rng)]
        maxr = int(rank.max()) + 1 if len(rank) else 0
        for r in range(maxr):
            idx = np.flatnonzero((rank == r) & ~evening)
            if len(idx) == 0:
                continue
            pp = ps[idx]
            mrow = mem[pp]
            S = (mrow >= 0).sum(axis=1)
            explore = rng.random(len(pp)) < rho * np.maximum(S, 1) ** (-gamma)
            new = self.g_disc.sample(home_rows[pp], rng)
            inm = mrow == new[:, None]
            hit = inm.any(axis=1)
            full = S >= M
            cum = np.cumsum(cnt[pp], axis=1)
            u = rng.random(len(pp)) * cum[:, -1]
            ret = np.minimum((cum < u[:, None]).sum(axis=1), M - 1)
            ret = np.where(ret < S, ret, 0)
            add_new = explore & ~hit & ~full
            slot = np.where(explore & hit, inm.argmax(axis=1), np.where(add_new, S, ret))
            place = np.where(explore & (hit | ~full), new, mrow[np.arange(len(pp)), ret])
            mem[pp[add_new], S[add_new]] = new[add_new]
            cnt[pp, slot] += 1.0
            out[idx] = disc[place]
        res = np.empty(len(p), np.int64)
        res[order] = out
        # dwell times by the chosen kind
        z = rng.normal(0, 1, len(p))
        dur = self.dwell_med[res] * np.exp(self.dwell_sig[res] * z)
        return res, dur

    # ---------------------------------------------------------------- conflicts
    def resolve(self) -> dict[str, np.ndarray]:
        cols = {k: np.concatenate([a[k] for a in self.acts]) for k in self.acts[0]}
        span = self.T + 10 * DAY
        keep_p: list[np.ndarray] = []
        keep_s: list[np.ndarray] = []
        keep_e: list[np.ndarray] = []
        final = np.zeros(len(cols["p"]), bool)
        for tier, margin in ((0, 0.0), (1, 10 * MIN), (2, 10 * MIN), (3, 10 * MIN)):
            idx = np.flatnonzero(cols["tier"] == tier)
            p, s, e = cols["p"][idx], cols["s"][idx], cols["e"][idx]
            if keep_p:
                kp, ks, ke = np.concatenate(keep_p), np.concatenate(keep_s), np.concatenate(keep_e)
                bad = _overlaps(kp, ks, ke, p, s, e, margin, span)
                idx, p, s, e = idx[~bad], p[~bad], s[~bad], e[~bad]
            k = _greedy_nonoverlap(p, s, e, margin)
            idx, p, s, e = idx[k], p[k], s[k], e[k]
            if tier == 3:
                pl, dur = self.choose_leisure_places(p, s)
                cols["pl"][idx] = pl
                cols["e"][idx] = s + dur
            final[idx] = True
            keep_p.append(p)
            keep_s.append(s)
            keep_e.append(e)
        out = {k: v[final] for k, v in cols.items()}
        order = np.lexsort((out["s"], out["p"]))
        self.n_planned_acts = len(cols["p"])
        return {k: v[order] for k, v in out.items()}

    # ---------------------------------------------------------------- travel
    def legs(
        self,
        p: np.ndarray,
        o: np.ndarray,
        d: np.ndarray,
        t: np.ndarray,
        backward: bool,
        ovr: np.ndarray,
        rec: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rngs["obs"]
        n = len(p)
        dist = self._dist(o, d)
        onb, dnb = self.pnb[o], self.pnb[d]
        same = onb == dnb
        mode = np.where(ovr >= 0, ovr, self._auto_mode(p, o, d))
        mode = np.where((mode == TRANSIT) & same, WALK, mode)
        mode = np.where((mode == CAR) & ~self.uses_car[p] & (ovr < 0), TRANSIT, mode)
        dep = np.empty(n)
        arr = np.empty(n)
        # walk / car
        wc = np.flatnonzero(mode != TRANSIT)
        if len(wc):
            pw, ow, dw = p[wc], o[wc], d[wc]
            v = np.where(mode[wc] == CAR, CAR_V, WALK_V)
            far = (onb[wc] == self.K) | (dnb[wc] == self.K)
            park = np.where(mode[wc] == CAR, 90.0, 0.0)
            cross = ~same[wc]
            aO, aD = self.art_of_nb[onb[wc]], self.art_of_nb[dnb[wc]]
            d1 = np.where(cross, self._dist(ow, aO), dist[wc]) * DETOUR
            d2 = np.where(cross, self._dist(aO, aD), 0.0) * DETOUR
            d3 = np.where(cross, self._dist(aD, dw), 0.0) * DETOUR
            tt1, tt2, tt3 = d1 / v + park, d2 / np.where(far, ROAD_V, v), d3 / v + park
            if backward:
                a_ = t[wc]
                tD = a_ - tt3
                tO = tD - tt2
                dp = tO - tt1
            else:
                dp = t[wc]
                tO = dp + tt1
                tD = tO + tt2
                a_ = tD + tt3
            dep[wc], arr[wc] = dp, a_
            self._instant(pw[cross], aO[cross], tO[cross])
            self._instant(pw[cross], aD[cross], tD[cross])
        tr = np.flatnonzero(mode == TRANSIT)
        if len(tr):
            pt, ot, dt = p[tr], o[tr], d[tr]
            sO, sD = self.stop_of_nb[onb[tr]], self.stop_of_nb[dnb[tr]]
            # trips out of town go by train from the station (reached by bike or feeder bus)
            ao, ad = onb[tr] == self.K, dnb[tr] == self.K
            sO = np.where(ad, self.station, sO)
            sD = np.where(ao, self.station, sD)
            w1 = self._dist(ot, sO) * DETOUR / np.where(ad, FEEDER_V, WALK_V)
            v_ride = np.where(ao | ad, TRAIN_V, TRANSIT_V)
            ride = self._dist(sO, sD) * 1.2 / v_ride + 120.0
            w2 = self._dist(sD, dt) * DETOUR / np.where(ao, FEEDER_V, WALK_V)
            h, off = self.headway[sO], self.hoffset[sO]
            wait = np.where(
                ovr[tr] >= 0, 180.0, self.wait_habit[pt] + rng.exponential(45.0, len(tr))
            )
            if backward:
                latest = t[tr] - w2 - ride
                svc = np.floor((latest - off) / h) * h + off
                at_stop = svc - wait
                dp = at_stop - w1
            else:
                dp = t[tr]
                at_stop = dp + w1
                svc = np.ceil((at_stop - off) / h) * h + off
                # most people check the timetable and only turn up their usual minutes early
                timed = rng.random(len(tr)) < 0.7
                at_stop = np.where(timed, np.maximum(at_stop, svc - wait), at_stop)
                at_stop = np.minimum(at_stop, svc)
            a_ = svc + ride + w2
            dep[tr], arr[tr] = dp, a_
            self._window(pt, sO, at_stop, svc)
            self._instant(pt, sD, svc + ride + rng.uniform(0, 30.0, len(tr)))
            rr = rec[tr] & (np.mod(svc, DAY) < 11 * HOUR)
            if rr.any():
                self.transit_occ.append((sO[rr], svc[rr], pt[rr]))
        # home street passes
        tt = arr - dep
        ob = self.pk[o] == K_BLOCK
        self._instant(p[ob], o[ob], dep[ob] + np.minimum(self.boff[o[ob]], tt[ob] / 3))
        db = self.pk[d] == K_BLOCK
        self._instant(p[db], d[db], arr[db] - np.minimum(self.boff[d[db]], tt[db] / 3))
        self.mode_counts += np.bincount(mode, minlength=3)
        return dep, arr

    def _instant(self, p: np.ndarray, place: np.ndarray, t: np.ndarray) -> None:
        c = self.pcam[place]
        m = c >= 0
        self.inst.append((p[m], c[m], t[m]))

    def _window(self, p: np.ndarray, place: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> None:
        c = self.pcam[place]
        m = c >= 0
        self.wins.append((p[m], c[m], t0[m], np.maximum(t1[m], t0[m])))

    def itinerary(self, a: dict[str, np.ndarray]) -> None:
        self.inst: list[tuple[np.ndarray, ...]] = []
        self.wins: list[tuple[np.ndarray, ...]] = []
        self.transit_occ: list[tuple[np.ndarray, ...]] = []
        self.mode_counts = np.zeros(3, np.int64)
        p, pl, s, e = a["p"], a["pl"], a["s"], a["e"]
        home = self.home[p]
        first = _starts(p)
        last = _ends(p)
        prev_pl = np.r_[0, pl[:-1]]
        prev_e = np.r_[0.0, e[:-1]]
        rt = self._est_tt(prev_pl, home) + self._est_tt(home, pl) + 30 * MIN
        via_home = first | (s - prev_e > rt)
        origin = np.where(via_home, home, prev_pl)
        ovr_in = np.where(
            via_home | (a["ovr"] >= 0), a["ovr"], -1
        )  # a direct hop uses the joint mode only if planned
        tag = a["tag"]
        rec = via_home & np.isin(tag, [T_WORK, T_SCHOOL])
        moving = origin != pl
        dep_in = s.copy()
        arr_in = s.copy()
        mv = np.flatnonzero(moving)
        d_, a_ = self.legs(p[mv], origin[mv], pl[mv], s[mv], True, ovr_in[mv], rec[mv])
        dep_in[mv], arr_in[mv] = d_, a_
        go_home = last | np.r_[via_home[1:], False]
        gh = np.flatnonzero(go_home & (pl != home))
        self.legs(p[gh], pl[gh], home[gh], e[gh], False, a["ovr_out"][gh], np.zeros(len(gh), bool))
        # stays
        leave = np.where(go_home, e, np.r_[dep_in[1:], 0.0])
        conflict = leave < arr_in + 30.0
        self.n_conflicts = int(conflict.sum())
        leave = np.maximum(leave, arr_in + 30.0)
        c = self.pcam[pl]
        m = c >= 0
        cm = np.where(m, self.cam_mode[np.maximum(c, 0)], CM_PASS)
        area = np.flatnonzero(m & (cm == CM_AREA))
        self._window(p[area], pl[area], arr_in[area], leave[area])
        door = np.flatnonzero(m & (cm == CM_DOOR))
        edge = self.cam_edge[c[door]]
        t0, t1 = arr_in[door], leave[door]
        short = (t1 - t0) <= 2 * edge
        self._window(p[door], pl[door], t0, np.where(short, t1, t0 + edge))
        lg = ~short
        self._window(p[door][lg], pl[door][lg], t1[lg] - edge[lg], t1[lg])
        self.stays = (p, pl, arr_in, leave, tag, a["aux"])

    # ---------------------------------------------------------------- observation
    def observe(self) -> pd.DataFrame:
        rng = self.rngs["obs"]
        wp = np.concatenate([w[0] for w in self.wins])
        wc = np.concatenate([w[1] for w in self.wins])
        w0 = np.concatenate([w[2] for w in self.wins])
        w1 = np.concatenate([w[3] for w in self.wins])
        lam = self.cam_rate[wc] * (w1 - w0) * self.cam_pdet[wc]
        k = np.minimum(rng.poisson(lam), MAX_PER_STAY)
        sp = np.repeat(wp, k)
        sc = np.repeat(wc, k)
        st = np.repeat(w0, k) + rng.random(int(k.sum())) * np.repeat(w1 - w0, k)
        ip = np.concatenate([w[0] for w in self.inst])
        ic = np.concatenate([w[1] for w in self.inst])
        it = np.concatenate([w[2] for w in self.inst])
        hit = rng.random(len(ip)) < self.cam_pdet[ic]
        P_ = np.r_[sp, ip[hit]]
        C_ = np.r_[sc, ic[hit]]
        T_ = np.r_[st, it[hit] + rng.normal(0, 2.0, int(hit.sum()))]
        ok = (T_ >= 0) & (T_ < self.T)
        P_, C_, T_ = P_[ok], C_[ok], T_[ok]
        self.n_detected = len(P_)
        # camera outages
        if len(self.out_cam):
            o = np.lexsort((self.out_start, self.out_cam))
            oc, os_, oe = self.out_cam[o], self.out_start[o], self.out_end[o]
            # running max of ends per camera, so overlapping outages are handled
            oe = pd.Series(oe).groupby(oc).cummax().to_numpy()
            span = self.T + 10 * DAY
            idx = np.searchsorted(oc * span + os_, C_ * span + T_, side="right") - 1
            okk = idx >= 0
            idx = np.clip(idx, 0, None)
            off = okk & (oc[idx] == C_) & (oe[idx] > T_)
            self.n_offline = int(off.sum())
            P_, C_, T_ = P_[~off], C_[~off], T_[~off]
        else:
            self.n_offline = 0
        n = len(P_)
        true_p = P_.copy()
        false = rng.random(n) < self.cam_pfm[C_]
        fi = np.flatnonzero(false)
        how = rng.random(len(fi))
        # a regular of the same camera: a random (true) sighting of that camera
        order = np.argsort(C_, kind="stable")
        cs = C_[order]
        lo = np.searchsorted(cs, C_[fi], "left")
        hi = np.searchsorted(cs, C_[fi], "right")
        reg = true_p[order[lo + (rng.random(len(fi)) * (hi - lo)).astype(np.int64)]]
        look = self.lookalike[true_p[fi], rng.integers(0, 3, len(fi))]
        anyone = rng.integers(0, self.N, len(fi))
        repl = np.where(how < 0.5, reg, np.where(how < 0.8, look, anyone))
        repl = np.where(repl == true_p[fi], look, repl)
        P_[fi] = repl
        correct = np.equal(P_, true_p)
        q = self.cam_quality[C_]
        conf = np.where(
            correct,
            rng.beta(2.0 + 8.0 * q, 2.0),
            rng.beta(3.0, 4.0, n),
        )
        conf = np.round(np.clip(conf, 0.0, 1.0), 3)
        self.n_false = int((~correct).sum())
        # timestamps: local clock -> UTC
        us = np.round(T_ * 1e6).astype(np.int64)
        o = np.lexsort((P_, us))
        us, P_, C_, conf, correct = us[o], P_[o], C_[o], conf[o], correct[o]
        local = self.start.to_datetime64().astype("datetime64[us]") + us.astype("timedelta64[us]")
        idx_ = pd.DatetimeIndex(local).tz_localize(
            TZ, ambiguous=np.zeros(len(us), bool), nonexistent="shift_forward"
        )
        ts = idx_.tz_convert("UTC").astype("datetime64[us, UTC]")
        self.correct = correct
        return pd.DataFrame(
            {
                "subject_id": pd.array(self.subject_ids[P_], dtype="str"),
                "camera_id": pd.array(self.cam_ids[C_], dtype="str"),
                "ts": ts,
                "confidence": conf.astype(np.float64),
            }
        )

    # ---------------------------------------------------------------- truth
    def ties_table(self) -> tuple[pd.DataFrame, np.ndarray]:
        a = np.concatenate(self.tie_a)
        b = np.concatenate(self.tie_b)
        kind = np.concatenate(self.tie_kind)
        nplan = np.concatenate(self.tie_n)
        prio = {
            "partners": 0,
            "family": 1,
            "carpool": 2,
            "colleagues-close": 3,
            "club": 4,
            "friends": 5,
        }
        pr = np.array([prio[k] for k in kind])
        ok = a != b
        a, b, kind, nplan, pr = a[ok], b[ok], kind[ok], nplan[ok], pr[ok]
        key = a * self.N + b
        o = np.lexsort((pr, key))
        key, a, b, kind, nplan = key[o], a[o], b[o], kind[o], nplan[o]
        first = _starts(key)
        a, b, kind, nplan, key = a[first], b[first], kind[first], nplan[first], key[first]
        co = self.hh[a] == self.hh[b]
        df = pd.DataFrame(
            {
                "subject_a": pd.array(self.subject_ids[a], dtype="str"),
                "subject_b": pd.array(self.subject_ids[b], dtype="str"),
                "kind": pd.array(kind, dtype="str"),
                "co_resident": co,
                "n_planned": nplan,
            }
        )
        # canonical order of ids within a pair
        sw = df["subject_a"].to_numpy() > df["subject_b"].to_numpy()
        if sw.any():
            sa = df["subject_a"].to_numpy().copy()
            sb = df["subject_b"].to_numpy().copy()
            sa[sw], sb[sw] = sb[sw], sa[sw]
            df["subject_a"] = pd.array(sa, dtype="str")
            df["subject_b"] = pd.array(sb, dtype="str")
        df = df.sort_values(["kind", "subject_a", "subject_b"], ignore_index=True)
        return df, key

    def strangers_table(self, tie_keys: np.ndarray) -> tuple[pd.DataFrame, int]:
        rng = self.rngs["truth"]
        N = self.N
        n_wd = int((~self.weekend).sum())
        parts: list[dict[str, np.ndarray]] = []
        # 1. same boarding (stop, service) on weekday mornings
        if self.transit_occ:
            so = np.concatenate([x[0] for x in self.transit_occ])
            sv = np.concatenate([x[1] for x in self.transit_occ])
            sp = np.concatenate([x[2] for x in self.transit_occ])
            cam = self.pcam[so]
            ok = cam >= 0
            so, sv, sp = so[ok], sv[ok], sp[ok]
            grp = so * (self.D * 1000) + np.round(sv / 60.0).astype(np.int64)
            ia, ib = _pairs_in_groups(grp, None, 0.0)
            slot = so[ia] * 10_000 + np.round(np.mod(sv[ia], DAY) / 60.0).astype(np.int64)
            parts.append(
                {
                    "a": sp[ia],
                    "b": sp[ib],
                    "slot": slot,
                    "day": np.floor(sv[ia] / DAY).astype(np.int64),
                    "place": so[ia],
                    "tod": np.mod(sv[ia], DAY),
                    "venue": np.zeros(len(ia), np.int64),
                    "days": np.full(len(ia), n_wd),
                }
            )
        # 2. same school gate within 90 s at arrival (parents dropping off, pupils, students)
        sp_, spl, sarr, _, stag, saux = self.stays
        g = np.flatnonzero(np.isin(stag, [T_DROP, T_SCHOOL]) & (self.pcam[spl] >= 0))
        if len(g):
            gs, gt, gp = spl[g], sarr[g], sp_[g]
            gd = np.floor(gt / DAY).astype(np.int64)
            ia, ib = _pairs_in_groups(gs * (self.D + 1) + gd, gt, 90.0)
            parts.append(
                {
                    "a": gp[ia],
                    "b": gp[ib],
                    "slot": gs[ia] * 10_000,
                    "day": gd[ia],
                    "place": gs[ia],
                    "tod": np.mod(0.5 * (gt[ia] + gt[ib]), DAY),
                    "venue": np.ones(len(ia), np.int64),
                    "days": np.full(len(ia), n_wd),
                }
            )
        # 3. same gym class session
        g = np.flatnonzero(stag == T_GYM)
        if len(g):
            gp, gc, ga = sp_[g], saux[g], sarr[g]
            gday = np.floor(ga / DAY).astype(np.int64)
            okk = self.pcam[self.cls_gym[gc]] >= 0
            gp, gc, ga, gday = gp[okk], gc[okk], ga[okk], gday[okk]
            ia, ib = _pairs_in_groups(gc * (self.D + 1) + gday, None, 0.0)
            parts.append(
                {
                    "a": gp[ia],
                    "b": gp[ib],
                    "slot": 10**9 + gc[ia],
                    "day": gday[ia],
                    "place": self.cls_gym[gc[ia]],
                    "tod": self.cls_start[gc[ia]],
                    "venue": np.full(len(ia), 2, np.int64),
                    "days": self.cls_sessions[gc[ia]],
                }
            )
        if not parts:
            z = np.zeros(0, np.int64)
            parts.append({k: z for k in ("a", "b", "slot", "day", "place", "venue", "days")})
            parts[0]["tod"] = np.zeros(0)
        x = {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}
        lo, hi = np.minimum(x["a"], x["b"]), np.maximum(x["a"], x["b"])
        pk = lo * N + hi
        keep = (lo != hi) & ~np.isin(pk, tie_keys)
        x = {k: v[keep] for k, v in x.items()}
        pk = pk[keep]
        # distinct days per (pair, slot)
        o = np.lexsort((x["day"], x["slot"], pk))
        pk = pk[o]
        x = {k: v[o] for k, v in x.items()}
        newday = _starts(pk, x["slot"], x["day"])
        pk = pk[newday]
        x = {k: v[newday] for k, v in x.items()}
        grp_start = _starts(pk, x["slot"])
        gid = np.cumsum(grp_start) - 1
        ndays = np.bincount(gid)
        tod_sum = np.bincount(gid, weights=x["tod"])
        first = np.flatnonzero(grp_start)
        days = x["days"][first]
        need = np.maximum(2, np.ceil(0.5 * days))
        qual = ndays >= need
        first, ndays, tod = first[qual], ndays[qual], tod_sum[qual] / ndays[qual]
        pkq = pk[first]
        # one row per pair: its best slot
        o = np.lexsort((-ndays, pkq))
        pkq, first, ndays, tod = pkq[o], first[o], ndays[o], tod[o]
        one = _starts(pkq)
        pkq, first, ndays, tod = pkq[one], first[one], ndays[one], tod[one]
        total = len(pkq)
        vcount = np.bincount(x["venue"][first], minlength=3)
        self.strangers_by_venue = {
            n: int(c) for n, c in zip(("stop", "school", "gym"), vcount, strict=True)
        }
        if total > STRANGERS_MAX:
            # balanced across venues: small venues keep all their pairs, the rest share the quota
            v = x["venue"][first]
            chosen: list[np.ndarray] = []
            left = STRANGERS_MAX
            for i, vi in enumerate(np.argsort(vcount, kind="stable")):
                rows = np.flatnonzero(v == vi)
                quota = min(len(rows), left // (3 - i))
                chosen.append(rng.choice(rows, quota, replace=False))
                left -= quota
            s = np.sort(np.concatenate(chosen))
            pkq, first, ndays, tod = pkq[s], first[s], ndays[s], tod[s]
        a, b = pkq // N, pkq % N
        venue_names = np.array(["stop", "school", "gym"], dtype=object)
        tod_i = np.round(tod).astype(np.int64)
        sa, sb = self.subject_ids[a], self.subject_ids[b]
        sw = sa > sb
        sa2 = np.where(sw, sb, sa)
        sb2 = np.where(sw, sa, sb)
        df = pd.DataFrame(
            {
                "subject_a": pd.array(sa2, dtype="str"),
                "subject_b": pd.array(sb2, dtype="str"),
                "kind": pd.array(np.full(len(a), "routine", dtype=object), dtype="str"),
                "venue": pd.array(venue_names[x["venue"][first]], dtype="str"),
                "camera_id": pd.array(self.cam_ids[self.pcam[x["place"][first]]], dtype="str"),
                "slot_tod": pd.array(
                    np.array(
                        [f"{v // 3600:02d}:{v % 3600 // 60:02d}" for v in tod_i], dtype=object
                    ),
                    dtype="str",
                ),
                "slot_tod_s": tod_i,
                "days_shared": ndays.astype(np.int64),
                "slot_days": x["days"][first].astype(np.int64),
            }
        )
        df = df.sort_values(["venue", "subject_a", "subject_b"], ignore_index=True)
        return df, total

    def persons_table(self) -> pd.DataFrame:
        def cam_of(place: np.ndarray) -> np.ndarray:
            c = np.where(place >= 0, self.pcam[np.maximum(place, 0)], -1)
            return np.where(c >= 0, self.cam_ids[np.maximum(c, 0)], "")

        N = self.N
        agegrp = np.where(self.senior, "senior", np.where(self.adult, "adult", "child"))
        wk = np.where(
            self.work_kind >= 0,
            np.array(KIND_NAMES, dtype=object)[np.maximum(self.work_kind, 0)],
            "",
        )
        stop = self.stop_of_nb[self.hnb]
        return (
            pd.DataFrame(
                {
                    "subject_id": pd.array(self.subject_ids, dtype="str"),
                    "household": np.asarray(self.hh, np.int64),
                    "role": pd.array(np.array(ROLE_NAMES, dtype=object)[self.role], dtype="str"),
                    "age_group": pd.array(agegrp.astype(object), dtype="str"),
                    "neighbourhood": np.asarray(self.hnb, np.int64),
                    "home_camera": pd.array(cam_of(self.home).astype(object), dtype="str"),
                    "work_kind": pd.array(wk.astype(object), dtype="str"),
                    "work_camera": pd.array(cam_of(self.work).astype(object), dtype="str"),
                    "school_camera": pd.array(cam_of(self.school).astype(object), dtype="str"),
                    "stop_camera": pd.array(cam_of(stop).astype(object), dtype="str"),
                    "uses_car": self.uses_car,
                    "escort": self.is_escort,
                    "carpool": self.carpool,
                    "gym_class": self.gym_class,
                    "club": self.club_of,
                    "outing_rate": np.round(self.outing_rate, 3),
                    "home_x_km": np.round(self.px[self.home], 3),
                    "home_y_km": np.round(self.py[self.home], 3),
                }
            )
            .iloc[np.argsort(self.subject_ids)]
            .reset_index(drop=True)
            .iloc[:N]
        )

    def cameras_table(self) -> pd.DataFrame:
        lat = LAT0 + self.cam_y / 111.32
        lon = LON0 + self.cam_x / (111.32 * math.cos(math.radians(LAT0)))
        kind = np.array(KIND_NAMES, dtype=object)[self.cam_kind]
        nbn = np.array([f"N{k:02d}" for k in range(self.K)], dtype=object)[self.pnb[self.cam_place]]
        name = np.array(
            [
                "station" if i == self.station else f"{k} {i}"
                for k, i in zip(kind, self.cam_place, strict=True)
            ],
            dtype=object,
        )
        df = pd.DataFrame(
            {
                "camera_id": pd.array(self.cam_ids, dtype="str"),
                "lat": np.round(lat, 6),
                "lon": np.round(lon, 6),
                "name": pd.array(name, dtype="str"),
                "site": pd.array(nbn, dtype="str"),
                "kind": pd.array(kind, dtype="str"),
                "mode": pd.array(np.array(CM_NAMES, dtype=object)[self.cam_mode], dtype="str"),
                "p_detect": np.round(self.cam_pdet, 3),
                "p_false_match": np.round(self.cam_pfm, 4),
                "quality": np.round(self.cam_quality, 3),
            }
        )
        return df.sort_values("camera_id", ignore_index=True)

    # ---------------------------------------------------------------- run
    def run(self) -> Town:
        self.households()
        self.geography()
        rng = self.rngs["pop"]
        width = max(5, len(str(self.N)))
        perm = rng.permutation(self.N)
        self.subject_ids = np.array([f"S{int(i):0{width}d}" for i in perm], dtype=object)
        self.people()
        self.work_and_lunch()
        self.school_runs()
        self.classes_and_clubs()
        self.social()
        self.leisure()
        acts = self.resolve()
        self.itinerary(acts)
        sightings = self.observe()
        ties, tie_keys = self.ties_table()
        strangers, n_str = self.strangers_table(tie_keys)
        persons = self.persons_table()
        cameras = self.cameras_table()
        outages = pd.DataFrame(
            {
                "camera_id": pd.array(self.cam_ids[self.out_cam], dtype="str"),
                "start_local_s": np.round(self.out_start, 1),
                "end_local_s": np.round(self.out_end, 1),
            }
        )
        params: dict[str, Any] = {
            "generator": "sightgraph.synthetic.town",
            "persons": self.N,
            "days": self.D,
            "seed": self.seed,
            "start": str(self.start.date()),
            "timezone": TZ,
            "neighbourhoods": self.K,
            "radius_km": round(self.R, 3),
            "households": self.H,
            "places": int(self.P),
            "cameras": int(self.C),
            "cameras_by_kind": {
                k: int(v) for k, v in cameras["kind"].value_counts().sort_index().items()
            },
            "roles": {ROLE_NAMES[r]: int((self.role == r).sum()) for r in range(6)},
            "sightings": int(len(sightings)),
            "detections_before_outages": int(self.n_detected),
            "lost_to_outages": int(self.n_offline),
            "false_matches": int(self.n_false),
            "outages": int(len(self.out_cam)),
            "activities_planned": int(self.n_planned_acts),
            "activities_kept": int(len(acts["p"])),
            "time_conflicts": int(self.n_conflicts),
            "legs_by_mode": {MODE_NAMES[i]: int(self.mode_counts[i]) for i in range(3)},
            "ties": int(len(ties)),
            "ties_by_kind": {
                k: int(v) for k, v in ties["kind"].value_counts().sort_index().items()
            },
            "strangers": int(len(strangers)),
            "strangers_total": int(n_str),
            "strangers_max": STRANGERS_MAX,
            "strangers_sampled": bool(n_str > STRANGERS_MAX),
            "strangers_sampling": "uniform within venue, quota balanced across venues",
            "strangers_total_by_venue": self.strangers_by_venue,
            "strangers_rule": "not tied; same (stop, service) boarding on weekday mornings, same "
            "school gate within 90 s at the morning arrival, or same gym class session; on at least "
            "max(2, ceil(slot_days/2)) days; only slots with a camera",
            "carpools": len(self.carpool_groups),
            "lunch_groups": len(self.lunch_groups),
            "clubs": len(self.club_members),
            "gym_classes": int(len(self.cls_gym)),
            "family_visits_at_home": int(self.n_family_visits_home),
            "epr": {"rho": 0.6, "gamma": 0.21},
            "max_sightings_per_stay": MAX_PER_STAY,
        }
        return Town(sightings, cameras, ties, strangers, persons, params, outages)


def generate_town(
    persons: int = 1500, days: int = 14, seed: int = 0, start: str = "2026-03-02"
) -> Town:
    """Generate a synthetic town (see the module docstring for the model); deterministic per seed."""
    return _Builder(persons, days, seed, start).run()


CAMERA_INGEST_COLUMNS = ("camera_id", "lat", "lon", "name", "site", "kind")


def write_town(town: Town, out_dir: str | Path) -> None:
    """Write a town to ``out_dir``.

    Files: ``sightings.parquet``, ``cameras.csv`` (camera_id, lat, lon, name, site, kind - what a
    deployment would know) and ``truth/`` with ties.csv, strangers.csv, persons.csv, params.json,
    cameras.csv (adds detection probability, false-match rate, quality) and outages.csv (local
    seconds from the start).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    s = town.sightings
    table = pa.table(
        {
            "subject_id": pa.array(s["subject_id"].astype(str).to_numpy(), pa.string()),
            "camera_id": pa.array(s["camera_id"].astype(str).to_numpy(), pa.string()),
            "ts": pa.Array.from_pandas(s["ts"]).cast(pa.timestamp("us", tz="UTC")),
            "confidence": pa.array(s["confidence"].to_numpy(np.float64), pa.float64()),
        }
    )
    pq.write_table(table, out / "sightings.parquet")
    town.cameras.loc[:, list(CAMERA_INGEST_COLUMNS)].to_csv(out / "cameras.csv", index=False)
    town.cameras.to_csv(out / "truth" / "cameras.csv", index=False)
    town.ties.to_csv(out / "truth" / "ties.csv", index=False)
    town.strangers.to_csv(out / "truth" / "strangers.csv", index=False)
    town.persons.to_csv(out / "truth" / "persons.csv", index=False)
    town.outages.to_csv(out / "truth" / "outages.csv", index=False)
    (out / "truth" / "params.json").write_text(json.dumps(town.params, indent=2, sort_keys=True))


def read_town_truth(
    out_dir: str | Path,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Read (ties, strangers, persons, params) written by :func:`write_town`."""
    t = Path(out_dir) / "truth"
    ids = {
        "subject_a": "str",
        "subject_b": "str",
        "subject_id": "str",
        "camera_id": "str",
        "home_camera": "str",
        "work_camera": "str",
        "school_camera": "str",
        "stop_camera": "str",
        "slot_tod": "str",
        "kind": "str",
        "venue": "str",
        "work_kind": "str",
    }
    ties = pd.read_csv(t / "ties.csv", dtype=ids, keep_default_na=False)
    strangers = pd.read_csv(t / "strangers.csv", dtype=ids, keep_default_na=False)
    persons = pd.read_csv(t / "persons.csv", dtype=ids, keep_default_na=False)
    params = json.loads((t / "params.json").read_text())
    return ties, strangers, persons, params
