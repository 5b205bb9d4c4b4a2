"""One Parquet file written a column at a time, its columns encoded on several threads.

pyarrow's ``ParquetWriter`` encodes the row groups of a file one after another in the calling
thread (10M-sighting contacts: 25 s of one core for 68.6M rows), and needs every column of a row
group at once. Here each column is encoded on its own, row group by row group, by a pool of
threads (pyarrow releases the GIL while it encodes), so a column need only be in table order
while it is encoded: the contacts job puts one column in order, encodes it and goes on to the
next, and no table in order is ever written to disk as such.

Each column chunk is encoded as a small Parquet file of one column and one row group, in
memory; its pages are written to the output at the next free offset (reserved under a lock, so
each chunk's pages are contiguous) and its footer's offsets are moved to match. A column chunk
is encoded the same whether alone or beside others (pages, dictionary, statistics and sizes are
the column's own) and holds no absolute offsets (page headers give sizes only): only a footer
does. The footer of the empty table of the whole schema then gets the row groups (each its
columns' chunks in schema order, their sizes summed as pyarrow's writer sums them), the row
count and the key/value metadata.

The chunks lie in the file in the order they were encoded, not row group after row group as
``ParquetWriter`` lays them out (Parquet readers find every column chunk by the footer's
offsets: pyarrow, DuckDB and Spark alike): the same rows, row groups and column chunks as the
file ``ParquetWriter`` writes (tested), without writing the table twice. Files with page
indexes, bloom filters or encryption are not written this way (refused).

Field numbers are those of ``parquet.thrift`` (apache/parquet-format).
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# Thrift compact protocol types
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY = range(9)
_LIST, _SET, _MAP, _STRUCT = 9, 10, 11, 12
_INTS = (_I16, _I32, _I64)

#: A struct: its fields in order as ``[field id, compact type, value]`` (a bool field's type is
#: ``_TRUE`` or ``_FALSE`` and its value the bool); a list or set value: ``(element type,
#: [values])``; a map value: ``(key type, value type, [(key, value)])``.
Struct = list[list[Any]]

_MAGIC = b"PAR1"


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, t: int) -> Any:
        if t in (_TRUE, _FALSE):  # a bool inside a list, set or map: one byte
            return self.byte() == _TRUE
        if t == _BYTE:
            b = self.byte()
            return b - 256 if b > 127 else b
        if t in _INTS:
            return self.zigzag()
        if t == _DOUBLE:
            (x,) = struct.unpack_from("<d", self.data, self.pos)
            self.pos += 8
            return x
        if t == _BINARY:
            n = self.varint()
            v = self.data[self.pos : self.pos + n]
            self.pos += n
            return bytes(v)
        if t in (_LIST, _SET):
            h = self.byte()
            size, et = h >> 4, h & 0x0F
            if size == 15:
                size = self.varint()
            return (et, [self.value(et) for _ in range(size)])
        if t == _MAP:
            size = self.varint()
            if size == 0:
                return (0, 0, [])
            kv = self.byte()
            kt, vt = kv >> 4, kv & 0x0F
            return (kt, vt, [(self.value(kt), self.value(vt)) for _ in range(size)])
        if t == _STRUCT:
            return self.struct()
        raise ValueError(f"Thrift compact type {t} is not supported")

    def struct(self) -> Struct:
        fields: Struct = []
        last = 0
        while True:
            h = self.byte()
            t = h & 0x0F
            if t == _STOP:
                return fields
            delta = h >> 4
            fid = last + delta if delta else self.zigzag()
            value = t == _TRUE if t in (_TRUE, _FALSE) else self.value(t)
            fields.append([fid, t, value])
            last = fid


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def varint(self, n: int) -> None:
        while True:
            if n < 0x80:
                self.out.append(n)
                return
            self.out.append((n & 0x7F) | 0x80)
            n >>= 7

    def zigzag(self, n: int) -> None:
        self.varint((n << 1) ^ (n >> 63))

    def value(self, t: int, v: Any) -> None:
        if t in (_TRUE, _FALSE):
            self.out.append(_TRUE if v else _FALSE)
        elif t == _BYTE:
            self.out.append(v & 0xFF)
        elif t in _INTS:
            self.zigzag(v)
        elif t == _DOUBLE:
            self.out += struct.pack("<d", v)
        elif t == _BINARY:
            self.varint(len(v))
            self.out += v
        elif t in (_LIST, _SET):
            et, items = v
            if len(items) < 15:
                self.out.append((len(items) << 4) | et)
            else:
                self.out.append(0xF0 | et)
                self.varint(len(items))
            for x in items:
                self.value(et, x)
        elif t == _MAP:
            kt, vt, items = v
            self.varint(len(items))
            if items:
                self.out.append((kt << 4) | vt)
                for k, x in items:
                    self.value(kt, k)
                    self.value(vt, x)
        elif t == _STRUCT:
            self.struct(v)
        else:
            raise ValueError(f"Thrift compact type {t} is not supported")

    def struct(self, fields: Struct) -> None:
        last = 0
        for fid, t, v in fields:
            if t in (_TRUE, _FALSE):
                t = _TRUE if v else _FALSE
            delta = fid - last
            if 0 < delta <= 15:
                self.out.append((delta << 4) | t)
            else:
                self.out.append(t)
                self.zigzag(fid)
            if t not in (_TRUE, _FALSE):
                self.value(t, v)
            last = fid
        self.out.append(_STOP)


def decode_struct(data: bytes) -> Struct:
    """A Thrift compact-protocol struct (e.g. a Parquet footer's ``FileMetaData``)."""
    return _Reader(data).struct()


def encode_struct(fields: Struct) -> bytes:
    """:func:`decode_struct`'s inverse: the same bytes for what it decoded."""
    w = _Writer()
    w.struct(fields)
    return bytes(w.out)


def _field(fields: Struct, fid: int) -> list[Any] | None:
    for f in fields:
        if f[0] == fid:
            return f
    return None


def _set_field(fields: Struct, fid: int, t: int, value: Any) -> None:
    """Set field ``fid`` (replaced, or inserted in field-id order)."""
    f = _field(fields, fid)
    if f is not None:
        f[1], f[2] = t, value
        return
    at = next((i for i, g in enumerate(fields) if g[0] > fid), len(fields))
    fields.insert(at, [fid, t, value])


# parquet.thrift field ids
_FMD_NUM_ROWS, _FMD_ROW_GROUPS, _FMD_KEY_VALUE = 3, 4, 5
_RG_COLUMNS, _RG_BYTES, _RG_FILE_OFFSET, _RG_COMPRESSED, _RG_ORDINAL = 1, 2, 5, 6, 7
_CC_FILE_OFFSET, _CC_META, _CC_OFFSET_INDEX, _CC_COLUMN_INDEX, _CC_CRYPTO, _CC_ENCRYPTED = (
    2,
    3,
    4,
    6,
    8,
    9,
)
_CMD_COMPRESSED, _CMD_DATA_PAGE, _CMD_INDEX_PAGE, _CMD_DICT_PAGE, _CMD_BLOOM = 7, 9, 10, 11, 14


def _shift_row_group(rg: Struct, shift: int, ordinal: int) -> None:
    """Move a row group's offsets by ``shift`` bytes; its ordinal becomes ``ordinal``."""
    f = _field(rg, _RG_FILE_OFFSET)
    if f is not None:
        f[2] += shift
    f = _field(rg, _RG_ORDINAL)
    if f is not None:
        f[2] = ordinal
    columns = _field(rg, _RG_COLUMNS)
    for cc in columns[2][1] if columns is not None else []:
        for fid in (_CC_OFFSET_INDEX, _CC_COLUMN_INDEX, _CC_CRYPTO, _CC_ENCRYPTED):
            if _field(cc, fid) is not None:
                raise ValueError("page indexes and encryption are not supported")
        f = _field(cc, _CC_FILE_OFFSET)
        if f is not None and f[2]:  # (deprecated: pyarrow writes 0, and so do we)
            f[2] += shift
        meta = _field(cc, _CC_META)
        if meta is None:
            raise ValueError("a column chunk without metadata")
        if _field(meta[2], _CMD_BLOOM) is not None:
            raise ValueError("bloom filters are not supported")
        for fid in (_CMD_DATA_PAGE, _CMD_INDEX_PAGE, _CMD_DICT_PAGE):
            f = _field(meta[2], fid)
            if f is not None:
                f[2] += shift


def _key(kv: Struct) -> bytes | None:
    f = _field(kv, 1)
    return f[2] if f is not None else None


def _footer(data: memoryview | bytes) -> Struct:
    """The decoded footer of a whole Parquet file in memory."""
    n = len(data)
    if n < 12 or bytes(data[:4]) != _MAGIC or bytes(data[n - 4 :]) != _MAGIC:
        raise ValueError("not a Parquet file")
    (footer_len,) = struct.unpack_from("<I", data, n - 8)
    return decode_struct(bytes(data[n - 8 - footer_len : n - 8]))


def _empty_table(schema: pa.Schema) -> pa.Table:
    """``schema.empty_table()`` without importing pandas (which that does: a third of a second)."""
    return pa.Table.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)


