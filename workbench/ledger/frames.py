"""The run log's typed frame, built from database rows and kept between ``runs()`` calls; the
same code for SQLite and PostgreSQL (``FrameCache`` is mixed into both ledgers).

A frame is built column by column straight into buffers with room for the runs to come
(``GrowingFrame``): no dtype guessing, no copy of the whole frame afterwards. A ledger keeps the
frame of its log and, on each ``runs()``, fetches only the rows recorded since and writes them
into the spare room. A large log's frame is saved locally (``workbench.ledger.snapshot``) in a
background thread once the caller has it, so the first read of the next session loads it
instead of reading every row again; a second Ledger of the same file in this process waits for
that save rather than reading the whole log.
"""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import LedgerError
from workbench.lazy import lazy_module
from workbench.ledger.base import RUN_COLUMNS, RunRecord, columns_of_kind
from workbench.ledger.common import INDEXED, masked, no_gc, quoted, utc

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from workbench.ledger.growing import GrowingFrame
else:
    np = lazy_module("numpy")
    pd = lazy_module("pandas")

__all__ = ["Coded", "FrameCache", "Typed", "build_columns", "build_frame", "concat_frames"]

# A cold runs() that reads this many rows from the database saves the frame locally, so the next
# session loads it instead (see workbench.ledger.snapshot); fewer rows read fast enough without one.
SNAPSHOT_MIN_ROWS = 20_000

_CATEGORIES = columns_of_kind("category")
# Each column's kind in the frame, saved with a snapshot: one saved under other kinds (credits
# that were whole numbers, say) is not this run log's frame any more and is read again.
RUN_KINDS = {f.name: f.metadata["kind"] for f in dataclasses.fields(RunRecord)}
# Up to this many new rows, a refresh writes them into the cached frame's buffers as plain values.
FEW_ROWS = 1_000
# Line breaks other than "\n" that str.splitlines() splits on (see _lines).
_OTHER_BREAKS = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")

# Snapshots being written by this process, by path: a new Ledger of the same log waits for them.
_SAVING: dict[Path, threading.Thread] = {}
_SAVING_LOCK = threading.Lock()


def wait_for_save(path: Path | None) -> None:
    """Return once this process's save of ``path`` (if one is running) has finished."""
    if path is None:
        return
    with _SAVING_LOCK:
        thread = _SAVING.get(path)
    if thread is not None and thread is not threading.current_thread():
        thread.join()


@dataclasses.dataclass
class Typed:
    """A number column fetched as an array already: its values and where they are missing."""

    data: np.ndarray
    mask: np.ndarray

    def __len__(self) -> int:
        return len(self.data)

    def tolist(self) -> list[Any]:
        values = self.data.tolist()
        for i in np.flatnonzero(self.mask).tolist():
            values[i] = None
        return values


@dataclasses.dataclass
class Coded:
    """A category column fetched as codes: each cell the index of its text in ``known``, -1 where
    it is missing, or (a text not among them) the text itself; or an array of codes only."""

    values: list[Any] | np.ndarray
    known: list[str]

    def __len__(self) -> int:
        return len(self.values)

    def decoded(self) -> list[Any]:
        known = self.known
        values = self.values.tolist() if isinstance(self.values, np.ndarray) else self.values
        return [v if type(v) is not int else known[v] if v >= 0 else None for v in values]


@dataclasses.dataclass
class Fetched:
    """Rows fetched column by column (``build_columns``'s ``by_name``): ``n`` rows, the last of
    them at order value ``last``."""

    by_name: dict[str, Any]
    n: int
    last: int


def build_frame(rows: Sequence[Sequence[Any]], *, room: int | None = 0) -> GrowingFrame:
    """The typed frame of database rows (each: its order column, then ``RUN_COLUMNS``), built
    into buffers with ``room`` spare rows (None: ``growing.capacity_for``'s)."""
    columns = list(zip(*rows, strict=True))[1:] if rows else [()] * len(RUN_COLUMNS)
    return build_columns(dict(zip(RUN_COLUMNS, columns, strict=True)), len(rows), room=room)


