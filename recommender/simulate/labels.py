"""Ids and labels as arrow strings: zero-padded ids built without Python strings, lookups by code.

The generator builds millions of ids (evidence ``V0000000001``, educators ``E000001``, raters
``R00001``); building them as arrow buffers keeps that cost out of the month loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["padded_ids", "str_series", "take_str"]


def padded_ids(prefix: str, n: int, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``1..n`` as an arrow string array, written straight to a buffer.

    Digits come four at a time from a lookup table, and the fixed-width bytes become the string
    array's data buffer with regular offsets: no Python string is ever created.
    """
    width = max(width, len(str(n)))
    chunks = -(-width // 4)
    table = np.array([f"{i:04d}" for i in range(10_000)], dtype="S4").view(np.uint32)
    words = np.empty((n, chunks), dtype=np.uint32)
    x = np.arange(1, n + 1, dtype=np.int64)
    for j in range(chunks - 1, -1, -1):
        x, r = np.divmod(x, 10_000)
        words[:, j] = table[r]
    size = len(prefix) + width
    body = np.empty((n, size), dtype=np.uint8)
    body[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    body[:, len(prefix):] = words.view(np.uint8).reshape(n, 4 * chunks)[:, 4 * chunks - width:]
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int64)
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(body.ravel())]
    )


def str_series(values: pa.Array | np.ndarray, name: str | None = None) -> pd.Series:
    """An arrow or object array as a pandas ``str`` Series (missing values stay missing)."""
    arr = values if isinstance(values, pa.Array) else pa.array(values, pa.large_string())
    return pd.Series(pd.array(arr, dtype="str"), name=name)


def take_str(labels: pa.Array, idx: np.ndarray) -> pa.Array:
    """``labels[idx]`` with ``idx < 0`` giving a missing value."""
    idx = np.asarray(idx, dtype=np.int64)
    mask = idx < 0
    return pc.take(labels, pa.array(np.where(mask, 0, idx), mask=mask if mask.any() else None))

