"""Ground-truth evaluation of a contacts table against planted ties (synthetic cities).

The generator (:mod:`sightgraph.synthetic.city`) plants *ties* (household, coworkers, friends)
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
    # pairs as integer keys over one category set (tens of millions of rows: no string merge)
    cat_a, cat_b = _as_category(contacts["pid_a"]), _as_category(contacts["pid_b"])
    names = cat_a.cat.categories.union(cat_b.cat.categories)
    n_names = max(len(names), 1)
    key_c = cat_a.cat.set_categories(names).cat.codes.to_numpy().astype(np.int64) * n_names
    key_c += cat_b.cat.set_categories(names).cat.codes.to_numpy()
    kinds = sorted({str(x) for x in t["kind"]})
    tie_code = _lookup(key_c, _truth_keys(t, names), t["kind"].map(kinds.index).to_numpy())
    y = tie_code >= 0
    stranger = (_lookup(key_c, _truth_keys(s, names), np.zeros(len(s), np.int64)) >= 0) & ~y
    del key_c
    score = pd.to_numeric(contacts["score"], errors="coerce").fillna(-np.inf).to_numpy(np.float64)
    base = pd.to_numeric(contacts[baseline], errors="coerce").fillna(-np.inf).to_numpy(np.float64)
    n = len(contacts)
    if n and not y.any() and not stranger.any() and (len(t) or len(s)):
        raise UsageError(
            "no truth pair is in the contacts table: is the pseudonym key right? "
            "(pass the key used at ingest, or key=None for a lake ingested with --no-pseudonymize)"
        )
    k = int(y.sum())
    out: dict[str, Any] = {
        "pairs": n,
        "k": k,
        "ties": int(len(t)),
        "strangers": int(len(s)),
        "stranger_pairs_listed": int(stranger.sum()),
    }
    friends = tie_code == kinds.index("friends") if "friends" in kinds else np.zeros(n, bool)
    for suffix, sel, kk in (
        ("", np.ones(n, bool), k),
        ("_vs_strangers", y | stranger, k),
        ("_friends_vs_strangers", friends | stranger, int(friends.sum())),
    ):
        yy = y[sel] if suffix != "_friends_vs_strangers" else friends[sel]
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
    top = _ranked(score, np.arange(n))[:k]
    in_top = np.zeros(n, bool)
    in_top[top] = True
    for i in np.unique(tie_code[y]):  # kinds are sorted, so are their codes
        sel = tie_code == i
        out[f"recall_{kinds[i]}"] = float(in_top[sel].mean())
    return out


def _as_category(ids: pd.Series) -> pd.Series:
    """Ids as a categorical Series (a table read with ``read_dictionary`` already is one)."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        return ids.cat.set_categories(ids.cat.categories.astype(str), rename=True)
    return ids.astype(str).astype("category")


def _truth_keys(truth: pd.DataFrame, names: pd.Index) -> np.ndarray:
    """Integer pair keys of truth pairs (-1 for a pair with an id the table does not hold)."""
    a = names.get_indexer(pd.Index(truth["pid_a"]))
    b = names.get_indexer(pd.Index(truth["pid_b"]))
    return np.where((a >= 0) & (b >= 0), a.astype(np.int64) * max(len(names), 1) + b, -1)


def _lookup(keys: np.ndarray, truth_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For every key of the table, the value of the truth pair with that key, or -1."""
    ok = truth_keys >= 0
    tk, tv = truth_keys[ok], np.asarray(values, dtype=np.int64)[ok]
    out = np.full(len(keys), -1, np.int64)
    if len(tk) == 0 or len(keys) == 0:
        return out
    order = np.argsort(tk, kind="stable")
    tk, tv = tk[order], tv[order]
    pos = np.minimum(np.searchsorted(tk, keys), len(tk) - 1)
    hit = tk[pos] == keys
    out[hit] = tv[pos[hit]]
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
        (:func:`~sightgraph.synthetic.city.read_truth`).
    key : str, bytes, callable or None
        As for :func:`evaluate_contacts`.

    Returns
    -------
    dict
        As :func:`evaluate_contacts`.
    """
    from sightgraph.synthetic.city import read_truth

    path = Path(contacts_path)
    if not path.exists():
        raise UsageError(f"contacts table {path} does not exist (run `sightgraph contacts` first)")
    truth = read_truth(truth_dir)
    contacts = read_for_evaluation(path)
    return evaluate_contacts(contacts, truth.ties, truth.strangers, key=key)


def read_for_evaluation(path: str | Path, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """The columns :func:`evaluate_contacts` needs (and ``extra``), pids as categoricals: a
    68.6M-pair table then takes ~2 GiB instead of tens of GiB of Python strings."""
    import pyarrow.parquet as pq

    columns = ["pid_a", "pid_b", "score", "n_events", "q_value", *extra]
    table = pq.read_table(path, columns=columns, read_dictionary=["pid_a", "pid_b"])
    return table.to_pandas()