def _empty_file(
    schema: pa.Schema, options: dict[str, Any], metadata: dict[bytes, bytes] | None = None
) -> bytes:
    """pyarrow's file of no rows of ``schema`` (with ``metadata``)."""
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, schema, **options) as writer:
        writer.write_table(_empty_table(schema))
        if metadata:
            writer.add_key_value_metadata(metadata)
    return sink.getvalue().to_pybytes()


def _chunk_range(cc: list[Any]) -> tuple[int, int]:
    """[start, length) of a column chunk's pages in its file (dictionary page first)."""
    meta = _field(cc, _CC_META)
    if meta is None:
        raise ValueError("a column chunk without metadata")
    data = _field(meta[2], _CMD_DATA_PAGE)
    dic = _field(meta[2], _CMD_DICT_PAGE)
    size = _field(meta[2], _CMD_COMPRESSED)
    if data is None or size is None:
        raise ValueError("a column chunk without its data page offset or size")
    start = dic[2] if dic is not None and 0 < dic[2] < data[2] else data[2]
    return start, size[2]


#: ``column(name)``: the column ``name`` in table order, as ``part(start, stop) -> pa.Array``
#: (rows ``[start, stop)``); called once a column, on a pool thread, which holds what it
#: returns until that column is encoded.
ColumnSource = Callable[[str], Callable[[int, int], pa.Array]]


