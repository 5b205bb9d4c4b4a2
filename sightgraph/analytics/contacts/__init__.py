"""Frequent contacts beyond chance (DESIGN §4 *Meeting* and *Contact score*, §9 ``contacts``).

A naive count of co-locations is dominated by busy places: two strangers who take the same train
every morning are seen together 200 times, two friends who meet at a different bar each week 6
times. This package ranks pairs by evidence of association and gives each a significance from a
stated null model.

Meetings
--------
The co-location events (:mod:`sightgraph.analytics.colocation`) of one pair at one *place* (the
camera; with a radius ``R > 0`` the camera of the event's two sightings whose id sorts first),
ordered by event time ``min(ts_a, ts_b)``, are merged while consecutive event times are less than
``G`` apart (default 15 min). A meeting starts at its first event time and ends at the latest
sighting of its events.

Null models (significance)
--------------------------
*H0: A and B move independently, each following their own routine.* Two ways to replay that,
chosen with ``null`` (``'auto'``: the day-swap when the median subject was seen on at least 3
UTC days, else the time-shift; the choice and the reason go into the table's metadata and the
CLI prints them):

- **day-swap** (``nulls/day_swap.py``; many days). Days are UTC dates, split into strata
  (``strata='weekpart'``: weekdays and weekend days; ``'none'``: one stratum). Each subject's
  whole day of sightings is a random draw from its own days of the same stratum, independently
  of the other (Spiegel et al. 2016, *Methods Ecol. Evol.* 7:971): every individual keeps its
  places and times of day, only the day-to-day coupling of the two is broken. For a stratum
  ``s`` with ``n_s`` days both were seen and ``C_s = a_s b_s - n_s`` ordered pairs of distinct
  days, ``M_s`` is the number of meetings the swapped days produce (same ``W``, ``R``, ``G``)::

      null_expected = sum_s  n_s * (M_s + 1/2) / (C_s + 1)

  (Jeffreys-style shrinkage: never exactly zero). Per meeting ``rho_m`` is the share of swapped
  day pairs (shrunk alike) that meet at its place within ``G`` of its time of day.
- **time-shift** (``nulls/time_shift.py``; one or two sessions: pedestrians, a conference, a
  school day, where a day-swap has nothing to swap). B's sightings are shifted by each offset
  ``+-k * shift`` (``k = 1..shifts``; defaults ``shift = max(G, 2 W, 1 s)``, longer than the
  meeting scale, and 3 shifts) and replayed against A's: ``null_expected = (M + 1/2) / (|D| +
  1)`` and ``rho_m`` the share of offsets that still meet at the meeting's place. Two people who
  stay side by side at one place for longer than the shifts stay together after a shift
  (explained); two walking through five cells together do not (co-movement is evidence).

**Routines at quiet places are evidence** (crowd-aware expectation). A meeting in a *routine
slot* (the pair's meetings at one place and stratum within ``G`` of one time of day, ``r_m`` of
them) has ``e_m = rho_m n_s`` expected meetings from the two routines, a share
``s_m = min(1, e_m / r_m)`` of each. Co-location cannot tell a household leaving its street
together every morning from two commuters on the same train, except by *who else shares the
slot*: with ``N_m`` distinct subjects at the camera in the meeting's clock hour, the crowd
explains ``kappa_m = 1 - 1 / (N_m - 1)`` of the routine (0 when only the two of them are there,
0.99 with a hundred). The expectation used for significance is::

    expected = max(null_expected - sum_m s_m (1 - kappa_m),  floor)

(``floor``: the null's value had the replay produced no meeting), ``p_value =
P(Poisson(expected) >= meetings)`` and ``q_value`` the Benjamini-Hochberg adjustment over the
family of *all* ``P (P - 1) / 2`` pairs of the ``P`` subjects seen (pairs that never met have
``p = 1``), so ``q >= p``. Routine strangers on a crowded train keep ``expected ~ meetings`` and
``p ~ 0.5``; a household at its quiet street, friends at changing bars get a small expectation
and a tiny p.

Approximations, stated: ``expected`` is a plug-in estimate; meetings within one day are treated
as Poisson although a routine can produce them in bundles; days are UTC dates (a meeting across
midnight belongs to the day it started); ``N_m`` is counted per clock hour (``period_s``). With
a crowd cap the null replays the capped sightings, exactly as the events were found.

Score (ranking: association beyond chance)
------------------------------------------
``evidence = f * sum over the pair's meetings m of  h_m * beta_m * u_m`` and
``score = evidence * (1 - q_value)``, where

- ``h_m = min(n_m, 3) * c_m * k_m``: **frequent means repeated**: a meeting's sightings add
  evidence only up to three (enough to be sure it happened), so one long stay together is one
  meeting, however many sightings it has; ``c_m`` is the mean over its events of
  ``confidence_a * confidence_b`` (1 when unknown); ``k_m = 1 - lag_m / W`` (1 when ``W = 0``)
  is how close in time the two were seen, ``lag_m`` the mean over its events of ``|ts_a -
  ts_b|``: companions pass a camera together (lag ~0), a passer-by within the window is as
  likely a second later as a window later (the meetings table's ``lag_s``). On a clock at least
  half as coarse as the window (its tick, the gcd of the sightings' times, ``>= W / 2``: badges
  reporting every 20 s with W = 20 s) one tick apart is the closest the data can tell from the
  same instant, and ``k_m = 1 - lag_m / (W + tick)``. It weighs evidence, not significance: the
  null counts meetings;
- ``beta_m = 1 / log2(N_m)`` (busyness, Adamic-Adar): a meeting where the camera saw only the two
  of them weighs 1, one at a hub that saw 200 subjects that hour 0.13;
- ``u_m = (1 - x_m) + x_m / r_m`` with ``x_m = s_m kappa_m``: the part of a routine slot that the
  crowd explains counts once for the whole slot, the rest counts for every meeting;
- ``f = max(0, 1 - expected / meetings)``: the share of meetings beyond the expectation;
- ``1 - q_value``: the evidence is discounted by the false-discovery rate of the pairs at least
  as significant. **Rank and significance agree**: a pair with ``q ~ 1`` scores ~0 and cannot
  sit above significant pairs; pairs with equal scores (all those with ``q = 1`` score 0) are
  ordered by ``evidence * (1 - p_value)``, then by pids.

The rule for a single meeting: it outranks pairs that met repeatedly only if its evidence (at
most ``3 c_m beta_m (1 - expected)``) times ``1 - q`` exceeds theirs, i.e. only when it happened
at a quiet place with a tiny expectation (``p`` small enough to survive the family of all pairs)
and the repeated pair's meetings are mostly what their routines produce.
``rank='exposure'`` orders the same table by ``exposure_s`` instead: the total time together
(each meeting at least ``W``), the question of contact tracing, not of association.

Evidence columns
----------------
``meetings``, ``days`` (distinct UTC dates of meeting starts), ``places`` (distinct cameras),
``first_ts`` / ``last_ts`` (first meeting start, last meeting end), ``n_events`` (the raw
co-location count), ``expected`` (crowd-aware, above), ``excess = meetings - expected``,
``routine_share`` (mean ``rho_m``), ``effective_meetings`` (sum of ``u_m``), ``mean_busyness``
(mean ``N_m``), ``mean_confidence`` (mean ``c_m``), the association indices of animal
social-network analysis (Cairns & Schwager 1987; Whitehead 2008) with the UTC day as the
sampling period: ``sri = x / (x + y_A + y_B + y_AB)`` and ``hwi = x / (x + y_AB + (y_A + y_B) /
2)`` (``x`` days the pair met, ``y_AB`` days both were seen but did not meet, ``y_A`` / ``y_B``
days only one was seen); ``days_a``, ``days_b``, ``days_both``; ``exposure_s`` (time together);
``null_expected`` (the null's expectation before the crowd adjustment); ``evidence`` (the score
before the ``1 - q`` discount).

All parameters that shaped a table (``W``, ``R``, ``G``, confidence floor, crowd cap, strata,
null and its reason, shift, rank, model) are recorded in its Parquet metadata
(:func:`sightgraph.lake.read_params`).

Modules
-------
``meetings`` (:func:`build_meetings`), ``busyness`` (:func:`camera_busyness`), ``nulls.day_swap``
and ``nulls.time_shift`` (the compiled nulls), ``context`` (the sightings as integer arrays shared by every
pair), ``score`` (:func:`score_contacts`: the null, the score and the evidence of each pair) and
``job`` (:func:`compute_contacts`: the Dask job over a lake). Everything public is importable
from this package.
"""

