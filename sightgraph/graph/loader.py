"""Push the lake and its derived tables into any :class:`~sightgraph.graph.base.Store`.

Idempotent and resumable by construction: every write is an upsert keyed on ids
(pid, camera_id, sighting_id, pid pair, camera pair) and each batch commits as a whole, so a
run killed half-way and run again ends with exactly the right counts and no duplicates (the
second run finds the batches already written and skips them). The stores retry transient
failures themselves; when a store gives up (:class:`~sightgraph.errors.StoreUnavailableError`)
the error says how far the load got and that running it again finishes it.

Order: cameras, sightings (which create their persons), contacts, transitions. The next
Arrow batch is read and converted while the store writes the current one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sightgraph.errors import StoreUnavailableError, UsageError
from sightgraph.graph.base import Store
from sightgraph.lake import derived_path, read_cameras, sightings_dataset
from sightgraph.schema import CONTACT_COLUMNS

__all__ = ["derived_path", "derived_tables", "load_lake"]

_SIGHTING_COLUMNS = ["sighting_id", "pid", "camera_id", "ts", "confidence"]


def _prefetch(batches: Iterator[Any]) -> Iterator[pd.DataFrame]:
    """Yield the batches as DataFrames, reading and converting the next one in a thread."""
    from sightgraph.analytics.compute import prefetched

    return prefetched((b.to_pandas() for b in batches if b.num_rows), "sightgraph-load")


#: the q-value below which `sightgraph load` puts a pair into the graph by default (the lake keeps
#: every pair; CONTACT edges of pairs indistinguishable from chance are half the relationships)
LOAD_MAX_Q = 0.05


def contact_filter(max_q: float | None = None, min_score: float = 0.0) -> Any:
    """The pyarrow filter of the contacts a load writes: ``q_value < max_q`` (None: any q) and
    ``score >= min_score``; None when it keeps every pair."""
    import math

    import pyarrow.compute as pc

    if max_q is not None and (not isinstance(max_q, int | float) or not 0 < max_q <= 1):
        raise UsageError(f"max_q must be a number in (0, 1] (got {max_q!r})")
    if not isinstance(min_score, int | float) or not math.isfinite(min_score):
        raise UsageError(f"min_score must be a finite number (got {min_score!r})")
    flt = None
    if max_q is not None and max_q < 1:
        flt = pc.field("q_value") < max_q
    if min_score > 0:
        by_score = pc.field("score") >= min_score
        flt = by_score if flt is None else flt & by_score
    return flt


def derived_tables(
    path: str | Path, flt: Any, columns: Iterable[str] | None = None
) -> Iterator[Any]:
    """The rows of the derived table at ``path`` that pass ``flt`` (a :func:`contact_filter`,
    or None), in file order, as one Arrow table per row group that holds any, with only those
    of ``columns`` the table has (None: all).

    Row group by row group, the filter's columns first and the others only where a row passes:
    the 10M city's contacts table (68.6M pairs, 24 columns, 8.4 GB, ranked by association, so
    the 154k pairs with q < 0.05 sit in its first row groups) reads in 0.7 s, where a filtered
    scan of the whole dataset took 31.5 s and held 9.8 GB (benchmarks/graph/RESULTS.md)."""
    import pyarrow.dataset as ds

    dset = ds.dataset(path, format="parquet")
    if flt is not None and "q_value" not in dset.schema.names:
        raise UsageError(f"{path} has no q_value column: load it with --max-q 1")
    names = None if columns is None else [c for c in columns if c in dset.schema.names]
    for fragment in dset.get_fragments():
        for group in fragment.split_by_row_group(schema=dset.schema):
            if flt is None or group.count_rows(filter=flt):
                yield group.to_table(schema=dset.schema, columns=names, filter=flt)


def _derived_rows(path: str | Path, flt: Any) -> Any:
    """A derived table at ``path`` as a pyarrow dataset and the number of its rows that pass
    ``flt`` (a :func:`contact_filter`, or None)."""
    import pyarrow.dataset as ds

    dset = ds.dataset(path, format="parquet")
    if flt is not None and "q_value" not in dset.schema.names:
        raise UsageError(f"{path} has no q_value column: load it with --max-q 1")
    return dset, dset.count_rows(filter=flt)


def load_lake(
    lake: str | Path,
    store: Store,
    batch_size: int = 20_000,
    progress: bool = True,
    *,
    max_q: float | None = None,
    min_score: float = 0.0,
) -> dict[str, int]:
    """Write cameras, sightings, contacts and transitions of ``lake`` into ``store``.

    Parameters
    ----------
    lake : str or Path
        A lake with sightings (and optionally cameras and the derived ``contacts`` and
        ``transitions`` tables).
    store : Store
        The target; its schema is created first (idempotent).
    batch_size : int
        Rows read and handed to the store at a time.
    progress : bool
        Show a progress bar per table.
    max_q, min_score
        Contacts become CONTACT edges only with ``q_value < max_q`` (None: all; the CLI's
        default is :data:`LOAD_MAX_Q`) and ``score >= min_score``; the lake keeps every pair.

    Returns
    -------
    dict
        The store's counts afterwards.

    Raises
    ------
    UsageError
        The lake has no sightings, or ``batch_size`` is not a whole number >= 1.
    StoreUnavailableError
        The store stopped answering; the message says how far the load got. Run it again to
        finish: what was written is found and skipped.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UsageError(f"batch_size must be a whole number >= 1 (got {batch_size!r})")
    flt_contacts = contact_filter(max_q, min_score)
    dset = sightings_dataset(lake)
    total = dset.count_rows()
    derived = [
        (name, derived_path(lake, name), writer)
        for name, writer in (
            ("contacts", store.write_contacts),
            ("transitions", store.write_transitions),
        )
        if derived_path(lake, name).exists()
    ]
    done = {"sightings": 0}
    stage = "cameras"
    try:
        store.ensure_schema()
        cams = read_cameras(lake)
        if len(cams):
            store.write_cameras(cams)
        with Progress(
            TextColumn("[bold]loading {task.fields[table]:<11}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            disable=not progress,
        ) as bar:
            stage = "sightings"
            task = bar.add_task("sightings", total=total, table="sightings")
            batches = dset.to_batches(columns=_SIGHTING_COLUMNS, batch_size=batch_size)
            for frame in _prefetch(iter(batches)):
                store.write_sightings(frame)
                done["sightings"] += len(frame)
                bar.advance(task, len(frame))
            for name, path, writer in derived:
                stage = name
                flt = flt_contacts if name == "contacts" else None
                _, rows = _derived_rows(path, flt)
                task = bar.add_task(name, total=rows, table=name)
                columns = CONTACT_COLUMNS if name == "contacts" else None
                batches = (
                    b
                    for t in derived_tables(path, flt, columns)
                    for b in t.to_batches(max_chunksize=batch_size)
                )
                for frame in _prefetch(batches):
                    writer(frame)
                    bar.advance(task, len(frame))
        return store.counts()
    except StoreUnavailableError as exc:
        raise StoreUnavailableError(
            f"{exc} (the load stopped while writing {stage}, after {done['sightings']:,} of "
            f"{total:,} sightings; the same load run again finishes it)"
        ) from exc
