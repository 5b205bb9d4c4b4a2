"""One Parquet file whose row groups are encoded on several threads.

pyarrow's ``ParquetWriter`` encodes the row groups of a file one after another in the calling
thread (10M-sighting contacts: 25 s of one core for 68.6M rows). Here each row group is encoded
as a small Parquet file of its own, in memory, by a pool of threads (pyarrow releases the GIL
while it encodes); the main thread appends each one's column chunks to the output in order and
finally writes one footer that lists them all.

Column chunks hold no absolute offsets (page headers give sizes only): only a footer does. So
the footer of each small file is decoded (Thrift compact protocol, :func:`decode_struct`), its
row groups' offsets are moved by where its chunks landed in the output, and the row groups of
all of them go into the first one's footer with the total row count and the key/value metadata.
Files with page indexes, bloom filters or encryption are not written this way (refused).

Field numbers are those of ``parquet.thrift`` (apache/parquet-format).
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
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
_RG_COLUMNS, _RG_FILE_OFFSET, _RG_ORDINAL = 1, 5, 7
_CC_FILE_OFFSET, _CC_META, _CC_OFFSET_INDEX, _CC_COLUMN_INDEX, _CC_CRYPTO, _CC_ENCRYPTED = (
    2,
    3,
    4,
    6,
    8,
    9,
)
_CMD_DATA_PAGE, _CMD_INDEX_PAGE, _CMD_DICT_PAGE, _CMD_BLOOM = 9, 10, 11, 14


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


def _split(buf: pa.Buffer) -> tuple[memoryview, Struct]:
    """A whole Parquet file in memory: its column chunks (everything between the leading magic
    and the footer) and its decoded footer."""
    data = memoryview(buf)
    n = len(data)
    if n < 12 or data[:4] != _MAGIC or data[n - 4 :] != _MAGIC:
        raise ValueError("not a Parquet file")
    (footer_len,) = struct.unpack_from("<I", data, n - 8)
    start = n - 8 - footer_len
    return data[4:start], decode_struct(bytes(data[start : n - 8]))


def _encode(table: pa.Table, schema: pa.Schema, options: dict[str, Any]) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, schema, **options) as writer:
        writer.write_table(table, row_group_size=max(table.num_rows, 1))
    return sink.getvalue()


def write_parallel(
    tables: Iterable[pa.Table],
    path: str | Path,
    schema: pa.Schema,
    options: dict[str, Any],
    metadata: dict[bytes, bytes] | None = None,
    threads: int = 2,
) -> int:
    """Write ``tables`` (each one row group, in order) to the Parquet file ``path``, encoding
    up to ``threads`` of them at once with ``pq.ParquetWriter(schema, **options)``; the file's
    key/value metadata is ``metadata``. Returns the rows written.

    The same data, types and row groups as one ``ParquetWriter`` writing the tables in turn
    (options that write page indexes or bloom filters, or encrypt, are refused). Memory holds
    at most ``threads + 1`` encoded row groups at a time."""
    for bad in ("write_page_index", "bloom_filter_options", "encryption_properties"):
        if options.get(bad):
            raise ValueError(f"write_parallel: {bad} is not supported")
    row_groups: list[Struct] = []
    first: Struct | None = None
    rows = 0
    with open(path, "wb") as out, ThreadPoolExecutor(threads, "sightgraph-parquet") as pool:
        out.write(_MAGIC)
        pending: deque[Future[pa.Buffer]] = deque()

        def drain(keep: int) -> None:
            nonlocal first, rows
            while len(pending) > keep:
                chunks, footer = _split(pending.popleft().result())
                shift = out.tell() - len(_MAGIC)
                out.write(chunks)
                groups = _field(footer, _FMD_ROW_GROUPS)
                for rg in groups[2][1] if groups is not None else []:
                    _shift_row_group(rg, shift, len(row_groups))
                    row_groups.append(rg)
                num = _field(footer, _FMD_NUM_ROWS)
                rows += num[2] if num is not None else 0
                if first is None:
                    first = footer

        for table in tables:
            pending.append(pool.submit(_encode, table, schema, options))
            drain(threads)
        drain(0)
        if first is None:  # no tables: an empty file of this schema
            chunks, first = _split(_encode(schema.empty_table(), schema, options))
            out.write(chunks)
            groups = _field(first, _FMD_ROW_GROUPS)
            row_groups = groups[2][1] if groups is not None else []
        _set_field(first, _FMD_NUM_ROWS, _I64, rows)
        _set_field(first, _FMD_ROW_GROUPS, _LIST, (_STRUCT, row_groups))
        if metadata:  # before what the writer put there (the Arrow schema), as pyarrow does
            f = _field(first, _FMD_KEY_VALUE)
            kv = [[[1, _BINARY, bytes(k)], [2, _BINARY, bytes(v)]] for k, v in metadata.items()]
            kv += [x for x in (f[2][1] if f is not None else []) if _key(x) not in metadata]
            _set_field(first, _FMD_KEY_VALUE, _LIST, (_STRUCT, kv))
        footer = encode_struct(first)
        out.write(footer)
        out.write(struct.pack("<I", len(footer)))
        out.write(_MAGIC)
    return rows
