"""Keyed pseudonyms for subject ids (DESIGN §8).

``pid = HMAC-SHA256(key, utf8(normalised raw id)).hexdigest()[:16]``: the first 16 hex characters
(64 bits) of the keyed hash. With a million subjects the chance that two of them share a pid is
about 3e-8; without the key a pid cannot be recomputed from a guessed raw id. Raw ids are
normalised exactly as ingest normalises them (:func:`normalize_ids`: surrounding whitespace
stripped, integral numbers written without a decimal point), so ground-truth ids map to the same
pids as the ingested sightings.

**Key rotation** (``sightgraph keys rotate``, :mod:`sightgraph.governance.keys`). The lake holds
no raw ids, so a new key cannot be applied to them; instead a rotation *wraps* every pid under
the new key: ``pid' = rewrap(k2, pid) = HMAC-SHA256(k2, "sightgraph rotation v1" || pid)``,
first 16 hex. The pseudonym of a raw id under the chain ``k1, k2, ..., kn`` is therefore
``rewrap(kn, ... rewrap(k2, HMAC(k1, id)))``: ingest needs every key of the chain, and whoever
holds only the old key (a leaked one) can no longer link a raw id to the lake's pids. The chain
is the key (``$SIGHTGRAPH_PSEUDONYM_KEY``) plus the rotation keys, oldest first, in
``$SIGHTGRAPH_PSEUDONYM_KEY_ROTATIONS`` (comma-separated); :class:`KeyChain` carries both, and
its fingerprint chains the same way (a key never rotated keeps its old fingerprint).
"""

from __future__ import annotations

import hmac
import json
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sightgraph.errors import UsageError

__all__ = [
    "KEY_ENV",
    "ROTATIONS_ENV",
    "KeyChain",
    "PID_HEX_CHARS",
    "fingerprint_key",
    "keyed_hex",
    "make_pseudonymizer",
    "normalize_ids",
    "normalize_ids_arrow",
    "pseudonymize_arrow",
    "pseudonym_of",
    "pseudonymize_ids",
    "resolve_key",
    "rewrap",
]

KEY_ENV = "SIGHTGRAPH_PSEUDONYM_KEY"
ROTATIONS_ENV = "SIGHTGRAPH_PSEUDONYM_KEY_ROTATIONS"
PID_HEX_CHARS = 16
_FINGERPRINT_MESSAGE = b"sightgraph key fingerprint v1"
_REWRAP_PREFIX = b"sightgraph rotation v1\x00"


class KeyChain(bytes):
    """A pseudonym key (the bytes) with the rotation keys applied after it, oldest first.

    Every function of this module that takes a key accepts a ``KeyChain`` and applies its
    rotations (:func:`rewrap`) to whatever it hashes; plain ``bytes`` are a chain without
    rotations.
    """

    rotations: tuple[bytes, ...]

    def __new__(cls, key: bytes, rotations: tuple[bytes, ...] = ()) -> KeyChain:
        obj = super().__new__(cls, key)
        obj.rotations = tuple(rotations)
        return obj

    def then(self, new_key: bytes) -> KeyChain:
        """This chain with ``new_key`` appended (what a rotation to ``new_key`` gives)."""
        return KeyChain(bytes(self), (*self.rotations, bytes(new_key)))

    def __repr__(self) -> str:  # never print a key
        return f"KeyChain(<{len(self.rotations) + 1} keys>)"


def _rotations(key: bytes) -> tuple[bytes, ...]:
    return getattr(key, "rotations", ())


def rewrap(new_key: bytes, digest: str) -> str:
    """A hex digest (a pid, a line hash) wrapped under ``new_key``: HMAC-SHA256(new_key, prefix
    || digest), as many hex characters as ``digest`` has. Applied by ``keys rotate`` to what
    the lake holds, and by every keyed hash of a :class:`KeyChain` after its first key."""
    out = hmac.digest(bytes(new_key), _REWRAP_PREFIX + digest.encode("ascii"), "sha256").hex()
    return out[: len(digest)]


