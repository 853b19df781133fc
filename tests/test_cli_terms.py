"""The command line speaks its own terms: out-of-range numbers refused before anything runs, the
whole help text, a progress line while a render runs, and advice given as flags and commands."""

from __future__ import annotations

import json

import pytest
from conftest import ledger_state


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["runs", "--limit", "-5"], "'--limit': -5 is not in the range x>=0"),
        (["generate", "a mug", "-n", "0"], "'-n': 0 is not in the range 1<=x<=10"),
        (["generate", "a mug", "--seed", "-1"], "'--seed': -1 is not in the range x>=0"),
        (["generate", "a mug", "--variant", "-2"], "'--variant': -2 is not in the range x>=0"),
        (["wallet", "topup", "--", "-3"], "'CREDITS': -3.0 is not in the range x>0"),
        (["finish", "x.png", "tone", "--warmth", "3"], "'--warmth': 3.0 is not in the range -1<=x<=1"),
    ],
)
def test_out_of_range_numbers_are_refused_and_change_nothing(cli, root, args, said):
    before = ledger_state(root)
    code, out, err = cli(*args)
    assert code == 2 and said in err and "Traceback" not in err
    assert ledger_state(root) == before


def test_runs_limit_zero_is_every_run_and_totals_match(cli, wb):
    for subject in ("a mug", "a cup", "a jug"):
        wb.generate(subject)
    code, out, _ = cli("runs", "--limit", "0")
    assert code == 0 and "3 run(s)" in out
    code, out, _ = cli("runs", "--limit", "2")
    assert code == 0 and "2 run(s)" in out


def test_top_level_help_lists_each_command_in_full(cli):
    code, out, _ = cli("--help")
    commands = out[out.index("Commands:") :]
    assert code == 0 and "..." not in commands
    assert "remove_background, replace_background" in " ".join(commands.split())
    code, out, _ = cli("batch", "--help")
    assert code == 0 and "..." not in out[out.index("Commands:") :]


def test_generate_says_what_it_renders_while_it_runs_and_not_for_a_cached_run(cli):
    code, out, err = cli("generate", "a speckled mug on a walnut table", "--quality", "low")
    assert code == 0 and "rendering 1 image on draft/draft-1, low, 1024x1024…" in err
    code, out, err = cli("generate", "a speckled mug on a walnut table", "--quality", "low")
    assert code == 0 and out.startswith("cached") and "rendering" not in err


def test_check_text_and_finish_advise_in_flags_not_python(cli, wb):
    run = wb.generate("a speckled mug on a walnut table")
    code, _, err = cli("check-text", run.id)
    assert code == 2 and "--text" in err and "texts=[" not in err
    code, _, err = cli("finish", run.id, "tone", "--aspect", "3:2")
    assert code == 2 and "`workbench finish IMAGE tone` takes --warmth, --contrast, not --aspect." in err
    assert "unexpected keyword" not in err
    code, _, err = cli("finish", run.id, "add a teapot")
    assert code == 2 and f'`workbench edit {run.id} "add a teapot"`' in err and "edit()" not in err
    code, out, _ = cli("finish", run.id, "tone", "--warmth", "0.4", "--json")
    assert code == 0 and json.loads(out)["status"] == "ok"


def test_batch_plan_gives_the_id_batch_run_then_uses(cli, root, tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text("name: two\nspec: {subject: a mug, quality: low}\ngrid:\n  seed: [1, 2]\n")
    code, out, _ = cli("batch", "plan", str(path))
    assert code == 0
    planned = next(line.split()[1] for line in out.splitlines() if line.startswith("batch "))
    command = out.strip().splitlines()[-1]
    assert command == f"run it: workbench batch run {path} --batch-id {planned}"
    code, out, err = cli(*command.removeprefix("run it: workbench ").split(), "--no-progress")
    assert code == 0, err
    assert out.startswith(f"batch {planned}: 2 ok") and (root / "batches" / planned / "report.html").is_file()
    code, out, _ = cli("batch", "plan", str(path), "--batch-id", "mine", "--quality", "high")
    assert out.strip().splitlines()[-1].endswith(f"{path} --quality high --batch-id mine")