def build_columns(by_name: dict[str, Any], n: int, *, room: int | None = 0) -> GrowingFrame:
    """The typed frame of ``n`` rows given column by column (``RUN_COLUMNS``: sequences of the
    database's values, None where missing; number columns may come as ``Typed`` arrays)."""
    from workbench.ledger.growing import GrowingFrame, capacity_for

    capacity = capacity_for(n) if room is None else n + room
    specs: dict[str, dict[str, Any]] = {}
    # (width and height first: the "size" column, before width in the frame, is made from them)
    sides = {name: _integers(by_name[name], capacity) for name in ("width", "height")}
    for name, values in by_name.items():
        if name == "width":
            specs["size"] = _size_column(values, by_name["height"], sides, capacity)
        kind = RUN_KINDS[name]
        if kind == "datetime":
            times = pd.array(np.zeros(capacity, dtype="datetime64[us]")).tz_localize("UTC")
            plain = _utc_times(values) if n else None
            if plain is not None:
                times.asi8[:n] = plain.view(np.int64)
            elif n:
                parsed = pd.to_datetime(np.asarray(values, dtype=object), utc=True, format="ISO8601")
                if parsed.dtype != times.dtype:  # (another unit: as today's frame, whatever it is)
                    unit = parsed.dtype.unit
                    times = pd.array(np.zeros(capacity, dtype=f"datetime64[{unit}]")).tz_localize("UTC")
                times.asi8[:n] = parsed.asi8
            specs[name] = {"kind": "datetime", "buffer": times}
        elif kind == "category":
            specs[name] = _categorical(values, capacity)
        elif kind == "int":
            specs[name] = sides[name] if name in sides else _integers(values, capacity)
        elif kind == "float":
            buffer = np.zeros(capacity, dtype=np.float64)
            if isinstance(values, Typed):
                buffer[:n] = np.where(values.mask, np.nan, values.data)
            else:  # (numpy makes None NaN itself: no scan for None first)
                buffer[:n] = np.array(values, dtype=np.float64)
            specs[name] = {"kind": "numpy", "buffer": buffer}
        else:
            buffer = np.empty(capacity, dtype=object)
            cells = _lines(values) if kind == "images" else values
            buffer[:n] = np.fromiter(cells, dtype=object, count=n)  # (lists stay cells)
            specs[name] = {"kind": "numpy", "buffer": buffer}
    return GrowingFrame.from_buffers(n, capacity, specs)


def _utc_times(values: Sequence[Any]) -> np.ndarray | None:
    """The times of ISO texts written as ``utc_now`` writes them (``2026-01-01T00:00:00.000000+00:00``)
    as ``datetime64[us]``, parsed by numpy in C; None for any other text (pandas parses those)."""
    if None in values or set(map(len, values)) != {32}:
        return None
    try:
        cells = np.frombuffer("".join(values).encode("ascii"), dtype="S32")
    except (TypeError, UnicodeEncodeError):
        return None
    suffix = np.frombuffer(b"+00:00", dtype=np.uint8)
    if not bool((cells.view(np.uint8).reshape(-1, 32)[:, 26:] == suffix).all()):
        return None
    try:
        return cells.astype("S26").astype("datetime64[us]")
    except ValueError:
        return None


def _listed(values: Any) -> Sequence[Any]:
    return values.tolist() if isinstance(values, Typed) else values


def _integers(values: Sequence[Any], capacity: int) -> dict[str, Any]:
    """A nullable integer column's values and mask (``None``: missing)."""
    n = len(values)
    data, mask = np.zeros(capacity, dtype=np.int64), np.zeros(capacity, dtype=bool)
    if isinstance(values, Typed):
        data[:n], mask[:n] = values.data, values.mask
    else:
        try:  # (tried first: a scan for None costs as much as the conversion)
            data[:n] = np.array(values, dtype=np.int64)
        except TypeError:  # a None among them (numpy has no integer NaN)
            if values.count(None) == n:  # (a column never written: at C speed)
                mask[:n] = True
            else:
                cells = _objects(values)
                missing = cells == None  # noqa: E711 (elementwise)
                cells[missing] = 0
                data[:n] = cells.astype(np.int64)
                mask[:n] = missing
    return {"kind": "Int64", "values": data, "mask": mask}


