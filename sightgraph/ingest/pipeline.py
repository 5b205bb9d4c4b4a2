"""``sightgraph ingest``: sightings (and cameras) files -> the Parquet lake (DESIGN §3, §8).

Every input row ends in exactly one of three places, and the report says how many went where:

* **ingested**: written to ``LAKE/sightings/date=YYYY-MM-DD/``;
* **duplicate**: same sighting_id as an earlier row of the file, or as a sighting already in the
  lake (re-ingesting a file adds nothing);
* **quarantined**: written to ``LAKE/quarantine/<stem>-<run>.parquet`` with its line number,
  reason and field, and the time of the run (``ingested_at``). No raw subject id reaches the
  lake: a row that parses but fails validation keeps its raw text with the subject id replaced
  by its pid (every field equal to the row's subject value), that pid in a ``pid`` column (so
  ``forget`` finds it) and its timestamp (``ts``) when it could be read; a row that cannot be
  split into fields (unbalanced quotes, a stray delimiter, bad UTF-8, invalid JSON) keeps no
  text at all, only its byte length (``raw_bytes``) and the HMAC-SHA256 of its bytes under the
  pseudonym key (``raw_hash``: equal lines give equal hashes; null when ingesting with
  ``pseudonymize=False`` and no key).

Bad usage (missing file or column, empty file, no key) raises :class:`~sightgraph.errors.UsageError`
before anything is written.

**One key per lake.** A lake holds pids of one kind only: HMAC pids under one key, or ids taken
as they are (``pseudonymize=False``, ``--no-pseudonymize``). Its key record ``LAKE/_lake.json``
(:func:`sightgraph.lake.read_key_record`: the mode and the key's fingerprint, never the key) is
written under the writer lock before the first row of the first ingest, so even a run killed
before its ingest-log record has fixed the lake's key. Every ingest reads the record first and
refuses, with one line and nothing written, another key, ``--no-pseudonymize`` into a
pseudonymised lake, or a keyed ingest into a lake made with ``--no-pseudonymize``. A lake made
before the record existed gets its record from its ingest log (the mode and fingerprint every
sightings run logged; a log that already mixes two is refused); a lake with no sightings run
logged adopts the key and mode of its next ingest.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from sightgraph.errors import SightgraphError, UsageError
from sightgraph.ingest.lake_writer import (
    QuarantineWriter,
    SightingsWriter,
    append_ingest_log,
    make_sighting_ids,
    new_run_id,
    read_ingest_log,
    remove_stale_tmp,
    upsert_cameras,
)
from sightgraph.ingest.pseudonymize import (
    fingerprint_key,
    keyed_hex,
    pseudonymize_arrow,
    resolve_key,
)
from sightgraph.ingest.readers import RawChunk, TableReader, open_table
from sightgraph.ingest.validate import check_timezone, validate_cameras, validate_sightings_chunk
from sightgraph.lake import (
    KEY_RECORD_NAME,
    MODE_NOT_PSEUDONYMISED,
    MODE_PSEUDONYMISED,
    lake_lock,
    read_key_record,
    write_key_record,
)
from sightgraph.schema import (
    CAMERAS_INPUT_OPTIONAL,
    CAMERAS_INPUT_REQUIRED,
    INPUT_OPTIONAL,
    INPUT_REQUIRED,
)

__all__ = ["IngestReport", "ingest", "ingest_cameras", "parse_mapping", "read_cameras_file"]


@dataclass
class IngestReport:
    """What one ingest run did. ``rows_read == ingested + duplicates + quarantined`` always.

    Attributes
    ----------
    source, lake : Path
        The input file and the lake.
    run_id : str
        Names this run's files (``part-<run_id>-*.parquet``, ``<stem>-<run_id>.parquet``).
    rows_read : int
        Data rows in the file (blank lines and the header are not rows).
    ingested : int
        Rows written to the lake.
    duplicates_in_file, duplicates_in_lake : int
        Rows whose sighting_id an earlier row of the file, or the lake before this run, had.
    quarantined : int
        Rows written to ``quarantine_path``.
    reasons : dict of str to int
        Quarantine reason -> rows.
    partitions : list of str
        UTC dates (``YYYY-MM-DD``) this run wrote files into.
    stale_tmp_removed : int
        Temporary files of an earlier, killed ingest removed from the lake before this run wrote
        (see :func:`sightgraph.ingest.lake_writer.remove_stale_tmp`).
    """

    source: Path
    lake: Path
    run_id: str
    rows_read: int = 0
    ingested: int = 0
    duplicates_in_file: int = 0
    duplicates_in_lake: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    partitions: list[str] = field(default_factory=list)
    quarantine_path: Path | None = None
    cameras: int | None = None
    delimiter: str | None = None
    seconds: float = 0.0
    stale_tmp_removed: int = 0

    @property
    def duplicates(self) -> int:
        """Duplicates of both kinds."""
        return self.duplicates_in_file + self.duplicates_in_lake

    @property
    def balanced(self) -> bool:
        """True when every row read is accounted for."""
        return self.rows_read == self.ingested + self.duplicates + self.quarantined

    def summary(self) -> list[str]:
        """Printable lines: counts, reasons, where things went, and the balance check."""
        rate = f" ({self.rows_read / self.seconds:,.0f} rows/s)" if self.seconds > 0 else ""
        lines = [
            f"ingest {self.source} -> {self.lake} (run {self.run_id}, {self.seconds:.1f} s{rate})",
            f"  rows read     {self.rows_read:>12,}",
            f"  ingested      {self.ingested:>12,}  into {len(self.partitions)} date partition(s)",
            f"  duplicates    {self.duplicates:>12,}  ({self.duplicates_in_file:,} within the file, "
            f"{self.duplicates_in_lake:,} already in the lake)",
            f"  quarantined   {self.quarantined:>12,}"
            + (f"  -> {self.quarantine_path}" if self.quarantine_path else ""),
        ]
        for reason, count in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    {count:>10,}  {reason}")
        if self.cameras is not None:
            lines.append(
                f"  cameras       {self.cameras:>12,}  upserted into {self.lake / 'cameras'}"
            )
        if self.delimiter not in (None, ","):
            lines.append(f"  delimiter detected: {self.delimiter!r}")
        if self.stale_tmp_removed:
            lines.append(
                f"  cleaned       {self.stale_tmp_removed:>12,}  stale temporary file(s) of a "
                "killed ingest"
            )
        mark = "ok" if self.balanced else "MISMATCH"
        lines.append(
            f"  check: {self.rows_read:,} read = {self.ingested:,} ingested + {self.duplicates:,} duplicates"
            f" + {self.quarantined:,} quarantined: {mark}"
        )
        return lines


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """Parse the CLI form ``subject_id=animal_id,camera_id=logger_id,ts=time`` into a mapping.

    Parameters
    ----------
    text : str or None
        Comma-separated ``target=column`` pairs (targets: subject_id, camera_id, ts, confidence).

    Returns
    -------
    dict or None
        ``None`` for ``None`` or blank text.

    Examples
    --------
    >>> parse_mapping("subject_id=animal_id, ts=time")
    {'subject_id': 'animal_id', 'ts': 'time'}
    """
    if text is None or not text.strip():
        return None
    allowed = (*INPUT_REQUIRED, *INPUT_OPTIONAL)
    out: dict[str, str] = {}
    for part in text.split(","):
        target, sep, column = part.partition("=")
        target, column = target.strip(), column.strip()
        if not sep or not target or not column:
            raise UsageError(
                f"--map: expected target=column pairs like subject_id=animal_id, got {part.strip()!r}"
            )
        if target not in allowed:
            raise UsageError(f"--map: unknown target {target!r}; use {', '.join(allowed)}")
        if target in out:
            raise UsageError(f"--map: {target} given twice")
        out[target] = column
    return out


def _check_mapping(mapping: dict[str, str] | None) -> dict[str, str] | None:
    if mapping is None:
        return None
    if not isinstance(mapping, dict):
        raise UsageError(
            f"mapping must be a dict like {{'subject_id': 'animal_id'}}, got {type(mapping).__name__}"
        )
    for k, v in mapping.items():
        if not isinstance(v, str) or not v.strip():
            raise UsageError(
                f"mapping {k}=...: the column name must be a non-empty string, got {v!r}"
            )
    return {str(k).strip(): v.strip() for k, v in mapping.items()}


def _check_lake(lake: Path) -> Path:
    lake = Path(lake)
    if lake.exists() and not lake.is_dir():
        raise UsageError(f"lake {lake} exists and is not a directory")
    return lake


def read_cameras_file(path: str | Path, mapping: dict[str, str] | None = None) -> pd.DataFrame:
    """Read and validate a cameras file (CSV, Parquet or JSON Lines); nothing is written.

    Parameters
    ----------
    path : str or Path
        Columns ``camera_id``, ``lat``, ``lon`` and optionally ``name``, ``site``.
    mapping : dict, optional
        Canonical name -> column name in the file.

    Returns
    -------
    pandas.DataFrame
        camera_id, lat, lon, name, site.

    Raises
    ------
    UsageError
        Missing columns, an unreadable row, an empty id, lat/lon not numbers or out of range,
        or a camera id that appears twice (each message names the line).
    """
    path = Path(path)
    what = f"cameras {path}"
    with open_table(
        path,
        CAMERAS_INPUT_REQUIRED,
        CAMERAS_INPUT_OPTIONAL,
        _check_mapping(mapping),
        1_000_000,
        "cameras",
    ) as reader:
        parts: list[dict[str, pd.Series]] = []
        lines: list[np.ndarray] = []
        for chunk in reader:
            if len(chunk.rejects):
                first = chunk.rejects.iloc[0]
                raise UsageError(
                    f"{what} line {first['line']}: {first['reason']}: {first['raw']!r}"
                )
            parts.append(chunk.columns)
            lines.append(chunk.lines)
    all_lines = np.concatenate(lines) if lines else np.zeros(0, np.int64)
    if len(all_lines) == 0:
        raise UsageError(f"{what}: no rows (the file has a header but no cameras)")
    columns = {
        name: pd.concat([p[name].astype(object) for p in parts], ignore_index=True)
        for name in parts[0]
    }
    return validate_cameras(columns, all_lines, what)


def ingest_cameras(
    path: str | Path, lake: str | Path, mapping: dict[str, str] | None = None
) -> int:
    """Validate a cameras file and upsert it into ``LAKE/cameras/cameras.parquet``.

    Parameters
    ----------
    path : str or Path
        Cameras file (see :func:`read_cameras_file`).
    lake : str or Path
        The lake directory (created if needed).
    mapping : dict, optional
        Canonical name -> column name in the file.

    Returns
    -------
    int
        Cameras in the file (all of them were inserted or replaced).
    """
    lake = _check_lake(Path(lake))
    cams = read_cameras_file(path, mapping)
    with lake_lock(lake, "ingest cameras"):
        removed = remove_stale_tmp(lake)  # a killed ingest's leftovers (no live writer now)
        upsert_cameras(lake, cams)
        append_ingest_log(
            lake,
            {
                "kind": "cameras",
                "source": str(path),
                "cameras": len(cams),
                "stale_tmp_removed": removed,
                "finished_utc": datetime.now(UTC).isoformat(),
            },
        )
    return len(cams)


def _describe(mode: str, fingerprint: str | None) -> str:
    if mode == MODE_NOT_PSEUDONYMISED:
        return "--no-pseudonymize (ids stored as given)"
    return f"pseudonym key fingerprint {fingerprint}"


def _key_from_log(lake: Path) -> tuple[str, str | None] | None:
    """(mode, fingerprint) that the lake's logged sightings runs used; None when none is logged.

    Raises UsageError when the log shows the lake already mixes two (made before the key record).
    """
    seen: dict[tuple[str, str | None], str] = {}
    for rec in read_ingest_log(lake):
        if rec.get("kind") != "sightings":
            continue
        fingerprint = rec.get("key_fingerprint") or None
        keyed = rec.get("pseudonymized")
        keyed = fingerprint is not None if keyed is None else bool(keyed)
        if keyed and fingerprint is None:
            continue  # no fingerprint logged: says nothing about the key
        mode = MODE_PSEUDONYMISED if keyed else MODE_NOT_PSEUDONYMISED
        seen.setdefault((mode, fingerprint if keyed else None), str(rec.get("run_id", "?")))
    if len(seen) > 1:
        kinds = "; ".join(f"{_describe(*k)} (run {run})" for k, run in seen.items())
        raise UsageError(
            f"lake {lake} already mixes pids of different kinds (ingest log: {kinds}): "
            "they cannot be joined; ingest into a new lake"
        )
    return next(iter(seen), None)


def _check_lake_key(lake: Path, mode: str, fingerprint: str | None) -> str | None:
    """Refuse a run whose key or mode differs from the lake's; say whether to write the record.

    Returns None when the lake's key record already matches, else the record's ``origin`` to
    write before the run's first row: ``"ingest log"`` (an older lake: its logged runs decide)
    or ``"first ingest"`` (nothing logged: this run's key and mode are adopted).
    """
    record = read_key_record(lake)
    if record is not None:
        have: tuple[str, str | None] | None = (record["mode"], record["key_fingerprint"])
        origin = None
        where = f"its key record {lake / KEY_RECORD_NAME}"
    else:
        have = _key_from_log(lake)
        origin = "ingest log" if have is not None else "first ingest"
        where = "its ingest log"
    if have is None or have == (mode, fingerprint):
        return origin
    lake_mode, lake_fingerprint = have
    if lake_mode == MODE_PSEUDONYMISED and mode == MODE_NOT_PSEUDONYMISED:
        why = (
            f"lake {lake} is pseudonymised ({_describe(*have)}, per {where}): "
            "--no-pseudonymize would put raw ids into it; ingest with its key, or use a new lake"
        )
    elif lake_mode == MODE_NOT_PSEUDONYMISED:
        why = (
            f"lake {lake} was made with --no-pseudonymize (per {where}): keyed pids would not "
            "match its ids; ingest with --no-pseudonymize, or use a new lake"
        )
    else:
        why = (
            f"lake {lake} was ingested with a different pseudonym key (fingerprint "
            f"{lake_fingerprint} per {where}, now {fingerprint}): pids would not match; "
            "use the same SIGHTGRAPH_PSEUDONYM_KEY, or a new lake"
        )
    raise UsageError(why)


def _progress(reader: TableReader, enabled: bool, source: Path) -> Progress:
    if reader.unit == "bytes":
        columns: list[Any] = [DownloadColumn(), TransferSpeedColumn()]
    else:
        columns = [MofNCompleteColumn(), TextColumn("rows")]
    return Progress(
        TextColumn(f"ingest {source.name}"),
        BarColumn(),
        *columns,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


_LINE_HASH_PREFIX = b"sightgraph quarantine line v1\x00"
_TS_DTYPE = "datetime64[us, UTC]"


def _line_hash(key: bytes, data: bytes) -> str:
    """HMAC-SHA256 (hex) of one unparsable line's bytes (prefixed, so never equal to a pid's)."""
    return keyed_hex(key, _LINE_HASH_PREFIX + data)


def _optional_key(key: str | None) -> bytes | None:
    """The pseudonym key when one is given or set, else None (no error)."""
    try:
        return resolve_key(key)
    except UsageError:
        return None


def _constant(value: str) -> Callable[[str], str]:
    """A replacement function for :meth:`TableReader.redact` that always gives ``value``."""
    return lambda _raw: value


def _quarantine_frame(
    source: str,
    lines: np.ndarray,
    reasons: Any,
    fields: Any,
    raws: list[str | None],
    pids: list[str | None] | None = None,
    raw_bytes: list[int] | None = None,
    raw_hash: list[str | None] | None = None,
    ts: pd.Series | None = None,
) -> pd.DataFrame:
    n = len(lines)
    return pd.DataFrame(
        {
            "source": pd.Series([source] * n, dtype=object),
            "line": np.asarray(lines, dtype=np.int64),
            "reason": pd.Series(list(reasons), dtype=object),
            "field": pd.Series(list(fields), dtype=object),
            "pid": pd.Series(pids if pids is not None else [None] * n, dtype=object),
            "raw": pd.Series(raws, dtype=object),
            "raw_bytes": pd.Series(
                raw_bytes if raw_bytes is not None else [None] * n, dtype="Int64"
            ),
            "raw_hash": pd.Series(raw_hash if raw_hash is not None else [None] * n, dtype=object),
            "ts": (
                ts.reset_index(drop=True)
                if ts is not None
                else pd.Series([pd.NaT] * n, dtype=_TS_DTYPE)
            ),
        }
    )


def _iter_chunks(reader: TableReader, progress: Progress) -> Iterator[RawChunk]:
    task = progress.add_task("ingest", total=reader.total)
    for chunk in reader:
        yield chunk
        progress.update(task, completed=min(chunk.position, reader.total))
    progress.update(task, completed=reader.total)


def ingest(
    source: str | Path,
    lake: str | Path,
    cameras: str | Path | None = None,
    mapping: dict[str, str] | None = None,
    tz: str | None = None,
    pseudonymize: bool = True,
    key: str | None = None,
    chunk_rows: int = 1_000_000,
    progress: bool = True,
) -> IngestReport:
    """Validate, pseudonymise, deduplicate and write a sightings file into the lake.

    Parameters
    ----------
    source : str or Path
        Sightings as CSV (any of ``, ; TAB |``, optionally .gz), Parquet or JSON Lines with
        ``subject_id``, ``camera_id``, ``ts`` and optionally ``confidence`` (or other names, via
        ``mapping``).
    lake : str or Path
        Lake directory (created if needed).
    cameras : str or Path, optional
        Cameras file, validated before anything is read; rows whose camera it lacks are
        quarantined, and its cameras are upserted into the lake when the run succeeds.
    mapping : dict, optional
        Canonical name -> column name in the file, e.g.
        ``{'subject_id': 'animal_id', 'camera_id': 'logger_id', 'ts': 'time'}``.
    tz : str, optional
        IANA zone for timestamps without an offset (else such rows are quarantined).
    pseudonymize : bool
        Replace subject ids by keyed HMAC pids (default). False only for already pseudonymous ids.
    key : str, optional
        Pseudonym key; default ``$SIGHTGRAPH_PSEUDONYM_KEY``.
    chunk_rows : int
        Most rows held in memory at once.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    IngestReport

    Raises
    ------
    UsageError
        Missing file or column, empty file, unknown zone, missing key, bad cameras file, or a lake
        whose key record (or, for an older lake, ingest log) shows another key or the other mode
        (``pseudonymize=False`` into a pseudonymised lake or the reverse; see the module
        docstring). Nothing is written in these cases.

    Examples
    --------
    >>> report = ingest("finches.csv", "lake", mapping={"subject_id": "animal_id",
    ...     "camera_id": "logger_id", "ts": "time"}, tz="America/Vancouver")  # doctest: +SKIP
    >>> print("\\n".join(report.summary()))  # doctest: +SKIP
    """
    lake = _check_lake(Path(lake))
    with lake_lock(lake, "ingest"):
        return _ingest(source, lake, cameras, mapping, tz, pseudonymize, key, chunk_rows, progress)


def _ingest(
    source: str | Path,
    lake: Path,
    cameras: str | Path | None,
    mapping: dict[str, str] | None,
    tz: str | None,
    pseudonymize: bool,
    key: str | None,
    chunk_rows: int,
    progress: bool,
) -> IngestReport:
    started = time.perf_counter()
    source = Path(source)
    tz = check_timezone(tz)
    mapping = _check_mapping(mapping)
    key_bytes = resolve_key(key) if pseudonymize else None
    fingerprint = fingerprint_key(key_bytes) if key_bytes is not None else None
    mode = MODE_PSEUDONYMISED if key_bytes is not None else MODE_NOT_PSEUDONYMISED
    record_origin = _check_lake_key(lake, mode, fingerprint)
    cams = read_cameras_file(cameras) if cameras is not None else None

    run_id = new_run_id()
    report = IngestReport(source=source, lake=lake, run_id=run_id)
    created_record = [False]
    try:
        return _ingest_run(
            source,
            lake,
            cams,
            tz,
            key,
            key_bytes,
            fingerprint,
            mode,
            record_origin,
            mapping,
            chunk_rows,
            progress,
            pseudonymize,
            report,
            started,
            created_record,
        )
    except BaseException:
        _roll_back(lake, run_id, created_record[0])
        raise


def _roll_back(lake: Path, run_id: str, created_record: bool) -> None:
    """Undo a run that failed part-way (a file unreadable after its first chunk, an error while
    writing): remove the sightings files this run wrote (named by its run id) and the date
    folders it left empty, and the key record when this run was the lake's first. The lake is
    then as before the run: no partial input in it. (A run killed with SIGKILL cannot do this;
    its rows are complete files, and running the same ingest again completes it.)"""
    root = lake / "sightings"
    for pattern in (f"date=*/part-{run_id}-*.parquet", f"date=*/.part-{run_id}-*.parquet.tmp"):
        for f in root.glob(pattern):
            f.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                f.parent.rmdir()  # only when this run left it empty
    with contextlib.suppress(OSError):
        root.rmdir()
    if created_record:
        (lake / KEY_RECORD_NAME).unlink(missing_ok=True)


def _ingest_run(
    source: Path,
    lake: Path,
    cams: pd.DataFrame | None,
    tz: str | None,
    key: str | None,
    key_bytes: bytes | None,
    fingerprint: str | None,
    mode: str,
    record_origin: str | None,
    mapping: dict[str, str] | None,
    chunk_rows: int,
    progress: bool,
    pseudonymize: bool,
    report: IngestReport,
    started: float,
    created_record: list[bool],
) -> IngestReport:
    run_id = report.run_id
    with open_table(
        source, INPUT_REQUIRED, INPUT_OPTIONAL, mapping, chunk_rows, "sightings"
    ) as reader:
        report.delimiter = reader.delimiter
        # under the writer lock: no live writer owns them, they are a killed run's leftovers
        report.stale_tmp_removed = remove_stale_tmp(lake)
        known = set(cams["camera_id"]) if cams is not None else None
        subject_col = reader.source_columns["subject_id"]
        hash_key = key_bytes if key_bytes is not None else _optional_key(key)
        writer = SightingsWriter(lake, run_id)
        quarantine = QuarantineWriter(lake, source, run_id)
        reasons: Counter[str] = Counter()
        try:
            with _progress(reader, progress, source) as bar:
                for chunk in _iter_chunks(reader, bar):
                    if record_origin is not None and chunk.n_rows:
                        # before the first row (and the first quarantined row) is written
                        write_key_record(lake, mode, fingerprint, record_origin)
                        created_record[0] = record_origin == "first ingest"
                        record_origin = None
                    _ingest_chunk(
                        chunk,
                        reader,
                        tz,
                        known,
                        key_bytes,
                        hash_key,
                        subject_col,
                        writer,
                        quarantine,
                        reasons,
                        report,
                    )
            report.quarantine_path = quarantine.close()
        except BaseException:
            quarantine.abort()
            raise
    if report.rows_read == 0:
        raise UsageError(f"{source}: no data rows (an empty file, or a header and nothing else)")
    if cams is not None:
        upsert_cameras(lake, cams)
        report.cameras = len(cams)
    report.reasons = dict(sorted(reasons.items()))
    report.partitions = sorted(writer.partitions)
    report.seconds = time.perf_counter() - started
    if not report.balanced:  # pragma: no cover - an internal bug, not a user error
        raise SightgraphError("ingest accounting mismatch: " + " | ".join(report.summary()))
    record = asdict(report)
    record.update(
        kind="sightings",
        format=reader.format,
        pseudonymized=pseudonymize,
        key_fingerprint=fingerprint,
        tz=tz,
        mapping=mapping,
        finished_utc=datetime.now(UTC).isoformat(),
    )
    append_ingest_log(lake, record)
    return report


def _ingest_chunk(
    chunk: RawChunk,
    reader: TableReader,
    tz: str | None,
    known: set[str] | None,
    key_bytes: bytes | None,
    hash_key: bytes | None,
    subject_col: str,
    writer: SightingsWriter,
    quarantine: QuarantineWriter,
    reasons: Counter[str],
    report: IngestReport,
) -> None:
    source = str(report.source)
    frames = []
    if len(chunk.rejects):
        # rows that could not be split into fields: no text is kept (the subject id cannot be
        # found in it reliably), only the line, reason, byte length and keyed hash
        rej = chunk.rejects
        data = list(rej["data"])
        frames.append(
            _quarantine_frame(
                source,
                rej["line"].to_numpy(),
                rej["reason"],
                [None] * len(rej),
                [None] * len(rej),
                raw_bytes=[len(b) for b in data],
                raw_hash=[None if hash_key is None else _line_hash(hash_key, b) for b in data],
            )
        )
    checked = validate_sightings_chunk(chunk.columns, tz, known)
    valid = checked.valid
    bad = np.flatnonzero(~valid)
    if len(bad):
        fields = [reader.source_columns.get(f, f) for f in checked.field[bad]]
        subject = checked.subject.take(pa.array(bad, pa.int64()))
        pid_arr = pseudonymize_arrow(subject, key_bytes) if key_bytes is not None else subject
        pids = [
            p if s else None for p, s in zip(pid_arr.to_pylist(), subject.to_pylist(), strict=True)
        ]
        raws: list[str | None] = list(chunk.raw_rows(bad))
        if key_bytes is not None:  # the subject field's raw value -> the row's pid
            raws = [
                r if p is None or r is None else reader.redact(r, subject_col, _constant(p))
                for r, p in zip(raws, pids, strict=True)
            ]
        ts_us = np.where(checked.ts_ok[bad], checked.ts_us[bad], np.iinfo(np.int64).min)
        ts = pd.Series(ts_us.astype("datetime64[us]")).dt.tz_localize("UTC")  # int64 min: NaT
        frames.append(
            _quarantine_frame(
                source, chunk.lines[bad], checked.reason[bad], fields, raws, pids=pids, ts=ts
            )
        )
    if frames:
        q = pd.concat(frames, ignore_index=True).sort_values("line", kind="stable")
        quarantine.write(q)
        reasons.update(q["reason"].tolist())
        report.quarantined += len(q)

    keep = pa.array(valid)
    subject = checked.subject.filter(keep)
    pid = pseudonymize_arrow(subject, key_bytes) if key_bytes is not None else subject
    camera = checked.camera.filter(keep)
    ts_us = checked.ts_us[valid]
    ids = make_sighting_ids(pid, camera, ts_us)
    in_file, in_lake = writer.classify(ids, ts_us)
    new = ~in_file & ~in_lake
    if new.all():
        written = writer.write(ids, pid, camera, ts_us, checked.confidence[valid])
    else:
        sel = pa.array(new)
        written = writer.write(
            ids[new],
            pid.filter(sel),
            camera.filter(sel),
            ts_us[new],
            checked.confidence[valid][new],
        )
    report.ingested += written
    report.duplicates_in_file += int(in_file.sum())
    report.duplicates_in_lake += int(in_lake.sum())
    report.rows_read += chunk.n_rows
