"""Scoring of :mod:`sightgraph.analytics.contacts`: meetings -> ranked pairs with the day-swap
null's expectation, p- and q-values, the score and the evidence columns.

The model (meetings, null, score, evidence columns) is stated in full in the package docstring,
:mod:`sightgraph.analytics.contacts`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from sightgraph._lazy import LazyModule
from sightgraph.analytics.colocation import _check_crowd_cap
from sightgraph.analytics.contacts._common import (
    _DAY_US,
    _check_choice,
    _check_min_meetings,
    _check_radius,
    _check_seconds,
    _check_shifts,
    _check_strata,
    _index_dtype,
    _jit,
    _pair_starts,
    _radix_argsort,
    _require_frame,
    _require_strings,
    _require_ts,
    _sightings_arrays,
    _sorted_codes,
    _to_us,
)
from sightgraph.analytics.contacts.busyness import BUSYNESS_COLUMNS
from sightgraph.analytics.contacts.context import (
    NULLS,
    _Context,
    _make_context,
    _neighbours,
    _pair_days,
)
from sightgraph.analytics.contacts.nulls.day_swap import _day_swap_null
from sightgraph.analytics.contacts.nulls.time_shift import _time_shift_null
from sightgraph.errors import UsageError
from sightgraph.schema import CONTACT_COLUMNS, epoch_us_to_ts, require_columns

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = LazyModule("pandas")  # imported on first use

#: Evidence columns that follow :data:`~sightgraph.schema.CONTACT_COLUMNS` in a contacts table.
CONTACT_EVIDENCE_COLUMNS = (
    "n_events",
    "expected",
    "excess",
    "routine_share",
    "effective_meetings",
    "mean_busyness",
    "mean_confidence",
    "sri",
    "hwi",
    "days_a",
    "days_b",
    "days_both",
    "exposure_s",
    "null_expected",
    "evidence",
)
#: Orderings of a contacts table: by ``score`` (association beyond chance, the default) or by
#: ``exposure_s`` (total time together: contact tracing).
RANKS = ("association", "exposure")
#: The column each ranking orders by (descending).
RANK_COLUMN = {"association": "score", "exposure": "exposure_s"}
#: A meeting's sightings add evidence up to this many (one long stay together is one meeting).
EVENTS_CAP = 3
#: The proximity weight falls linearly to 0 at this many windows of lag (:func:`_proximity`):
#: one, the natural choice (0.75 scored higher on zara and was not taken).
PROXIMITY_SPAN = 1.0
#: All columns of a contacts table, in order.
CONTACTS_COLUMNS = CONTACT_COLUMNS + CONTACT_EVIDENCE_COLUMNS


# ---------------------------------------------------------------------------------------------
# scoring of meetings (integer codes) -> per-pair arrays


_PAIR_FIELDS = (
    "a",
    "b",
    "score",
    "p_value",
    "meetings",
    "days",
    "places",
    "first_ts",
    "last_ts",
    *CONTACT_EVIDENCE_COLUMNS,
)


_INT_FIELDS = (
    "meetings",
    "days",
    "places",
    "first_ts",
    "last_ts",
    "n_events",
    "days_a",
    "days_b",
    "days_both",
)


def _empty_pairs() -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for f in _PAIR_FIELDS:
        if f in ("a", "b"):
            out[f] = np.empty(0, np.int32)
        elif f in _INT_FIELDS:
            out[f] = np.empty(0, np.int64)
        else:
            out[f] = np.empty(0, np.float64)
    return out


# The per-meeting formulas below are compiled (``_jit``): the scoring pass (:func:`_pair_totals`)
# calls them a meeting at a time, and they take whole arrays too (the same floats), so each
# formula is written once. Being compiled into that pass, they are changed by editing them, not
# by monkeypatching this module.


@_jit
def _crowd_share(busy):
    """``kappa_m = 1 - 1 / (N_m - 1)``: the share of a shared routine that the crowd explains.

    With ``N_m`` distinct subjects at the meeting's camera in its period, a routine shared by
    only the two of them (``N_m = 2``) is specific (0: a tie), one shared with a crowd is not
    (``N_m = 100``: 0.99)."""
    return 1.0 - 1.0 / np.maximum(busy - 1.0, 1.0)


@_jit
def _novelty(r, explained):
    """``u_m = (1 - x_m) + x_m / r_m``: a routine slot's meetings count once in the explained
    share ``x_m`` and fully in the rest (package docstring)."""
    return (1.0 - explained) + explained / r


def _excess_share(expected: np.ndarray, meetings: np.ndarray) -> np.ndarray:
    """``max(0, 1 - expected / meetings)``: the share of meetings beyond the null's expectation."""
    return np.clip(1.0 - expected / meetings, 0.0, 1.0)