from sightgraph.analytics.contacts._common import MODEL as MODEL
from sightgraph.analytics.contacts._common import STRATA as STRATA
from sightgraph.analytics.contacts.busyness import BUSYNESS_COLUMNS, camera_busyness
from sightgraph.analytics.contacts.job import MAX_PARTITION_EVENTS as MAX_PARTITION_EVENTS
from sightgraph.analytics.contacts.job import ContactsResult, compute_contacts
from sightgraph.analytics.contacts.meetings import MEETING_COLUMNS, build_meetings
from sightgraph.analytics.contacts.score import (
    CONTACT_EVIDENCE_COLUMNS,
    CONTACTS_COLUMNS,
    score_contacts,
)
from sightgraph.analytics.contacts.score import _busyness_weight as _busyness_weight
from sightgraph.analytics.contacts.score import _excess_share as _excess_share
from sightgraph.analytics.contacts.score import _novelty as _novelty

# MODEL, STRATA, MAX_PARTITION_EVENTS and the score's helpers are importable from here too (for
# reading: to change a constant, monkeypatch the submodule that looks it up, e.g.
# ``contacts.job.MAX_PARTITION_EVENTS``; the per-meeting formulas such as ``_novelty`` are
# compiled into the scoring pass and are changed by editing ``contacts/score.py``).
__all__ = [
    "BUSYNESS_COLUMNS",
    "CONTACTS_COLUMNS",
    "CONTACT_EVIDENCE_COLUMNS",
    "MEETING_COLUMNS",
    "ContactsResult",
    "build_meetings",
    "camera_busyness",
    "compute_contacts",
    "score_contacts",
]
