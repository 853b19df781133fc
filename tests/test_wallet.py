from __future__ import annotations

import subprocess
import sys

import pytest

from workbench import BudgetError, SpecError
from workbench.ledger import SQLiteLedger
from workbench.wallet import Wallet


@pytest.fixture
def wallet(tmp_path):
    return Wallet(SQLiteLedger(tmp_path / "ledger.sqlite"))


def test_new_wallet_has_welcome_credits(wallet):
    assert wallet.balance == 10
    assert wallet.history()["kind"].tolist() == ["welcome"]


def test_reserve_commit_release(wallet):
    held = wallet.reserve(6, "run-1")
    assert wallet.balance == 4 and wallet.reserved == 6
    with wallet.ledger.transaction() as db:
        wallet.commit(held, 6, db=db)
    assert wallet.balance == 4 and wallet.reserved == 0 and wallet.spent == 6
    again = wallet.reserve(4, "run-2")
    wallet.release(again)
    assert wallet.balance == 4


def test_refusal_names_the_shortfall_and_holds_nothing(wallet):
    wallet.reserve(8, "run-1")
    with pytest.raises(BudgetError) as caught:
        wallet.reserve(10, "run-2")
    assert str(caught.value) == (
        "Not enough credits: this run costs 10, the wallet has 2 (short by 8); "
        "top up with `workbench wallet topup 8`."
    )
    assert caught.value.short == 8
    assert wallet.reserved == 8


def test_topup_is_recorded(wallet):
    assert wallet.topup(50, note="team budget") == 60
    history = wallet.history()
    assert history["kind"].tolist() == ["welcome", "topup"] and history["balance"].tolist() == [10, 60]
    for bad in (0, -5, 2.5, True):
        with pytest.raises(SpecError, match="positive whole number"):
            wallet.topup(bad)


def test_reservation_of_a_dead_process_is_released(tmp_path):
    path = tmp_path / "ledger.sqlite"
    SQLiteLedger(path).close()
    code = (
        "import sys; from workbench.ledger import SQLiteLedger; from workbench.wallet import Wallet;"
        f"Wallet(SQLiteLedger({str(path)!r})).reserve(7, 'orphan')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    wallet = Wallet(SQLiteLedger(path))
    assert wallet.balance == 10 and wallet.reserved == 0