def _final_score(evidence: np.ndarray, q_value: np.ndarray) -> np.ndarray:
    """``score = evidence * (1 - q)``: the evidence beyond chance, discounted by the share of
    false discoveries among the pairs at least as significant (a pair with q ~ 1 scores ~0, so
    the ranking never puts it above significant pairs of similar evidence)."""
    return evidence * (1.0 - q_value)


def _tiebreak(
    evidence: np.ndarray, p_value: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Order among equal scores (pairs with q = 1 all score 0): evidence times 1 - p (into
    ``out`` when given, which may be ``p_value`` itself: no temporaries)."""
    if out is None:
        return evidence * (1.0 - p_value)
    np.subtract(1.0, p_value, out=out)
    return np.multiply(out, evidence, out=out)


def _busyness_weight(busy: np.ndarray) -> np.ndarray:
    """``beta_m = 1 / log2(N_m)`` (Adamic-Adar) from ``N_m`` (at least 2)."""
    return 1.0 / np.log2(busy)


def _proximity_span(window_us: int, tick_us: int = 0) -> float:
    """The lag at which :func:`_proximity` reaches 0 (0.0 with ``W = 0``: weight 1)."""
    if window_us <= 0:
        return 0.0
    span = PROXIMITY_SPAN * window_us
    if 2 * tick_us >= window_us:
        span += tick_us
    return float(span)


def _proximity(lag_us: np.ndarray, window_us: int, tick_us: int = 0) -> np.ndarray:
    """``k_m = 1 - lag_m / W``: how close in time a meeting's two subjects were seen (``lag_m``
    the mean over its events of ``|ts_a - ts_b|``), from 1 (the same instant) to 0 (a whole
    window apart: chance passers-by are as likely there as companions); 1 with ``W = 0``.

    On a clock at least half as coarse as the window (``tick_us >= W / 2``: badges that report
    every 20 s with W = 20 s), lags can only be 0, one tick or two, and one tick apart is the
    closest the data can tell from the same instant: the weight falls to 0 at ``W + tick``
    instead (``k = 1 - lag / (W + tick)``). Without it a pair seen one tick apart in every
    meeting has evidence 0 and, however significant, sits below pairs with q ~ 1 (the primary
    school's 10 such pairs did). Finer clocks (every tuning source) are unchanged."""
    span = _proximity_span(window_us, tick_us)
    if span <= 0:
        return np.ones(len(lag_us))
    return _proximity_at(np.asarray(lag_us, np.float64), span)


@_jit
def _proximity_at(lag, span):
    """:func:`_proximity` for a lag span ``span > 0`` (:func:`_proximity_span`)."""
    return 1.0 - np.minimum(np.maximum(lag / span, 0.0), 1.0)


@_jit
def _meeting_weight(n_events, conf, proximity):
    """``h_m = min(n_m, EVENTS_CAP) * c_m * k_m``: sightings add evidence within a meeting up to
    :data:`EVENTS_CAP`, weighted by the chance both identifications are right and by how close
    in time the two were seen."""
    return np.minimum(n_events, EVENTS_CAP) * conf * proximity


#: The per-meeting quantities :func:`_pair_totals` sums per pair, in its ``sums`` rows.
MEETING_SUMS = ("routine_unexplained", "evidence", "exposure_s", "rho", "novelty", "busyness")


@_jit
def _pair_totals(
    p_start, p_end, place, day, ndays, start, end, n, conf_sum, conf_n, lag, busy, beta,
    slot_expected, r, rho, span, window_s,
):  # fmt: skip
    """Each pair's totals over its meetings (sorted by place within a pair), in one pass:
    distinct days and places, the sum of ``n`` (events), the first start and last end, the sum
    and count of the known mean confidences (``conf_sum / conf_n`` of a meeting; none when
    ``conf_n = 0``), and the sums of the per-meeting quantities of :data:`MEETING_SUMS`
    (``sums[j]``), each computed here from the meeting's fields as the package docstring
    states (``routine = min(1, slot_expected / r)``, ``kappa``, ``u``, the proximity ``k``
    falling to 0 at lag ``span`` (``span = 0``: 1), ``h * beta * u``, the exposure at least
    ``window_s``) by the formulas :func:`_crowd_share`, :func:`_novelty`,
    :func:`_proximity_at` and :func:`_meeting_weight`, without the ~15 arrays of temporaries
    a meeting that computing them over whole arrays took. Sums are taken in meeting order from
    0.0, as ``np.bincount`` with weights takes them."""
    npairs = len(p_start)
    n_days = np.zeros(npairs, np.int64)
    n_places = np.zeros(npairs, np.int64)
    n_total = np.zeros(npairs, np.int64)
    first = np.zeros(npairs, np.int64)
    last = np.zeros(npairs, np.int64)
    conf_pair = np.zeros(npairs)
    conf_known = np.zeros(npairs)
    sums = np.zeros((6, npairs))
    stamp = np.zeros(ndays, np.int64)
    for k in range(npairs):
        lo = p_start[k]
        hi = p_end[k]
        first[k] = start[lo]
        last[k] = end[lo]
        cs = 0.0
        cn = 0.0
        s0 = s1 = s2 = s3 = s4 = s5 = 0.0
        for i in range(lo, hi):
            if i == lo or place[i] != place[i - 1]:
                n_places[k] += 1
            if stamp[day[i]] != k + 1:
                stamp[day[i]] = k + 1
                n_days[k] += 1
            n_total[k] += n[i]
            first[k] = min(first[k], start[i])
            last[k] = max(last[k], end[i])
            c = 1.0
            if conf_n[i] > 0:
                c = conf_sum[i] / max(conf_n[i], 1)
                if np.isnan(c):
                    c = 1.0
                else:
                    cs += c
                    cn += 1.0
            rr = np.float64(r[i])
            routine = min(1.0, slot_expected[i] / rr)
            kappa = _crowd_share(busy[i])
            u = _novelty(rr, routine * kappa)
            prox = _proximity_at(lag[i], span) if span > 0 else 1.0
            h = _meeting_weight(np.float64(n[i]), c, prox)
            s0 += routine * (1.0 - kappa)
            s1 += h * beta[i] * u
            s2 += max((end[i] - start[i]) / 1e6, window_s)
            s3 += rho[i]
            s4 += u
            s5 += busy[i]
        conf_pair[k] = cs
        conf_known[k] = cn
        sums[0, k] = s0
        sums[1, k] = s1
        sums[2, k] = s2
        sums[3, k] = s3
        sums[4, k] = s4
        sums[5, k] = s5
    return n_days, n_places, n_total, first, last, conf_pair, conf_known, sums


#: Columns computed from others (:func:`_derived_columns`): a large job does not keep them on
#: disk while the table's order is found, it computes them when the rows are written.
DERIVED_FIELDS = ("excess", "sri", "hwi")


def _derived_columns(
    meetings: np.ndarray,
    expected: np.ndarray,
    days: np.ndarray,
    days_a: np.ndarray,
    days_b: np.ndarray,
    days_both: np.ndarray,
) -> dict[str, np.ndarray]:
    """``excess = meetings - expected`` and the association indices
    (:func:`_association_indices`)."""
    sri, hwi = _association_indices(days, days_a, days_b, days_both)
    return {"excess": meetings - expected, "sri": sri, "hwi": hwi}


def _association_indices(
    days: np.ndarray, days_a: np.ndarray, days_b: np.ndarray, days_both: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The association indices with the UTC day as the sampling period (package docstring):
    ``sri = x / (x + y_A + y_B + y_AB)``, ``hwi = x / (x + y_AB + (y_A + y_B) / 2)``. The same
    values from int32 or int64 counts."""
    x = days.astype(np.float64)
    y_ab = np.maximum(days_both - days, 0)
    y_a = days_a - days_both
    y_b = days_b - days_both
    with np.errstate(invalid="ignore", divide="ignore"):
        sri = x / (x + y_a + y_b + y_ab)
        hwi = x / (x + y_ab + 0.5 * (y_a + y_b))
    return sri, hwi


def _score_meetings(
    m: dict[str, np.ndarray], ctx: _Context, min_meetings: int, derived: bool = True
) -> dict[str, np.ndarray]:
    """Score the pairs of meetings sorted by (a, b, place, start); see the package docstring.
    Without ``derived`` the columns computed from others (:data:`DERIVED_FIELDS`) are left out
    (the lake job computes them as it writes the rows)."""
    n = len(m["a"])
    if n == 0:
        return _empty_pairs()
    a, b = m["a"].astype(np.int64), m["b"].astype(np.int64)
    p_start = _pair_starts(a, b)
    p_count = np.diff(np.append(p_start, n))
    keep_pair = p_count >= min_meetings
    if not keep_pair.any():
        return _empty_pairs()
    if not keep_pair.all():  # (every pair with the default min_meetings = 1: no copy)
        sel = np.repeat(keep_pair, p_count)
        m = {k: v[sel] for k, v in m.items()}
        a, b = a[sel], b[sel]
        n = len(a)
        p_start = _pair_starts(a, b)
    p_end = np.append(p_start[1:], n)
    start, end = m["start"], m["end"]
    day_abs = start // _DAY_US
    day = np.clip(day_abs - ctx.day0, 0, len(ctx.stratum) - 1).astype(np.int64)
    tod = start - day_abs * _DAY_US
    dur = end - start
    place = m["place"].astype(np.int64)
    pa_k, pb_k = a[p_start], b[p_start]
    if ctx.null == "time-shift":
        expected, floor, rho = _time_shift_null(
            pa_k,
            pb_k,
            p_start.astype(np.int64),
            p_end.astype(np.int64),
            place,
            start - ctx.day0 * _DAY_US,
            end - ctx.day0 * _DAY_US,
            ctx.s_off,
            ctx.ts_cam,
            ctx.ts_ts,
            ctx.n_off,
            ctx.n_cam,
            ctx.offsets,
            np.int64(ctx.window_us),
            np.int64(ctx.gap_us),
        )
        days_a, days_b, days_ab = _pair_days(pa_k, pb_k, ctx.d_off, ctx.d_day)
        r = np.ones(n, np.int64)
        slot_expected = rho  # one session: the shifted replays that still meet it
    else:
        expected, days_a, days_b, days_ab, rho, r, slot_expected, floor = _day_swap_null(
            pa_k,
            pb_k,
            p_start.astype(np.int64),
            p_end.astype(np.int64),
            place,
            day,
            tod.astype(np.int64),
            (tod + dur).astype(np.int64),
            ctx.s_off,
            ctx.s_cam,
            ctx.s_tk,
            ctx.n_off,
            ctx.n_cam,
            ctx.d_off,
            ctx.d_day,
            ctx.d_mask,
            ctx.st_mask,
            ctx.stratum,
            ctx.nstrata,
            np.int64(ctx.window_us),
            np.int64(ctx.gap_us),
            ctx.r_off,
            ctx.r_cam,
            ctx.r_lh,
            ctx.identity,
        )
    # busyness of each meeting: distinct subjects at its camera in the period it started
    busy = ctx.busyness(place, start).astype(np.float64)
    beta = _busyness_weight(busy)
    meetings = p_end - p_start
    # per pair, in one compiled pass: the per-meeting quantities of the package docstring
    # (the routine meetings the crowd does not explain, evidence, exposure, rho, u, busyness)
    # and their sums, distinct days and places, events, first start and last end, known
    # confidences
    n_days, n_places, n_events, first_ts, last_ts, conf_sum, conf_n, sums = _pair_totals(
        p_start,
        p_end,
        place,
        day,
        len(ctx.stratum),
        start,
        end,
        m["n"].astype(np.int64, copy=False),
        m["conf_sum"].astype(np.float64, copy=False),
        m["conf_n"].astype(np.int64, copy=False),
        m["lag"].astype(np.float64, copy=False),
        busy,
        beta,
        slot_expected.astype(np.float64, copy=False),
        r.astype(np.int64, copy=False),
        rho.astype(np.float64, copy=False),
        _proximity_span(ctx.window_us, ctx.tick_us),
        ctx.window_us / 1e6,
    )
    # crowd-aware expectation: routine meetings few others share are not chance
    adjusted = np.maximum(expected - sums[0], floor)
    # P(Poisson(adjusted) >= meetings); scipy.special is imported here, on first use (0.2 s:
    # the lake job imports it in a thread while it reads, see job.compute_contacts)
    from scipy.special import pdtrc

    p_value = np.clip(pdtrc(meetings - 1, adjusted), 0.0, 1.0)
    # the score is this evidence times 1 - q, once the q-values over all pairs are known
    evidence = sums[1] * _excess_share(adjusted, meetings)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = conf_sum / conf_n
    cols = {
        "a": a[p_start].astype(np.int32),
        "b": b[p_start].astype(np.int32),
        "score": evidence,  # until _final_score
        "p_value": p_value,
        "meetings": meetings.astype(np.int64),
        "days": n_days,
        "places": n_places,
        "first_ts": first_ts,
        "last_ts": last_ts,
        "n_events": n_events,
        "expected": adjusted,
        "routine_share": sums[3] / meetings,
        "effective_meetings": sums[4],
        "mean_busyness": sums[5] / meetings,
        "mean_confidence": mean_conf,
        "days_a": days_a,
        "days_b": days_b,
        "days_both": days_ab,
        "exposure_s": sums[2],
        "null_expected": expected,
        "evidence": evidence,
    }
    if derived:
        cols.update(_derived_columns(meetings, adjusted, n_days, days_a, days_b, days_ab))
    return cols


@_jit
def _bh_fill(p, order, m_total, q):
    """``q[order[i]] = max(p, min(1, min_{k >= i} p[order[k]] * m_total / (k + 1)))``."""
    run = np.inf
    for i in range(len(order) - 1, -1, -1):
        j = order[i]
        v = p[j] * m_total / (i + 1)
        if v < run:
            run = v
        q[j] = max(min(run, 1.0), p[j])


def _bh_qvalues(p: np.ndarray, m_total: int) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``p`` within a family of ``m_total >= len(p)`` tests whose
    other members have p = 1 (one sort and one compiled pass: at 10M sightings there are ~70M
    pairs, and the vectorised form's five temporaries cost gigabytes).

    Only p-values below ``n / m_total`` are sorted: a q-value is the least of ``p_(k) m_total /
    k`` over the ranks ``k`` at or after its own, and every such term of a p-value at least ``n
    / m_total`` is at least 1 (``k <= n``; the ``m_total - n`` others have p = 1), so its q is 1.
    The smaller ones rank first, as in the whole family. (Equal p-values get equal q-values in
    any order of the sort.)"""
    n = len(p)
    if n == 0:
        return np.empty(0, np.float64)
    m_total = max(int(m_total), n)
    p = np.ascontiguousarray(p, np.float64)
    q = np.ones(n, np.float64)
    small = np.flatnonzero(p < n / m_total).astype(_index_dtype(n))
    _radix_argsort(p, small, np.empty_like(small))
    _bh_fill(p, small, np.float64(m_total), q)
    return q


def _finish(
    parts: list[dict[str, np.ndarray]], npids: int, rank_col: str = "score"
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Concatenate per-bucket pair arrays, add q-values, order by ``rank_col`` (desc) then pids.

    Frees the parts column by column (``parts`` is emptied), so the peak is about one copy of
    the table plus one column.
    """
    cols: dict[str, np.ndarray] = {}
    for f in _PAIR_FIELDS:
        cols[f] = np.concatenate([p.pop(f) for p in parts]) if parts else _empty_pairs()[f]
    parts.clear()
    m_total = npids * (npids - 1) // 2
    cols["q_value"] = _bh_qvalues(cols["p_value"], m_total)
    cols["score"] = _final_score(cols["evidence"], cols["q_value"])
    if rank_col == "score":  # equal scores (q = 1: score 0) by evidence * (1 - p)
        tie = _tiebreak(cols["evidence"], cols["p_value"])
        order = np.lexsort((cols["b"], cols["a"], -tie, -cols["score"]))
    else:
        order = np.lexsort((cols["b"], cols["a"], -cols[rank_col]))
    for k in list(cols):
        cols[k] = cols[k][order]
    return cols, order


def _pairs_frame(cols: dict[str, np.ndarray], pids: np.ndarray | pa.Array) -> pd.DataFrame:
    def names(codes: np.ndarray) -> pd.Series:
        if isinstance(pids, pa.Array):
            return pd.Series(pids.take(pa.array(codes, pa.int32())).to_pandas(), dtype="str")
        return pd.Series(np.asarray(pids, dtype=object)[codes] if len(codes) else [], dtype="str")

    data: dict[str, Any] = {"pid_a": names(cols["a"]), "pid_b": names(cols["b"])}
    for f in CONTACTS_COLUMNS[2:]:
        if f in ("first_ts", "last_ts"):
            data[f] = epoch_us_to_ts(cols[f])
        elif f in _INT_FIELDS:
            data[f] = pd.Series(cols[f], dtype="int64")
        else:
            data[f] = pd.Series(cols[f], dtype="float64")
    return pd.DataFrame(data, columns=list(CONTACTS_COLUMNS))


# ---------------------------------------------------------------------------------------------
# in memory


def score_contacts(
    meetings: pd.DataFrame,
    busyness: pd.DataFrame | None,
    sightings: pd.DataFrame,
    *,
    window_s: float = 60,
    gap_s: float = 900,
    radius_m: float = 0,
    cameras: pd.DataFrame | None = None,
    crowd_cap: int | None = None,
    period_s: float = 3600,
    strata: str = "weekpart",
    min_meetings: int = 1,
    null: str = "auto",
    shift_s: float | None = None,
    shifts: int = 3,
    rank: str = "association",
) -> pd.DataFrame:
    """Rank pairs by evidence of association beyond chance (model: package docstring).

    Pure: nothing is modified, read or written.

    Parameters
    ----------
    meetings : DataFrame
        :data:`MEETING_COLUMNS` as from :func:`build_meetings` (``confidence`` optional; without
        ``lag_s`` every meeting counts as seen at the same instant).
    busyness : DataFrame or None
        :data:`BUSYNESS_COLUMNS` as from :func:`camera_busyness` with the same ``period_s``;
        None computes it from ``sightings``.
    sightings : DataFrame
        ``pid``, ``camera_id``, ``ts``: the sightings the events were found in (after the same
        confidence filter); the null model replays each subject's own days from them.
    window_s, gap_s, radius_m, cameras, crowd_cap
        ``W``, ``G``, ``R`` (``cameras`` with lat/lon when ``R > 0``) and the crowd cap the events
        and meetings were made with: the null replays swapped days with the same rules.
    period_s : float
        Busyness period (default one clock hour).
    strata : {'weekpart', 'none'}
        Days swap only within weekdays and within weekend days, or across all days.
    min_meetings : int
        Score only pairs with at least this many meetings (others have p >= P(X >= 1) and are
        left out; q-values stay valid, as if their p were 1).
    null : {'auto', 'day-swap', 'time-shift'}
        The null model; ``auto`` chooses from the data
        (:func:`~sightgraph.analytics.contacts.context.choose_null`). The choice is in
        ``DataFrame.attrs['null']`` (and the reason in ``attrs['null_reason']``).
    shift_s, shifts
        Time-shift null: offsets ``+-k * shift_s`` for ``k = 1..shifts`` (default shift
        ``max(G, 2 W, 1 s)``: longer than the meeting scale, so two subjects who stayed
        together at a place are still together after a shift and two walking together are not).
    rank : {'association', 'exposure'}
        Order by ``score`` (association beyond chance) or by ``exposure_s`` (time together).

    Returns
    -------
    DataFrame
        :data:`CONTACTS_COLUMNS`, one row per pair (``pid_a < pid_b``), ordered by ``score``
        (or ``exposure_s``) descending (ties by ``pid_a, pid_b``).

    Raises
    ------
    UsageError
        Missing columns, naive times, a negative window, gap or radius, bad strata.

    Examples
    --------
    >>> from sightgraph.analytics.colocation import find_colocations
    >>> from sightgraph.analytics.contacts import build_meetings
    >>> t = pd.Timestamp("2026-03-02 20:00", tz="UTC")
    >>> s = pd.DataFrame({"sighting_id": [1, 2, 3, 4], "pid": ["a", "b", "a", "b"],
    ...     "camera_id": ["bar1", "bar1", "bar2", "bar2"],
    ...     "ts": [t, t, t + pd.Timedelta(days=7), t + pd.Timedelta(days=7)]})
    >>> m = build_meetings(find_colocations(s, events=True))
    >>> score_contacts(m, None, s)[["pid_a", "pid_b", "meetings", "places"]].values.tolist()
    [['a', 'b', 2, 2]]
    """
    what = "meetings"
    _require_frame(meetings, what)
    _require_frame(sightings, "sightings")
    window_us = _to_us(_check_seconds(window_s, "window"))
    gap_us = _to_us(_check_seconds(gap_s, "gap"))
    radius_m = _check_radius(radius_m)
    crowd_cap = _check_crowd_cap(crowd_cap)
    period_us = _to_us(_check_seconds(period_s, "period", positive=True))
    strata = _check_strata(strata)
    min_meetings = _check_min_meetings(min_meetings)
    null = _check_choice(null, "null", NULLS)
    rank = _check_choice(rank, "rank", RANKS)
    shifts = _check_shifts(shifts)
    shift_us = None if shift_s is None else _to_us(_check_seconds(shift_s, "shift", positive=True))
    require_columns(
        meetings, ("pid_a", "pid_b", "camera_id", "start_ts", "end_ts", "n_events"), what
    )
    s_pid, s_cam, s_ts = _sightings_arrays(sightings, "sightings")
    ma = _require_strings(meetings, "pid_a", what)
    mb = _require_strings(meetings, "pid_b", what)
    mc = _require_strings(meetings, "camera_id", what)
    m_start = _require_ts(meetings, "start_ts", what)
    m_end = _require_ts(meetings, "end_ts", what)
    pids, (sp, pa_, pb_) = _sorted_codes(s_pid, ma, mb)
    cams, (sc, mcc) = _sorted_codes(s_cam, mc)
    known = set(np.unique(sp).tolist())
    unknown = [p for p in np.unique(np.concatenate([pa_, pb_])) if p not in known]
    if unknown:
        raise UsageError(
            f"meetings: pid {pids[unknown[0]]!r} has no sightings (pass the sightings the events came from)"
        )
    if len(ma) and (pa_ >= pb_).any():
        row = meetings.index[int(np.flatnonzero(pa_ >= pb_)[0])]
        raise UsageError(f"meetings row {row!r}: pid_a must sort before pid_b")
    n_off, n_cam = _neighbours(len(cams), cams, cameras, radius_m, "cameras argument")
    ctx = _make_context(
        sp,
        sc,
        s_ts,
        len(pids),
        len(cams),
        n_off,
        n_cam,
        window_us=window_us,
        gap_us=gap_us,
        period_us=period_us,
        crowd_cap=crowd_cap,
        strata=strata,
        null=null,
        shift_us=shift_us,
        shifts=shifts,
    )
    if busyness is not None:
        _require_frame(busyness, "busyness")
        require_columns(busyness, BUSYNESS_COLUMNS, "busyness")
        bcam = _require_strings(busyness, "camera_id", "busyness")
        bper = _require_ts(busyness, "period_start", "busyness") // period_us
        code = pd.Index(cams).get_indexer(bcam)
        ok = code >= 0
        key = (code[ok].astype(np.int64) << 32) + bper[ok]
        o = np.argsort(key, kind="stable")
        ctx.set_busyness(key[o], busyness["subjects"].to_numpy(np.int64)[ok][o])
    conf_col = (
        pd.to_numeric(meetings["confidence"], errors="coerce").to_numpy(np.float64)
        if "confidence" in meetings.columns
        else np.full(len(meetings), np.nan)
    )
    known_conf = ~np.isnan(conf_col)
    m = {
        "a": pa_.astype(np.int32),
        "b": pb_.astype(np.int32),
        "place": mcc.astype(np.int32),
        "start": m_start,
        "end": np.maximum(m_end, m_start),
        "n": meetings["n_events"].to_numpy(np.int64),
        "conf_sum": np.where(known_conf, conf_col, 0.0),
        "conf_n": known_conf.astype(np.int64),
        "lag": (
            np.abs(pd.to_numeric(meetings["lag_s"], errors="coerce").to_numpy(np.float64)) * 1e6
            if "lag_s" in meetings.columns
            else np.zeros(len(meetings))
        ),
    }
    if np.isnan(m["lag"]).any():
        row = meetings.index[int(np.flatnonzero(np.isnan(m["lag"]))[0])]
        raise UsageError(f"meetings row {row!r}: lag_s is missing or not a number")
    order = np.lexsort((m["start"], m["place"], m["b"], m["a"]))
    m = {k: v[order] for k, v in m.items()}
    cols, _ = _finish(
        [_score_meetings(m, ctx, min_meetings)],
        len(np.unique(sp)) if len(sp) else 0,
        RANK_COLUMN[rank],
    )
    out = _pairs_frame(cols, pids)
    out.attrs.update(null=ctx.null, null_reason=ctx.null_reason, rank=rank)
    return out