def write_by_column(
    path: str | Path,
    schema: pa.Schema,
    options: dict[str, Any],
    sizes: Sequence[int],
    column: ColumnSource,
    metadata: dict[bytes, bytes] | None = None,
    threads: int = 2,
    order: Sequence[str] | None = None,
) -> int:
    """Write the Parquet file ``path`` of ``schema`` whose row groups hold ``sizes`` rows, a
    column at a time: ``column(name)`` gives each column in table order (see
    :data:`ColumnSource`), and up to ``threads`` columns are made and encoded at once, in
    ``order`` (the schema's by default: put the costly ones first), each column chunk with
    ``pq.ParquetWriter(schema, **options)``'s settings for its column; the file's key/value
    metadata is ``metadata``. Returns the rows written.

    The same rows, row groups and column chunks (encodings, compression, statistics, sizes)
    as one ``ParquetWriter`` writing the rows in those row groups, laid out in the order they
    were encoded (options that write page indexes or bloom filters, or encrypt, are
    refused)."""
    for bad in ("write_page_index", "bloom_filter_options", "encryption_properties"):
        if options.get(bad):
            raise ValueError(f"write_by_column: {bad} is not supported")
    if any(k <= 0 for k in sizes):
        raise ValueError("write_by_column: every row group needs rows")
    names = list(schema.names)
    todo = list(order) if order is not None else names
    if sorted(todo) != sorted(names):
        raise ValueError("write_by_column: order must name every column once")
    path = Path(path)
    if not sizes:  # no rows: pyarrow's own empty file
        path.write_bytes(_empty_file(schema, options, metadata))
        return 0
    template = _footer(_empty_file(schema, options))
    bounds = [0]
    for k in sizes:
        bounds.append(bounds[-1] + int(k))
    ngroups = len(sizes)
    # per row group and column: (offset in the file, the chunk's row group entry there)
    placed: list[list[tuple[int, Struct] | None]] = [[None] * len(names) for _ in sizes]
    lock = threading.Lock()
    end = [len(_MAGIC)]  # the next free offset
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, _MAGIC)

        def encode(name: str) -> None:
            part = column(name)
            i = names.index(name)
            sub = pa.schema([schema.field(i)])
            for g in range(ngroups):
                sink = pa.BufferOutputStream()
                with pq.ParquetWriter(sink, sub, **options) as writer:
                    rows = bounds[g + 1] - bounds[g]
                    table = pa.Table.from_arrays([part(bounds[g], bounds[g + 1])], schema=sub)
                    writer.write_table(table, row_group_size=rows)
                data = memoryview(sink.getvalue())
                groups = _field(_footer(data), _FMD_ROW_GROUPS)
                if groups is None or len(groups[2][1]) != 1:
                    raise ValueError(f"column {name}: not one row group where one was written")
                rg: Struct = groups[2][1][0]
                (cc,) = _field(rg, _RG_COLUMNS)[2][1]  # type: ignore[index]
                start, length = _chunk_range(cc)
                with lock:
                    at = end[0]
                    end[0] += length
                if os.pwrite(fd, data[start : start + length], at) != length:
                    raise OSError(f"{path}: a short write")
                _shift_row_group(rg, at - start, g)
                placed[g][i] = (at, rg)

        pool = ThreadPoolExecutor(max(1, threads), "sightgraph-parquet")
        try:
            for done in as_completed([pool.submit(encode, name) for name in todo]):
                done.result()
        finally:  # (on an error the columns not yet started are not made)
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        os.close(fd)
    _finish(
        path, template, bounds[-1], [_row_group(g, placed[g]) for g in range(ngroups)], metadata
    )
    return bounds[-1]


