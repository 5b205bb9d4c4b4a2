"""Push the lake and its derived tables into any :class:`~sightgraph.graph.base.Store`.

Idempotent and resumable by construction: every write is an upsert keyed on ids
(pid, camera_id, sighting_id, pid pair, camera pair), so a run killed half-way and run again
ends with exactly the right counts and no duplicates.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from sightgraph.graph.base import Store
from sightgraph.lake import read_cameras, sightings_dataset, table_path

__all__ = ["derived_path", "load_lake"]


def derived_path(lake: str | Path, name: str) -> Path:
    """The lake's current copy of a derived table, e.g. LAKE/contacts/contacts.parquet."""
    return table_path(lake, name) / f"{name}.parquet"


def load_lake(
    lake: str | Path, store: Store, batch_size: int = 20_000, progress: bool = True
) -> dict[str, int]:
    """Write cameras, sightings, contacts and transitions of ``lake`` into ``store``.

    Returns the store's counts afterwards.
    """
    store.ensure_schema()
    cams = read_cameras(lake)
    if len(cams):
        store.write_cameras(cams)
    dset = sightings_dataset(lake)
    total = dset.count_rows()
    cols = ["sighting_id", "pid", "camera_id", "ts", "confidence"]
    with Progress(
        TextColumn("[bold]loading sightings"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not progress,
    ) as bar:
        task = bar.add_task("load", total=total)
        for batch in dset.to_batches(columns=cols, batch_size=batch_size):
            if batch.num_rows == 0:
                continue
            store.write_sightings(batch.to_pandas())
            bar.advance(task, batch.num_rows)
    for name, writer in (
        ("contacts", store.write_contacts),
        ("transitions", store.write_transitions),
    ):
        path = derived_path(lake, name)
        if path.exists():
            pf = pq.ParquetFile(path)
            for batch in pf.iter_batches(batch_size=batch_size):
                writer(batch.to_pandas())
    return store.counts()
