"""Ingest: readers (CSV/Parquet/JSONL, column mapping, time zones), validation, quarantine,
pseudonymisation and the Parquet lake writer. (The synthetic city generator is
:mod:`sightgraph.synthetic.city`.)"""

from sightgraph.ingest.pipeline import (
    IngestReport,
    ingest,
    ingest_cameras,
    parse_mapping,
    read_cameras_file,
)
from sightgraph.ingest.pseudonymize import pseudonymize_ids

__all__ = [
    "IngestReport",
    "ingest",
    "ingest_cameras",
    "parse_mapping",
    "pseudonymize_ids",
    "read_cameras_file",
]