def _objects(values: Sequence[Any]) -> np.ndarray:
    """An object array of ``values``; ``np.fromiter`` copies them without asking each one whether
    it is a sequence (as ``np.asarray`` does: ~50 ns a cell)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _lines(values: Sequence[str | None]) -> list[list[str]]:
    """Each row's paths, kept one a line (``""``: none). ``str.splitlines`` splits them at C
    speed where no text holds another line break or ends in one (it would split those apart)."""
    texts = [v or "" for v in values] if None in values else values
    joined = "\x00".join(texts)
    plain = not joined.endswith("\n") and "\n\x00" not in joined
    if plain and not any(mark in joined for mark in _OTHER_BREAKS):
        return list(map(str.splitlines, texts))
    return [s.split("\n") if s else [] for s in texts]


def _sizes(widths: Sequence[Any], heights: Sequence[Any]) -> list[str]:
    """``"1024x1536"`` per row; a missing width or height reads ``<NA>`` (as pandas prints it)."""
    if None in widths or None in heights:
        widths = ["<NA>" if w is None else w for w in widths]
        heights = ["<NA>" if h is None else h for h in heights]
    return [f"{w}x{h}" for w, h in zip(widths, heights, strict=True)]


def _size_column(
    widths: Any, heights: Any, sides: dict[str, dict[str, Any]], capacity: int
) -> dict[str, Any]:
    """The "size" categorical (``_sizes``' texts). Where every width and height is an ``int`` (or
    missing), each distinct pair is written once, not once a row: the pairs are factorized on
    the integer columns made already (``sides``: ``_integers`` of width and height)."""
    if not (_all_ints(widths) and _all_ints(heights)):
        return _categorical(_sizes(_listed(widths), _listed(heights)), capacity)
    n = len(widths)
    pair_codes, counts, labels = [], [], []
    for name in ("width", "height"):
        data, mask = sides[name]["values"][:n], sides[name]["mask"][:n]
        codes, uniques = pd.factorize(data)
        pair_codes.append(np.where(mask, len(uniques), codes))  # (one more code: missing)
        counts.append(len(uniques) + 1)
        labels.append([*map(str, uniques.tolist()), "<NA>"])
    codes, pairs = pd.factorize(pair_codes[0] * counts[1] + pair_codes[1])
    texts = [f"{labels[0][p // counts[1]]}x{labels[1][p % counts[1]]}" for p in pairs.tolist()]
    return _coded(codes, np.array(texts, dtype=object), capacity)


def _all_ints(values: Any) -> bool:
    return isinstance(values, Typed) or set(map(type, values)) <= {int, type(None)}


def _categorical(values: Sequence[str | None], capacity: int) -> dict[str, Any]:
    """Codes into sorted categories, always of the string dtype (even when empty) so appends can
    unite them; ``None`` is code -1. ``Coded`` cells that are all codes need no factorizing
    (every text known is one of the column's: they were read from its first rows)."""
    if isinstance(values, Coded):
        if isinstance(values.values, np.ndarray) or set(map(type, values.values)) == {int}:
            return _coded(
                np.asarray(values.values, dtype=np.intp), np.array(values.known, dtype=object), capacity
            )
        values = values.decoded()
    return _coded(*pd.factorize(_objects(values)), capacity)


def _coded(codes: np.ndarray, uniques: np.ndarray, capacity: int) -> dict[str, Any]:
    """``_categorical`` of factorized values: ``codes`` (-1: missing) into ``uniques``."""
    order = np.argsort(uniques.astype(str), kind="stable")
    rank = np.empty(len(order), dtype=codes.dtype)
    rank[order] = np.arange(len(order), dtype=codes.dtype)
    codes = np.where(codes >= 0, rank[codes] if len(rank) else codes, -1)
    categories = pd.Index(uniques[order], dtype="str")
    buffer = np.zeros(capacity, dtype=_code_dtype(len(categories)))
    buffer[: len(codes)] = codes
    return {"kind": "category", "codes": buffer, "categories": categories}


def _code_dtype(categories: int) -> np.dtype:
    for dtype in (np.int8, np.int16, np.int32):
        if categories < np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _own_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each categorical column's categories those of its rows, sorted (as a frame
    built from those rows has them); counted on the codes, so O(rows) at numpy speed."""
    changed = {}
    for name in (*_CATEGORIES, "size"):
        column = frame[name]
        categories = column.cat.categories
        codes = column.cat.codes.to_numpy()
        used = np.bincount(codes + 1, minlength=len(categories) + 1)[1:] > 0
        if used.all() and categories.is_monotonic_increasing:
            continue
        kept = categories[used]
        order = np.argsort(kept.to_numpy(dtype=object).astype(str), kind="stable")
        remap = np.full(len(categories) + 1, -1, dtype=np.int64)  # (the last: code -1 stays)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        remap[np.flatnonzero(used)] = rank
        new_codes = remap[codes].astype(_code_dtype(len(kept)))
        changed[name] = pd.Categorical.from_codes(
            new_codes, categories=pd.Index(kept[order], dtype=categories.dtype), validate=False
        )
    return frame.assign(**changed) if changed else frame


def concat_frames(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Append rows, keeping categorical columns categorical (their categories are united)."""
    frame = pd.concat([old, new], ignore_index=True)
    for name in (*_CATEGORIES, "size"):
        frame[name] = pd.api.types.union_categoricals([old[name], new[name]])
    return frame


