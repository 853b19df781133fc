"""The run log: every run, the wallet's journal and the batches, behind one ``Ledger`` interface.

``Ledger`` (``base``) is what the rest of the package calls; ``SQLiteLedger`` (``sqlite``) keeps it
in one SQLite file, with the schema in ``migrations`` and the frame snapshot in ``snapshot``.
Only this package runs SQL. ``SQLiteLedger(path)`` opens the SQLite run log at ``path``.

Example:
    >>> ledger = SQLiteLedger("outputs/ledger.sqlite")
    >>> ledger.runs(status="ok")[["id", "credits"]]
"""

from __future__ import annotations

from workbench.ledger.base import (
    RUN_COLUMNS,
    STATUSES,
    Ledger,
    RunRecord,
    columns_of_kind,
    utc_now,
)
from workbench.ledger.frames import SNAPSHOT_MIN_ROWS
from workbench.ledger.migrations import MIGRATIONS, WELCOME_CREDITS
from workbench.ledger.sqlite import SQLiteLedger

__all__ = [
    "MIGRATIONS",
    "RUN_COLUMNS",
    "SNAPSHOT_MIN_ROWS",
    "STATUSES",
    "WELCOME_CREDITS",
    "Ledger",
    "RunRecord",
    "SQLiteLedger",
    "columns_of_kind",
    "utc_now",
]
