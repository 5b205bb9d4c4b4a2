"""Ground-truth evaluation of a contacts table against planted ties (synthetic cities).

The generator (:mod:`sightgraph.ingest.generate`) plants *ties* (household, coworkers, friends)
and lists *routine strangers* (same hub, same train, every weekday, nothing else in common: never
a tie, different homes, workplaces and streets). A contacts table ranks the pairs that
co-located; this module measures how well it ranks the ties first:

- ``auc``: ROC AUC (:func:`sklearn.metrics.roc_auc_score`) of the score, ties as positives,
  every other listed pair as a negative; ``auc_baseline`` the same for the raw co-location count
  (``n_events``), the naive ranking that busy places dominate;
- ``precision_at_k`` (and ``precision_at_k_baseline``): the share of ties among the top ``K``
  pairs, ``K`` being the number of tied pairs that co-located (that are in the table), so a
  perfect ranking scores 1;
- ``strangers_in_top_k`` (and ``..._baseline``): routine-stranger pairs among those top ``K``;
- with a ``q_value`` column: ``significant`` pairs (q < 0.05), the share of ties among them
  (``precision_significant``) and the routine strangers among them (``strangers_significant``);
- the same three restricted to the labelled pairs (ties and routine strangers only:
  ``*_vs_strangers``), to friends against strangers (``*_friends_vs_strangers``, with ``K`` the
  friend pairs in the table), and the recall of each tie kind within the top ``K``.

Truth ids are raw subject ids; the lake holds pseudonyms. Pass the ingest key (or any function
mapping raw ids to pids) so both sides use the same ids, or ``key=None`` for a lake ingested
with ``--no-pseudonymize``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from sightgraph.errors import UsageError
from sightgraph.schema import require_columns

__all__ = ["evaluate_contacts", "evaluate_contacts_dir"]

KeyLike = str | bytes | Callable[[pd.Series], pd.Series] | None


def _mapper(key: KeyLike) -> Callable[[pd.Series], pd.Series]:
    if key is None:
        return lambda ids: ids.astype(str)
    if callable(key):
        return key
    if isinstance(key, str | bytes):
        from sightgraph.ingest.pseudonymize import pseudonymize_ids

        return lambda ids: pseudonymize_ids(ids, key)
    raise UsageError(
        f"key must be None, a key string or a function of ids, got {type(key).__name__}"
    )


def _truth_pairs(
    df: pd.DataFrame, what: str, mapper: Callable[[pd.Series], pd.Series]
) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise UsageError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    require_columns(df, ("subject_a", "subject_b"), what)
    a = mapper(df["subject_a"].astype(str).reset_index(drop=True)).astype(str)
    b = mapper(df["subject_b"].astype(str).reset_index(drop=True)).astype(str)
    kind = (
        df["kind"].astype(str).reset_index(drop=True)
        if "kind" in df.columns
        else pd.Series("tie", index=a.index)
    )
    lo = np.where(a.to_numpy() < b.to_numpy(), a, b)
    hi = np.where(a.to_numpy() < b.to_numpy(), b, a)
    out = pd.DataFrame({"pid_a": lo, "pid_b": hi, "kind": kind.to_numpy()})
    return out.drop_duplicates(["pid_a", "pid_b"], keep="first")


def _ranked(score: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Row order by score descending, ties broken by the table's own order (stable)."""
    return np.lexsort((tiebreak, -score))


def _metrics(
    y: np.ndarray, stranger: np.ndarray, score: np.ndarray, k: int
) -> tuple[float, float, int]:
    one_class = len(y) == 0 or y.all() or not y.any()
    auc = float("nan") if one_class else float(roc_auc_score(y, score))
    order = _ranked(score, np.arange(len(score)))[:k]
    prec = float(y[order].mean()) if k > 0 else float("nan")
    return auc, prec, int(stranger[order].sum())


