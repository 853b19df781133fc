"""A saved copy of the run log's DataFrame, so a new session reads a large log fast.

Runs are written once and never changed, so the frame read from the database up to some row stays
true for good. Reading 100,000 rows back from SQLite costs about a second, almost all of it in
making Python objects of every cell; loading this snapshot costs a fraction of that, after which
only the rows recorded since are read from the database.

The file (still named ``…-frame.npz``) is a small binary format of our own, no pickle: opening one
cannot run code. It is a magic line, a JSON header (columns, kinds, rows, what it covers, and
where each column's bytes are with their CRC-32) and then the columns' raw bytes. Numbers, codes
and masks are numpy buffers read straight into arrays with room for the rows to come (the cached
frame grows into it: ``workbench.ledger.growing``), so nothing is decompressed or copied twice;
text columns are one UTF-8 buffer each, split on load (``[]`` and lists of paths: one path a
line). It records which row it ends at and that row's id; the ledger checks both against the
database and ignores a snapshot that does not match, is of another format or cannot be read.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from workbench.ledger.growing import GrowingFrame, capacity_for

__all__ = ["load_frame", "save_frame"]

FORMAT = 2
_MAGIC = b"WBFRAME2\n"
_ALIGN = 64
_MAX_HEADER = 64 * 2**20  # a header is columns and blob places: a few kB
_SEP = "\x00"  # between the texts of a column; a text that holds it is not snapshotted
# Line breaks str.splitlines() splits on besides "\n": a column of path lists holding none of them
# splits with splitlines (C speed, and "" gives []), else path by path.
_OTHER_BREAKS = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def save_frame(path: Path, frame: pd.DataFrame, meta: dict[str, Any]) -> bool:
    """Write ``frame`` with ``meta`` (what it covers) to ``path``; False when it cannot be kept
    (a column or a text it does not keep, a read-only folder, a full disk)."""
    try:
        blobs, kinds = _columns(frame)
    except (TypeError, ValueError):  # a column or a cell the snapshot does not keep
        return False
    layout: dict[str, list[Any]] = {}
    offset = 0
    for key, blob in blobs.items():
        view = memoryview(blob).cast("B")
        layout[key] = [offset, view.nbytes, str(blob.dtype) if isinstance(blob, np.ndarray) else "bytes"]
        layout[key].append(zlib.crc32(view))
        offset += _padded(view.nbytes)
    header = {
        "format": FORMAT,
        "columns": list(frame.columns),
        "kinds": kinds,
        "rows": len(frame),
        "blobs": layout,
        **meta,
    }
    head = json.dumps(header).encode("utf-8")
    start = _padded(len(_MAGIC) + 8 + len(head))
    _remove_stale(path)
    tmp = path.with_name(f".{path.name[:24]}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(_MAGIC + len(head).to_bytes(8, "little") + head)
            handle.write(b"\0" * (start - handle.tell()))
            for blob in blobs.values():
                view = memoryview(blob).cast("B")
                handle.write(view)
                handle.write(b"\0" * (_padded(view.nbytes) - view.nbytes))
        os.replace(tmp, path)  # written whole, then renamed: never half a file under its name
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
    return True


def _remove_stale(path: Path) -> None:
    """Remove what saves of ``path`` killed mid-write left (``.{name}.{pid}.{thread}.tmp``, as
    large as the frame): those of a process that is gone (snapshots are local files, so of this
    host) or older than an hour. One still being written by a live process is kept."""
    import time

    try:
        leftovers = list(path.parent.glob(f".{path.name[:24]}.*.*.tmp"))
    except OSError:
        return
    for leftover in leftovers:
        pid = leftover.name[len(path.name[:24]) + 2 :].split(".")[0]
        try:
            if time.time() - leftover.stat().st_mtime < 3600 and (not pid.isdigit() or _alive(int(pid))):
                continue
            leftover.unlink(missing_ok=True)
        except (OSError, ValueError, OverflowError):
            continue


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (Windows: assumed, os.kill would signal it; the hour decides)."""
    if pid == os.getpid() or os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # (another user's process, or a number not to ask about)
    return True


