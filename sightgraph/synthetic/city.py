"""Synthetic city: sightings with planted ties, routine strangers, recognition noise and ground truth.

The demo and test data source of sightgraph (``sightgraph generate``). A city is a square of
``extent_km`` around ``center`` with cameras of five kinds (``site``):

``hub``
    stations; Zipf-popular; commuters pass them once each way (one sighting) on a train timetable.
``street``
    through streets; commuters pass one on the way (one sighting).
``work``
    workplace entrances; passed (one sighting each) on arriving, on going out to lunch and coming
    back, and on leaving. The camera does not see inside.
``leisure``
    cafes, bars, parks, shops, ...; Zipf-popular; stays there are seen (a sighting every
    ``gap_s['leisure']`` seconds on average): alone, with the household, with friends, or with
    the team at lunch.
``home``
    residential street cameras: they see a person leave home and come back (one sighting each),
    never while at home. About 17 persons (7 households) share one.

Persons live in households, work in teams, belong to friend groups and follow daily and weekly
routines (weekday commute home -> street -> hub -> workplace and back; weekends with household
outings and leisure). Every person-day is simulated as an ordered chain of visits in which each
leg takes at least the travel time between camera positions (so genuine transitions are
plausible, about 30 km/h door to door; long leisure trips pass a hub too), and every visit is
turned into sightings: one for a pass, several over a stay. A person alone is seen at random
moments of a stay; members of a group present together (a household or friends out together, a
team at lunch) are seen at moments the group shares, within a minute of each other, and members
who leave or arrive together pass the camera within seconds of each other.

Ground truth (``City.ties``, ``City.strangers``, ``City.persons``):

- **ties** (``subject_a < subject_b``, one row per pair): ``household`` (2-4 persons sharing a
  home; seen together when they leave and come back together: weekend outings, evenings out
  together, and on some weekday mornings the commuters who leave within half an hour of each
  other walk out together; and at the places of their outings), ``coworkers`` (2-6 persons of
  one team at one workplace: the same start time; on most weekdays they walk out to lunch
  together, at one of the team's three lunch places near the workplace, a different one from
  day to day, so they meet at the entrance and at changing cafes; colleagues of other teams
  only pass the same entrance at their own times), and ``friends`` (groups of 3-5 persons who
  meet a few times over the period, on random evenings, at a different leisure place each time;
  ``friend_meetings`` says how many meetings both attended). A pair in two groups is listed once,
  with the first kind in the order household, coworkers, friends.
- **strangers**: pairs of commuters who take the same train at the same hub every weekday (the
  08:12 at Station 3), in the morning (``am_departure``) or evening (``pm_departure``) or both,
  and share *nothing else* of their routines: not a tie (no common household, team or friend
  group), different home cameras, different workplaces and different street cameras (pairs who
  share the train and one of these are background, neither ties nor strangers). They are seen
  within a minute of each other at the hub on most weekdays, so naive counts of days or meetings
  together rank them above friends (who meet on a few evenings), and the crowd at a busy hub
  gives a raw event count many such pairs; they are not associates.
- **persons**: home, work and hub camera per subject. No demographic attributes of any kind.
- **false_matches**: every reported sighting that is a false match (``subject_id``,
  ``camera_id``, ``ts``: the key of the sighting in ``City.sightings``; ``true_subject_id``: who
  was really there). The truth of the ``implausible`` flag of trajectories
  (:func:`false_match_mask` marks them in a sightings frame).

Other pairs co-locate by chance, as in any city: patrons of a popular bar or cafe at the same
hour, neighbours leaving their street at the same minute, the crowd on the same train. They are
background, neither ties nor strangers (routine strangers can meet by chance like anyone else).

Recognition noise (:class:`Noise`): each true sighting is missed with ``miss_prob``; a surviving
sighting is credited to another random subject with ``false_match_prob`` (a false match, with a
lower confidence score and usually an implausible jump in that subject's trajectory). Every
sighting has a confidence in (0, 1], rounded to 3 decimals; timestamps are whole seconds, UTC.

Size: a default city yields about 13 sightings per person-day (2000 persons, 14 days: about
370,000 sightings; the rate depends a little on the share of weekend days). Ask for a size with
``generate_city(target_sightings=N)`` or :func:`persons_for_sightings` (which measures the rate
with a small pilot city). Cameras scale with persons (``persons // 10``) unless given.
Everything is vectorised over persons (a Python loop runs per day and per activity, never per
sighting): about 2 s for a million sightings and 20 s for ten million on two cores.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sightgraph.errors import UsageError
from sightgraph.lake import write_table

__all__ = [
    "SITE_KINDS",
    "STRANGER_COLUMNS",
    "TIE_COLUMNS",
    "TIE_KINDS",
    "PERSON_COLUMNS",
    "City",
    "Noise",
    "Truth",
    "FALSE_MATCH_COLUMNS",
    "false_match_mask",
    "generate_city",
    "persons_for_sightings",
    "read_city",
    "read_truth",
    "write_city",
]

SITE_KINDS = ("hub", "work", "leisure", "street", "home")
TIE_KINDS = ("household", "coworkers", "friends")  # priority order when a pair is in two groups
TIE_COLUMNS = ("subject_a", "subject_b", "kind", "group_id", "friend_meetings")
STRANGER_COLUMNS = ("subject_a", "subject_b", "kind", "camera_id", "am_departure", "pm_departure")
PERSON_COLUMNS = ("subject_id", "home_camera", "work_camera", "hub_camera", "household_id")
SIGHTING_COLUMNS = ("subject_id", "camera_id", "ts", "confidence")
CAMERA_COLUMNS = ("camera_id", "lat", "lon", "name", "site")
FALSE_MATCH_COLUMNS = ("subject_id", "camera_id", "ts", "true_subject_id")

_HUB, _WORK, _LEISURE, _STREET, _HOME = range(5)
_M = 60.0  # seconds per minute
_H = 3600.0
_M_PER_DEG = 111_320.0
_LEISURE_NAMES = ("Bar", "Park", "Shop", "Cafe", "Gym", "Cinema", "Market", "Library")
_HUB_NAMES = ("Central", "North", "South", "East", "West", "Harbour", "Airport", "University")

# Behaviour of the city: recorded in City.params["behaviour"]. Times are seconds after local midnight.
BEHAVIOUR: dict[str, Any] = {
    "site_shares": {"hub": 0.03, "work": 0.15, "leisure": 0.15, "street": 0.07},  # rest: home
    "zipf_exponent": {"hub": 1.0, "work": 0.9, "leisure": 0.8},
    "household_sizes": {"1": 0.30, "2": 0.33, "3": 0.17, "4": 0.20},
    "team_sizes": {"1": 0.15, "2": 0.20, "3": 0.25, "4": 0.20, "5": 0.10, "6": 0.10},
    "friend_group_sizes": {"3": 0.4, "4": 0.35, "5": 0.25},
    "worker_share": 0.80,
    "hub_commuter_share": 0.75,  # of workers; the others commute through streets only
    "street_pass_share": 0.70,  # of commuters: pass one street camera on the way
    "friend_share": 0.55,  # persons in a friend group (at most one each)
    "friend_meetings_per_week": 1.0,  # per group: 1 + Poisson(rate * weeks), at least 2
    "friend_attendance": 0.85,
    "absent_prob": 0.05,  # a worker stays home on a weekday (sick, leave, home office)
    "train_deviation_prob": 0.05,  # a commuter takes the train before/after the usual one
    "lunch_skip_prob": 0.10,
    "train_headway_s": 300,
    "hub_jitter_s": [20, 100],  # seen at the hub this long before the departure
    "speed_mps": 8.0,  # door to door, plus a fixed overhead
    "ride_speed_mps": 12.0,  # hub to workplace
    "travel_overhead_s": 120.0,
    "ride_overhead_s": 180.0,
    "gap_s": {"leisure": 600.0},  # mean gap between sightings during a stay
    "group_seen_prob": 0.8,  # a member present at one of the group's moments is seen
    "together_jitter_s": 10.0,  # members of a group passing a camera together: within this
    "min_home_s": 300.0,  # at home at least this long before going out again
    "household_leave_together_prob": 0.5,  # per weekday and household: commuters leave together
    "leave_together_window_s": 1800.0,  # ... those who would leave within this of the first
    "weekday_midday_leisure_prob": 0.40,  # persons at home on a weekday
    "evening_leisure_prob": {"weekday": 0.10, "weekend": 0.15},  # alone
    "household_evening_prob": {"weekday": 0.10, "weekend": 0.25},  # household of 2+, together
    "weekend_afternoon_leisure_prob": 0.45,
    "household_outing_prob": 0.50,  # per weekend day and household of 2+
    "lunch_places": 3,  # per team, near the workplace; one of them each day
    "lunch_distance_scale_m": 800.0,
    "leisure_distance_scale_m": 2500.0,
    "hub_distance_scale_m": 3000.0,
    "via_hub_min_m": 3000.0,  # leisure trips longer than this pass the hub nearest their origin
}


@dataclass(frozen=True)
class Noise:
    """Recognition noise of the upstream system.

    Parameters
    ----------
    miss_prob : float
        Probability that a true sighting is not reported (missed detection), in [0, 1).
    false_match_prob : float
        Probability that a reported sighting is credited to another, random subject, in [0, 1).
    confidence_true, confidence_false : tuple of float
        Beta distribution parameters of the confidence of true and of false matches.
    """

    miss_prob: float = 0.10
    false_match_prob: float = 0.01
    confidence_true: tuple[float, float] = (12.0, 1.5)
    confidence_false: tuple[float, float] = (4.0, 4.0)

    @classmethod
    def off(cls) -> Noise:
        """No missed detections and no false matches (confidence scores are still drawn)."""
        return cls(miss_prob=0.0, false_match_prob=0.0)


@dataclass
class City:
    """A generated city: sightings, cameras and the ground truth that produced them.

    Attributes
    ----------
    sightings : DataFrame
        ``subject_id`` (str), ``camera_id`` (str), ``ts`` (datetime64[us, UTC], whole seconds),
        ``confidence`` (float64 in (0, 1]); sorted by ``ts``, ``camera_id``, ``subject_id``;
        no subject twice at one camera in the same second.
    cameras : DataFrame
        ``camera_id``, ``lat``, ``lon``, ``name``, ``site`` (one of :data:`SITE_KINDS`).
    ties : DataFrame
        ``subject_a < subject_b``, ``kind`` in :data:`TIE_KINDS`, ``group_id`` (the household,
        team or friend group), ``friend_meetings`` (Int64: for pairs of one friend group, the
        planned meetings both attended, 0 if never together; missing for other pairs).
    strangers : DataFrame
        ``subject_a < subject_b``, ``kind`` = ``'routine_stranger'``, ``camera_id`` (the hub),
        ``am_departure`` / ``pm_departure`` (local ``HH:MM`` of the shared train, or missing).
    persons : DataFrame
        ``subject_id``, ``home_camera``, ``work_camera``, ``hub_camera`` (missing if none),
        ``household_id``.
    params : dict
        Arguments, behaviour constants and counts (JSON-serialisable).
    false_matches : DataFrame or None
        The reported sightings that are false matches, one row each (see
        :data:`FALSE_MATCH_COLUMNS`): ``subject_id``, ``camera_id``, ``ts`` (the sighting's key in
        ``sightings``) and ``true_subject_id`` (who was really seen); in the order of
        ``sightings``. A sighting merged with a true one of the same subject, camera and second is
        not a false match. None when unknown (a city written before this table existed).
    """

    sightings: pd.DataFrame
    cameras: pd.DataFrame
    ties: pd.DataFrame
    strangers: pd.DataFrame
    persons: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    false_matches: pd.DataFrame | None = None


@dataclass
class Truth:
    """Ground truth read back from ``OUT/truth/`` (see :func:`read_truth`)."""

    ties: pd.DataFrame
    strangers: pd.DataFrame
    persons: pd.DataFrame
    params: dict[str, Any]
    false_matches: pd.DataFrame | None = None  # None when OUT/truth/false_matches.csv is missing


# ---------------------------------------------------------------------------------------------
# validation


def _check_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise UsageError(f"generate: {name} must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        limit = f"at least {low}" if high is None else f"between {low} and {high}"
        raise UsageError(f"generate: {name} must be {limit}, got {value}")
    return int(value)


def _check_noise(noise: Noise | Mapping[str, Any] | None) -> Noise:
    if noise is None:
        return Noise()
    if isinstance(noise, Mapping):
        unknown = set(noise) - set(Noise.__dataclass_fields__)
        if unknown:
            raise UsageError(f"generate: unknown noise field(s) {', '.join(sorted(unknown))}")
        noise = Noise(**noise)
    if not isinstance(noise, Noise):
        raise UsageError(f"generate: noise must be a Noise or a dict, got {type(noise).__name__}")
    for name in ("miss_prob", "false_match_prob"):
        p = getattr(noise, name)
        if not (isinstance(p, int | float) and 0.0 <= p < 1.0):
            raise UsageError(f"generate: noise {name} must be in [0, 1), got {p!r}")
    for name in ("confidence_true", "confidence_false"):
        ab = getattr(noise, name)
        if len(ab) != 2 or min(ab) <= 0:
            raise UsageError(
                f"generate: noise {name} must be two positive Beta parameters, got {ab!r}"
            )
    return noise


def _check_start(start: str | pd.Timestamp) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"generate: start must be a date like 2026-03-02, got {start!r}") from exc
    if ts.tzinfo is not None or ts != ts.normalize():
        raise UsageError(
            f"generate: start must be a calendar date without time or zone, got {start!r}"
        )
    return ts


# ---------------------------------------------------------------------------------------------
# layout and population


@dataclass
class _Cams:
    kind: np.ndarray  # int8 site code per camera
    x: np.ndarray  # metres east of the centre
    y: np.ndarray  # metres north of the centre
    idx: dict[int, np.ndarray]  # camera indices per kind
    near_hub: np.ndarray  # nearest hub per camera
    pop: dict[int, np.ndarray]  # popularity weights per kind (aligned with idx)
    headway: float
    train_offset: np.ndarray  # per hub (aligned with idx[_HUB]): timetable offset, seconds


@dataclass
class _Pop:
    n: int
    hh: np.ndarray  # household per person
    n_hh: int
    hh_size: np.ndarray
    home: np.ndarray  # camera per person
    hh_fav: np.ndarray  # (n_hh, k) leisure cameras
    fav: np.ndarray  # (n, k) leisure cameras
    worker: np.ndarray
    work: np.ndarray  # camera or -1
    team: np.ndarray  # team or -1
    n_team: int
    team_lunch: np.ndarray
    team_lunch_len: np.ndarray
    team_fav: np.ndarray  # (n_team, k) lunch places near the workplace
    start: np.ndarray  # habitual work start per person
    end: np.ndarray
    uses_hub: np.ndarray
    hub: np.ndarray  # camera or -1
    has_street: np.ndarray
    street: np.ndarray  # camera or -1
    t_am: np.ndarray  # habitual morning departure at the hub (seconds), nan if none
    t_pm: np.ndarray
    friend_group: np.ndarray  # group or -1
    n_friend_groups: int


def _draw_sizes(rng: np.random.Generator, dist: Mapping[str, float], total: int) -> np.ndarray:
    """Group sizes from ``dist`` summing to exactly ``total`` (the last group is truncated)."""
    values = np.array([int(k) for k in dist], dtype=np.int64)
    probs = np.array(list(dist.values()), dtype=float)
    probs = probs / probs.sum()
    n_draw = total // int(values.min()) + 1
    sizes = rng.choice(values, size=n_draw, p=probs)
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, total)) + 1
    sizes = sizes[:k].copy()
    sizes[-1] -= int(cum[k - 1] - total)
    return sizes[sizes > 0]


def _zipf(n: int, exponent: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1, dtype=float) ** exponent
    return w / w.sum()


def _layout(rng: np.random.Generator, n_cameras: int, extent_m: float) -> _Cams:
    shares = BEHAVIOUR["site_shares"]
    counts = {
        _HUB: max(1, round(shares["hub"] * n_cameras)),
        _WORK: max(1, round(shares["work"] * n_cameras)),
        _LEISURE: max(2, round(shares["leisure"] * n_cameras)),
        _STREET: max(1, round(shares["street"] * n_cameras)),
    }
    counts[_HOME] = n_cameras - sum(counts.values())
    half = extent_m / 2.0
    spread = {_HUB: 0.2, _WORK: 0.25, _LEISURE: 0.3}  # std dev as a share of the extent
    kinds, xs, ys = [], [], []
    idx: dict[int, np.ndarray] = {}
    pos = 0
    for kind in (_HUB, _WORK, _LEISURE, _STREET, _HOME):
        n = counts[kind]
        if kind in spread:
            xy = rng.normal(0.0, spread[kind] * extent_m, size=(n, 2))
        else:
            xy = rng.uniform(-half, half, size=(n, 2))
        xy = np.clip(xy, -half, half)
        kinds.append(np.full(n, kind, dtype=np.int8))
        xs.append(xy[:, 0])
        ys.append(xy[:, 1])
        idx[kind] = np.arange(pos, pos + n)
        pos += n
    zipf = BEHAVIOUR["zipf_exponent"]
    pop = {
        _HUB: _zipf(counts[_HUB], zipf["hub"]),
        _WORK: _zipf(counts[_WORK], zipf["work"]),
        _LEISURE: _zipf(counts[_LEISURE], zipf["leisure"]),
        _STREET: np.full(counts[_STREET], 1.0 / counts[_STREET]),
        _HOME: np.full(counts[_HOME], 1.0 / counts[_HOME]),
    }
    headway = float(BEHAVIOUR["train_headway_s"])
    offset = rng.integers(0, int(headway // _M), size=counts[_HUB]) * _M
    x, y = np.concatenate(xs), np.concatenate(ys)
    hubs = idx[_HUB]
    near_hub = hubs[np.argmin(np.hypot(x[:, None] - x[hubs], y[:, None] - y[hubs]), axis=1)]
    return _Cams(np.concatenate(kinds), x, y, idx, near_hub, pop, headway, offset)


def _dist(cams: _Cams, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.hypot(cams.x[a] - cams.x[b], cams.y[a] - cams.y[b])


def _travel(cams: _Cams, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Door-to-door seconds between cameras (0 when staying at the same camera)."""
    t = _dist(cams, a, b) / BEHAVIOUR["speed_mps"] + BEHAVIOUR["travel_overhead_s"]
    return np.where(a == b, 0.0, t)


