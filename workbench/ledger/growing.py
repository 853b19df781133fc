"""The run log's cached DataFrame, grown by appending rows instead of copying the whole frame.

Runs are written once and never changed, so a Ledger keeps the frame it has read and adds the
rows recorded since. ``pd.concat`` would copy every column of a million-row frame for each new
run (a quarter of a second); ``GrowingFrame`` keeps each column in a buffer with room to spare
(numpy arrays; a categorical's codes; a nullable integer's values and mask) and writes new rows
into the spare room. ``frame`` is then a DataFrame of views on the filled part, made in about a
millisecond. When the room runs out the buffers grow by half (one copy, now and then).

The views are never handed out as they are: ``Ledger.runs`` returns a derived frame, so pandas'
copy-on-write copies a column before a caller's change could reach a buffer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["GrowingFrame", "capacity_for"]

_MIN_ROOM = 1024


def capacity_for(rows: int) -> int:
    """Room for ``rows`` and the runs to come: a quarter more, at least ``_MIN_ROOM`` more."""
    return rows + max(_MIN_ROOM, rows // 4)


class _Column:
    """One column's buffer; ``view(n)`` is the column of the first ``n`` rows, without a copy."""

    @classmethod
    def adopt(cls, kind: str, **buffers: Any) -> _Column:
        """A column of buffers made with room already (``kind`` and its buffers as the attributes
        below: category ``codes`` and ``categories``; datetime ``buffer``, a tz-aware array;
        Int64 ``values`` and ``mask``; numpy ``buffer``), kept as they are: no copy."""
        column = cls.__new__(cls)
        column.kind = kind
        for name, value in buffers.items():
            setattr(column, name, value)
        if kind == "category":
            column.dtype = pd.CategoricalDtype(column.categories)
        elif kind == "Int64":
            column.dtype = pd.Int64Dtype()
        else:
            column.dtype = column.buffer.dtype
        return column

    def __init__(self, values: Any, capacity: int) -> None:
        self.dtype = values.dtype
        n = len(values)
        if isinstance(self.dtype, pd.CategoricalDtype):
            self.kind = "category"
            self.categories = values.cat.categories if isinstance(values, pd.Series) else values.categories
            codes = np.asarray(values.cat.codes if isinstance(values, pd.Series) else values.codes)
            self.codes = _room(codes, capacity, _code_dtype(len(self.categories), codes.dtype))
        elif isinstance(self.dtype, pd.DatetimeTZDtype):
            self.kind = "datetime"
            self.buffer = _datetime_room(self.dtype, capacity)
            self.buffer[:n] = pd.array(values)
        elif str(self.dtype) == "Int64":
            self.kind = "Int64"
            array = pd.array(values, dtype="Int64")
            self.values = _room(array.to_numpy(dtype="int64", na_value=0), capacity)
            self.mask = _room(np.asarray(array.isna(), dtype=bool), capacity)
        elif isinstance(self.dtype, np.dtype) and self.dtype.kind in "fiub":
            self.kind = "numpy"
            self.buffer = _room(np.asarray(values), capacity)
        elif self.dtype == object:
            self.kind = "numpy"
            self.buffer = _room(np.asarray(values, dtype=object), capacity)
        else:
            raise TypeError(f"a column of dtype {self.dtype} does not grow in place")

    def view(self, n: int) -> Any:
        if self.kind == "category":
            return pd.Categorical.from_codes(self.codes[:n], categories=self.categories, validate=False)
        if self.kind == "datetime":
            return self.buffer[:n]
        if self.kind == "Int64":
            return pd.arrays.IntegerArray(self.values[:n], self.mask[:n])
        return pd.Series(self.buffer[:n], dtype=self.buffer.dtype, copy=False)

    def write(self, start: int, values: Any) -> None:
        """Write ``values`` (a column of new rows, of the same kind) at ``start``."""
        end = start + len(values)
        if self.kind == "category":
            new = values.cat if isinstance(values, pd.Series) else values
            missing = new.categories.difference(self.categories, sort=False)
            if len(missing):
                self.categories = self.categories.append(missing)
                wanted = _code_dtype(len(self.categories), self.codes.dtype)
                if wanted != self.codes.dtype:
                    self.codes = self.codes.astype(wanted)
            remap = self.categories.get_indexer(new.categories)
            codes = np.asarray(new.codes)
            self.codes[start:end] = np.where(codes >= 0, remap[codes] if len(remap) else codes, -1)
        elif self.kind == "datetime":
            self.buffer[start:end] = pd.array(values)
        elif self.kind == "Int64":
            array = pd.array(values, dtype="Int64")
            self.values[start:end] = array.to_numpy(dtype="int64", na_value=0)
            self.mask[start:end] = np.asarray(array.isna(), dtype=bool)
        else:
            self.buffer[start:end] = np.asarray(values, dtype=self.buffer.dtype)

    def write_values(self, start: int, values: list[Any]) -> None:
        """Write plain Python values (text, numbers, None, ISO times) at ``start``: a few new
        rows cost microseconds per cell, without building a frame of them first."""
        end = start + len(values)
        if self.kind == "category":
            index = self._code_of()
            for value in values:
                if value is not None and value not in index:
                    self.categories = self.categories.append(pd.Index([value], dtype=self.categories.dtype))
                    index[value] = len(self.categories) - 1
                    wanted = _code_dtype(len(self.categories), self.codes.dtype)
                    if wanted != self.codes.dtype:
                        self.codes = self.codes.astype(wanted)
            self.codes[start:end] = [-1 if v is None else index[v] for v in values]
        elif self.kind == "datetime":
            self.buffer[start:end] = pd.to_datetime(values, utc=True, format="ISO8601").array
        elif self.kind == "Int64":
            self.values[start:end] = [0 if v is None else v for v in values]
            self.mask[start:end] = [v is None for v in values]
        elif self.buffer.dtype == object:
            self.buffer[start:end] = _objects(values)
        else:
            self.buffer[start:end] = [np.nan if v is None else v for v in values]

    def _code_of(self) -> dict[Any, int]:
        if getattr(self, "_codes_for", None) is not self.categories:
            self._index = {value: code for code, value in enumerate(self.categories)}
            self._codes_for = self.categories
        return self._index

    def grow(self, n: int, capacity: int) -> None:
        """Room for ``capacity`` rows, keeping the first ``n``."""
        if self.kind == "category":
            self.codes = _room(self.codes[:n], capacity)
        elif self.kind == "datetime":
            old = self.buffer[:n]
            self.buffer = _datetime_room(self.dtype, capacity)
            self.buffer[:n] = old
        elif self.kind == "Int64":
            self.values = _room(self.values[:n], capacity)
            self.mask = _room(self.mask[:n], capacity)
        else:
            self.buffer = _room(self.buffer[:n], capacity)