def _padded(size: int) -> int:
    return -(-size // _ALIGN) * _ALIGN


def _columns(frame: pd.DataFrame) -> tuple[dict[str, Any], dict[str, str]]:
    """Each column as buffers (numpy arrays or bytes), and its kind.

    Raises:
        ValueError, TypeError: a column of another dtype, or a text that holds the separator.
    """
    blobs: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for i, name in enumerate(frame.columns):
        column = frame[name]
        key = f"c{i}"
        if isinstance(column.dtype, pd.CategoricalDtype):
            categories = column.cat.categories.tolist()
            kinds[name] = f"category:{len(categories)}"
            blobs[key] = np.ascontiguousarray(column.cat.codes.to_numpy())
            blobs[key + "_text"] = _join(categories)
        elif isinstance(column.dtype, pd.DatetimeTZDtype):
            values = column.array.tz_convert("UTC")
            kinds[name] = f"datetime:{column.dtype.unit}"
            blobs[key] = np.ascontiguousarray(values.asi8)
        elif str(column.dtype) == "Int64":
            kinds[name] = "Int64"
            blobs[key + "_mask"] = np.ascontiguousarray(column.isna().to_numpy())
            blobs[key] = np.ascontiguousarray(column.to_numpy(dtype="int64", na_value=0))
        elif column.dtype == np.float64:
            kinds[name] = "float64"
            blobs[key] = np.ascontiguousarray(column.to_numpy())
        elif column.dtype == object:
            values = column.tolist()
            kinds[name] = "lines" if any(isinstance(v, list) for v in values[:1]) else "text"
            if kinds[name] == "lines":
                values = ["\n".join(v) for v in values]
            blobs[key + "_mask"] = np.ascontiguousarray(column.isna().to_numpy())
            blobs[key + "_text"] = _join(["" if v is None else v for v in values])
        else:
            raise TypeError(f"column {name!r} of dtype {column.dtype} is not kept in a snapshot")
    return blobs, kinds


def load_frame(path: Path, *, room: int | None = None) -> tuple[GrowingFrame, dict[str, Any]] | None:
    """The saved frame at ``path`` (as a ``GrowingFrame`` with ``room`` spare rows, by default
    ``growing.capacity_for``'s) and its header; None when there is none or it cannot be read."""
    try:
        with open(path, "rb") as handle:
            header = _header(handle)
            if header is None:
                return None
            return _load(handle, header, room), header
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError, MemoryError):
        return None  # (json's and UTF-8's errors are ValueErrors)


def _header(handle: IO[bytes]) -> dict[str, Any] | None:
    """The header, checked against the file: its length, the rows and where each blob is (a
    damaged number must not make the load ask for memory the file cannot fill)."""
    if handle.read(len(_MAGIC)) != _MAGIC:
        return None  # another format (an .npz of an older version): read from the database instead
    file_size = os.fstat(handle.fileno()).st_size
    size = int.from_bytes(handle.read(8), "little")
    if size > min(file_size - len(_MAGIC) - 8, _MAX_HEADER):
        return None
    header = json.loads(handle.read(size).decode("utf-8"))
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return None
    start = _padded(len(_MAGIC) + 8 + size)
    rows, blobs = header.get("rows"), header.get("blobs")
    if isinstance(rows, bool) or not isinstance(rows, int) or not 0 <= rows <= file_size:
        return None  # (every row has a byte in a mask or codes at least)
    if not isinstance(blobs, dict):
        return None
    for place in blobs.values():
        offset, length = place[0], place[1]
        if not (isinstance(offset, int) and isinstance(length, int)) or min(offset, length) < 0:
            return None
        if start + offset + length > file_size:
            return None
    header["_start"] = start
    return header