def _ride(cams: _Cams, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _dist(cams, a, b) / BEHAVIOUR["ride_speed_mps"] + BEHAVIOUR["ride_overhead_s"]


def _top_k_leisure(
    rng: np.random.Generator, cams: _Cams, home: np.ndarray, k: int, scale_m: float
) -> np.ndarray:
    """k distinct favourite leisure places per row: popular and near ``home`` (Gumbel top-k).

    The choice is among the 64 places of highest weight for that home camera (the weight of a
    place decays with distance, so farther places would hardly ever be drawn).
    """
    lei = cams.idx[_LEISURE]
    homes, inv = np.unique(home, return_inverse=True)
    d = np.hypot(
        cams.x[homes][:, None] - cams.x[lei][None, :], cams.y[homes][:, None] - cams.y[lei][None, :]
    )
    logit = np.log(cams.pop[_LEISURE])[None, :] - d / scale_m
    m = min(64, len(lei))
    cand = (
        np.argpartition(-logit, m - 1, axis=1)[:, :m]
        if m < len(lei)
        else np.tile(np.arange(m), (len(homes), 1))
    )
    cand_logit = np.take_along_axis(logit, cand, axis=1)
    keys = cand_logit[inv] + rng.gumbel(size=(len(home), m))
    top = np.argpartition(-keys, k - 1, axis=1)[:, :k]
    return lei[np.take_along_axis(cand[inv], top, axis=1)]


def _populate(rng: np.random.Generator, n: int, cams: _Cams) -> _Pop:
    b = BEHAVIOUR
    # households (ids shuffled so that subject ids do not reveal them)
    hh_size = _draw_sizes(rng, b["household_sizes"], n)
    n_hh = len(hh_size)
    hh = np.repeat(np.arange(n_hh), hh_size)[rng.permutation(n)]
    hh_home = rng.choice(cams.idx[_HOME], size=n_hh)
    home = hh_home[hh]
    k_fav = min(3, len(cams.idx[_LEISURE]))
    scale = b["leisure_distance_scale_m"]
    hh_fav = _top_k_leisure(rng, cams, hh_home, k_fav, scale)
    fav = _top_k_leisure(rng, cams, home, k_fav, scale)

    # work and teams
    worker = rng.random(n) < b["worker_share"]
    work = np.full(n, -1, dtype=np.int64)
    n_workers = int(worker.sum())
    work[worker] = rng.choice(cams.idx[_WORK], size=n_workers, p=cams.pop[_WORK])
    team = np.full(n, -1, dtype=np.int64)
    w_idx = np.flatnonzero(worker)
    order = w_idx[np.lexsort((rng.random(n_workers), work[w_idx]))]
    bounds = np.flatnonzero(np.diff(work[order])) + 1
    n_team = 0
    for members in np.split(order, bounds):  # one iteration per workplace
        if len(members) == 0:
            continue
        sizes = _draw_sizes(rng, b["team_sizes"], len(members))
        team[members] = n_team + np.repeat(np.arange(len(sizes)), sizes)
        n_team += len(sizes)
    team_start = np.clip(rng.normal(8.7 * _H, 0.7 * _H, size=n_team), 6.75 * _H, 10.5 * _H)
    team_len = rng.uniform(7.5 * _H, 9.0 * _H, size=n_team)
    team_lunch = rng.uniform(11.5 * _H, 13.5 * _H, size=n_team)
    team_lunch_len = rng.uniform(40 * _M, 60 * _M, size=n_team)
    team_work = np.zeros(n_team, dtype=np.int64)
    team_work[team[w_idx]] = work[w_idx]
    k_lunch = min(b["lunch_places"], len(cams.idx[_LEISURE]))
    team_fav = _top_k_leisure(rng, cams, team_work, k_lunch, b["lunch_distance_scale_m"])
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    start[w_idx] = team_start[team[w_idx]] + rng.normal(0.0, 4 * _M, size=n_workers)
    end[w_idx] = start[w_idx] + team_len[team[w_idx]] + rng.normal(0.0, 6 * _M, size=n_workers)

    # commute: hub choice (popular and near home), street pass, habitual trains
    uses_hub = worker & (rng.random(n) < b["hub_commuter_share"])
    hub = np.full(n, -1, dtype=np.int64)
    hubs = cams.idx[_HUB]
    u_idx = np.flatnonzero(uses_hub)
    d = np.hypot(
        cams.x[home[u_idx]][:, None] - cams.x[hubs][None, :],
        cams.y[home[u_idx]][:, None] - cams.y[hubs][None, :],
    )
    w = cams.pop[_HUB][None, :] * np.exp(-d / b["hub_distance_scale_m"])
    cum = np.cumsum(w, axis=1)
    pick = (cum < (rng.random(len(u_idx)) * cum[:, -1])[:, None]).sum(axis=1)
    hub[u_idx] = hubs[np.minimum(pick, len(hubs) - 1)]
    has_street = worker & (rng.random(n) < b["street_pass_share"])
    street = np.full(n, -1, dtype=np.int64)
    s_idx = np.flatnonzero(has_street)
    dest = np.where(uses_hub, hub, work)[s_idx]
    mx = (cams.x[home[s_idx]] + cams.x[dest]) / 2
    my = (cams.y[home[s_idx]] + cams.y[dest]) / 2
    streets = cams.idx[_STREET]
    for s in range(0, len(s_idx), 8192):
        dd = np.hypot(
            mx[s : s + 8192, None] - cams.x[streets], my[s : s + 8192, None] - cams.y[streets]
        )
        street[s_idx[s : s + 8192]] = streets[np.argmin(dd, axis=1)]
    t_am = np.full(n, np.nan)
    t_pm = np.full(n, np.nan)
    hub_pos = np.searchsorted(hubs, hub[u_idx])
    off = cams.train_offset[hub_pos]
    ride = _ride(cams, hub[u_idx], work[u_idx])
    hw = cams.headway
    slack = rng.uniform(60.0, 300.0, size=(2, len(u_idx)))
    t_am[u_idx] = np.floor((start[u_idx] - ride - slack[0] - off) / hw) * hw + off
    t_pm[u_idx] = np.ceil((end[u_idx] + ride + slack[1] - off) / hw) * hw + off

    # friend groups (each person in at most one)
    n_friends = round(b["friend_share"] * n)
    members = rng.permutation(n)[:n_friends]
    sizes = (
        _draw_sizes(rng, b["friend_group_sizes"], n_friends) if n_friends >= 3 else np.zeros(0, int)
    )
    sizes = sizes[sizes >= 3]
    friend_group = np.full(n, -1, dtype=np.int64)
    friend_group[members[: int(sizes.sum())]] = np.repeat(np.arange(len(sizes)), sizes)

    return _Pop(
        n=n,
        hh=hh,
        n_hh=n_hh,
        hh_size=hh_size,
        home=home,
        hh_fav=hh_fav,
        fav=fav,
        worker=worker,
        work=work,
        team=team,
        n_team=n_team,
        team_lunch=team_lunch,
        team_lunch_len=team_lunch_len,
        team_fav=team_fav,
        start=start,
        end=end,
        uses_hub=uses_hub,
        hub=hub,
        has_street=has_street,
        street=street,
        t_am=t_am,
        t_pm=t_pm,
        friend_group=friend_group,
        n_friend_groups=len(sizes),
    )


@dataclass
class _Meetings:
    meeting: np.ndarray  # per attendance row
    day: np.ndarray
    person: np.ndarray
    place: np.ndarray
    start: np.ndarray
    end: np.ndarray
    n_meetings: int


def _schedule_friends(
    rng: np.random.Generator, pop: _Pop, cams: _Cams, days: int, weekend: np.ndarray
) -> _Meetings:
    """Meetings of each friend group: on random days, each at a different leisure place."""
    b = BEHAVIOUR
    g = pop.n_friend_groups
    lei = cams.idx[_LEISURE]
    if g == 0:
        e = np.zeros(0, dtype=np.int64)
        return _Meetings(e, e, e, e, e.astype(float), e.astype(float), 0)
    n_meet = 1 + rng.poisson(b["friend_meetings_per_week"] * days / 7.0, size=g)
    n_meet = np.clip(np.maximum(n_meet, 2), 1, min(days, len(lei)))
    day_rank = np.argsort(rng.random((g, days)), axis=1)  # random distinct days
    place_keys = np.log(cams.pop[_LEISURE])[None, :] + rng.gumbel(size=(g, len(lei)))
    place_rank = np.argsort(-place_keys, axis=1)  # distinct places, popular ones more likely
    m_group = np.repeat(np.arange(g), n_meet)
    m_j = np.arange(len(m_group)) - np.repeat(np.cumsum(n_meet) - n_meet, n_meet)
    m_day = day_rank[m_group, m_j]
    m_place = lei[place_rank[m_group, m_j]]
    we = weekend[m_day]
    m_start = np.where(
        we,
        rng.uniform(17.0 * _H, 20.5 * _H, len(m_group)),
        rng.uniform(19.0 * _H, 20.5 * _H, len(m_group)),
    )
    m_end = m_start + rng.uniform(75 * _M, 180 * _M, size=len(m_group))

    # attendance rows: every member of the meeting's group, at least two attend
    in_group = np.flatnonzero(pop.friend_group >= 0)
    by_group = in_group[np.argsort(pop.friend_group[in_group], kind="stable")]
    g_size = np.bincount(pop.friend_group[in_group], minlength=g)
    g_first = np.cumsum(g_size) - g_size
    r_meet = np.repeat(np.arange(len(m_group)), g_size[m_group])
    r_j = np.arange(len(r_meet)) - np.repeat(
        np.cumsum(g_size[m_group]) - g_size[m_group], g_size[m_group]
    )
    r_person = by_group[g_first[m_group[r_meet]] + r_j]
    attend = rng.random(len(r_meet)) < b["friend_attendance"]
    short = np.bincount(r_meet, weights=attend, minlength=len(m_group)) < 2
    attend |= short[r_meet] & (r_j < 2)
    r_meet, r_person = r_meet[attend], r_person[attend]
    return _Meetings(
        meeting=r_meet,
        day=m_day[r_meet],
        person=r_person,
        place=m_place[r_meet],
        start=m_start[r_meet],
        end=m_end[r_meet],
        n_meetings=len(m_group),
    )


# ---------------------------------------------------------------------------------------------
# one day


class _Segments:
    """Visits collected over all days: pass (gap 0, one sighting) or dwell (gap > 0)."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(
        self,
        day: int,
        person: np.ndarray,
        cam: np.ndarray,
        t0: np.ndarray,
        t1: np.ndarray,
        gap: float,
        group: np.ndarray | None = None,
    ) -> None:
        """Record visits; ``group`` (>= 0) makes members share the moments they are seen at."""
        if len(person) == 0:
            return
        keep = t1 >= t0
        n = int(keep.sum())
        grp = np.full(n, -1, dtype=np.int64) if group is None else group[keep].astype(np.int64)
        self.parts.append(
            (
                np.full(n, day, dtype=np.int32),
                person[keep].astype(np.int32),
                cam[keep].astype(np.int32),
                t0[keep].astype(np.float64),
                t1[keep].astype(np.float64),
                np.full(n, gap, dtype=np.float32),
                grp,
            )
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        cols = list(zip(*self.parts, strict=True)) if self.parts else [[]] * 7
        dtypes = (np.int32, np.int32, np.int32, np.float64, np.float64, np.float32, np.int64)
        return tuple(
            np.concatenate(c) if len(c) else np.zeros(0, dtype=dt)
            for c, dt in zip(cols, dtypes, strict=True)
        )


class _Day:
    """State of every person during one day: where they are and since when.

    Everyone starts the day at home, unseen. Leaving home and coming back are passes of the home
    camera (one sighting each); a workplace entrance is passed on arrival, on going out to lunch
    and back, and on leaving; hubs and streets are passed; leisure places (cafes, bars, parks)
    are dwells.
    """

    def __init__(
        self, rng: np.random.Generator, pop: _Pop, cams: _Cams, day: int, segs: _Segments
    ) -> None:
        self.rng, self.pop, self.cams, self.day, self.segs = rng, pop, cams, day, segs
        self.t = np.zeros(pop.n)
        self.cam = pop.home.copy()
        self.gap = float(BEHAVIOUR["gap_s"]["leisure"])

    def uniform(self, lo: float, hi: float, n: int) -> np.ndarray:
        return self.rng.uniform(lo, hi, size=n)

    def jitter(self, n: int) -> np.ndarray:
        """Seconds between members of a group passing a camera together."""
        return self.uniform(0.0, BEHAVIOUR["together_jitter_s"], n)

    def pass_(self, who: np.ndarray, cam: np.ndarray, t: np.ndarray) -> None:
        """One sighting of each person at ``cam`` at ``t``; they are there then."""
        self.segs.add(self.day, who, cam, t, t, 0.0)
        self.t[who] = t
        self.cam[who] = cam

    def dwell(
        self,
        who: np.ndarray,
        cam: np.ndarray,
        t0: np.ndarray,
        t1: np.ndarray,
        group: tuple[int, np.ndarray] | None = None,
    ) -> None:
        """Record a stay at a leisure place and move the persons there (t1 < t0 yields nothing).

        ``group`` = (tag, index per person): members of one group present together (a team at
        lunch, a household or friends out together) are seen at moments the group shares.
        """
        grp = None
        if group is not None:
            tag, index = group
            grp = (np.int64(tag) << 52) | (np.int64(self.day) << 36) | index.astype(np.int64)
        self.segs.add(self.day, who, cam, t0, t1, self.gap, grp)
        self.t[who] = np.maximum(t0, t1)
        self.cam[who] = cam

    def go_and_pass(
        self, who: np.ndarray, cam: np.ndarray, planned: np.ndarray | None = None
    ) -> np.ndarray:
        """Travel to ``cam`` (not before ``planned``), record one sighting there; returns its time."""
        t = self.t[who] + _travel(self.cams, self.cam[who], cam)
        if planned is not None:
            t = np.maximum(t, planned)
        self.pass_(who, cam, t)
        return t

    def _via_hub(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which trips pass the hub nearest their origin (long ones from home or leisure)."""
        cams = self.cams
        hub = cams.near_hub[src]
        via = (
            np.isin(cams.kind[src], (_HOME, _LEISURE))
            & (_dist(cams, src, dst) > BEHAVIOUR["via_hub_min_m"])
            & (dst != hub)
        )
        return via, hub

    def trip_time(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Seconds from ``src`` to ``dst`` as :meth:`arrive` travels (direct or via a hub)."""
        via, hub = self._via_hub(src, dst)
        return np.where(
            via,
            _travel(self.cams, src, hub) + _ride(self.cams, hub, dst),
            _travel(self.cams, src, dst),
        )

    def arrive(
        self, who: np.ndarray, cam: np.ndarray, planned: np.ndarray | None = None
    ) -> np.ndarray:
        """Arrival time at ``cam``: the planned time or as soon as travel allows.

        A long trip from home or a leisure place passes the hub nearest its origin (one
        sighting there, timed so that the trip still arrives as planned when it can).
        """
        cams = self.cams
        src = self.cam[who]
        via, hub = self._via_hub(src, cam)
        v, hv = who[via], hub[via]
        t_hub = self.t[v] + _travel(cams, src[via], hv)
        if planned is not None:
            late = planned[via] - _ride(cams, hv, cam[via]) - self.uniform(0.0, 300.0, len(v))
            t_hub = np.maximum(t_hub, late)
        self.pass_(v, hv, t_hub)
        leg = np.where(via, _ride(cams, self.cam[who], cam), _travel(cams, self.cam[who], cam))
        arr = self.t[who] + leg
        return arr if planned is None else np.maximum(planned, arr)

    def leave_home(self, who: np.ndarray, t: np.ndarray) -> None:
        """Those of ``who`` at home leave at ``t`` (at least ``min_home_s`` after coming home):
        one sighting at the home camera. The others set off from where they are, not before."""
        home = self.pop.home[who]
        at_home = self.cam[who] == home
        t = np.maximum(t, self.t[who] + np.where(at_home, BEHAVIOUR["min_home_s"], 0.0))
        self.pass_(who[at_home], home[at_home], t[at_home])
        self.t[who] = t

    def come_home(self, who: np.ndarray) -> None:
        """Those of ``who`` away from home travel home: one sighting at the home camera."""
        away = who[self.cam[who] != self.pop.home[who]]
        home = self.pop.home[away]
        self.pass_(away, home, self.arrive(away, home))

    def visit(
        self, who: np.ndarray, place: np.ndarray, planned: np.ndarray, lo: float, hi: float
    ) -> None:
        """A stay of ``lo``-``hi`` seconds alone at ``place``, arriving at ``planned`` if possible."""
        self.leave_home(who, planned - self.trip_time(self.cam[who], place))
        arr = self.arrive(who, place, planned)
        self.dwell(who, place, arr, arr + self.uniform(lo, hi, len(who)))

    def outing_together(
        self,
        who: np.ndarray,
        grp: np.ndarray,
        place: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        tag: int,
    ) -> None:
        """Members ``who`` (at home) of groups ``grp`` (a household) leave home together, stay
        together at ``place[grp]`` from about ``start[grp]`` to ``end[grp]`` and come home
        together: seen together leaving, there and coming back."""
        if len(who) == 0:
            return
        home = self.pop.home[who]
        plan = start[grp] - self.trip_time(home, place[grp])
        ready = np.full(len(start), -np.inf)
        np.maximum.at(ready, grp, np.maximum(plan, self.t[who] + BEHAVIOUR["min_home_s"]))
        self.pass_(who, home, ready[grp] + self.jitter(len(who)))
        arr = self.arrive(who, place[grp])
        last = np.full(len(start), -np.inf)
        np.maximum.at(last, grp, arr)
        leave = np.maximum(end, last + 10 * _M)
        self.dwell(who, place[grp], arr, leave[grp], group=(tag, grp))
        self.t[who] = leave[grp] + self.jitter(len(who))
        self.pass_(who, home, self.arrive(who, home))

    def evening(self, weekend: bool, meetings: _Meetings) -> None:
        """Home from the day; then a friends' meeting, an evening out with the household or alone."""
        pop, rng, n = self.pop, self.rng, self.pop.n
        b = BEHAVIOUR
        part = "weekend" if weekend else "weekday"
        self.come_home(np.arange(n))
        # friends' meetings: each member comes and goes on their own, together while both there
        today = meetings.day == self.day
        mp, m_place, m_id = meetings.person[today], meetings.place[today], meetings.meeting[today]
        busy = np.zeros(n, dtype=bool)
        busy[mp] = True
        m_start = meetings.start[today] + rng.normal(0.0, 4 * _M, size=len(mp))
        m_end = meetings.end[today] + rng.normal(0.0, 4 * _M, size=len(mp))
        self.leave_home(mp, m_start - self.trip_time(self.cam[mp], m_place))
        arr = self.arrive(mp, m_place, m_start)
        self.dwell(mp, m_place, arr, np.maximum(m_end, arr + 10 * _M), group=(4, m_id))
        self.come_home(mp)
        # the household's evening out (the members not meeting friends)
        go = (pop.hh_size >= 2) & (rng.random(pop.n_hh) < b["household_evening_prob"][part])
        h_place = pop.hh_fav[
            np.arange(pop.n_hh), rng.integers(0, pop.hh_fav.shape[1], size=pop.n_hh)
        ]
        h_start = self.uniform(18.5 * _H, 20.5 * _H, pop.n_hh)
        h_end = h_start + self.uniform(75 * _M, 150 * _M, pop.n_hh)
        who = np.flatnonzero(go[pop.hh] & ~busy)
        self.outing_together(who, pop.hh[who], h_place, h_start, h_end, tag=5)
        busy[who] = True
        # some go out alone
        alone = np.flatnonzero(~busy & (rng.random(n) < b["evening_leisure_prob"][part]))
        place = pop.fav[alone, rng.integers(0, pop.fav.shape[1], size=len(alone))]
        self.visit(alone, place, self.uniform(19.5 * _H, 21.0 * _H, len(alone)), 45 * _M, 120 * _M)
        self.come_home(alone)

    def weekday(self, meetings: _Meetings) -> None:
        pop, cams, rng, n = self.pop, self.cams, self.rng, self.pop.n
        b = BEHAVIOUR
        hw = cams.headway
        absent = rng.random(n) < b["absent_prob"]
        commute = pop.worker & ~absent
        hubc = commute & pop.uses_hub
        shift = np.where(
            rng.random((2, n)) < b["train_deviation_prob"], rng.choice([-hw, hw], size=(2, n)), 0.0
        )
        jit_lo, jit_hi = b["hub_jitter_s"]
        hub_am = pop.t_am + shift[0] - self.uniform(jit_lo, jit_hi, n)
        hub_pm = pop.t_pm + shift[1] - self.uniform(jit_lo, jit_hi, n)
        first = np.where(pop.has_street, pop.street, np.where(pop.uses_hub, pop.hub, pop.work))
        second = np.where(pop.uses_hub, pop.hub, pop.work)
        c = np.flatnonzero(commute)
        path = _travel(cams, pop.home[c], first[c]) + np.where(
            pop.has_street[c], _travel(cams, first[c], second[c]), 0.0
        )
        arr_plan = pop.start[c] + rng.normal(0.0, 5 * _M, size=len(c))
        leave = (
            np.where(pop.uses_hub[c], hub_am[c], arr_plan) - path - self.uniform(0.0, 180.0, len(c))
        )
        # leaving home: on some mornings the household's commuters who leave within half an
        # hour of its first one go out together with them
        together = rng.random(pop.n_hh) < b["household_leave_together_prob"]
        hc = pop.hh[c]
        earliest = np.full(pop.n_hh, np.inf)
        np.minimum.at(earliest, hc, leave)
        join = together[hc] & (leave - earliest[hc] <= b["leave_together_window_s"])
        leave = np.where(join, earliest[hc] + self.jitter(len(c)), leave)
        self.pass_(c, pop.home[c], leave)
        # to work: street, hub, workplace entrance
        s = np.flatnonzero(commute & pop.has_street)
        self.go_and_pass(s, pop.street[s])
        h = np.flatnonzero(hubc)
        self.go_and_pass(h, pop.hub[h], hub_am[h])
        leg = np.where(
            hubc[c], _ride(cams, self.cam[c], pop.work[c]), _travel(cams, self.cam[c], pop.work[c])
        )
        self.pass_(c, pop.work[c], self.t[c] + leg)
        # lunch: the team walks out together to one of its lunch places (a different one from
        # day to day) and back
        lunch_day = pop.team_lunch + rng.normal(0.0, 3 * _M, size=pop.n_team)
        lunch_place = pop.team_fav[
            np.arange(pop.n_team), rng.integers(0, pop.team_fav.shape[1], size=pop.n_team)
        ]
        lunch = lunch_day[pop.team[c]]
        eats = (lunch > self.t[c] + 5 * _M) & (rng.random(len(c)) >= b["lunch_skip_prob"])
        ce, tm = c[eats], pop.team[c[eats]]
        self.pass_(ce, pop.work[ce], lunch[eats] + self.jitter(len(ce)))
        arr = self.arrive(ce, lunch_place[tm])
        back = lunch_day[tm] + pop.team_lunch_len[tm] - _travel(cams, lunch_place[tm], pop.work[ce])
        done = np.maximum(back, arr + 10 * _M)
        self.dwell(ce, lunch_place[tm], arr, done, group=(2, tm))
        self.t[ce] = done + self.jitter(len(ce))
        self.pass_(ce, pop.work[ce], self.arrive(ce, pop.work[ce]))
        # leaving work, then hub and street
        ride_back = _ride(cams, pop.work[c], np.maximum(pop.hub[c], 0))
        d_plan = np.where(
            hubc[c],
            hub_pm[c] - ride_back - self.uniform(60.0, 300.0, len(c)),
            pop.end[c] + rng.normal(0.0, 10 * _M, size=len(c)),
        )
        self.pass_(c, pop.work[c], np.maximum(d_plan, self.t[c] + 30 * _M))
        ride = _ride(cams, pop.work[h], pop.hub[h])
        self.pass_(h, pop.hub[h], np.maximum(hub_pm[h], self.t[h] + ride))
        self.go_and_pass(s, pop.street[s])
        # at home on a weekday: maybe out during the day
        idle = np.flatnonzero(~commute & (rng.random(n) < b["weekday_midday_leisure_prob"]))
        place = pop.fav[idle, rng.integers(0, pop.fav.shape[1], size=len(idle))]
        self.visit(idle, place, self.uniform(10 * _H, 15 * _H, len(idle)), 45 * _M, 120 * _M)
        self.evening(weekend=False, meetings=meetings)

    def weekend(self, meetings: _Meetings) -> None:
        pop, rng, n = self.pop, self.rng, self.pop.n
        b = BEHAVIOUR
        # household outings: the members leave together, stay together and come back together
        go = (pop.hh_size >= 2) & (rng.random(pop.n_hh) < b["household_outing_prob"])
        g_place = pop.hh_fav[
            np.arange(pop.n_hh), rng.integers(0, pop.hh_fav.shape[1], size=pop.n_hh)
        ]
        g_start = self.uniform(10.5 * _H, 14 * _H, pop.n_hh)
        g_end = g_start + self.uniform(60 * _M, 180 * _M, pop.n_hh)
        who = np.flatnonzero(go[pop.hh])
        self.outing_together(who, pop.hh[who], g_place, g_start, g_end, tag=3)
        # an afternoon out alone
        alone = np.flatnonzero(rng.random(n) < b["weekend_afternoon_leisure_prob"])
        place = pop.fav[alone, rng.integers(0, pop.fav.shape[1], size=len(alone))]
        self.visit(alone, place, self.uniform(14 * _H, 17 * _H, len(alone)), 45 * _M, 120 * _M)
        self.evening(weekend=True, meetings=meetings)


def _hash64(x: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic, well-mixed uint64 numbers from integers (splitmix64 finaliser)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _hash01(x: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic uniform [0, 1) numbers from integers."""
    return (_hash64(x, salt) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _expand(
    rng: np.random.Generator, t0: np.ndarray, t1: np.ndarray, gap: np.ndarray, grp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Visits -> sightings: (visit index, local time in seconds) per sighting.

    A pass gives one sighting at ``t0``. A stay alone gives ``1 + Poisson(stay / gap)``
    sightings, uniform over the stay. A stay of a group member is seen at the group's moments
    of the day: one moment in each cell of ``gap`` seconds (a random phase per group), at a
    position within the cell drawn per group and cell, so that members of one group share their
    moments while two groups' moments are independent. A member present at a moment is seen with
    probability ``group_seen_prob``, with +-30 s of jitter: members present together are seen
    within a minute of each other.
    """
    n_seg = len(t0)
    dur = t1 - t0
    grouped = grp >= 0
    lam = np.where((gap > 0) & ~grouped, dur / np.maximum(gap, 1.0), 0.0)
    count = np.where(grouped, 0, 1 + rng.poisson(lam))
    salt = int(rng.integers(0, 2**62))
    period = np.maximum(gap, 1.0).astype(np.float64)
    phase = _hash01(grp, salt + 1) * period
    k0 = np.floor((t0 - phase) / period)
    k1 = np.floor((t1 - phase) / period)
    count = count + np.where(grouped, np.maximum(k1 - k0 + 1, 0), 0).astype(np.int64)
    del k1
    rep = np.repeat(np.arange(n_seg), count)
    j = np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count)
    g = grouped[rep]
    t_ind = t0[rep] + rng.random(len(rep)) * dur[rep]
    cell = (k0[rep] + j).astype(np.int64)
    with np.errstate(over="ignore"):
        cell_key = _hash64(grp[rep], salt + 2) ^ cell.astype(np.uint64)
    moment = phase[rep] + (cell + _hash01(cell_key, salt + 3)) * period[rep]
    inside = (moment >= t0[rep]) & (moment <= t1[rep])
    t = np.where(g, moment + rng.uniform(-30.0, 30.0, len(rep)), t_ind)
    del t_ind, moment, j, cell, cell_key
    keep = ~g | (inside & (rng.random(len(rep)) < BEHAVIOUR["group_seen_prob"]))
    return rep[keep], t[keep]


# ---------------------------------------------------------------------------------------------
# truth tables


def _pairs_within(
    label: np.ndarray, members: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs (a < b) of persons sharing a label (>= 0); returns a, b and the label.

    ``label`` is per person, or per row of ``members`` (the person of each row).
    """
    rows = np.flatnonzero(label >= 0)
    rows = rows[np.argsort(label[rows], kind="stable")]
    if len(rows) == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e
    lab = label[rows]
    idx = rows if members is None else members[rows]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    sizes = np.diff(np.r_[starts, len(idx)])
    out_a, out_b, out_l = [], [], []
    for size in np.unique(sizes[sizes >= 2]):  # one iteration per distinct group size
        first = starts[sizes == size]
        members = idx[first[:, None] + np.arange(size)[None, :]]
        i, j = np.triu_indices(size, k=1)
        a, bb = members[:, i].ravel(), members[:, j].ravel()
        out_a.append(np.minimum(a, bb))
        out_b.append(np.maximum(a, bb))
        out_l.append(np.repeat(lab[first], len(i)))
    if not out_a:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e
    return np.concatenate(out_a), np.concatenate(out_b), np.concatenate(out_l)


def _width(n: int) -> int:
    """Digits of zero-padded ids for n items (at least 4)."""
    return max(4, len(str(max(n - 1, 0))))


def _strings(prefix: str, n: int, width: int) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(n)], dtype=object)


def _hhmm(seconds: np.ndarray) -> np.ndarray:
    minute = (np.round(seconds / _M).astype(np.int64)) % 1440
    table = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)], dtype=object)
    return table[minute]


def _take(labels: np.ndarray, idx: np.ndarray) -> pd.Series:
    """``labels[idx]`` as a str Series; idx < 0 gives a missing value."""
    arr = pc.take(pa.array(labels, type=pa.string()), pa.array(idx, mask=idx < 0, type=pa.int64()))
    return pd.Series(arr.to_pandas(), dtype="str")


def _truth(
    pop: _Pop, cams: _Cams, meetings: _Meetings, sid: np.ndarray, cid: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    n = pop.n
    hh_id = _strings("H", pop.n_hh, _width(pop.n_hh))
    labels = [
        (pop.hh, "household", "H"),
        (pop.team, "coworkers", "T"),
        (pop.friend_group, "friends", "F"),
    ]
    a_parts, b_parts, k_parts, g_parts = [], [], [], []
    for kind_code, (label, _kind, prefix) in enumerate(labels):
        a, b, lab = _pairs_within(label)
        a_parts.append(a)
        b_parts.append(b)
        k_parts.append(np.full(len(a), kind_code, dtype=np.int64))
        n_labels = int(label.max()) + 1 if len(label) else 0
        g_parts.append(_strings(prefix, n_labels, _width(n_labels))[lab])
    a, b, k, g = (np.concatenate(p) for p in (a_parts, b_parts, k_parts, g_parts))
    key = a.astype(np.int64) * n + b
    order = np.lexsort((k, key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]] if len(order) else order
    tie_key = key[first]
    # friend meetings both attended, for pairs in a friend group
    fa, fb, _ = _pairs_within(meetings.meeting, members=meetings.person)
    met_key, met_n = np.unique(fa.astype(np.int64) * n + fb, return_counts=True)
    friend_pair = np.isin(tie_key, key[k == TIE_KINDS.index("friends")])
    n_met = np.zeros(len(tie_key), dtype=np.int64)
    found = np.isin(tie_key, met_key)
    n_met[found] = met_n[np.searchsorted(met_key, tie_key[found])]
    planned = pd.array(n_met, dtype="Int64")
    planned[~friend_pair] = pd.NA
    ties = pd.DataFrame(
        {
            "subject_a": _take(sid, a[first]),
            "subject_b": _take(sid, b[first]),
            "kind": pd.Series(np.array(TIE_KINDS, dtype=object)[k[first]], dtype="str"),
            "group_id": pd.Series(g[first], dtype="str"),
            "friend_meetings": planned,
        }
    )
    ties = ties.sort_values(["subject_a", "subject_b"], ignore_index=True)

    # routine strangers: same hub, same habitual train, and nothing else in common: not a tie,
    # different home cameras, workplaces and street cameras
    hw = cams.headway
    keys_ab: list[np.ndarray] = []
    for t_habit in (pop.t_am, pop.t_pm):
        slot = np.where(pop.uses_hub, np.round(np.nan_to_num(t_habit) / hw), -1).astype(np.int64)
        label = np.where(pop.uses_hub, pop.hub * 1000 + slot, -1)
        sa, sb, _ = _pairs_within(label)
        keys_ab.append(sa.astype(np.int64) * n + sb)
    am_key, pm_key = (np.setdiff1d(kk, tie_key) for kk in keys_ab)
    s_key = np.union1d(am_key, pm_key)
    sa, sb = s_key // n, s_key % n
    share = (
        (pop.home[sa] == pop.home[sb])
        | (pop.work[sa] == pop.work[sb])
        | ((pop.street[sa] == pop.street[sb]) & (pop.street[sa] >= 0))
    )
    s_key = s_key[~share]
    sa, sb = s_key // n, s_key % n
    in_am = np.isin(s_key, am_key)
    in_pm = np.isin(s_key, pm_key)
    am = np.full(len(s_key), None, dtype=object)
    am[in_am] = _hhmm(pop.t_am[sa[in_am]])
    pm = np.full(len(s_key), None, dtype=object)
    pm[in_pm] = _hhmm(pop.t_pm[sa[in_pm]])
    strangers = pd.DataFrame(
        {
            "subject_a": _take(sid, sa),
            "subject_b": _take(sid, sb),
            "kind": pd.Series(["routine_stranger"] * len(s_key), dtype="str"),
            "camera_id": _take(cid, pop.hub[sa]),
            "am_departure": pd.Series(am, dtype="str"),
            "pm_departure": pd.Series(pm, dtype="str"),
        }
    )
    persons = pd.DataFrame(
        {
            "subject_id": pd.Series(sid, dtype="str"),
            "home_camera": _take(cid, pop.home),
            "work_camera": _take(cid, pop.work),
            "hub_camera": _take(cid, pop.hub),
            "household_id": _take(hh_id, pop.hh),
        }
    )
    return ties, strangers, persons


def _cameras_frame(cams: _Cams, cid: np.ndarray, center: tuple[float, float]) -> pd.DataFrame:
    lat0, lon0 = center
    lat = lat0 + cams.y / _M_PER_DEG
    lon = lon0 + cams.x / (_M_PER_DEG * math.cos(math.radians(lat0)))
    names = np.empty(len(cid), dtype=object)
    for kind, idx in cams.idx.items():
        for j, i in enumerate(idx):
            if kind == _HUB:
                base = _HUB_NAMES[j % len(_HUB_NAMES)]
                names[i] = f"{base} Station" + (
                    f" {j // len(_HUB_NAMES) + 1}" if j >= len(_HUB_NAMES) else ""
                )
            elif kind == _LEISURE:
                names[i] = f"{_LEISURE_NAMES[j % len(_LEISURE_NAMES)]} {j + 1}"
            else:
                names[i] = {_WORK: "Workplace", _STREET: "Street", _HOME: "Residential street"}[
                    kind
                ] + f" {j + 1}"
    return pd.DataFrame(
        {
            "camera_id": pd.Series(cid, dtype="str"),
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "name": pd.Series(names, dtype="str"),
            "site": pd.Series(np.array(SITE_KINDS, dtype=object)[cams.kind], dtype="str"),
        }
    )


# ---------------------------------------------------------------------------------------------
# public API


def generate_city(
    persons: int = 2000,
    cameras: int | None = None,
    days: int = 14,
    seed: int = 0,
    start: str | pd.Timestamp = "2026-03-02",
    noise: Noise | Mapping[str, Any] | None = None,
    *,
    target_sightings: int | None = None,
    center: tuple[float, float] = (52.09, 5.12),
    tz: str = "Europe/Amsterdam",
    extent_km: float = 10.0,
    progress: bool = False,
) -> City:
    """Generate a synthetic city: sightings, cameras and ground truth.

    Parameters
    ----------
    persons : int
        Number of subjects (at least 2). Ignored when ``target_sightings`` is given.
    cameras : int, optional
        Number of cameras (at least 10); default ``max(20, persons // 10)`` (200 for 2000 persons).
    days : int
        Number of consecutive days (1 to 366), starting at ``start``.
    seed : int
        Seed of the numpy Generator; the same arguments always give identical frames.
    start : str or Timestamp
        First day (local calendar date, e.g. ``'2026-03-02'``, a Monday).
    noise : Noise or dict, optional
        Recognition noise; default ``Noise()`` (10% missed, 1% false matches); ``Noise.off()``
        for clean data.
    target_sightings : int, optional
        Size the city for about this many sightings (sets ``persons`` with
        :func:`persons_for_sightings`; cameras scale with persons unless given).
    center : (float, float)
        Latitude and longitude of the city centre.
    tz : str
        Local time zone of the routines (timetables, working hours); sightings are stored in UTC.
    extent_km : float
        Side of the square city.
    progress : bool
        Show a rich progress bar.

    Returns
    -------
    City
        See :class:`City` for the frames and their columns.

    Examples
    --------
    >>> city = generate_city(persons=60, cameras=20, days=7, seed=1)
    >>> list(city.sightings.columns)
    ['subject_id', 'camera_id', 'ts', 'confidence']
    >>> str(city.sightings["ts"].dtype)
    'datetime64[us, UTC]'
    >>> set(city.ties["kind"]) <= {"household", "coworkers", "friends"}
    True
    """
    noise = _check_noise(noise)
    seed = _check_int(seed, "seed", 0)
    days = _check_int(days, "days", 1, 366)
    if target_sightings is not None:
        target_sightings = _check_int(target_sightings, "target_sightings", 1)
        persons = persons_for_sightings(target_sightings, days=days, seed=seed, noise=noise)
    persons = _check_int(persons, "persons", 2)
    cameras = max(20, persons // 10) if cameras is None else _check_int(cameras, "cameras", 10)
    start_day = _check_start(start)
    if not (isinstance(extent_km, int | float) and 0.1 <= extent_km <= 1000):
        raise UsageError(f"generate: extent_km must be between 0.1 and 1000, got {extent_km!r}")
    try:
        lat0, lon0 = (float(v) for v in center)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"generate: center must be (lat, lon), got {center!r}") from exc
    if not (-80 <= lat0 <= 80 and -180 <= lon0 <= 180):
        raise UsageError(f"generate: center must be (lat, lon) with |lat| <= 80, got {center!r}")
    try:
        day_list = [start_day + pd.Timedelta(days=d) for d in range(days)]
        # local midnight in UTC, from local noon (correct on daylight-saving days)
        mid_s = np.array(
            [
                (
                    pd.Timestamp(dd + pd.Timedelta(hours=12)).tz_localize(tz)
                    - pd.Timestamp(0, tz="UTC")
                )
                // pd.Timedelta(seconds=1)
                - 12 * 3600
                for dd in day_list
            ],
            dtype=np.int64,
        )
    except Exception as exc:  # unknown time zone names raise several exception types
        raise UsageError(f"generate: unknown time zone {tz!r}") from exc
    weekend = np.array([dd.dayofweek >= 5 for dd in day_list])

    ss = np.random.SeedSequence(seed)
    s_layout, s_pop, s_meet, s_days, s_expand, s_noise = ss.spawn(6)
    cams = _layout(np.random.default_rng(s_layout), cameras, extent_km * 1000.0)
    pop = _populate(np.random.default_rng(s_pop), persons, cams)
    meetings = _schedule_friends(np.random.default_rng(s_meet), pop, cams, days, weekend)

    segs = _Segments()
    day_seeds = s_days.spawn(days)
    with _progress(progress, days) as advance:
        for d in range(days):
            state = _Day(np.random.default_rng(day_seeds[d]), pop, cams, d, segs)
            if weekend[d]:
                state.weekend(meetings)
            else:
                state.weekday(meetings)
            advance()

    s_day, s_person, s_cam, t0, t1, gap, grp = segs.arrays()
    del segs
    rep, t_local = _expand(np.random.default_rng(s_expand), t0, t1, gap, grp)
    ts_s = mid_s[s_day[rep]] + np.floor(t_local).astype(np.int64)
    person = s_person[rep]
    cam = s_cam[rep]
    del rep, t_local, s_day, s_person, s_cam, t0, t1, gap, grp
    n_true = len(person)

    # recognition noise: each true sighting's fate is drawn independently of the probabilities,
    # so a city with more missed detections misses a superset and keeps the other sightings as
    # they were (same confidence, same false matches)
    rng = np.random.default_rng(s_noise)
    kept = rng.random(n_true) >= noise.miss_prob
    false = rng.random(n_true) < noise.false_match_prob
    conf = rng.beta(*noise.confidence_true, size=n_true)
    conf_false = rng.beta(*noise.confidence_false, size=n_true)
    other = rng.integers(1, persons, size=n_true) if persons > 1 else np.zeros(n_true, np.int64)
    false &= kept
    n_false = int(false.sum())
    true_person = person
    person = np.where(false, (person + other) % persons, person)
    conf = np.where(false, conf_false, conf)
    del conf_false, other
    person, cam, ts_s, conf = person[kept], cam[kept], ts_s[kept], conf[kept]
    false, true_person = false[kept], true_person[kept]
    n = len(person)
    conf = np.clip(np.round(conf, 3), 0.001, 1.0)

    # order by (ts, camera, subject); one subject seen twice in the same second at one camera
    # (two overlapping visits, or a false match onto someone present) is one sighting, a false
    # match only if every sighting merged into it was one
    order = np.lexsort((-conf, person, cam, ts_s))
    person, cam, ts_s, conf = person[order], cam[order], ts_s[order], conf[order]
    false, true_person = false[order], true_person[order]
    del order
    dup = np.zeros(len(ts_s), dtype=bool)
    dup[1:] = (ts_s[1:] == ts_s[:-1]) & (cam[1:] == cam[:-1]) & (person[1:] == person[:-1])
    n_dup = int(dup.sum())
    if n_dup:
        false = np.logical_and.reduceat(false, np.flatnonzero(~dup))
        person, cam, ts_s, conf = person[~dup], cam[~dup], ts_s[~dup], conf[~dup]
        true_person = true_person[~dup]
    del dup
    n = len(person)
    sid = _strings("S", persons, max(5, _width(persons)))
    cid = _strings("C", cameras, _width(cameras))
    sightings = pd.DataFrame(
        {
            "subject_id": _take(sid, person.astype(np.int64)),
            "camera_id": _take(cid, cam.astype(np.int64)),
            "ts": pd.Series((ts_s * 1_000_000).view("datetime64[us]")).dt.tz_localize("UTC"),
            "confidence": conf,
        }
    )
    fm = np.flatnonzero(false)
    false_matches = pd.DataFrame(
        {
            "subject_id": sightings["subject_id"].to_numpy()[fm],
            "camera_id": sightings["camera_id"].to_numpy()[fm],
            "ts": sightings["ts"].iloc[fm].reset_index(drop=True),
            "true_subject_id": _take(sid, true_person[fm].astype(np.int64)),
        }
    )
    del person, cam, ts_s, conf, false, true_person, fm
    ties, strangers, persons_df = _truth(pop, cams, meetings, sid, cid)
    cameras_df = _cameras_frame(cams, cid, (lat0, lon0))
    params = {
        "generator": "sightgraph.synthetic.city",
        "version": 1,
        "persons": persons,
        "cameras": cameras,
        "days": days,
        "seed": seed,
        "start": start_day.strftime("%Y-%m-%d"),
        "tz": tz,
        "center": [lat0, lon0],
        "extent_km": float(extent_km),
        "target_sightings": target_sightings,
        "noise": asdict(noise),
        "behaviour": BEHAVIOUR,
        "counts": {
            "sightings": int(n),
            "true_sightings_before_noise": int(n_true),
            "missed": int(n_true - kept.sum()),
            "false_matches": n_false,
            "false_match_sightings": int(len(false_matches)),
            "same_second_duplicates_merged": n_dup,
            "households": int(pop.n_hh),
            "teams": int(pop.n_team),
            "friend_groups": int(pop.n_friend_groups),
            "friend_meetings": int(meetings.n_meetings),
            "ties": int(len(ties)),
            "ties_by_kind": {k: int((ties["kind"] == k).sum()) for k in TIE_KINDS},
            "strangers": int(len(strangers)),
            "weekdays": int((~weekend).sum()),
        },
    }
    return City(
        sightings,
        cameras_df,
        ties,
        strangers,
        persons_df,
        json.loads(json.dumps(params)),
        false_matches,
    )


def false_match_mask(sightings: pd.DataFrame, false_matches: pd.DataFrame) -> np.ndarray:
    """Which rows of ``sightings`` are false matches (the truth in ``City.false_matches``).

    Parameters
    ----------
    sightings : DataFrame
        With ``subject_id``, ``camera_id`` and ``ts`` (e.g. ``City.sightings``, any order, any
        subset of its rows).
    false_matches : DataFrame
        ``City.false_matches`` (or :attr:`Truth.false_matches`).

    Returns
    -------
    ndarray of bool
        One value per row of ``sightings``, in its order.

    Examples
    --------
    >>> city = generate_city(persons=60, cameras=20, days=7, seed=1, noise={"false_match_prob": 0.05})
    >>> int(false_match_mask(city.sightings, city.false_matches).sum()) == len(city.false_matches)
    True
    """
    key = ["subject_id", "camera_id", "ts"]
    if len(false_matches) == 0 or len(sightings) == 0:
        return np.zeros(len(sightings), dtype=bool)
    left = sightings[key].reset_index(drop=True)
    right = false_matches[key].drop_duplicates().assign(_false=True)
    right["ts"] = right["ts"].astype(left["ts"].dtype)
    m = left.merge(right, on=key, how="left", sort=False)
    return m["_false"].fillna(False).to_numpy(dtype=bool)


class _progress:
    """A rich progress bar over days, or nothing."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda: None
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.bar.__enter__()
        task = self.bar.add_task("simulating days", total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


@functools.lru_cache(maxsize=64)
def _rate_per_person_day(days: int, seed: int, noise: Noise) -> float:
    pilot = max(200, min(1000, 20_000 // days))
    city = generate_city(persons=pilot, days=days, seed=seed, noise=noise)
    return len(city.sightings) / (pilot * days)


def persons_for_sightings(
    n: int, days: int = 14, seed: int = 0, noise: Noise | Mapping[str, Any] | None = None
) -> int:
    """Number of persons that gives about ``n`` sightings over ``days`` days.

    The rate (sightings per person-day, about 13 with the default noise; it depends on the
    share of weekend days) is measured with a small pilot city of the same days, seed and
    noise, so the estimate is usually within a few percent.

    Parameters
    ----------
    n : int
        Wanted number of sightings (at least 1).
    days, seed, noise
        As for :func:`generate_city`.

    Returns
    -------
    int
        At least 2.

    Examples
    --------
    >>> 45_000 < persons_for_sightings(10_000_000, days=14) < 65_000
    True
    """
    n = _check_int(n, "n (sightings)", 1)
    days = _check_int(days, "days", 1, 366)
    rate = _rate_per_person_day(days, _check_int(seed, "seed", 0), _check_noise(noise))
    return max(2, round(n / (rate * days)))


def _ts_iso(ts: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """timestamp[us, UTC] -> ISO 8601 strings with offset (whole seconds when possible)."""
    unit = "us"
    with contextlib.suppress(pa.ArrowInvalid):  # a safe cast fails if any fraction of a second
        ts = pc.cast(ts, pa.timestamp("s", tz="UTC"))
        unit = "s"
    text = pc.cast(pc.cast(ts, pa.timestamp(unit)), pa.string())  # '2026-03-02 07:12:33'
    text = pc.replace_substring(text, " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(text, "+00:00", "")


def write_city(city: City, out_dir: str | Path, format: str = "parquet") -> dict[str, Path]:
    """Write a city and its truth to ``out_dir``.

    Parameters
    ----------
    city : City
        From :func:`generate_city`.
    out_dir : str or Path
        Created if missing; existing files of the same names are replaced.
    format : {'parquet', 'csv'}
        Format of the sightings (CSV timestamps are ISO 8601 with offset).

    Returns
    -------
    dict of str to Path
        ``sightings`` (``OUT/sightings.parquet`` or ``.csv``), ``cameras`` (``OUT/cameras.csv``),
        ``ties``, ``strangers``, ``persons`` (``OUT/truth/*.csv``), ``params``
        (``OUT/truth/params.json``), and ``false_matches`` (``OUT/truth/false_matches.csv``, ts
        as ISO 8601 with offset) when the city has that table.
    """
    if format not in ("parquet", "csv"):
        raise UsageError(f"write_city: format must be 'parquet' or 'csv', not {format!r}")
    if not isinstance(city, City):
        raise UsageError(f"write_city: expected a City, got {type(city).__name__}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"write_city: {out} exists and is not a directory")
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    paths = {
        "sightings": out / f"sightings.{format}",
        "cameras": out / "cameras.csv",
        "ties": truth / "ties.csv",
        "strangers": truth / "strangers.csv",
        "persons": truth / "persons.csv",
        "params": truth / "params.json",
    }
    if city.false_matches is not None:
        paths["false_matches"] = truth / "false_matches.csv"
        fm = pa.Table.from_pandas(
            city.false_matches[list(FALSE_MATCH_COLUMNS)], preserve_index=False
        )
        fm = fm.set_column(fm.schema.get_field_index("ts"), "ts", _ts_iso(fm.column("ts")))
        tmp = paths["false_matches"].with_suffix(".csv.tmp")
        pacsv.write_csv(fm, tmp, write_options=pacsv.WriteOptions(quoting_style="needed"))
        tmp.replace(paths["false_matches"])
    s = city.sightings
    if format == "parquet":
        write_table(s, paths["sightings"], params=city.params)
    else:
        table = pa.Table.from_pandas(s[list(SIGHTING_COLUMNS)], preserve_index=False)
        table = table.set_column(
            table.schema.get_field_index("ts"), "ts", _ts_iso(table.column("ts"))
        )
        tmp = paths["sightings"].with_suffix(".csv.tmp")
        pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(quoting_style="needed"))
        tmp.replace(paths["sightings"])
    city.cameras.to_csv(paths["cameras"], index=False)
    city.ties.to_csv(paths["ties"], index=False)
    city.strangers.to_csv(paths["strangers"], index=False)
    city.persons.to_csv(paths["persons"], index=False)
    paths["params"].write_text(json.dumps(city.params, indent=2, sort_keys=True) + "\n")
    return paths


def _read_csv_str(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise UsageError(
            f"read_truth: {path} is missing (write it with `sightgraph generate --out ...`)"
        )
    df = pd.read_csv(path, dtype="str", keep_default_na=False, na_values=[""])
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise UsageError(f"read_truth: {path} lacks column(s) {', '.join(missing)}")
    return df[list(columns)]


def read_truth(out_dir: str | Path) -> Truth:
    """Read the ground truth written by :func:`write_city` (``OUT/truth/``).

    Parameters
    ----------
    out_dir : str or Path
        The generator's output directory (the one holding ``truth/``), or ``truth/`` itself.

    Returns
    -------
    Truth
        ``ties``, ``strangers``, ``persons`` frames (str columns, missing values as NaN),
        ``params``, and ``false_matches`` (``ts`` as datetime64[us, UTC]; None if the file is
        missing, as in cities written before it existed).
    """
    out = Path(out_dir)
    truth = out if (out / "ties.csv").exists() else out / "truth"
    params_path = truth / "params.json"
    if not params_path.exists():
        raise UsageError(
            f"read_truth: {params_path} is missing (write it with `sightgraph generate --out ...`)"
        )
    ties = _read_csv_str(truth / "ties.csv", TIE_COLUMNS)
    ties["friend_meetings"] = pd.to_numeric(ties["friend_meetings"]).astype("Int64")
    false_matches = None
    if (truth / "false_matches.csv").exists():
        false_matches = _read_csv_str(truth / "false_matches.csv", FALSE_MATCH_COLUMNS)
        false_matches["ts"] = pd.to_datetime(
            false_matches["ts"], utc=True, format="ISO8601"
        ).astype("datetime64[us, UTC]")
    return Truth(
        ties=ties,
        strangers=_read_csv_str(truth / "strangers.csv", STRANGER_COLUMNS),
        persons=_read_csv_str(truth / "persons.csv", PERSON_COLUMNS),
        params=json.loads(params_path.read_text()),
        false_matches=false_matches,
    )


def read_city(out_dir: str | Path) -> City:
    """Read a whole city written by :func:`write_city` (sightings, cameras and truth)."""
    out = Path(out_dir)
    truth = read_truth(out)
    if (out / "sightings.parquet").exists():
        s = pq.read_table(out / "sightings.parquet").to_pandas()
    elif (out / "sightings.csv").exists():
        s = pd.read_csv(out / "sightings.csv", dtype={"subject_id": "str", "camera_id": "str"})
        s["ts"] = pd.to_datetime(s["ts"], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
    else:
        raise UsageError(f"read_city: no sightings.parquet or sightings.csv in {out}")
    s = s[list(SIGHTING_COLUMNS)]
    s["confidence"] = s["confidence"].astype("float64")
    cams = pd.read_csv(
        out / "cameras.csv", dtype={"camera_id": "str", "name": "str", "site": "str"}
    )
    return City(
        s,
        cams[list(CAMERA_COLUMNS)],
        truth.ties,
        truth.strangers,
        truth.persons,
        truth.params,
        truth.false_matches,
    )
