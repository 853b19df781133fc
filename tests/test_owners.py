"""Who spent what: every run and journal entry records its user and project; runs() and the
wallet filter by them; a per-user or per-project spending limit is enforced before sending."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import BudgetError, SpecError, Workbench


def test_runs_and_journal_entries_record_user_and_project(paid_draft: Path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_USER", "ana")
    monkeypatch.setenv("WORKBENCH_PROJECT", "spring-campaign")
    with Workbench(paid_draft) as wb:
        run = wb.generate("a teal mug", quality="medium")
        frame = wb.runs()
        assert (frame["user"].tolist(), frame["project"].tolist()) == (["ana"], ["spring-campaign"])
        assert str(frame["user"].dtype) == "category"
        assert list(wb.runs(user="ana")["id"]) == [run.id] and wb.runs(user="bob").empty
        assert list(wb.runs(project="spring-campaign")["id"]) == [run.id]
        history = wb.wallet.history(user="ana")
        assert history["kind"].tolist() == ["reserve", "commit"] and set(history["user"]) == {"ana"}
        assert wb.wallet.spent_by(user="ana") == 2 and wb.wallet.spent_by(project="spring-campaign") == 2
        assert wb.wallet.history(user="bob").empty
        wb.wallet.topup(5, note="from ana's budget")
        assert wb.wallet.history(user="ana")["kind"].tolist() == ["reserve", "commit", "topup"]
        assert wb.wallet.history()["user"].isna().iat[0]  # the welcome credits are no one's


def test_the_os_user_by_default_and_the_experiment_as_project(paid_draft: Path, monkeypatch):
    import getpass

    monkeypatch.delenv("WORKBENCH_USER", raising=False)
    monkeypatch.delenv("WORKBENCH_PROJECT", raising=False)
    with Workbench(paid_draft) as wb:
        assert wb.user == getpass.getuser() and wb.project is None
        plan = wb.plan("a mug")
        from dataclasses import replace

        from workbench.runs import run_owner

        assert run_owner(wb, replace(plan, params={**plan.params, "experiment": "product-lighting"})) == (
            wb.user,
            "product-lighting",
        )


def test_a_users_spending_limit_is_enforced_before_sending(paid_draft: Path):
    with Workbench(paid_draft, user="ana") as ana, Workbench(paid_draft, user="bob") as bob:
        ana.wallet.set_limit(3, user="ana")
        assert ana.generate("one", quality="medium").credits == 2
        before = len(ana.runs())
        with pytest.raises(
            BudgetError, match="Over the spending limit of user ana: this run costs 2, 1 of its 3"
        ):
            ana.generate("two", quality="medium")
        assert len(ana.runs()) == before and ana.wallet.reserved == 0  # nothing recorded or held
        assert bob.generate("three", quality="medium").ok  # another user is not limited
        assert ana.generate("one", quality="medium").cached  # a cached run costs nothing: allowed
        ana.wallet.set_limit(None, user="ana")
        assert ana.generate("two", quality="medium").ok
        limits = ana.wallet.limits()
        assert limits.empty


def test_a_project_limit_counts_every_user(paid_draft: Path):
    with (
        Workbench(paid_draft, user="ana", project="p") as ana,
        Workbench(paid_draft, user="bob", project="p") as bob,
    ):
        ana.wallet.set_limit(4, project="p")
        ana.generate("one", quality="medium")
        bob.generate("two", quality="medium")
        with pytest.raises(BudgetError, match="project p"):
            bob.generate("three", quality="medium")
        assert ana.wallet.limits().to_dict("records") == [
            {"scope": "project", "name": "p", "limit": 4, "used": 4}
        ]


def test_a_bad_limit_is_one_sentence(paid_draft: Path):
    with Workbench(paid_draft) as wb:
        with pytest.raises(SpecError, match="a user or a project"):
            wb.wallet.set_limit(5)
        with pytest.raises(SpecError, match="at most two decimals"):
            wb.wallet.set_limit(-1, user="ana")
        with pytest.raises(SpecError, match="at most two decimals"):
            wb.wallet.set_limit(2.555, user="ana")
        wb.wallet.set_limit(2.5, user="ana")  # credits have two decimals: a limit may too
        assert wb.wallet.limits()["limit"].tolist() == [2.5]


def test_the_cli_sets_limits_and_filters_runs(cli, paid_draft: Path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_USER", "ana")
    code, out, err = cli("wallet", "limit", "--user", "ana", "5")
    assert code == 0 and "user ana: 5 credits (0 spent or held)" in out, err
    assert cli("generate", "a mug", "--quality", "medium")[0] == 0
    code, out, _ = cli("runs", "--user", "ana")
    assert code == 0 and "1 run(s), 2 credits" in out
    code, out, _ = cli("runs", "--user", "bob")
    assert "(no runs)" in out
    code, out, _ = cli("wallet", "limit")
    assert "ana" in out and "5" in out
    assert "5.0" not in out and "2.0" not in out  # credits read as credits: 5, and 2 used
    assert out.split("\n")[1].split()[-2:] == ["5", "2"]
    assert cli("wallet", "limit", "--user", "ana")[0] == 2  # no CREDITS, no --remove


def test_owners_on_postgres(tmp_path: Path, postgres_url: str):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "prices.yaml").write_text(
            'credits:\n  draft:\n    "*": {low: 1, medium: 2, high: 10}\n'
        )
    ana = Workbench(tmp_path / "a", database=postgres_url, user="ana", project="p")
    bob = Workbench(tmp_path / "b", database=postgres_url, user="bob", project="p")
    ana.wallet.set_limit(2, user="bob")  # one wallet, one set of limits for the team
    ana.generate("one", quality="medium")
    bob.generate("two", quality="medium")
    with pytest.raises(BudgetError, match="user bob"):
        bob.generate("three", quality="medium")
    assert sorted(bob.runs(project="p")["user"].tolist()) == ["ana", "bob"]
    assert ana.runs(user="bob")["prompt"].str.startswith("two").tolist() == [True]
    assert ana.wallet.spent_by(user="ana") == 2
    assert bob.wallet.history(user="bob")["kind"].tolist() == ["reserve", "commit"]
    ana.close()
    bob.close()