def _load(handle: IO[bytes], header: dict[str, Any], room: int | None) -> GrowingFrame:
    rows = int(header["rows"])
    capacity = rows + room if room is not None else capacity_for(rows)
    layout, start = header["blobs"], header["_start"]

    def read_into(key: str, buffer: np.ndarray) -> np.ndarray:
        """The blob ``key`` read into the first rows of ``buffer`` (checked: size and CRC)."""
        offset, size, _dtype, crc = layout[key]
        if size != rows * buffer.itemsize:
            raise ValueError("a snapshot column does not have its number of rows")
        target = memoryview(buffer).cast("B")[:size]
        handle.seek(start + offset)
        if handle.readinto(target) != size or zlib.crc32(target) != crc:
            raise ValueError("a snapshot column is damaged")
        return buffer

    def read_bytes(key: str) -> bytes:
        offset, size, _dtype, crc = layout[key]
        handle.seek(start + offset)
        data = handle.read(size)
        if len(data) != size or zlib.crc32(data) != crc:
            raise ValueError("a snapshot column is damaged")
        return data

    def room_of(key: str) -> np.ndarray:
        dtype = np.dtype(layout[key][2])
        if dtype.kind not in "biuf":  # numbers, codes and masks only: bytes never become objects
            raise ValueError(f"a snapshot column of dtype {dtype}")
        return read_into(key, np.zeros(capacity, dtype=dtype))

    columns: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(header["columns"]):
        key, kind = f"c{i}", header["kinds"][name]
        if kind.startswith("category:"):
            count = int(kind.split(":")[1])
            categories = pd.Index(_split(read_bytes(key + "_text").decode("utf-8"), count), dtype="str")
            columns[name] = {"kind": "category", "categories": categories, "codes": room_of(key)}
        elif kind.startswith("datetime:"):
            unit = kind.split(":")[1]
            times = pd.array(np.zeros(capacity, dtype=f"datetime64[{unit}]")).tz_localize("UTC")
            read_into(key, times.asi8)  # (a view of the array's own buffer)
            columns[name] = {"kind": "datetime", "buffer": times}
        elif kind == "Int64":
            columns[name] = {"kind": "Int64", "values": room_of(key), "mask": room_of(key + "_mask")}
        elif kind == "float64":
            columns[name] = {"kind": "numpy", "buffer": room_of(key)}
        elif kind in ("text", "lines"):
            text = read_bytes(key + "_text").decode("utf-8")
            values: list[Any] = _split(text, rows)
            if kind == "lines":
                plain = not text.endswith("\n") and "\n" + _SEP not in text  # (no list ends in "")
                values = _lines(values, plain=plain and not any(mark in text for mark in _OTHER_BREAKS))
            buffer = np.empty(capacity, dtype=object)
            buffer[:rows] = np.fromiter(values, dtype=object, count=rows)  # (lists stay cells)
            mask = np.asarray(room_of(key + "_mask")[:rows], dtype=bool)
            if mask.any():
                buffer[:rows][mask] = None
            columns[name] = {"kind": "numpy", "buffer": buffer}
        else:
            raise ValueError(f"a snapshot column of an unknown kind {kind!r}")
    return GrowingFrame.from_buffers(rows, capacity, columns)


def _lines(values: list[str], *, plain: bool) -> list[list[str]]:
    """Each text's lines, one path a line (``""``: none); ``plain``: no text holds a line break
    other than ``"\\n"`` or ends in one, so ``str.splitlines`` (C speed) splits them alike."""
    if plain:
        return list(map(str.splitlines, values))
    return [v.split("\n") if v else [] for v in values]


def _join(values: list[str]) -> bytes:
    """The texts as one UTF-8 buffer (TypeError when one is not text, ValueError when one holds
    the separator)."""
    text = _SEP.join(values)
    if text.count(_SEP) != max(len(values) - 1, 0):
        raise ValueError("a text holds the snapshot's separator")
    return text.encode("utf-8")


def _split(text: str, count: int) -> list[str]:
    """The ``count`` texts joined into ``text`` (``[]`` and ``[""]`` both join to nothing)."""
    if count == 0:
        return []
    values = text.split(_SEP)
    if len(values) != count:
        raise ValueError("a snapshot column does not have its number of rows")
    return values
