"""One Parquet file written a column at a time on several threads (sightgraph._parquet_parallel):
the Thrift codec of its footers and the file against pyarrow's own writer, read back by pyarrow
and DuckDB."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sightgraph._parquet_parallel import decode_struct, encode_struct, write_by_column


def _footer(path: Path) -> bytes:
    raw = path.read_bytes()
    (n,) = struct.unpack("<I", raw[-8:-4])
    return raw[-8 - n : -8]


def _table(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    names = pa.array([f"p{i:04d}" for i in range(50)])
    return pa.table(
        {
            "pid": pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, 50, n), pa.int32()), names
            ),
            "count": pa.array(rng.integers(0, 1000, n), pa.int64()),
            "score": pa.array(np.where(rng.random(n) < 0.7, 0.0, rng.random(n))),
            "ts": pa.array(rng.integers(0, 10**15, n), pa.timestamp("us", tz="UTC")),
            "flag": pa.array(rng.random(n) < 0.5),
            "name": pa.array([None if i % 7 == 0 else f"n{i % 13}" for i in range(n)], pa.string()),
        }
    )


OPTIONS = [
    {},  # pyarrow's defaults: dictionaries, snappy, statistics, the Arrow schema stored
    {  # as the contacts table: DELTA ints without compression, dictionary pids, no schema
        "use_dictionary": ["pid"],
        "compression": {"pid": "snappy", "count": "none", "score": "snappy", "ts": "none",
                        "flag": "snappy", "name": "zstd"},
        "column_encoding": {"count": "DELTA_BINARY_PACKED", "ts": "DELTA_BINARY_PACKED"},
        "write_statistics": ["pid"],
        "store_schema": False,
        "data_page_size": 1 << 12,
    },
]  # fmt: skip


@pytest.mark.parametrize("options", OPTIONS)
def test_footers_decode_and_encode_to_the_same_bytes(tmp_path: Path, options) -> None:
    """pyarrow's footers (statistics, encodings, the Arrow schema, key/value metadata, many
    row groups) go through the compact-protocol codec unchanged."""
    path = tmp_path / "t.parquet"
    with pq.ParquetWriter(path, _table(10).schema, **options) as w:
        for k in range(17):  # more than 15 row groups: the long form of a list's size
            w.write_table(_table(30, seed=k))
        w.add_key_value_metadata({b"params": b'{"w": 60}'})
    footer = _footer(path)
    fields = decode_struct(footer)
    assert encode_struct(fields) == footer
    num_rows = next(v for fid, _, v in fields if fid == 3)
    assert num_rows == 17 * 30


_VALUES = st.recursive(
    st.one_of(
        st.tuples(st.just(3), st.integers(-128, 127)),  # byte
        st.tuples(st.sampled_from([4, 5, 6]), st.integers(-(2**15), 2**15 - 1)),
        st.tuples(st.just(6), st.integers(-(2**63), 2**63 - 1)),  # i64
        st.tuples(st.just(7), st.floats(allow_nan=False)),  # double
        st.tuples(st.just(8), st.binary(max_size=20)),  # binary
        st.booleans().map(lambda b: (1 if b else 2, b)),  # a bool field: in its type
    ),
    lambda inner: st.one_of(
        st.lists(st.tuples(st.integers(1, 40), inner), max_size=6).map(
            lambda fs: (12, [[fid, t, v] for fid, (t, v) in sorted(dict(fs).items())])
        ),
        st.lists(st.integers(-1000, 10**12), max_size=20).map(lambda xs: (9, (6, xs))),
        st.lists(st.booleans(), max_size=20).map(lambda xs: (9, (1, xs))),
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), _VALUES), max_size=8))
def test_compact_codec_round_trips(raw_fields) -> None:
    """Any struct of bytes, integers, doubles, binaries, bools, nested structs and lists
    (field ids far apart: the long field header) decodes to what was encoded."""
    fields = [[fid, t, v] for fid, (t, v) in sorted(dict(raw_fields).items())]
    assert decode_struct(encode_struct(fields)) == fields


def _by_column(table: pa.Table, calls: list[str]):
    """A column source over ``table`` that records which columns were asked for."""

    def column(name: str):
        calls.append(name)
        col = table[name].combine_chunks()
        return lambda s0, s1: col[s0:s1]

    return column


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize(
    ("sizes", "threads", "reverse"),
    [([700, 1, 250, 700, 33], 2, False), ([5] * 17, 3, True), ([40], 1, False)],
)
def test_write_by_column_is_the_file_pyarrow_writes(
    tmp_path: Path, options, sizes, threads, reverse
) -> None:
    """The same rows, row groups and column chunks (sizes, encodings, compression, statistics,
    the very bytes of their pages) and key/value metadata as one ParquetWriter writing the
    rows in those row groups, whatever the threads and the order the columns are made in;
    each chunk's pages lie apart from every other's; each column is asked for once; pyarrow
    (by row group too) and DuckDB read the same rows."""
    table = pa.concat_tables([_table(n, seed=k) for k, n in enumerate(sizes)])
    schema = table.schema
    meta = {b"params": b'{"model": "v4"}'}
    seq, col = tmp_path / "seq.parquet", tmp_path / "col.parquet"
    with pq.ParquetWriter(seq, schema, **options) as w:
        at = 0
        for n in sizes:
            w.write_table(table.slice(at, n), row_group_size=n)
            at += n
        w.add_key_value_metadata(meta)
    calls: list[str] = []
    order = schema.names[::-1] if reverse else None
    rows = write_by_column(
        col, schema, options, sizes, _by_column(table, calls), meta, threads, order
    )
    assert rows == sum(sizes) and sorted(calls) == sorted(schema.names)
    a, b = pq.ParquetFile(seq), pq.ParquetFile(col)
    assert b.read().equals(a.read())
    ma, mb = a.metadata, b.metadata
    assert (mb.num_rows, mb.num_row_groups, mb.metadata, mb.schema) == (
        ma.num_rows,
        ma.num_row_groups,
        ma.metadata,
        ma.schema,
    )
    raw_a, raw_b = seq.read_bytes(), col.read_bytes()
    footer_at = len(raw_b) - 8 - struct.unpack("<I", raw_b[-8:-4])[0]
    spans = []
    for i in range(ma.num_row_groups):
        assert mb.row_group(i).num_rows == ma.row_group(i).num_rows == sizes[i]
        assert mb.row_group(i).total_byte_size == ma.row_group(i).total_byte_size
        for j in range(ma.num_columns):
            x, y = ma.row_group(i).column(j), mb.row_group(i).column(j)
            assert (y.compression, y.encodings, y.statistics, y.path_in_schema) == (
                x.compression, x.encodings, x.statistics, x.path_in_schema,
            )  # fmt: skip
            assert (y.total_compressed_size, y.total_uncompressed_size) == (
                x.total_compressed_size, x.total_uncompressed_size,
            )  # fmt: skip
            assert (y.dictionary_page_offset is None) == (x.dictionary_page_offset is None)
            xa = x.dictionary_page_offset or x.data_page_offset
            ya = y.dictionary_page_offset or y.data_page_offset
            assert y.data_page_offset - ya == x.data_page_offset - xa
            size = x.total_compressed_size
            assert raw_b[ya : ya + size] == raw_a[xa : xa + size]  # the same pages
            spans.append((ya, ya + size))
        assert b.read_row_group(i).equals(a.read_row_group(i))
    spans.sort()
    assert spans[0][0] == 4 and spans[-1][1] == footer_at  # no gap at either end ...
    assert all(p[1] == q[0] for p, q in zip(spans, spans[1:], strict=False))  # ... nor overlap
    query = "select count(*), sum(count), min(pid), max(ts), count(name) from '{}'"
    assert duckdb.sql(query.format(col)).fetchall() == duckdb.sql(query.format(seq)).fetchall()
    every = "select * from '{}'"  # (in the file's order: DuckDB keeps it)
    assert duckdb.sql(every.format(col)).fetchall() == duckdb.sql(every.format(seq)).fetchall()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["col.parquet", "seq.parquet"]


def test_write_by_column_of_nothing_and_what_it_refuses(tmp_path: Path) -> None:
    """No rows: pyarrow's empty file of the schema with the metadata. Page indexes and bloom
    filters would need more offsets moved, an empty row group or an order that misses a
    column are mistakes: refused."""
    table = _table(3)
    schema = table.schema
    path = tmp_path / "empty.parquet"
    assert write_by_column(path, schema, {}, [], _by_column(table, []), {b"k": b"v"}) == 0
    f = pq.ParquetFile(path)
    assert f.read().num_rows == 0 and f.schema_arrow.remove_metadata() == schema.remove_metadata()
    assert f.metadata.metadata[b"k"] == b"v"
    source = _by_column(table, [])
    with pytest.raises(ValueError, match="write_page_index"):
        write_by_column(path, schema, {"write_page_index": True}, [3], source)
    with pytest.raises(ValueError, match="needs rows"):
        write_by_column(path, schema, {}, [3, 0], source)
    with pytest.raises(ValueError, match="every column once"):
        write_by_column(path, schema, {}, [3], source, order=schema.names[1:])


def test_write_by_column_stops_at_a_column_that_fails(tmp_path: Path) -> None:
    """A column that cannot be made stops the file: its error comes out, and the columns not
    yet started are not made."""
    table = pa.concat_tables([_table(40, seed=k) for k in range(3)])
    calls: list[str] = []
    source = _by_column(table, calls)

    def failing(name: str):
        if name == "count":
            raise RuntimeError("no count today")
        time.sleep(0.2)  # (time enough for the error to stop what follows)
        return source(name)

    with pytest.raises(RuntimeError, match="no count today"):
        write_by_column(tmp_path / "t.parquet", table.schema, {}, [40] * 3, failing, threads=1)
    # in schema order on one thread: the one after "count" may have started, no more
    assert calls[:1] == ["pid"] and len(calls) <= 2
