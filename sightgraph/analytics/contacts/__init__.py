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

Null model (significance)
-------------------------
*H0: A and B move independently, each following their own routine.* Days are UTC dates, split
into strata (``strata='weekpart'``: weekdays and weekend days; ``'none'``: one stratum). Under
H0, each subject's whole day of sightings (cameras and times of day) is a random draw from that
subject's own observed days of the same stratum, independently of the other subject: the
day-swap randomisation of animal-movement studies (Spiegel et al. 2016, *Methods Ecol. Evol.*
7:971), which keeps every individual's spatial and time-of-day routine and breaks only the
day-to-day coupling of the two. For a stratum ``s`` let ``a_s``, ``b_s`` be the days on which A,
resp. B, was seen and ``n_s`` the days on which both were. Every ordered pair of *distinct* days
``(d, d')`` (A's day ``d``, B's day ``d'``; ``C_s = a_s b_s - n_s`` of them) is replayed on one
date with the same ``W``, ``R`` and ``G``; ``M_s`` is the number of meetings these swapped days
produce. The expected number of meetings under H0 is::

    expected = sum_s  n_s * (M_s + 1/2) / (C_s + 1)

(the ``+1/2, +1`` is a Jeffreys-style shrinkage: a pair with few days never gets an expectation
of exactly zero). The number of meetings is taken as ``Poisson(expected)`` and
``p_value = P(X >= meetings)``. ``q_value`` is the Benjamini-Hochberg adjustment over the family
of *all* ``P (P - 1) / 2`` pairs of the ``P`` subjects seen (pairs that never met have
``p = 1``; they are not listed), so ``q >= p``.

What it means: routine strangers (same hub, same train, every weekday) meet on swapped days as
often as on real ones, so ``expected ~ meetings`` and ``p ~ 0.5``; friends who meet at a
different bar each time never meet on swapped days, so ``expected ~ 0`` and ``p`` is tiny. Its
limit, stated plainly: a tie that is *nothing but* a shared daily routine (two colleagues who
take the same train every day and never meet elsewhere) is explained by H0 just as well, because
co-location alone cannot tell a shared routine from a tie; such a pair is neither significant
nor ranked high (the score counts only the share of meetings beyond the null's expectation).

Approximations, stated: ``expected`` is a plug-in estimate (the uncertainty of ``M_s / C_s`` is
ignored, which matters little once a pair has a few days per stratum); meetings within one day
are treated as Poisson although a routine can produce them in fixed bundles; days are UTC dates
(a meeting across midnight belongs to the day it started). With a crowd cap the swapped days
replay the capped sightings, exactly as the events were found; the days each subject was seen
count all its sightings.

Score (ranking)
---------------
``score = f * sum over the pair's meetings m of  n_m * c_m * beta_m * u_m``: the raw co-location
count (``n_m`` events in meeting ``m``) with every event weighted, times the share of the pair's
meetings that chance does not explain, where

- ``c_m`` (confidence): the mean over the meeting's events of ``confidence_a * confidence_b``
  (the chance both identifications are right; 1 when unknown);
- ``beta_m`` (busyness): ``1 / log2(N_m)``, where ``N_m`` is the number of distinct subjects the
  meeting's camera saw in the clock hour (``period_s``) the meeting started (at least 2): the
  Adamic-Adar weight of link prediction (Adamic & Adar 2003), a shared place-hour counts less the
  more subjects share it. A meeting where the camera saw only the two of them weighs 1, one at a
  hub that saw 200 subjects that hour 0.13. (The steeper ``1 / (N_m - 1)`` of
  gambit-of-the-group indices lets one chance encounter on a quiet street, ``N_m = 3``, outweigh
  two weeks of lunches at a cafe with ``N_m = 40``.)
- ``u_m`` (novelty): ``(1 - s_m) + s_m / r_m``, with ``r_m`` the number of the pair's meetings at
  the same place and stratum within ``G`` of that time of day (itself included: a *routine
  slot*) and ``s_m = min(1, e_m / r_m)`` the share of the slot's meetings that the two routines
  explain. ``e_m = rho_m * n_s`` is the slot's expected number of meetings under H0: ``rho_m``
  is the share of the pair's swapped day pairs (of the meeting's stratum, shrunk as above) that
  also put them together at that place within ``G`` of that time of day, ``n_s`` the days both
  were seen in that stratum. A slot the routines fully explain (the same train every weekday)
  counts once in all, a meeting no routine explains counts fully;
- ``f = max(0, 1 - expected / meetings)``: the share of the pair's meetings in excess of the
  null's expectation (0 when the pair met no more often than their routines predict).

Hence meetings at busy places and times weigh less, repetition on different days at different
places adds fully, repeating one slot at one place adds little, being seen together again and
again within a meeting adds (as in the raw count), doubtful identifications weigh less, and a
pair whose meetings are what their routines produce (routine strangers) scores about 0.

Evidence columns
----------------
``meetings``, ``days`` (distinct UTC dates of meeting starts), ``places`` (distinct cameras),
``first_ts`` / ``last_ts`` (first meeting start, last meeting end), ``n_events`` (the raw
co-location count), ``expected`` (under H0), ``excess = meetings - expected``, ``routine_share``
(mean ``rho_m``), ``effective_meetings`` (sum of ``u_m``), ``mean_busyness`` (mean ``N_m``),
``mean_confidence`` (mean ``c_m``), and the association indices of animal social-network analysis
(Cairns & Schwager 1987; Whitehead 2008) with the UTC day as the sampling period: ``x`` days on
which the pair met, ``y_AB`` days both were seen but did not meet, ``y_A`` / ``y_B`` days only A /
only B was seen; ``sri = x / (x + y_A + y_B + y_AB)`` (simple ratio index) and
``hwi = x / (x + y_AB + (y_A + y_B) / 2)`` (half-weight index); ``days_a``, ``days_b``,
``days_both`` are the days each / both were seen.

All parameters that shaped a table (``W``, ``R``, ``G``, confidence floor, crowd cap, strata,

Modules
-------
``meetings`` (:func:`build_meetings`), ``busyness`` (:func:`camera_busyness`), ``nulls.day_swap``
(the compiled day-swap null), ``context`` (the sightings as integer arrays shared by every
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
# reading: to change one, monkeypatch the submodule that looks it up, e.g.
# ``contacts.score._novelty`` or ``contacts.job.MAX_PARTITION_EVENTS``).
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