def evaluate_contacts(
    contacts: pd.DataFrame,
    ties: pd.DataFrame,
    strangers: pd.DataFrame,
    key: KeyLike = None,
    *,
    baseline: str = "n_events",
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Score a contacts table against the planted ties and routine strangers.

    Parameters
    ----------
    contacts : DataFrame
        ``pid_a``, ``pid_b``, ``score`` and the ``baseline`` column (as from
        :func:`~sightgraph.analytics.contacts.compute_contacts`).
    ties : DataFrame
        ``subject_a``, ``subject_b`` and optionally ``kind`` (the generator's ``ties``).
    strangers : DataFrame
        ``subject_a``, ``subject_b`` (the generator's ``strangers``).
    key : str, bytes, callable or None
        The pseudonym key used at ingest (truth ids are pseudonymised with
        :func:`~sightgraph.ingest.pseudonymize.pseudonymize_ids`), a function mapping a Series of
        raw ids to pids, or None when the lake kept raw ids.
    baseline : str
        Column of the naive ranking (default the raw co-location count ``n_events``).
    alpha : float
        q-value threshold of ``significant`` (when the table has ``q_value``).

    Returns
    -------
    dict
        Flat: ``pairs``, ``k``, ``ties``, ``strangers``, ``auc``, ``auc_baseline``,
        ``precision_at_k``, ``precision_at_k_baseline``, ``strangers_in_top_k``,
        ``strangers_in_top_k_baseline``, the same with suffixes ``_vs_strangers`` and
        ``_friends_vs_strangers``, ``recall_<kind>`` (share of that kind's co-located pairs in
        the top ``k``), and with ``q_value``: ``significant``, ``precision_significant``,
        ``strangers_significant``. AUCs are NaN when a class is missing.

    Raises
    ------
    UsageError
        Missing columns, or truth that matches no pair of the table at all while the table is
        not empty (usually a wrong or missing key).
    """
    if not isinstance(contacts, pd.DataFrame):
        raise UsageError(f"contacts must be a pandas DataFrame, got {type(contacts).__name__}")
    require_columns(contacts, ("pid_a", "pid_b", "score", baseline), "contacts")
    mapper = _mapper(key)
    t = _truth_pairs(ties, "ties", mapper)
    s = _truth_pairs(strangers, "strangers", mapper)
    c = contacts[["pid_a", "pid_b", "score", baseline]].copy()
    c["pid_a"], c["pid_b"] = c["pid_a"].astype(str), c["pid_b"].astype(str)
    c = c.reset_index(drop=True)
    c = c.merge(t.rename(columns={"kind": "tie"}), on=["pid_a", "pid_b"], how="left")
    c = c.merge(s[["pid_a", "pid_b"]].assign(stranger=True), on=["pid_a", "pid_b"], how="left")
    tie_kind = c["tie"].to_numpy(dtype=object)
    y = pd.notna(c["tie"]).to_numpy()
    stranger = (c["stranger"].to_numpy(dtype=object) == True) & ~y  # noqa: E712
    score = pd.to_numeric(c["score"], errors="coerce").fillna(-np.inf).to_numpy(np.float64)
    base = pd.to_numeric(c[baseline], errors="coerce").fillna(-np.inf).to_numpy(np.float64)
    if len(c) and not y.any() and not stranger.any() and (len(t) or len(s)):
        raise UsageError(
            "no truth pair is in the contacts table: is the pseudonym key right? "
            "(pass the key used at ingest, or key=None for a lake ingested with --no-pseudonymize)"
        )
    k = int(y.sum())
    out: dict[str, Any] = {
        "pairs": len(c),
        "k": k,
        "ties": int(len(t)),
        "strangers": int(len(s)),
        "stranger_pairs_listed": int(stranger.sum()),
    }
    for suffix, sel, kk in (
        ("", np.ones(len(c), bool), k),
        ("_vs_strangers", y | stranger, k),
        (
            "_friends_vs_strangers",
            (tie_kind == "friends") | stranger,
            int((tie_kind == "friends").sum()),
        ),
    ):
        yy = y[sel] if suffix != "_friends_vs_strangers" else (tie_kind[sel] == "friends")
        for name, sc in (("", score), ("_baseline", base)):
            auc, prec, n_str = _metrics(yy, stranger[sel], sc[sel], kk)
            out[f"auc{suffix}{name}"] = auc
            out[f"precision_at_k{suffix}{name}"] = prec
            out[f"strangers_in_top_k{suffix}{name}"] = n_str
    if "q_value" in contacts.columns:
        sig = pd.to_numeric(contacts["q_value"], errors="coerce").to_numpy(np.float64) < alpha
        out["significant"] = int(sig.sum())
        out["precision_significant"] = float(y[sig].mean()) if sig.any() else float("nan")
        out["strangers_significant"] = int(stranger[sig].sum())
    top = _ranked(score, np.arange(len(c)))[:k]
    in_top = np.zeros(len(c), bool)
    in_top[top] = True
    for kind in sorted({str(x) for x in tie_kind[y]}):
        sel = tie_kind == kind
        out[f"recall_{kind}"] = float(in_top[sel].mean()) if sel.any() else float("nan")
    return out


def evaluate_contacts_dir(
    contacts_path: str | Path, truth_dir: str | Path, key: KeyLike = None
) -> dict[str, Any]:
    """:func:`evaluate_contacts` of a contacts Parquet file against a generator's ``truth/``.

    Parameters
    ----------
    contacts_path : path
        The contacts table written by :func:`~sightgraph.analytics.contacts.compute_contacts`.
    truth_dir : path
        The generator's output directory or its ``truth/`` folder
        (:func:`~sightgraph.ingest.generate.read_truth`).
    key : str, bytes, callable or None
        As for :func:`evaluate_contacts`.

    Returns
    -------
    dict
        As :func:`evaluate_contacts`.
    """
    from sightgraph.ingest.generate import read_truth

    path = Path(contacts_path)
    if not path.exists():
        raise UsageError(f"contacts table {path} does not exist (run `sightgraph contacts` first)")
    truth = read_truth(truth_dir)
    contacts = pd.read_parquet(path, columns=["pid_a", "pid_b", "score", "n_events", "q_value"])
    return evaluate_contacts(contacts, truth.ties, truth.strangers, key=key)