def _chain(key: bytes, digest: str) -> str:
    for rotation in _rotations(key):
        digest = rewrap(rotation, digest)
    return digest


def keyed_hex(key: bytes, data: bytes, chars: int = 64) -> str:
    """HMAC-SHA256 of ``data`` under the chain ``key``: the first key's digest (``chars`` hex),
    wrapped by each rotation."""
    return _chain(key, hmac.digest(bytes(key), data, "sha256").hex()[:chars])


def _parse_rotations(text: str | None) -> tuple[bytes, ...]:
    if not text or not text.strip():
        return ()
    parts = [x.strip() for x in text.split(",")]
    if any(not x for x in parts):
        raise UsageError(
            f"{ROTATIONS_ENV}: an empty key in the list; give the rotation keys oldest first, "
            "separated by commas"
        )
    return tuple(x.encode("utf-8") for x in parts)


def resolve_key(key: str | bytes | None, rotations: str | None = None) -> bytes:
    """Return the pseudonym key chain: the argument, else ``$SIGHTGRAPH_PSEUDONYM_KEY``, with
    the rotation keys of ``rotations``, else of ``$SIGHTGRAPH_PSEUDONYM_KEY_ROTATIONS``.

    Parameters
    ----------
    key : str or bytes or None
        The key given by the caller; ``None`` or empty means "read the environment". A
        :class:`KeyChain` is returned as it is.
    rotations : str or None
        Comma-separated rotation keys, oldest first; None reads the environment (unset: none).

    Returns
    -------
    bytes
        The key, UTF-8 encoded: a :class:`KeyChain` when there are rotations.

    Raises
    ------
    UsageError
        When neither the argument nor the environment holds a non-empty key.
    """
    if key is None or key == "" or key == b"":
        key = os.environ.get(KEY_ENV) or None
    if key is None:
        raise UsageError(
            f"pseudonymisation needs a key: pass key=... or set {KEY_ENV} "
            "(use --no-pseudonymize only for ids that are already pseudonymous)"
        )
    if isinstance(key, KeyChain):
        return key
    base = key if isinstance(key, bytes) else str(key).encode("utf-8")
    chain = _parse_rotations(os.environ.get(ROTATIONS_ENV) if rotations is None else rotations)
    return KeyChain(base, chain) if chain else base


def fingerprint_key(key: bytes) -> str:
    """A short, non-reversible fingerprint of the key chain (to notice a lake mixing two keys):
    the first key's, wrapped by each rotation key."""
    return _chain(key, hmac.digest(bytes(key), _FINGERPRINT_MESSAGE, "sha256").hex()[:12])