def _row_group(g: int, chunks: list[tuple[int, Struct] | None]) -> Struct:
    """Row group ``g`` of the file from its columns' own (one chunk each, offsets moved to where
    they were written): their chunks in schema order, their sizes summed, the first one's
    offset as the group's (as pyarrow's writer does)."""
    if any(c is None for c in chunks):
        raise ValueError(f"row group {g}: a column was not written")
    done = [c for c in chunks if c is not None]
    rg = done[0][1]
    columns = [_field(r, _RG_COLUMNS)[2][1][0] for _, r in done]  # type: ignore[index]
    _set_field(rg, _RG_COLUMNS, _LIST, (_STRUCT, columns))
    _set_field(rg, _RG_BYTES, _I64, sum(_field(r, _RG_BYTES)[2] for _, r in done))  # type: ignore[index]
    _set_field(rg, _RG_FILE_OFFSET, _I64, done[0][0])
    _set_field(rg, _RG_COMPRESSED, _I64, sum(_field(r, _RG_COMPRESSED)[2] for _, r in done))  # type: ignore[index]
    return rg


def _finish(
    path: Path, template: Struct, rows: int, row_groups: list[Struct], metadata: dict | None
) -> None:
    """Append the footer: ``template`` (the empty table's) with the row groups, the row count
    and ``metadata`` before what the writer put there (the Arrow schema), as pyarrow does."""
    _set_field(template, _FMD_ROW_GROUPS, _LIST, (_STRUCT, row_groups))
    _set_field(template, _FMD_NUM_ROWS, _I64, rows)
    if metadata:
        f = _field(template, _FMD_KEY_VALUE)
        kv = [[[1, _BINARY, bytes(k)], [2, _BINARY, bytes(v)]] for k, v in metadata.items()]
        kv += [x for x in (f[2][1] if f is not None else []) if _key(x) not in metadata]
        _set_field(template, _FMD_KEY_VALUE, _LIST, (_STRUCT, kv))
    footer = encode_struct(template)
    with open(path, "ab") as fh:
        fh.write(footer)
        fh.write(struct.pack("<I", len(footer)))
        fh.write(_MAGIC)