def _objects(values: list[Any]) -> np.ndarray:
    """An object array of ``values`` as they are (numpy would make lists into a 2-D array)."""
    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        array[i] = value
    return array


def _datetime_room(dtype: pd.DatetimeTZDtype, capacity: int) -> Any:
    return pd.array(np.zeros(capacity, dtype=f"datetime64[{dtype.unit}]")).tz_localize(dtype.tz)


def _room(values: np.ndarray, capacity: int, dtype: Any = None) -> np.ndarray:
    buffer = (
        np.zeros(capacity, dtype=dtype or values.dtype)
        if values.dtype != object
        else np.empty(capacity, object)
    )
    buffer[: len(values)] = values
    return buffer


def _code_dtype(categories: int, current: np.dtype) -> np.dtype:
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        if categories < np.iinfo(dtype).max and np.dtype(dtype).itemsize >= np.dtype(current).itemsize:
            return np.dtype(dtype)
    return np.dtype(np.int64)


class GrowingFrame:
    """A DataFrame that grows by appending rows into spare room (see the module's docstring).

    Raises:
        TypeError: a column of a dtype it does not keep (the caller falls back to ``pd.concat``).
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.n = len(frame)
        self.capacity = capacity_for(self.n)
        self.columns = list(frame.columns)
        self._columns = {name: _Column(frame[name], self.capacity) for name in self.columns}
        self._frame: pd.DataFrame | None = None

    @classmethod
    def from_buffers(cls, n: int, capacity: int, columns: dict[str, dict[str, Any]]) -> GrowingFrame:
        """A frame of ``n`` rows kept in buffers of ``capacity`` rows made by the caller (a saved
        frame read straight into them): each column a dict of ``kind`` and its buffers (see
        ``_Column.adopt``)."""
        growing = cls.__new__(cls)
        growing.n, growing.capacity = n, capacity
        growing.columns = list(columns)
        growing._columns = {name: _Column.adopt(**spec) for name, spec in columns.items()}
        growing._frame = None
        return growing

    def __len__(self) -> int:
        return self.n

    def append(self, rows: pd.DataFrame) -> None:
        """Add ``rows`` (a frame of the same columns and kinds) at the end."""
        if rows.empty:
            return
        if list(rows.columns) != self.columns:
            raise ValueError("appended rows have other columns")
        needed = self.n + len(rows)
        if needed > self.capacity:
            self.capacity = max(needed, self.capacity + self.capacity // 2)
            for column in self._columns.values():
                column.grow(self.n, self.capacity)
        for name, column in self._columns.items():
            column.write(self.n, rows[name])
        self.n = needed
        self._frame = None

    def append_values(self, columns: dict[str, list[Any]]) -> None:
        """Add rows given as plain Python values per column (every column, same lengths)."""
        count = len(next(iter(columns.values()), []))
        if not count:
            return
        if list(columns) != self.columns:
            raise ValueError("appended rows have other columns")
        needed = self.n + count
        if needed > self.capacity:
            self.capacity = max(needed, self.capacity + self.capacity // 2)
            for column in self._columns.values():
                column.grow(self.n, self.capacity)
        for name, column in self._columns.items():
            column.write_values(self.n, columns[name])
        self.n = needed
        self._frame = None

    @property
    def frame(self) -> pd.DataFrame:
        """The rows so far, as views on the buffers (kept until the next append)."""
        if self._frame is None:
            data = {name: column.view(self.n) for name, column in self._columns.items()}
            self._frame = pd.DataFrame(data, index=pd.RangeIndex(self.n), copy=False)
        return self._frame