class FrameCache:
    """The whole log's frame kept between ``runs()`` calls, grown by the rows recorded since,
    saved locally when large. Mixed into a ledger, which gives:

    - ``_rows_after(last)``: rows recorded after the order value ``last`` (order value first), or
      many of them column by column (``Fetched``); ``_rows(sql, params)``: the rows of a query
      written with ``?``; ``RUN_READ``: the run columns as its SELECT lists them;
    - ``_lock`` (an RLock), ``snapshot_path`` (or None), ``_snapshot_meta()``, ``_read()``;
    - ``ORDER_COLUMN`` and ``SNAPSHOT_KEY`` (the header's name for the last order value).
    """

    ORDER_COLUMN: str
    RUN_READ = quoted(RUN_COLUMNS)
    SNAPSHOT_KEY = "last_rowid"
    FIRST_ORDER = -1  # below every order value (SQLite's rowid; PostgreSQL's seq starts at 1)

    _cache: pd.DataFrame | None = None
    _growing: GrowingFrame | None = None
    _cache_last: int = -1
    _save_due = False
    _saved_rows = 0  # rows of the frame saved (or loaded) last
    snapshot_path: Path | None

    if TYPE_CHECKING:
        _lock: Any

        def _rows_after(self, last: int) -> list[tuple] | Fetched: ...
        def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple]: ...
        def _snapshot_meta(self) -> dict[str, Any]: ...
        def _read(self, sql: str, params: Sequence[Any] = (), db: Any = None) -> list[Any]: ...

    def _runs_frame(self, filters: dict[str, Any], since: Any, until: Any, limit: int | None) -> pd.DataFrame:
        """``runs()``'s rows (checked ``filters``, bounds, limit) as a new frame (the caller's
        changes never reach the cache). A cold ledger's question asked in SQL gives the same frame
        as a warm one's mask: the same rows, and a narrow frame's categories are those of its rows,
        sorted, either way."""
        if limit is not None:
            whole = isinstance(limit, numbers.Integral) and not isinstance(limit, bool)
            if not whole or limit < 0:
                raise LedgerError(f"runs() takes a limit of 0 or more runs, not {limit!r}.")
            limit = int(limit)
        narrow = filters or since is not None or until is not None
        indexed = any(name in INDEXED for name in filters) or since is not None or until is not None
        saved = self.snapshot_path is not None and self.snapshot_path.exists()
        if self._cache is None and (limit is not None or indexed or (narrow and not saved)):
            # A cold cache and a question the database answers from an index (the newest N, a
            # batch, a fingerprint, a time range): read only those rows, not the whole log.
            frame = self._select(filters, since, until, limit=limit)
        else:  # (the whole log needs no mask: a refresh stays O(new rows))
            frame = masked(self._cached_frame(), filters, since, until, limit)
        if narrow or limit is not None:
            frame = _own_categories(frame)
        return frame.reset_index(drop=True)

    def _select(
        self, filters: dict[str, Any], since: Any, until: Any, *, limit: int | None = None
    ) -> pd.DataFrame:
        """The rows of a question, asked in SQL. Times are kept as written (another offset, a
        space for the T): the bounds go to SQL as whole days widened by 14 hours (every offset),
        and the rows are then trimmed by the warm path's own mask on the parsed times."""
        order = self.ORDER_COLUMN
        where, params = [], []
        for name, value in filters.items():
            values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
            known = [v for v in values if v is not None]
            if not values:  # (an empty list: no run, the frame's columns and kinds all the same)
                return build_frame([]).frame
            either = [f"{quoted([name])} IN ({', '.join('?' * len(known))})"] if known else []
            if len(known) < len(values):
                either.append(f"{quoted([name])} IS NULL")
            where.append("(" + " OR ".join(either) + ")")
            params += known
        bounded = since is not None or until is not None
        for op, bound, hours in ((">=", since, -14), ("<", until, 38)):
            if bound is not None:  # (38: the 14 hours, then the whole of that day)
                where.append(f"created_at {op} ?")
                params.append((utc(bound) + pd.Timedelta(hours=hours)).strftime("%Y-%m-%d"))
        sql = f"SELECT {order}, {self.RUN_READ} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if limit is not None and not bounded:  # the newest `limit`, back in the order they were recorded
            sql = f"SELECT * FROM ({sql} ORDER BY {order} DESC LIMIT ?) AS newest ORDER BY {order}"
            params.append(int(limit))
        else:
            sql += f" ORDER BY {order}"
        with no_gc():
            frame = build_frame(self._rows(sql, params)).frame
        return masked(frame, {}, since, until, limit) if bounded else frame

    def _cached_frame(self) -> pd.DataFrame:
        with self._lock:
            if self._cache is None:
                self._cache_last = self.FIRST_ORDER
                self._load_snapshot()
            with no_gc():
                fetched = self._rows_after(self._cache_last)
                if isinstance(fetched, Fetched):  # many rows, fetched column by column
                    count, last = fetched.n, fetched.last
                    if self._cache is None:
                        self._growing = build_columns(fetched.by_name, count, room=None)
                        self._cache = self._growing.frame
                    elif count:
                        self._cache = self._append(build_columns(fetched.by_name, count).frame)
                else:
                    count, last = len(fetched), int(fetched[-1][0]) if fetched else self._cache_last
                    if fetched and not self._few_appended(fetched):
                        if self._cache is None:
                            self._growing = build_frame(fetched, room=None)
                            self._cache = self._growing.frame
                        else:
                            self._cache = self._append(build_frame(fetched).frame)
                del fetched  # (freed before the collector runs again: it would walk every row)
            if self._cache is None:  # an empty log
                self._growing = build_frame([], room=None)
                self._cache = self._growing.frame
            self._cache_last = last
            # Saved when a read brought many rows, and again once the log has grown by many since
            # the frame saved (runs() after each batch reads few rows at a time, but they add up).
            total, least = len(self._cache), SNAPSHOT_MIN_ROWS
            if count and total >= least and total - self._saved_rows >= max(least, self._saved_rows // 10):
                self._save_due, self._saved_rows = True, total  # once the caller has its frame
            return self._cache

    def _handed_out(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``runs()``'s last step: start saving the cached frame if a large read made it (now, so
        the saving thread does not compete with building the caller's frame)."""
        if self._save_due:
            self._save_due = False
            self._save_snapshot()
        return frame

    def _few_appended(self, rows: list[tuple]) -> bool:
        """A few new rows (a refresh after some runs) go into the cache's buffers as plain values,
        without a frame of their own; False when that does not apply (then ``build_frame`` does)."""
        growing = self._growing
        if len(rows) > FEW_ROWS or growing is None or growing.frame is not self._cache:
            return False
        columns = list(zip(*rows, strict=True))[1:]
        by_name = dict(zip(RUN_COLUMNS, columns, strict=True))
        by_name["images"] = tuple(s.split("\n") if s else [] for s in by_name["images"])
        values: dict[str, list[Any]] = {}
        for name in growing.columns:
            if name == "size":
                values[name] = _sizes(by_name["width"], by_name["height"])
            elif name in by_name:
                values[name] = list(by_name[name])
            else:
                return False
        try:
            growing.append_values(values)
        except (TypeError, ValueError, KeyError, OverflowError):  # a value of another kind
            self._growing = None
            return False
        self._cache = growing.frame
        return True

    def _append(self, new: pd.DataFrame) -> pd.DataFrame:
        """The cache with ``new`` rows after it, written into the spare room of its buffers."""
        growing = self._growing
        if growing is not None and growing.frame is self._cache:
            try:
                growing.append(new)
                return growing.frame
            except (TypeError, ValueError):  # rows of another kind: copy as before
                pass
        self._growing = None
        return concat_frames(self._cache, new)  # type: ignore[arg-type]

    # -- the saved frame -------------------------------------------------------------------------
    def _load_snapshot(self) -> None:
        """Start the cache from the saved frame, if it is this ledger's and matches its rows."""
        saved = self._saved_frame(self.snapshot_path, self.SNAPSHOT_KEY)
        if saved is not None:
            self._growing, self._cache_last = saved
            self._cache = self._growing.frame
            self._saved_rows = len(self._cache)

    def _saved_frame(self, path: Path | None, key: str) -> tuple[GrowingFrame, int] | None:
        """The frame saved at ``path`` and the last run it holds (its order value, saved as
        ``key``), if it is this ledger's and matches its rows; None otherwise (another ledger's,
        one from before the database was replaced, or saved under other column kinds)."""
        from workbench.ledger.snapshot import load_frame

        wait_for_save(path)
        if path is None or not path.exists():
            return None
        with no_gc():
            loaded = load_frame(path)
        if loaded is None:
            return None
        growing, header = loaded
        meta = {**self._snapshot_meta(), "run_kinds": RUN_KINDS}
        if any(header.get(k) != v for k, v in meta.items()):
            return None
        last, last_id = header.get(key), header.get("last_id")
        order = self.ORDER_COLUMN
        # Runs are never deleted: the rows up to `last` are all the rows but those recorded since
        # (a count of the whole table reads an index; counting up to `last` would read the table).
        check = self._read(
            f"SELECT (SELECT id FROM runs WHERE {order} = ?), "
            f"(SELECT count(*) FROM runs) - (SELECT count(*) FROM runs WHERE {order} > ?)",
            (last, last),
        )[0]
        frame = growing.frame
        if tuple(check) != (last_id, len(frame)) or (len(frame) and frame["id"].iat[-1] != last_id):
            return None
        return growing, int(last)

    def _save_snapshot(self) -> None:
        """Save the cached frame in the background (the caller has it already); the process
        waits for the save before it exits, and a new Ledger of this log waits for it too."""
        from workbench.ledger.snapshot import save_frame

        with self._lock:
            frame, path, last = self._cache, self.snapshot_path, int(self._cache_last)
        if path is None or frame is None or frame.empty:
            return
        meta = {
            **self._snapshot_meta(),
            "run_kinds": RUN_KINDS,
            self.SNAPSHOT_KEY: last,
            "last_id": frame["id"].iat[-1],
        }

        previous: threading.Thread | None = None

        def save() -> None:
            try:
                if previous is not None:  # (the saves of a path are written in turn)
                    previous.join()
                with contextlib.suppress(OSError):
                    path.parent.mkdir(parents=True, exist_ok=True)
                    save_frame(path, frame, meta)  # written whole, then renamed: never half a file
            finally:
                with _SAVING_LOCK:
                    if _SAVING.get(path) is threading.current_thread():
                        del _SAVING[path]

        # The frame saved is views on the first rows of the buffers: appends write after them
        # (or into new buffers), so the rows saved never change under the saving thread. It is
        # registered and started under one lock (whoever finds it may join it), and never a
        # daemon, even for a daemon caller (a gallery watcher): the interpreter's exit lets it
        # finish this one save rather than leave the file unwritten.
        thread = threading.Thread(target=save, name="workbench-frame-snapshot", daemon=False)
        with _SAVING_LOCK:
            previous = _SAVING.get(path)
            _SAVING[path] = thread
            thread.start()

    def _wait_for_saves(self) -> None:
        wait_for_save(self.snapshot_path)
