"""A saved copy of the run log's DataFrame, so a new session reads a large log fast.

Runs are written once and never changed, so the frame read from SQLite up to some row stays true
for good. Reading 100,000 rows back from SQLite costs about a second, almost all of it in making
Python objects of every cell; loading this snapshot costs a fraction of that, after which only the
rows recorded since are read from SQLite.

The snapshot is an ``.npz`` file (numpy, no pickle: opening one cannot run code). Text columns
are kept as one UTF-8 buffer each, split on load; categoricals as codes and categories; nullable
integers as values and a mask. It records which row it ends at and that row's id; the ledger
checks both against the database and ignores a snapshot that does not match (or cannot be read).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.store import write_atomic

__all__ = ["load_frame", "save_frame"]

FORMAT = 1
_SEP = "\x00"  # between the texts of a column; a text that holds it is not snapshotted


def save_frame(path: Path, frame: pd.DataFrame, meta: dict[str, Any]) -> bool:
    """Write ``frame`` with ``meta`` (what it covers) to ``path``; False when it cannot be kept."""
    try:
        arrays, kinds = _columns(frame)
    except (TypeError, ValueError):  # a column or a cell the snapshot does not keep
        return False
    header = {"format": FORMAT, "columns": list(frame.columns), "kinds": kinds, "rows": len(frame), **meta}
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    try:
        write_atomic(path, buffer.getvalue())
    except OSError:  # a read-only folder, a full disk: the ledger works without a snapshot
        return False
    return True


def _columns(frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Each column as numpy arrays, and its kind.

    Raises:
        ValueError, TypeError: a column of another dtype, or a text that holds the separator.
    """
    arrays: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for i, name in enumerate(frame.columns):
        column = frame[name]
        key = f"c{i}"
        if isinstance(column.dtype, pd.CategoricalDtype):
            categories = column.cat.categories.tolist()
            kinds[name] = f"category:{len(categories)}"
            arrays[key] = column.cat.codes.to_numpy()
            arrays[key + "_text"] = _join(categories)
        elif isinstance(column.dtype, pd.DatetimeTZDtype):
            kinds[name] = "datetime"
            arrays[key] = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        elif str(column.dtype) == "Int64":
            kinds[name] = "Int64"
            arrays[key + "_mask"] = column.isna().to_numpy()
            arrays[key] = column.to_numpy(dtype="int64", na_value=0)
        elif column.dtype == np.float64:
            kinds[name] = "float64"
            arrays[key] = column.to_numpy()
        elif column.dtype == object:
            values = column.tolist()
            kinds[name] = "lines" if any(isinstance(v, list) for v in values[:1]) else "text"
            if kinds[name] == "lines":
                values = ["\n".join(v) for v in values]
            arrays[key + "_mask"] = column.isna().to_numpy()
            arrays[key + "_text"] = _join(["" if v is None else v for v in values])
        else:
            raise TypeError(f"column {name!r} of dtype {column.dtype} is not kept in a snapshot")
    return arrays, kinds


def load_frame(path: Path) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """The frame and its header from ``path``; None when there is none or it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode("utf-8"))
            if header.get("format") != FORMAT:
                return None
            rows = header["rows"]
            columns: dict[str, Any] = {}
            for i, name in enumerate(header["columns"]):
                key, kind = f"c{i}", header["kinds"][name]
                if kind.startswith("category:"):
                    count = int(kind.split(":")[1])
                    categories = pd.Index(_split(data[key + "_text"], count), dtype="str")
                    columns[name] = pd.Categorical.from_codes(data[key], categories=categories)
                elif kind == "datetime":
                    columns[name] = pd.DatetimeIndex(data[key]).tz_localize("UTC")
                elif kind == "Int64":
                    columns[name] = pd.arrays.IntegerArray(data[key], data[key + "_mask"])
                elif kind == "float64":
                    columns[name] = data[key]
                else:
                    values: list[Any] = _split(data[key + "_text"], rows)
                    if kind == "lines":
                        values = [v.split("\n") if v else [] for v in values]
                    series = pd.Series(values, dtype=object)
                    mask = data[key + "_mask"]
                    if mask.any():
                        series[mask] = None
                    columns[name] = series
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError):
        return None
    # copy=False: each column stays its own block (stacking same-dtype columns copied ~1 s at 10^6 rows)
    return pd.DataFrame(columns, index=pd.RangeIndex(rows), copy=False), header


def _join(values: list[str]) -> np.ndarray:
    """The texts as one UTF-8 buffer (TypeError when one is not text, ValueError when one holds
    the separator)."""
    text = _SEP.join(values)
    if text.count(_SEP) != max(len(values) - 1, 0):
        raise ValueError("a text holds the snapshot's separator")
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _split(buffer: np.ndarray, count: int) -> list[str]:
    """The ``count`` texts joined into ``buffer`` (``[]`` and ``[""]`` both join to nothing)."""
    if count == 0:
        return []
    values = buffer.tobytes().decode("utf-8").split(_SEP)
    if len(values) != count:
        raise ValueError("a snapshot column does not have its number of rows")
    return values