def _id_to_str(value: Any) -> str:
    """One raw id (any JSON/Parquet scalar) -> its normalised text ('' when missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace").strip()
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return ""
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    try:
        return str(value).strip()
    except (ValueError, OverflowError, NotImplementedError):  # e.g. a timestamp beyond 9999
        return object.__repr__(value)


def normalize_ids_arrow(ids: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Like :func:`normalize_ids` but returns a pyarrow string array (the fast internal form)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if isinstance(ids, pa.Array):
        if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
            return pc.utf8_trim_whitespace(pc.fill_null(ids.cast(pa.string()), ""))
        ids = ids.to_pandas()
    dtype = ids.dtype
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        arr = pa.array(ids, from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        return pc.utf8_trim_whitespace(pc.fill_null(arr.cast(pa.string()), ""))
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        arr = pa.array(ids, from_pandas=True)
        return pc.fill_null(arr.cast(pa.string()), "")
    # Convert each distinct value once. The cache key carries the type: Python treats
    # ``False == 0`` and ``True == 1`` as equal keys, but they are different ids ('false' vs '0').
    cache: dict[tuple[type, Any], str] = {}
    texts: list[str] = []
    for value in ids.to_numpy(dtype=object):
        try:
            key = (type(value), value)
            text = cache.get(key)
            if text is None:
                text = cache[key] = _id_to_str(value)
        except (TypeError, ValueError, OverflowError, NotImplementedError):
            # unhashable (a JSON list or object), or a timestamp pandas cannot hash
            text = _id_to_str(value)
        texts.append(text)
    return pa.array(texts, type=pa.string())


def normalize_ids(ids: pd.Series) -> pd.Series:
    """Raw ids of any dtype -> stripped strings (``''`` for missing); same index, name, length.

    Integral numbers are written without a decimal point (``2100`` and ``2100.0`` both give
    ``'2100'``), so a numeric camera or subject id means the same in CSV, JSON and Parquet.

    Parameters
    ----------
    ids : pandas.Series
        Subject or camera ids as read (str, object, integer or float dtype).

    Returns
    -------
    pandas.Series
        ``str`` dtype, never null.
    """
    return _to_str_series(normalize_ids_arrow(ids), ids)


def _to_str_series(arr: pa.Array, like: pd.Series) -> pd.Series:
    out = pd.Series(arr.to_pandas(), dtype="str")
    out.index = like.index
    out.name = like.name
    return out


def _hash_one(key: bytes, raw: str) -> str:
    return keyed_hex(key, raw.encode("utf-8"), PID_HEX_CHARS)


def pseudonymize_arrow(ids: pa.Array, key: bytes) -> pa.Array:
    """Normalised ids (pyarrow strings) -> pids, hashing each distinct id once; '' gives null."""
    encoded = pc.dictionary_encode(ids)
    uniques = encoded.dictionary.to_pylist()
    pids = pa.array([_hash_one(key, u) if u else None for u in uniques], type=pa.string())
    return pids.take(encoded.indices)


def pseudonymize_ids(ids: pd.Series, key: str | bytes | None) -> pd.Series:
    """Map raw subject ids to pids: HMAC-SHA256(key, normalised id), first 16 hex characters.

    Hashes each distinct id once, so a million sightings of ten thousand subjects cost ten
    thousand HMACs. Missing or empty ids give ``<NA>``.

    Parameters
    ----------
    ids : pandas.Series
        Raw ids (any dtype; see :func:`normalize_ids`).
    key : str or bytes or None
        The secret key; ``None`` reads ``$SIGHTGRAPH_PSEUDONYM_KEY`` (UsageError if unset).

    Returns
    -------
    pandas.Series
        ``str`` dtype pids with the index and name of ``ids``.

    Examples
    --------
    >>> s = pseudonymize_ids(pd.Series(["A1", " A1 ", "B2"]), key="secret")
    >>> bool(s[0] == s[1] != s[2]), len(s[0])
    (True, 16)
    """
    if not isinstance(ids, pd.Series):
        raise UsageError(f"pseudonymize_ids expects a pandas Series, got {type(ids).__name__}")
    kb = resolve_key(key)
    return _to_str_series(pseudonymize_arrow(normalize_ids_arrow(ids), kb), ids)


def make_pseudonymizer(key: bytes) -> Callable[[str], str]:
    """A cached single-value version of :func:`pseudonymize_ids` (for quarantine redaction)."""
    cache: dict[str, str] = {}

    def pseudonymize_one(raw: str) -> str:
        text = raw.strip()
        if text not in cache:
            cache[text] = _hash_one(key, text)
        return cache[text]

    return pseudonymize_one


def pseudonym_of(raw: Any, key: str | bytes | None) -> str:
    """The pid ingest gives the raw id ``raw`` with ``key`` (``None``: the environment's key).

    Normalised as ingest normalises ids (surrounding whitespace stripped, integral numbers
    without a decimal point), so ``forget --raw ID`` finds the subject that an erasure request
    names.

    Raises
    ------
    UsageError
        ``raw`` is empty after normalisation (ingest gives such rows no pid), or no key.

    Examples
    --------
    >>> pseudonym_of(" A1 ", "secret") == pseudonymize_ids(pd.Series(["A1"]), "secret")[0]
    True
    """
    text = _id_to_str(raw)
    if not text:
        raise UsageError(f"{raw!r} is not a subject id (empty once normalised)")
    return _hash_one(resolve_key(key), text)
