from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ledger_state

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
    for bad in (0, -5, 2.555, True, float("nan"), float("inf"), "5"):
        with pytest.raises(SpecError, match="positive number of credits with at most two decimals"):
            wallet.topup(bad)
    assert wallet.topup(0.35) == 60.35  # credits have two decimals: so may a top-up


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


def test_fractional_credits_sum_exactly(wallet):
    """Credits of two decimals: thirty charges of 0.1 and 0.2 (0.1 + 0.2 is 0.30000000000000004 in
    floats) leave exactly what they say, in the balance, the holds, what was spent and the history."""
    for i in range(30):
        price = (0.1, 0.2)[i % 2]
        held = wallet.reserve(price, f"run-{i}")
        with wallet.ledger.transaction() as db:
            assert wallet.commit(held, price, db=db) == price
    assert wallet.balance == 5.5 and wallet.spent == 4.5 and wallet.reserved == 0
    assert wallet.history()["balance"].iat[-1] == 5.5 and not wallet.ledger.open_holds()
    # SQLite's INTEGER affinity keeps 0.1 as a REAL (m014 changes nothing there), 5 as an integer.
    kinds = wallet.ledger.query("SELECT DISTINCT typeof(credits) FROM wallet_journal WHERE kind = 'reserve'")
    assert {row[0] for row in kinds} == {"real"}
    held = wallet.reserve(4.15, "leaves-1.35")  # a charge below what was held releases the rest
    with wallet.ledger.transaction() as db:
        assert wallet.commit(held, 0.59 * 3, db=db) == 1.77  # 1.7699999999999998 as a float
    assert wallet.balance == 3.73 and wallet.reserved == 0
    wallet.reserve(2.38, "holding")
    with pytest.raises(BudgetError) as caught:
        wallet.reserve(2, "too-much")
    assert str(caught.value) == (
        "Not enough credits: this run costs 2, the wallet has 1.35 (short by 0.65); "
        "top up with `workbench wallet topup 1`."
    )
    assert caught.value.short == 0.65 and repr(wallet) == "<Wallet balance=1.35 credits>"


def test_the_cli_reads_fractional_credits_well(cli, root):
    root.mkdir(parents=True, exist_ok=True)
    (root / "prices.yaml").write_text('credits:\n  draft:\n    "*": {low: 0.35, medium: 2, high: 8.3}\n')
    assert cli("generate", "a mug", "--quality", "high")[0] == 0
    code, out, _ = cli("generate", "a cup", "--quality", "low")
    assert code == 0 and " 0.35 credits " in out
    assert cli("wallet")[1].strip() == "1.35 credits (8.65 spent)"
    code, out, _ = cli("generate", "a vase", "--dry-run")
    assert code == 0 and "credits  2; wallet 1.35 (short by 0.65)" in out
    before = ledger_state(root)
    code, out, err = cli("generate", "a vase")
    assert code == 1 and out == "" and ledger_state(root) == before
    assert "this run costs 2, the wallet has 1.35 (short by 0.65)" in err and err.count("\n") == 1
    code, out, _ = cli("runs")
    assert code == 0 and "2 run(s), 8.65 credits" in out and " 8.3 " in out and " 0.35 " in out
    assert cli("wallet", "topup", "0.65")[1].strip() == "2 credits"
    assert cli("wallet", "limit", "2.5", "--user", "ana")[1].startswith("user ana: 2.5 credits")
