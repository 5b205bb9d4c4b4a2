"""Ingest: readers (CSV/Parquet/JSONL, column mapping, time zones), validation, quarantine,
pseudonymisation, the Parquet lake writer, and the synthetic city generator."""

from sightgraph.ingest.generate import (
    City,
    generate_city,
    persons_for_sightings,
    read_truth,
    write_city,
)
from sightgraph.ingest.pipeline import (
    IngestReport,
    ingest,
    ingest_cameras,
    parse_mapping,
    read_cameras_file,
)
from sightgraph.ingest.pseudonymize import pseudonymize_ids

__all__ = [
    "City",
    "IngestReport",
    "generate_city",
    "ingest",
    "ingest_cameras",
    "parse_mapping",
    "persons_for_sightings",
    "pseudonymize_ids",
    "read_cameras_file",
    "read_truth",
    "write_city",
]
