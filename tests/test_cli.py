"""The `workbench` command as a user runs it: outputs, exit codes, one-sentence errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ledger_state
from PIL import Image

WORKBENCH = Path(sys.executable).with_name("workbench")


@pytest.mark.slow
def test_generate_writes_the_size_asked_for_and_recalls_its_spec(root):
    result = subprocess.run(
        [
            str(WORKBENCH),
            "generate",
            "a white leather sneaker on dark concrete",
            "--aspect",
            "2:3",
            "--quality",
            "medium",
            "--headline",
            "MOVE FORWARD",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"WORKBENCH_HOME": str(root)},
        check=True,
    )
    run = json.loads(result.stdout)
    path = Path(run["images"][0])
    assert run["status"] == "ok" and run["size"] == "1024x1536"
    image = Image.open(path)
    assert (image.format, image.size) == ("PNG", (1024, 1536))
    recalled = subprocess.run(
        [str(WORKBENCH), "recall", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"WORKBENCH_HOME": str(root)},
    ).stdout
    assert "subject: a white leather sneaker on dark concrete" in recalled
    assert "aspect: '2:3'" in recalled and "text: MOVE FORWARD" in recalled


def test_runs_wallet_templates_and_lint(cli, root):
    assert cli("generate", "--preset", "ecommerce-product")[0] == 0
    code, out, _ = cli("runs")
    assert code == 0 and "ecommerce-product" in out and "1 run(s), 0 credits" in out
    assert cli("wallet")[1].strip() == "10 credits (0 spent)"
    assert cli("wallet", "topup", "40")[1].strip() == "50 credits"
    assert "topup" in cli("wallet", "history")[1]
    code, out, _ = cli("templates", "preset")
    assert code == 0 and "  marketing-poster " in out and "@marketing-poster" not in out
    code, out, _ = cli("lint", "a nice product photo")
    assert code == 1 and "WB001" in out and "fix:" in out
    code, out, _ = cli("lint", "--preset", "ecommerce-product")
    assert code == 0 and "no findings" in out
    code, out, _ = cli("runs", "--format", "json")
    assert json.loads(out)[0]["preset"] == "ecommerce-product"


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (
            ["generate", "a mug", "--background", "@no-such-wall"],
            "Unknown background template '@no-such-wall'",
        ),
        (["generate", "a mug", "--aspect", "5:1"], "Unsupported aspect '5:1': choose one of 1:1, 2:3, 3:2"),
        (["generate", "   "], "The prompt is empty"),
        (["generate", "x" * 32_001], "the limit is 32,000"),
        (["generate", "--preset", "nope"], "nope"),
        (["generate", "a mug", "--quality", "ultra"], "Unsupported quality 'ultra'"),
        (["recall", "missing.png"], "No image at missing.png"),
    ],
)
def test_bad_input_is_one_sentence_and_changes_nothing(cli, root, args, sentence):
    cli("wallet")  # an existing run log and wallet
    before = ledger_state(root)
    code, out, err = cli(*args)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and sentence in err
    assert ledger_state(root) == before


def test_invalid_yaml_spec(cli, root, tmp_path):
    bad = tmp_path / "spec.yaml"
    bad.write_text("subject: a mug\naspect: [2:3\n")
    cli("wallet")
    before = ledger_state(root)
    code, _, err = cli("generate", "--spec", str(bad))
    assert (
        code == 1 and err.startswith(f"error: {bad}:3: the file is not valid YAML") and err.count("\n") == 1
    )
    assert ledger_state(root) == before


def test_invalid_template_folder(cli, root, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "styles.yaml").write_text("kind: style\ntemplates:\n  noir: {text: [unclosed\n")
    code, _, err = cli("--prompts", str(folder), "generate", "a mug")
    assert code == 1 and "styles.yaml" in err and "line" in err and err.count("\n") == 1
    assert ledger_state(root) == (0, 0, 0) or ledger_state(root)[0] == 0


def test_a_run_the_wallet_cannot_afford(cli, paid_draft):
    cli("wallet")  # creates the wallet
    before = ledger_state(paid_draft)
    code, out, err = cli("generate", "a mug", "--quality", "high", "-n", "2")
    assert code == 1 and out == ""
    assert err == (
        "error: Not enough credits: this run costs 20, the wallet has 10 (short by 10); "
        "top up with `workbench wallet topup 10`.\n"
    )
    assert ledger_state(paid_draft) == before
    assert cli("wallet")[1].strip() == "10 credits (0 spent)"


def test_demo_twice_renders_once(cli, root):
    code, out, _ = cli("demo")
    assert code == 0
    first = ledger_state(root)[0]
    images = sorted((root / "images").rglob("*.png"))
    assert first >= 6 and len(images) == first
    code, out, _ = cli("demo")
    assert code == 0 and "0 rendered" in out and f"{first} from the cache" in out
    frame = __import__("workbench").Workbench(root).runs()
    assert frame["status"].tolist() == ["ok"] * first + ["cached"] * first
    assert int(frame["credits"].sum()) == 0
    assert sorted((root / "images").rglob("*.png")) == images


def test_a_quoted_text_in_a_free_cli_prompt_is_the_runs_exact_text(cli, root):
    code, out, err = cli("generate", "a watch on a lavender background, text reading 'TIME IS NOW'", "--json")
    assert code == 0, err
    run = json.loads(out)
    from workbench import Workbench

    with Workbench(root) as wb:
        spec = wb.recall(wb.run(run["id"]).images[0])
    assert [t.text for t in spec.texts] == ["TIME IS NOW"]
    # An explicit --headline names the texts instead.
    code, out, err = cli("generate", "a mug, text reading 'HELLO'", "--headline", "BONJOUR", "--json")
    assert code == 0, err
    with Workbench(root) as wb:
        spec = wb.recall(wb.run(json.loads(out)["id"]).images[0])
    assert [t.text for t in spec.texts] == ["BONJOUR"]
