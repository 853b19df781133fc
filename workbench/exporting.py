"""Where an export may write: never over an existing file without ``force``, never over the run log,
the image store or a file that is not a regular file (a device node, a pipe, a folder).

``write_export`` is the one writer behind ``Workbench.export`` and ``workbench export``. Without
``force`` the file is linked into place from a temporary file, so even a file that appears between
the check and the write is not overwritten; with ``force`` it is renamed over the old one (never
through it: a symlink to the run log is replaced, not followed).

Example:
    >>> write_export(wb, Path("poster.jpg"), data)  # refused with ExportError if poster.jpg exists
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import ExportError

if TYPE_CHECKING:
    from workbench.core import Workbench

__all__ = ["check_export_target", "write_export"]

# The run log and the files SQLite keeps beside it (journal, WAL, shared memory), the frame snapshot.
_LEDGER_SUFFIXES = ("", "-wal", "-shm", "-journal", "-frame.npz")


def _protected(wb: Workbench) -> tuple[set[Path], list[Path]]:
    """(files, folders) an export must never write: the run log and its companions, the store."""
    ledger = Path(getattr(wb.ledger, "path", wb.root / "ledger.sqlite"))
    files = {Path(f"{ledger}{suffix}").resolve() for suffix in _LEDGER_SUFFIXES}
    folders = [(wb.root / name).resolve() for name in ("images", "thumbs")]
    return files, folders


def check_export_target(
    wb: Workbench, target: Path, *, force: bool = False, data: bytes | None = None
) -> bool:
    """Refuse a target an export must not write; True when it already holds exactly ``data``.

    Raises:
        ExportError: the target is the run log (or a file SQLite keeps beside it), is inside the
            image store or anywhere in the outputs folder but its ``exports`` folder, is not a
            regular file, or exists and ``force`` is not given.
    """
    files, folders = _protected(wb)
    resolved = target.resolve()  # through symlinks: a link to the run log is the run log
    if resolved in files or target.absolute() in files:
        raise ExportError(f"{target} is the run log; export elsewhere.", path=str(target))
    if any(folder == resolved or folder in resolved.parents for folder in folders):
        raise ExportError(
            f"{target} is inside the image store ({wb.root / 'images'}); export elsewhere.", path=str(target)
        )
    root, exports = wb.root.resolve(), (wb.root / "exports").resolve()
    inside = root == resolved or root in resolved.parents
    if inside and not (exports == resolved or exports in resolved.parents):
        # The outputs folder holds what the workbench reads back (prices.yaml, models.yaml, batches,
        # limits, snapshots): an export there could break it. Only its exports folder takes one.
        raise ExportError(
            f"{target} is inside the outputs folder {wb.root}; export to {wb.root / 'exports'} or elsewhere.",
            path=str(target),
        )
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(mode):
        mode = os.stat(target).st_mode if resolved.exists() else stat.S_IFREG
    if not stat.S_ISREG(mode):
        raise ExportError(f"{target} is not a regular file; export to a file or a folder.", path=str(target))
    if data is not None and target.stat().st_size == len(data) and target.read_bytes() == data:
        return True  # the same export again: nothing to overwrite
    if not force:
        raise ExportError(
            f"{target} already exists; pass --force (force=True) to overwrite it.", path=str(target)
        )
    return False


def write_export(wb: Workbench, target: Path, data: bytes, *, force: bool = False) -> Path:
    """Write ``data`` to ``target`` after ``check_export_target``; return the target.

    Raises:
        ExportError: see ``check_export_target``; also when the file appears meanwhile.
    """
    if check_export_target(wb, target, force=force, data=data):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name[:24]}.{os.getpid()}.{threading.get_ident()}.export.tmp")
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
        if force:
            os.replace(tmp, target)  # renames over the old name: a symlink is replaced, not followed
        else:
            try:
                os.link(tmp, target)  # fails when the name exists, however it got there
            except FileExistsError:
                raise ExportError(
                    f"{target} already exists; pass --force (force=True) to overwrite it.", path=str(target)
                ) from None
            except OSError:  # a file system without hard links: exclusive create instead
                with open(target, "xb") as handle:
                    handle.write(data)
    finally:
        tmp.unlink(missing_ok=True)
    return target
