"""Chunked readers for CSV, Parquet and JSON Lines tables, with column mapping and line numbers.

A reader yields :class:`RawChunk` objects: the mapped columns as read (no validation yet), the
1-based physical line number of every row (CSV and JSON Lines: the header is line 1; Parquet: the
row number), the rows that could not even be split into fields ("structural" rejects: truncated
rows, too many fields, bytes that are not UTF-8, unbalanced quotes, invalid JSON), and a way to
fetch the original text of any row for the quarantine.

CSV is read in blocks of bytes split at line ends; one line is one row (newlines inside quoted
values are not supported: such a line has an odd number of quote characters and is quarantined
as ``unbalanced quotes``). Blank lines are skipped and are not rows. The delimiter is detected
from the header line (``,``, ``;``, tab or ``|``); a UTF-8 byte-order mark is ignored. Lines are
parsed by pyarrow's CSV parser; finding line ends, blank lines and unbalanced quotes is done with
numpy over the whole block, so no Python code runs per row unless a block holds bad rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from sightgraph.errors import UsageError

__all__ = [
    "REASON_BAD_JSON",
    "REASON_CARRIAGE_RETURN",
    "REASON_ENCODING",
    "REASON_JSON_NOT_OBJECT",
    "REASON_TOO_MANY_FIELDS",
    "REASON_TRUNCATED",
    "REASON_UNBALANCED_QUOTES",
    "REASON_UNREADABLE",
    "RawChunk",
    "TableReader",
    "detect_format",
    "open_table",
    "sniff_delimiter",
]

REASON_TRUNCATED = "truncated row"
REASON_TOO_MANY_FIELDS = "too many fields"
REASON_ENCODING = "not valid UTF-8"
REASON_UNBALANCED_QUOTES = "unbalanced quotes"
REASON_CARRIAGE_RETURN = "carriage return inside a line"
REASON_UNREADABLE = "unreadable CSV line"
REASON_BAD_JSON = "invalid JSON"
REASON_JSON_NOT_OBJECT = "JSON line is not an object"

REJECT_COLUMNS = ("line", "reason", "raw", "data")
DELIMITERS = (",", ";", "\t", "|")
_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_SNIFF_BYTES = 1 << 16
_NL, _CR, _QUOTE = 10, 13, 34


@dataclass
class RawChunk:
    """One chunk of input rows before validation.

    Attributes
    ----------
    columns : dict of str to pandas.Series
        Canonical column name -> values as read (positional index ``0..n-1``).
    lines : numpy.ndarray
        int64 line (CSV/JSON Lines) or row (Parquet) number of each row in ``columns``.
    rejects : pandas.DataFrame
        Rows that could not be split into fields: ``line``, ``reason``, ``raw`` (original text,
        bytes that are not UTF-8 escaped; for messages, never stored) and ``data`` (the line's
        original bytes, without its line end).
    raw_rows : callable
        ``raw_rows(positions) -> list[str]``: original text of rows of ``columns``.
    position : int
        Bytes (CSV/JSON Lines) or rows (Parquet) consumed so far, for progress bars.
    """

    columns: dict[str, pd.Series]
    lines: np.ndarray
    rejects: pd.DataFrame
    raw_rows: Callable[[np.ndarray], list[str]]
    position: int

    @property
    def n_rows(self) -> int:
        """Rows in this chunk (parsed plus structural rejects)."""
        return len(self.lines) + len(self.rejects)


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "line": pd.Series([], dtype="int64"),
            "reason": pd.Series([], dtype="str"),
            "raw": pd.Series([], dtype="str"),
            "data": pd.Series([], dtype=object),
        }
    )


def _rejects(
    lines: Sequence[int] | np.ndarray,
    reasons: Sequence[str],
    raws: Sequence[str],
    data: Sequence[bytes],
) -> pd.DataFrame:
    if len(lines) == 0:
        return _empty_rejects()
    return pd.DataFrame(
        {
            "line": np.asarray(lines, dtype=np.int64),
            "reason": pd.Series(list(reasons), dtype="str"),
            "raw": pd.Series(list(raws), dtype="str"),
            "data": pd.Series(list(data), dtype=object),
        }
    )


def detect_format(path: Path) -> str:
    """``'csv'``, ``'parquet'`` or ``'jsonl'`` from the file name (``.gz`` allowed for text).

    Raises
    ------
    UsageError
        For an unknown extension, naming the ones accepted.
    """
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
        if suffixes and _FORMATS.get(suffixes[-1]) == "parquet":
            raise UsageError(
                f"{path}: gzip-compressed Parquet is not supported (Parquet compresses itself)"
            )
    fmt = _FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise UsageError(
            f"{path}: cannot tell the format from the file name; use one of "
            f"{', '.join(sorted(_FORMATS))} (optionally .gz for text formats)"
        )
    return fmt


def sniff_delimiter(header: str) -> str:
    """The delimiter of a CSV header line: the most frequent of ``, ; TAB |`` (``,`` on ties).

    Examples
    --------
    >>> sniff_delimiter("subject_id;camera_id;ts"), sniff_delimiter("a,b;c,d")
    (';', ',')
    """
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 0 else ","


def _describe_delimiter(delim: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(delim, repr(delim))


class TableReader(ABC):
    """Iterate a sightings or cameras table in chunks (see :func:`open_table`)."""

    format: str
    unit: str  # "bytes" or "rows": what ``total`` and ``RawChunk.position`` count
    total: int
    found: list[str]  # column names found in the file, in file order
    source_columns: dict[str, str]  # canonical name -> column name in the file
    delimiter: str | None = None

    def __init__(self, path: Path, chunk_rows: int) -> None:
        self.path = path
        self.chunk_rows = chunk_rows

    @abstractmethod
    def __iter__(self) -> Iterator[RawChunk]: ...

    @abstractmethod
    def redact(self, raw: str, column: str, replace: Callable[[str], str]) -> str:
        """Return ``raw`` (one row's original text) with the value of ``column`` replaced."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the file handle (readers without one do nothing)."""

    def __enter__(self) -> TableReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def resolve_columns(
        self,
        required: Sequence[str],
        optional: Sequence[str],
        mapping: dict[str, str] | None,
        what: str,
    ) -> None:
        """Fill ``source_columns``; UsageError naming the missing column and listing the found ones."""
        mapping = dict(mapping or {})
        allowed = list(required) + list(optional)
        unknown = [k for k in mapping if k not in allowed]
        if unknown:
            raise UsageError(
                f"column mapping: unknown target {', '.join(map(repr, unknown))}; "
                f"map onto {', '.join(allowed)} (e.g. subject_id=animal_id)"
            )
        found = set(self.found)
        missing = []
        resolved: dict[str, str] = {}
        for name in allowed:
            source = mapping.get(name, name)
            if source in found:
                resolved[name] = source
            elif name in required or name in mapping:
                missing.append(source if source == name else f"{source} (mapped to {name})")
        if missing:
            shown = ", ".join(self.found) if self.found else "(none)"
            hint = ""
            if (
                self.delimiter is not None
                and len(self.found) == 1
                and re.search(r"[\s:/.-]", self.found[0])
            ):
                hint = (
                    f"; the header was read as one column {self.found[0]!r}: the delimiter must be one of "
                    f"{', '.join(_describe_delimiter(d) for d in DELIMITERS)}"
                )
            raise UsageError(
                f"{what} {self.path}: missing required column(s) {', '.join(missing)}; found: {shown}"
                f"{hint}; map other names with --map subject_id=...,camera_id=...,ts=..."
            )
        self.source_columns = resolved


# ----------------------------------------------------------------------------------- text files
_GZIP_MAGIC = b"\x1f\x8b"


class _LineFile:
    """A binary text file (optionally gzip) read in blocks cut at line ends."""

    def __init__(self, path: Path) -> None:
        try:
            self._raw: io.BufferedReader = open(path, "rb")  # noqa: SIM115 - closed in close()
        except IsADirectoryError as exc:
            raise UsageError(f"{path} is a directory, not a file") from exc
        except OSError as exc:
            raise UsageError(f"cannot open {path}: {exc.strerror or exc}") from exc
        self.total = os.fstat(self._raw.fileno()).st_size
        # gzip by name, or by its magic bytes whatever the name (a gzip file named .csv)
        compressed = path.suffix.lower() == ".gz" or self._raw.peek(2)[:2] == _GZIP_MAGIC
        self._fh: Any = gzip.GzipFile(fileobj=self._raw) if compressed else self._raw
        self.path = path

    def read(self, n: int) -> bytes:
        try:
            return self._fh.read(n)
        except (OSError, EOFError) as exc:  # bad gzip stream
            raise UsageError(f"cannot read {self.path}: {exc}") from exc

    @property
    def position(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        if self._fh is not self._raw:
            self._fh.close()
        self._raw.close()


def _read_head(lf: _LineFile) -> tuple[bytes, bool]:
    """First block (extended to contain a non-blank line end); returns (bytes, eof)."""
    buf = bytearray(lf.read(_SNIFF_BYTES))
    eof = len(buf) < _SNIFF_BYTES
    # read on until a non-blank line is complete; linear in the bytes read (a regex search of
    # the whole head each time took minutes on one long first line)
    line_start, scanned = 0, 0
    while not eof:
        nl = buf.find(b"\n", max(line_start, scanned))
        done = False
        while nl >= 0:
            if bytes(buf[line_start:nl]).strip():
                done = True
                break
            line_start = nl + 1
            nl = buf.find(b"\n", line_start)
        if done:
            break
        scanned = len(buf)
        more = lf.read(_SNIFF_BYTES)
        eof = len(more) < _SNIFF_BYTES
        buf += more
    head = bytes(buf)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4096]:
        raise UsageError(
            f"{lf.path}: looks like UTF-16 or binary data; save the file as UTF-8 text"
        )
    return head, eof


def _first_nonblank_line(head: bytes) -> tuple[int, int, int] | None:
    """(line number, start, end excl. newline) of the first non-blank line of ``head``."""
    pos, line_no = 0, 1
    while pos <= len(head):
        nl = head.find(b"\n", pos)
        end = len(head) if nl < 0 else nl
        if head[pos:end].strip():
            return line_no, pos, end
        if nl < 0:
            return None
        pos, line_no = nl + 1, line_no + 1
    return None


class _TextReader(TableReader):
    """Shared block/line machinery of the CSV and JSON Lines readers."""

    unit = "bytes"

    def __init__(self, path: Path, chunk_rows: int) -> None:
        super().__init__(path, chunk_rows)
        self._lf = _LineFile(path)
        self.total = self._lf.total
        self._block_bytes = int(min(64 << 20, max(1 << 20, chunk_rows * 128)))
        try:
            head, self._eof = _read_head(self._lf)
        except BaseException:
            self._lf.close()
            raise
        self._head = head

    def close(self) -> None:
        self._lf.close()

    def _blocks(
        self, carry: bytes, line_no: int, eof: bool
    ) -> Iterator[tuple[bytes, np.ndarray, int]]:
        """Yield (bytes, line-end offsets, first line number) with at most chunk_rows lines each.

        A line end is the offset of its ``\\n`` (or the end of the bytes for a last line without
        one); every yielded block ends exactly at a line end.
        """
        buf = carry
        while True:
            if not eof:
                data = self._lf.read(self._block_bytes)
                if data:
                    buf = buf + data if buf else data
                else:
                    eof = True
            if not buf:
                return
            arr = np.frombuffer(buf, dtype=np.uint8)
            ends = np.flatnonzero(arr == _NL)
            if eof and (len(ends) == 0 or ends[-1] != len(buf) - 1):
                ends = np.append(ends, len(buf))
            if len(ends) == 0:
                continue  # a line longer than a block: read more
            start = 0
            k = 0
            full = len(ends) - len(ends) % self.chunk_rows if not eof else len(ends)
            while k < full:
                stop = min(k + self.chunk_rows, full)
                block_ends = ends[k:stop]
                last = int(block_ends[-1])
                yield buf[start : last + 1], block_ends - start, line_no
                line_no += stop - k
                start = last + 1
                k = stop
            if eof:
                return
            buf = buf[start:]

    @staticmethod
    def _line_bounds(block: bytes, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends without CR, arr) of the lines of one block."""
        arr = np.frombuffer(block, dtype=np.uint8)
        starts = np.empty(len(ends), dtype=np.int64)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        stops = ends.astype(np.int64).copy()
        has_cr = (
            (stops > starts) & (arr[np.clip(stops - 1, 0, max(len(arr) - 1, 0))] == _CR)
            if len(arr)
            else np.zeros(len(ends), bool)
        )
        stops[has_cr] -= 1
        return starts, stops, arr

    @staticmethod
    def _blank_lines(
        block: bytes, starts: np.ndarray, stops: np.ndarray, arr: np.ndarray
    ) -> np.ndarray:
        """Mask of empty or whitespace-only lines."""
        blank = stops == starts
        if (~blank).any() and np.any(arr[starts[~blank]] <= 32):
            ws = np.flatnonzero(~blank & (arr[np.minimum(starts, len(arr) - 1)] <= 32))
            for i in ws.tolist():
                if not block[starts[i] : stops[i]].strip():
                    blank[i] = True
        return blank

    @staticmethod
    def _without_lines(
        block: bytes, arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, drop: np.ndarray
    ) -> bytes:
        """The block minus the lines in ``drop`` (with their line ends)."""
        if not drop.any():
            return block
        keep = np.ones(len(arr), dtype=bool)
        for i in np.flatnonzero(drop).tolist():
            keep[starts[i] : ends[i] + 1] = False
        return arr[keep].tobytes()

    @staticmethod
    def _encoding_bad(block: bytes, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """Mask of lines that are not valid UTF-8 (Python loop only when the block fails)."""
        try:
            block.decode("utf-8")
            return np.zeros(len(starts), dtype=bool)
        except UnicodeDecodeError:
            bad = np.zeros(len(starts), dtype=bool)
            for i, (s, e) in enumerate(zip(starts.tolist(), stops.tolist(), strict=True)):
                try:
                    block[s:e].decode("utf-8")
                except UnicodeDecodeError:
                    bad[i] = True
            return bad

    @staticmethod
    def _text(block: bytes, s: int, e: int) -> str:
        return block[s:e].decode("utf-8", "backslashreplace")


class CsvReader(_TextReader):
    """Delimited text with a header line."""

    format = "csv"

    def __init__(self, path: Path, chunk_rows: int) -> None:
        super().__init__(path, chunk_rows)
        try:
            self._parse_header()
        except BaseException:
            self.close()
            raise

    def _parse_header(self) -> None:
        first = _first_nonblank_line(self._head)
        if first is None:
            raise UsageError(f"{self.path}: empty file (no header line, no rows)")
        line_no, s, e = first
        text = self._head[s:e].decode("utf-8", "replace").rstrip("\r")
        if "\r" in text:
            raise UsageError(
                f"{self.path}: lines end with a bare carriage return (old Mac format); "
                "convert the file to \\n or \\r\\n line endings"
            )
        self.delimiter = sniff_delimiter(text)
        try:
            names = [n.strip() for n in next(csv.reader([text], delimiter=self.delimiter))]
        except csv.Error as exc:
            raise UsageError(f"{self.path} line {line_no}: cannot read the header ({exc})") from exc
        seen: set[str] = set()
        for n in names:
            if n in seen:
                raise UsageError(
                    f"{self.path} line {line_no}: column {n!r} appears twice in the header"
                )
            seen.add(n)
        self.found = names
        self.header_line = line_no
        self._carry = self._head[e + 1 :] if e < len(self._head) else b""
        self._first_data_line = line_no + 1

    def __iter__(self) -> Iterator[RawChunk]:
        wanted = list(dict.fromkeys(self.source_columns.values()))
        for block, ends, line_no in self._blocks(self._carry, self._first_data_line, self._eof):
            yield self._parse_block(block, ends, line_no, wanted)

    def _parse_block(
        self, block: bytes, ends: np.ndarray, line_no: int, wanted: list[str]
    ) -> RawChunk:
        starts, stops, arr = self._line_bounds(block, ends)
        n_lines = len(starts)
        blank = self._blank_lines(block, starts, stops, arr)
        bad_enc = self._encoding_bad(block, starts, stops)
        bad_cr = np.zeros(n_lines, dtype=bool)
        if _CR in arr:  # a carriage return inside a line would end the row for the CSV parser
            cr = np.flatnonzero(arr == _CR)
            line_of = np.searchsorted(ends, cr)  # the line whose end is the first at or after it
            inside = line_of < n_lines
            line_of, cr = line_of[inside], cr[inside]
            bad_cr[line_of[cr < stops[line_of]]] = True  # a line's own trailing CR sits at stops
            bad_cr &= ~bad_enc & ~blank
        if _QUOTE in arr:
            q = np.flatnonzero(arr == _QUOTE)
            n_quotes = np.searchsorted(q, stops) - np.searchsorted(q, starts)
            bad_quotes = (n_quotes % 2 == 1) & ~bad_enc & ~bad_cr
        else:
            bad_quotes = np.zeros(n_lines, dtype=bool)
        good = ~blank & ~bad_enc & ~bad_cr & ~bad_quotes
        good_idx = np.flatnonzero(good)
        payload = self._without_lines(block, arr, starts, ends, ~good)
        table, invalid = self._parse_payload(payload, wanted)
        lines_all = line_no + np.arange(n_lines, dtype=np.int64)
        rej_idx: list[int] = []
        rej_reason: list[str] = []
        for i in np.flatnonzero(bad_enc).tolist():
            rej_idx.append(i)
            rej_reason.append(REASON_ENCODING)
        for i in np.flatnonzero(bad_cr).tolist():
            rej_idx.append(i)
            rej_reason.append(REASON_CARRIAGE_RETURN)
        for i in np.flatnonzero(bad_quotes).tolist():
            rej_idx.append(i)
            rej_reason.append(REASON_UNBALANCED_QUOTES)
        row_ok = np.ones(len(good_idx), dtype=bool)
        for number, reason in invalid:
            row_ok[number - 1] = False
            rej_idx.append(int(good_idx[number - 1]))
            rej_reason.append(reason)
        rows_idx = good_idx[row_ok]
        if table is None or len(rows_idx) != table.num_rows:
            # pyarrow disagreed with our line model: parse these lines one by one instead
            texts = [self._text(block, int(starts[i]), int(stops[i])) for i in good_idx]
            table, invalid = self._parse_lines_python(texts, wanted)
            row_ok = np.ones(len(good_idx), dtype=bool)
            keep_n = int(bad_enc.sum() + bad_cr.sum() + bad_quotes.sum())
            rej_idx, rej_reason = rej_idx[:keep_n], rej_reason[:keep_n]
            for number, reason in invalid:
                row_ok[number - 1] = False
                rej_idx.append(int(good_idx[number - 1]))
                rej_reason.append(reason)
            rows_idx = good_idx[row_ok]
        order = np.argsort(np.asarray(rej_idx, dtype=np.int64), kind="stable")
        rej_sorted = [rej_idx[j] for j in order]
        rejects = _rejects(
            lines_all[rej_sorted] if rej_sorted else [],
            [rej_reason[j] for j in order],
            [self._text(block, int(starts[i]), int(stops[i])) for i in rej_sorted],
            [block[int(starts[i]) : int(stops[i])] for i in rej_sorted],
        )
        columns = {
            canon: pd.Series(table.column(src).to_pandas(), dtype="str")
            for canon, src in self.source_columns.items()
        }

        def raw_rows(positions: np.ndarray) -> list[str]:
            return [
                self._text(block, int(starts[i]), int(stops[i]))
                for i in rows_idx[np.asarray(positions, dtype=np.int64)]
            ]

        return RawChunk(columns, lines_all[rows_idx], rejects, raw_rows, self._lf.position)

    def _parse_lines_python(
        self, texts: list[str], wanted: list[str]
    ) -> tuple[pa.Table, list[tuple[int, str]]]:
        """Slow, forgiving parse of single lines with the csv module (fallback only)."""
        invalid: list[tuple[int, str]] = []
        width = len(self.found)
        positions = [self.found.index(c) for c in wanted]
        cols: list[list[str]] = [[] for _ in wanted]
        for number, text in enumerate(texts, start=1):
            try:
                fields = next(csv.reader([text], delimiter=self.delimiter or ","), [])
            except csv.Error:
                invalid.append((number, REASON_UNREADABLE))
                continue
            if len(fields) != width:
                invalid.append(
                    (number, REASON_TRUNCATED if len(fields) < width else REASON_TOO_MANY_FIELDS)
                )
                continue
            for col, pos in zip(cols, positions, strict=True):
                col.append(fields[pos])
        return pa.table(
            {c: pa.array(v, pa.string()) for c, v in zip(wanted, cols, strict=True)}
        ), invalid

    def _parse_payload(
        self, payload: bytes, wanted: list[str]
    ) -> tuple[pa.Table | None, list[tuple[int, str]]]:
        """Parse lines (no blank ones) with pyarrow; invalid rows come back as (row number, reason).

        Returns a None table when pyarrow refuses the block (the caller then parses line by line).
        """
        invalid: list[tuple[int, str]] = []

        def on_invalid(row: Any) -> str:
            if row.number is None:  # pragma: no cover - single-threaded parsing always numbers rows
                raise RuntimeError("pyarrow did not number an invalid CSV row")
            reason = (
                REASON_TRUNCATED
                if row.actual_columns < row.expected_columns
                else REASON_TOO_MANY_FIELDS
            )
            invalid.append((int(row.number), reason))
            return "skip"

        if not payload:
            return pa.table({c: pa.array([], pa.string()) for c in wanted}), invalid
        try:
            table = self._read_csv(payload, wanted, on_invalid)
        except (pa.ArrowInvalid, RuntimeError):
            return None, []
        return table, invalid

    def _read_csv(
        self, payload: bytes, wanted: list[str], on_invalid: Callable[[Any], str]
    ) -> pa.Table:
        return pcsv.read_csv(
            io.BytesIO(payload),
            read_options=pcsv.ReadOptions(
                column_names=self.found, use_threads=False, block_size=64 << 20
            ),
            parse_options=pcsv.ParseOptions(
                delimiter=self.delimiter or ",",
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=True,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pcsv.ConvertOptions(
                include_columns=wanted,
                column_types=dict.fromkeys(wanted, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    def redact(self, raw: str, column: str, replace: Callable[[str], str]) -> str:
        """Replace every field equal to the ``column`` field's value (stripped) by ``replace(value)``."""
        idx = self.found.index(column)
        delim = self.delimiter or ","
        try:
            fields = next(csv.reader([raw], delimiter=delim), [])
        except csv.Error:  # e.g. a stray carriage return: split naively, unquoting by hand
            fields = [f.strip().strip('"') for f in raw.split(delim)]
        if idx >= len(fields) or not fields[idx].strip():
            return raw
        value = fields[idx].strip()
        new = replace(value)
        out = io.StringIO()
        csv.writer(out, delimiter=delim, lineterminator="").writerow(
            [new if f.strip() == value else f for f in fields]
        )
        return out.getvalue()


class JsonLinesReader(_TextReader):
    """One JSON object per line."""

    format = "jsonl"

    def __init__(self, path: Path, chunk_rows: int) -> None:
        super().__init__(path, chunk_rows)
        try:
            self._scan_keys()
        except BaseException:
            self.close()
            raise

    def _scan_keys(self) -> None:
        head = self._head
        if _first_nonblank_line(head) is None:
            raise UsageError(f"{self.path}: empty file (no rows)")
        if head.lstrip().startswith(b"["):
            raise UsageError(f"{self.path}: a JSON array; use JSON Lines (one object per line)")
        keys: dict[str, set[str]] = {}
        complete = head if self._eof else head[: head.rfind(b"\n") + 1]
        for line in complete.split(b"\n")[:2000]:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                for k, v in obj.items():
                    keys.setdefault(str(k), set()).add(_json_kind(v))
        self.found = list(keys)
        self._kinds = keys

    def _fast_schema(self) -> pa.Schema | None:
        """Arrow types for the wanted keys if the first lines agree on one simple type each."""
        fields = []
        for src in dict.fromkeys(self.source_columns.values()):
            kinds = self._kinds.get(src, set()) - {"null"}
            if kinds <= {"str"}:
                fields.append((src, pa.string()))
            elif kinds <= {"int"}:
                fields.append((src, pa.int64()))
            elif kinds <= {"int", "float"}:
                fields.append((src, pa.float64()))
            else:
                return None
        return pa.schema(fields)

    def _parse_fast(
        self, payload: bytes, n_rows: int, schema: pa.Schema
    ) -> dict[str, pd.Series] | None:
        """Whole-block parse with pyarrow; None unless it yields exactly one row per line."""
        try:
            table = pjson.read_json(
                io.BytesIO(payload),
                read_options=pjson.ReadOptions(
                    use_threads=False, block_size=max(1 << 20, len(payload) + 1)
                ),
                parse_options=pjson.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore"
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != n_rows:
            return None
        columns = {}
        for canon, src in self.source_columns.items():
            col = table.column(src).combine_chunks()
            if pa.types.is_string(col.type):
                columns[canon] = pd.Series(col.to_pandas(), dtype="str")
            else:
                columns[canon] = pd.Series(pd.arrays.ArrowExtensionArray(col))
        return columns

    def __iter__(self) -> Iterator[RawChunk]:
        for block, ends, line_no in self._blocks(self._head, 1, self._eof):
            yield self._parse_block(block, ends, line_no)

    def _parse_block(self, block: bytes, ends: np.ndarray, line_no: int) -> RawChunk:
        starts, stops, arr = self._line_bounds(block, ends)
        bad_enc = self._encoding_bad(block, starts, stops)
        lines_all = line_no + np.arange(len(starts), dtype=np.int64)
        schema = self._fast_schema() if not bad_enc.any() else None
        if schema is not None:
            blank = self._blank_lines(block, starts, stops, arr)
            nonblank = np.flatnonzero(~blank)
            # pyarrow's reader only ever sees objects, one per line, '{' first and '}' last
            # (fed a bare `null` line with an explicit schema, pyarrow 2x crashes the process);
            # anything else, spaces around an object included, takes the line-by-line path
            objects = bool(
                len(nonblank)
                and np.all(arr[starts[nonblank]] == _OPEN_BRACE)
                and np.all(arr[stops[nonblank] - 1] == _CLOSE_BRACE)
            )
            payload = self._without_lines(block, arr, starts, ends, blank)
            fast = self._parse_fast(payload, len(nonblank), schema) if objects else None
            if fast is not None:

                def raw_fast(positions: np.ndarray) -> list[str]:
                    picked = nonblank[np.asarray(positions, dtype=np.int64)]
                    return [self._text(block, int(starts[i]), int(stops[i])) for i in picked]

                return RawChunk(
                    fast, lines_all[nonblank], _empty_rejects(), raw_fast, self._lf.position
                )
        objs: list[dict[str, Any]] = []
        rows_idx: list[int] = []
        rej_idx: list[int] = []
        rej_reason: list[str] = []
        for i, (s, e) in enumerate(zip(starts.tolist(), stops.tolist(), strict=True)):
            piece = block[s:e]
            if not piece.strip():
                continue
            if bad_enc[i]:
                rej_idx.append(i)
                rej_reason.append(REASON_ENCODING)
                continue
            try:
                obj = json.loads(piece)
            except ValueError:
                rej_idx.append(i)
                rej_reason.append(REASON_BAD_JSON)
                continue
            if not isinstance(obj, dict):
                rej_idx.append(i)
                rej_reason.append(REASON_JSON_NOT_OBJECT)
                continue
            objs.append(obj)
            rows_idx.append(i)
        rows = np.asarray(rows_idx, dtype=np.int64)
        columns = {
            canon: _object_series([o.get(src) for o in objs])
            for canon, src in self.source_columns.items()
        }
        rejects = _rejects(
            lines_all[rej_idx] if rej_idx else [],
            rej_reason,
            [self._text(block, int(starts[i]), int(stops[i])) for i in rej_idx],
            [block[int(starts[i]) : int(stops[i])] for i in rej_idx],
        )

        def raw_rows(positions: np.ndarray) -> list[str]:
            return [
                self._text(block, int(starts[i]), int(stops[i]))
                for i in rows[np.asarray(positions, dtype=np.int64)]
            ]

        return RawChunk(columns, lines_all[rows], rejects, raw_rows, self._lf.position)

    def redact(self, raw: str, column: str, replace: Callable[[str], str]) -> str:
        return _redact_json(raw, column, replace)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "other"
    if isinstance(value, int):
        return "int" if -(2**63) <= value < 2**63 else "other"
    if isinstance(value, float):
        return "float"
    return "str" if isinstance(value, str) else "other"


def _object_series(values: list[Any]) -> pd.Series:
    """Mixed JSON scalars -> a Series that keeps them as they are (str dtype when all text)."""
    if values and all(isinstance(v, str) for v in values):
        return pd.Series(values, dtype="str")
    return pd.Series(values, dtype=object)


def _redact_json(raw: str, column: str, replace: Callable[[str], str]) -> str:
    """Replace the value of key ``column`` in a JSON object text; unparsable text is fully redacted."""
    from sightgraph.ingest.pseudonymize import normalize_ids

    try:
        obj = json.loads(raw)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        if column in obj and obj[column] is not None:
            value = normalize_ids(pd.Series([obj[column]], dtype=object)).iloc[0]
            if value:
                obj[column] = replace(value)
        return json.dumps(obj, ensure_ascii=False, default=str)
    if column not in raw:
        return raw
    return f"[redacted: {len(raw)} characters; the {column} field could not be located]"


# ----------------------------------------------------------------------------------- parquet
class ParquetReader(TableReader):
    """A Parquet file, read batch by batch (row numbers are 1-based)."""

    format = "parquet"
    unit = "rows"

    def __init__(self, path: Path, chunk_rows: int) -> None:
        super().__init__(path, chunk_rows)
        if path.is_dir():
            raise UsageError(f"{path} is a directory; pass one Parquet file")
        try:
            self._pf = pq.ParquetFile(path)
        except OSError as exc:
            raise UsageError(f"{path}: cannot read as Parquet ({_one_line(exc)})") from exc
        except Exception as exc:  # pyarrow raises ArrowInvalid for non-Parquet bytes
            raise UsageError(f"{path}: not a Parquet file ({_one_line(exc)})") from exc
        self.total = self._pf.metadata.num_rows
        if self.total == 0:
            raise UsageError(f"{path}: empty file (the Parquet file has no rows)")
        self.found = list(self._pf.schema_arrow.names)

    def close(self) -> None:
        self._pf.close()

    def __iter__(self) -> Iterator[RawChunk]:
        done = 0
        for batch in self._batches():
            n = batch.num_rows
            columns = {}
            for canon, src in self.source_columns.items():
                col = batch.column(src)
                if pa.types.is_dictionary(col.type):
                    col = col.dictionary_decode()
                if canon in ("confidence", "ts") and pa.types.is_floating(col.type):
                    # keep null (missing) apart from NaN (not a number: quarantined)
                    columns[canon] = pd.Series(pd.arrays.ArrowExtensionArray(col))
                else:
                    columns[canon] = col.to_pandas().reset_index(drop=True)
            lines = np.arange(done + 1, done + n + 1, dtype=np.int64)

            def raw_rows(positions: np.ndarray, batch: pa.RecordBatch = batch) -> list[str]:
                rows = _pylist_rows(batch.take(pa.array(np.asarray(positions, dtype=np.int64))))
                return [json.dumps(r, ensure_ascii=False, default=str) for r in rows]

            done += n
            yield RawChunk(columns, lines, _empty_rejects(), raw_rows, done)

    def redact(self, raw: str, column: str, replace: Callable[[str], str]) -> str:
        return _redact_json(raw, column, replace)

    def _batches(self) -> Iterator[pa.RecordBatch]:
        batches = self._pf.iter_batches(batch_size=self.chunk_rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (OSError, pa.ArrowException) as exc:
                raise UsageError(
                    f"{self.path}: cannot read the Parquet data ({_one_line(exc)})"
                ) from exc
            try:
                batch.validate(full=True)  # a damaged file can decode to invalid UTF-8
            except pa.ArrowException as exc:
                raise UsageError(f"{self.path}: damaged Parquet data ({_one_line(exc)})") from exc
            yield batch


_OPEN_BRACE, _CLOSE_BRACE = ord("{"), ord("}")


def _one_line(exc: BaseException) -> str:
    """An exception's text on one line (pyarrow's can span several and hold control bytes)."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(exc))
    return " ".join(text.split())[:300]


def _pylist_rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """Rows as dicts for the quarantine's ``raw`` text; values Python cannot hold (timestamps
    beyond year 9999, say) are written as Arrow's text for them, never an error."""
    columns: dict[str, list[Any]] = {}
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        try:
            columns[name] = col.to_pylist()
        except (ValueError, OverflowError, pa.ArrowException, UnicodeDecodeError):
            try:
                columns[name] = col.cast(pa.string()).to_pylist()
            except (ValueError, pa.ArrowException):
                columns[name] = ["<unreadable>" if v.is_valid else None for v in col]
    return [{k: v[i] for k, v in columns.items()} for i in range(batch.num_rows)]


def open_table(
    path: str | Path,
    required: Sequence[str],
    optional: Sequence[str] = (),
    mapping: dict[str, str] | None = None,
    chunk_rows: int = 1_000_000,
    what: str = "sightings",
) -> TableReader:
    """Open a CSV, Parquet or JSON Lines table and check its columns.

    Parameters
    ----------
    path : str or Path
        The file; its format comes from the extension (see :func:`detect_format`).
    required, optional : sequence of str
        Canonical column names.
    mapping : dict, optional
        Canonical name -> column name in the file, e.g. ``{'subject_id': 'animal_id'}``.
    chunk_rows : int
        Most rows per chunk.
    what : str
        How messages name the table.

    Returns
    -------
    TableReader
        Iterate it for :class:`RawChunk` objects; close it (or use ``with``) when done.

    Raises
    ------
    UsageError
        Missing file, empty file, unknown format, or a missing column (the message names the
        missing column and lists the columns found).
    """
    path = Path(path)
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise UsageError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    if not path.exists():
        raise UsageError(f"{what} file not found: {path}")
    fmt = detect_format(path)
    reader: TableReader
    if fmt == "csv":
        reader = CsvReader(path, chunk_rows)
    elif fmt == "jsonl":
        reader = JsonLinesReader(path, chunk_rows)
    else:
        reader = ParquetReader(path, chunk_rows)
    try:
        reader.resolve_columns(required, optional, mapping, what)
    except BaseException:
        reader.close()
        raise
    return reader
