"""Batches end to end on the draft backend: plan, papermill shards, cache, budget, kill -9, reports."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from _skips import require
from conftest import ledger_state
from PIL import Image

from workbench import Workbench
from workbench.batch import load_experiment, plan_batch, run_shard
from workbench.batch.report import THUMB, write_report
from workbench.batch.runner import default_notebook, write_batch_files

WORKBENCH = Path(sys.executable).with_name("workbench")

GRID = """
name: mugs
spec: {subject: a speckled ceramic mug, quality: medium}
grid:
  background: {marble: "@marble", oak: "@oak-table", linen: "@linen"}
  lighting: ["@soft-left", "@golden-hour", "@rim-light", "@high-key"]
"""


def experiment(tmp_path: Path, text: str = GRID, name: str = "mugs.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def store_files(root: Path) -> set[Path]:
    return set((root / "images").rglob("*.png")) if (root / "images").exists() else set()


def job_key(params: str) -> str:
    return json.loads(params)["job"]


@pytest.mark.slow
def test_a_3x4_grid_plans_runs_and_a_second_run_comes_from_the_cache(paid_draft, tmp_path, cli):
    root = paid_draft
    Workbench(root).wallet.topup(100)
    path = experiment(tmp_path)

    code, out, _ = cli("batch", "plan", str(path))
    assert code == 0
    assert "images     12 in 12 jobs" in out and "cost       24 credits" in out and "can pay" in out
    assert "cached     0" in out

    code, out, err = cli("batch", "run", str(path), "--workers", "2", "--no-progress")
    assert code == 0, out + err
    batch_id = out.split()[1].rstrip(":")
    wb = Workbench(root)
    runs = wb.runs(batch_id=batch_id)
    assert len(runs) == 12 and set(runs["status"]) == {"ok"} and set(runs["shard"]) == {0, 1}
    assert runs["credits"].sum() == 24 and wb.wallet.spent == 24
    params = [json.loads(p) for p in runs["params"]]
    assert {p["factors"]["background"] for p in params} == {"marble", "oak", "linen"}
    assert all(p["experiment"] == "mugs" for p in params)
    folder = root / "batches" / batch_id
    for shard in (0, 1):
        notebook = folder / f"shard-{shard}.ipynb"
        assert notebook.stat().st_size < 100_000
        executed = nbformat.read(notebook, as_version=4)
        assert executed.metadata.papermill.parameters["batch_id"] == batch_id
        assert (
            not executed.metadata.papermill.exception
            and not executed.metadata.papermill.environment_variables
        )
    assert len(list((folder / "images").iterdir())) == 12

    sheet = Image.open(folder / "contact-sheet.jpg")
    assert sheet.size == (180 + 4 * (THUMB + 8) + 8, 40 + 44 + 3 * (THUMB + 8) + 8)  # 3 rows, 4 columns
    assert (folder / "contact-sheet.jpg").stat().st_size < 2_000_000
    header = sheet.convert("L").crop((180, 40, sheet.width, 84))
    for column in range(4):  # each column has its label
        label = header.crop((column * (THUMB + 8), 0, column * (THUMB + 8) + THUMB, 44))
        assert label.getextrema()[0] < 100
    html = (folder / "report.html").read_text()
    assert "contact-sheet.jpg" in html and "<h3>lighting</h3>" in html and "latency s (mean)" in html
    assert (
        "a speckled ceramic mug, on a polished white marble surface" in html
        and html.count("data:image/jpeg") == 12
    )

    before = store_files(root)
    code, out, _ = cli("batch", "run", str(path), "--workers", "2", "--no-progress")
    assert code == 0 and "12 cached of 12 jobs; 0 credits" in out
    second = out.split()[1].rstrip(":")
    assert second != batch_id
    again = Workbench(root).runs(batch_id=second)
    assert len(again) == 12 and set(again["status"]) == {"cached"} and again["credits"].sum() == 0
    assert store_files(root) == before  # nothing rendered
    assert Workbench(root).wallet.spent == 24
    code, out, _ = cli("batch", "list")
    assert [line.split()[0] for line in out.splitlines()] == [batch_id, second] and out.count(" done") == 2
    (folder / "report.html").unlink()
    code, out, _ = cli("batch", "report", batch_id)
    assert code == 0 and (folder / "report.html").is_file() and "contact-sheet.jpg" in out


def test_a_batch_the_wallet_cannot_pay_for_is_refused_before_anything_renders(paid_draft, tmp_path, cli):
    path = experiment(tmp_path)
    code, out, _ = cli("batch", "plan", str(path))
    assert "wallet     10 credits: cannot pay (short by 14)" in out
    before = ledger_state(paid_draft)
    code, out, err = cli("batch", "run", str(path))
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        "error: This batch costs 24 credits for 12 images; the wallet has 10 (short by 14): top up with "
        "`workbench wallet topup 14` or cap the run with --budget 10."
    ]
    assert ledger_state(paid_draft) == before
    assert not store_files(paid_draft) and not (paid_draft / "batches").exists()


@pytest.mark.slow
def test_a_budget_stops_cleanly_and_a_resume_finishes_the_batch(paid_draft, tmp_path, cli):
    path = experiment(tmp_path, "spec: {subject: a mug, quality: low}\ngrid:\n  seed: [1, 2, 3, 4, 5, 6]\n")
    code, out, _ = cli(
        "batch",
        "run",
        str(path),
        "--budget",
        "4",
        "--workers",
        "1",
        "--no-progress",
        "--batch-id",
        "capped",
    )
    assert code == 0, out
    assert "4 ok, 2 missing of 6 jobs; 4 credits" in out and "stopped at the budget: 2 jobs left" in out
    wb = Workbench(paid_draft)
    assert wb.wallet.balance == 6 and len(wb.runs(batch_id="capped")) == 4
    code, out, _ = cli("batch", "plan", str(path))
    assert "cached     4 (0 credits)" in out and "cost       2 credits" in out
    code, out, _ = cli("batch", "run", "--resume", "capped", "--workers", "1", "--no-progress")
    assert code == 0 and "6 ok of 6 jobs; 2 credits" in out
    runs = Workbench(paid_draft).runs(batch_id="capped")
    assert sorted(Counter(job_key(p) for p in runs["params"]).values()) == [1] * 6
    code, _, err = cli("batch", "run", str(path), "--batch-id", "capped")
    assert code == 1 and "A batch capped exists already; continue it with --resume capped." in err


@pytest.mark.parametrize("budget", ["nan", "inf", "-inf", "-1", "0.005", "1e400"])
@pytest.mark.parametrize("command", ["plan", "run"])
def test_a_budget_that_is_not_a_number_of_credits_is_one_sentence(root, tmp_path, cli, command, budget):
    path = experiment(tmp_path, "spec: {subject: a mug, quality: low}\ngrid:\n  seed: [1, 2]\n")
    Workbench(root).wallet.topup(10)
    before = ledger_state(root)
    extra = ("--no-progress",) if command == "run" else ()
    code, out, err = cli("batch", command, str(path), "--budget", budget, *extra)
    assert code == 1 and "The budget is a number of credits, 0 or more, with at most two decimals" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert ledger_state(root) == before and not (root / "batches").exists()


def _count_rows(ledger: Path, batch_id: str) -> int:
    if not ledger.exists():
        return 0
    try:
        with sqlite3.connect(ledger, timeout=5) as db:
            return db.execute("SELECT count(*) FROM runs WHERE batch_id = ?", (batch_id,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
def test_kill_9_of_a_running_batch_then_resume_charges_each_job_once(paid_draft, tmp_path, cli):
    root = paid_draft
    Workbench(root).wallet.topup(100)
    seeds = ", ".join(str(seed) for seed in range(1, 25))
    path = experiment(tmp_path, f"spec: {{subject: a mug, quality: medium}}\ngrid:\n  seed: [{seeds}]\n")
    process = subprocess.Popen(
        [
            str(WORKBENCH),
            "batch",
            "run",
            str(path),
            "--workers",
            "2",
            "--batch-id",
            "killed",
            "--no-progress",
        ],
        env=os.environ | {"WORKBENCH_HOME": str(root)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ledger = root / "ledger.sqlite"
    deadline = time.monotonic() + 60
    while _count_rows(ledger, "killed") < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_at_kill = _count_rows(ledger, "killed")
    assert 3 <= done_at_kill < 24, "the batch should be killed half-way"

    code, out, err = cli("batch", "run", "--resume", "killed", "--workers", "2", "--no-progress")
    assert code == 0, out + err
    wb = Workbench(root)
    runs = wb.runs(batch_id="killed")
    assert set(runs["status"]) == {"ok"}  # no cached rows, no failed rows
    counts = Counter(job_key(p) for p in runs["params"])
    assert len(counts) == 24 and set(counts.values()) == {1}
    assert wb.wallet.balance == 110 - int(runs["credits"].sum()) and wb.wallet.reserved == 0
    assert wb.wallet.spent == int(wb.runs()["credits"].sum()) == 48


def _notebook_with(tmp_path: Path, code: str) -> Path:
    nb = nbformat.read(default_notebook(), as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell(code))
    path = tmp_path / "custom.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_a_dying_kernel_is_retried_and_a_failing_shard_keeps_its_notebook(root, tmp_path, cli):
    path = experiment(tmp_path, "spec: {subject: a mug, quality: low}\ngrid:\n  seed: [1, 2]\n")
    marker = tmp_path / "died-once"
    dies_once = _notebook_with(
        tmp_path,
        f"import os, pathlib\nmarker = pathlib.Path({str(marker)!r})\n"
        "if not marker.exists():\n    marker.touch()\n    os._exit(1)",
    )
    code, out, err = cli(
        "batch",
        "run",
        str(path),
        "--notebook",
        str(dies_once),
        "--workers",
        "1",
        "--no-progress",
        "--batch-id",
        "retried",
    )
    assert code == 0, out + err
    assert "2 ok of 2 jobs" in out and marker.exists()

    fails = _notebook_with(tmp_path, "raise RuntimeError('the shard broke on purpose')")
    code, out, _ = cli(
        "batch",
        "run",
        str(path),
        "--notebook",
        str(fails),
        "--workers",
        "1",
        "--no-progress",
        "--batch-id",
        "broken",
    )
    assert code == 1
    assert "shard 0 failed after 1 attempt(s): RuntimeError: the shard broke on purpose" in out
    kept = nbformat.read(root / "batches" / "broken" / "shard-0.ipynb", as_version=4)
    assert kept.metadata.papermill.exception is True
    assert any(
        o.get("ename") == "RuntimeError" for c in kept.cells if c.cell_type == "code" for o in c.outputs
    )


def _in_process_batch(wb: Workbench, path: Path, batch_id: str) -> None:
    """A batch run without papermill: the same files and rows, one shard in this process."""
    plan = plan_batch(wb, load_experiment(path, templates=wb.templates), batch_id=batch_id)
    folder = wb.root / "batches" / batch_id
    write_batch_files(folder, plan)
    jobs = folder / "shard-0.jobs.json"
    jobs.write_text(json.dumps([j.job.to_dict() for j in plan.jobs]))
    run_shard(jobs, root=wb.root, batch_id=batch_id, shard=0, experiment=plan.experiment.name)


def test_three_factors_make_one_sheet_per_value_and_one_axis_wraps(wb, tmp_path):
    path = experiment(
        tmp_path,
        "spec: {subject: a mug, quality: low}\ngrid:\n  seed: [1, 2]\n"
        "  background: ['@marble', '@linen']\n  style: ['@noir', '@editorial']\n",
    )
    _in_process_batch(wb, path, "cube")
    report = write_report(wb, "cube")
    assert [p.name for p in report.contact_sheets] == [
        "contact-sheet-noir.jpg",
        "contact-sheet-editorial.jpg",
    ]
    assert Image.open(report.contact_sheets[0]).size == (
        180 + 2 * (THUMB + 8) + 8,
        40 + 44 + 2 * (THUMB + 8) + 8,
    )
    assert list(report.frame["status"]) == ["ok"] * 8

    rows = experiment(tmp_path, "label,subject\none,a mug\ntwo,a cup\nthree,a jug\n", "rows.csv")
    _in_process_batch(wb, rows, "line")
    sheets = write_report(wb, "line").contact_sheets
    assert [p.name for p in sheets] == ["contact-sheet.jpg"]
    assert Image.open(sheets[0]).height == 40 + THUMB + 28 + 8 + 8  # one row of three captioned cells


def test_the_batch_notebook_runs_by_hand_offline(root, tmp_path):
    import papermill

    papermill.execute_notebook(
        str(default_notebook()),
        str(tmp_path / "out.ipynb"),
        parameters={"root": str(root)},
        progress_bar=False,
        cwd=str(tmp_path),
    )
    runs = Workbench(root).runs(batch_id="example")
    assert list(runs["status"]) == ["ok", "ok"]


HEADLINES = """
name: headlines
preset: marketing-poster
spec: {quality: low, background: "@navy-solid"}
grid:
  headline: [MOVE FORWARD, RUN THE CITY]
"""


def test_check_text_scores_each_poster_and_the_report_shows_it(root, tmp_path, cli):
    from workbench.imaging.ocr import ocr_available

    require(ocr_available(), "tesseract-ocr is not installed (apt install tesseract-ocr)")
    path = experiment(tmp_path, HEADLINES, "headlines.yaml")
    code, out, err = cli("batch", "run", str(path), "--check-text", "--workers", "1", "--no-progress")
    assert code == 0, out + err
    batch_id = out.split()[1].rstrip(":")
    assert "text accuracy" in out and "(mean of 2 checked runs)" in out
    runs = Workbench(root).runs(batch_id=batch_id)
    assert len(runs) == 2 and (runs["text_accuracy"] >= 0.98).all()
    folder = root / "batches" / batch_id
    (folder / "report.html").unlink()
    code, out, _ = cli("batch", "report", batch_id)
    assert code == 0
    html = (folder / "report.html").read_text()
    assert "Text accuracy (OCR of the exact texts)" in html and "over 2 checked jobs" in html
    assert html.count("text accuracy % (mean)") == 1  # the one factor's table
    assert html.count("<td class='text'>") == 2  # each job's own score
    assert "<th>text accuracy</th>" in html


def test_check_text_without_tesseract_is_refused_before_anything_runs(root, tmp_path, cli, monkeypatch):
    import workbench.imaging.ocr

    monkeypatch.setattr(workbench.imaging.ocr, "ocr_available", lambda: False)
    path = experiment(tmp_path, HEADLINES, "headlines.yaml")
    Workbench(root).close()  # the run log exists, with its welcome credits
    before = ledger_state(root)
    code, _, err = cli("batch", "run", str(path), "--check-text", "--no-progress")
    assert code == 1 and "--check-text needs the tesseract program" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert ledger_state(root) == before and not (root / "batches").exists()


def test_a_report_without_text_checks_has_no_text_column(wb, tmp_path):
    path = experiment(tmp_path, HEADLINES, "headlines.yaml")
    _in_process_batch(wb, path, "unchecked")
    html = write_report(wb, "unchecked").html.read_text()
    assert "text accuracy" not in html.lower()


@pytest.mark.parametrize("args", [["batch", "run"], ["batch", "run", "x.yaml", "--resume", "b"]])
def test_run_needs_an_experiment_or_a_resume(cli, args):
    code, _, err = cli(*args)
    assert code == 2 and "Give an EXPERIMENT" in err


def test_resume_of_an_unknown_batch_is_one_sentence(root, cli):
    code, _, err = cli("batch", "run", "--resume", "nope")
    assert code == 1 and err.startswith("error: No batch nope in ")
    code, _, err = cli("batch", "run", "--resume", "../../etc")
    assert code == 1 and "A batch id is letters, digits" in err


def test_a_batch_never_moves_the_callers_working_directory(wb, tmp_path):
    """Shards run in kernels working in the batch folder; the runner itself never chdirs (papermill's
    ``cwd=`` did, from each shard's thread, and once left the caller inside a batch folder)."""
    import threading

    from workbench.batch import run_batch

    notebook = nbformat.read(default_notebook(), as_version=4)
    # A first cell of our own, after the parameters: where does the kernel work?
    notebook.cells.insert(
        2, nbformat.v4.new_code_cell('import os\nopen(f"cwd-{shard}.txt", "w").write(os.getcwd())')
    )
    custom = tmp_path / "where.ipynb"
    nbformat.write(notebook, custom)
    path = experiment(
        tmp_path, "name: here\nspec: {subject: a mug, quality: low}\ngrid:\n  seed: [1, 2, 3, 4]\n"
    )
    # A module in the root named like one the kernels' warm-up imports: never imported from there.
    (wb.root / "PIL.py").write_text("open(__file__ + '.imported', 'w').close()\nraise ImportError\n")
    before = os.getcwd()
    seen: set[str] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.add(os.getcwd())
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run_batch(wb, path, workers=2, notebook=custom, progress=False, report=False)
    finally:
        stop.set()
        watcher.join()
    assert result.complete, result.describe()
    assert seen == {before} and os.getcwd() == before
    for shard in (0, 1):
        assert Path((result.folder / f"cwd-{shard}.txt").read_text()) == result.folder.resolve()
    assert not (wb.root / "PIL.py.imported").exists()  # the kernels booted outside the root


def _kernels_of_this_process() -> list[int]:
    """The ipykernel processes this process started and that still run."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and b"ipykernel" in command:
            pids.append(int(entry.name))
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table in /proc")
def test_kernels_booted_ahead_are_used_or_stopped(root, tmp_path, cli):
    """``batch run`` boots --workers kernels before it plans: a one-job batch warms up and uses one,
    the other is stopped, and no kernel is left running after the command; timings.json shows the
    kernel warm before the shard's cell ran, and each step after the one before."""
    path = experiment(tmp_path, "spec: {subject: a mug, quality: low}\ngrid:\n  seed: [7]\n")
    code, out, err = cli("batch", "run", str(path), "--workers", "2", "--no-progress", "--batch-id", "ahead")
    assert code == 0, out + err
    assert "1 ok of 1 jobs" in out
    deadline = time.monotonic() + 30
    while _kernels_of_this_process() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _kernels_of_this_process() == []
    timings = json.loads((root / "batches" / "ahead" / "timings.json").read_text())
    runner, shards = timings["runner"], timings["shards"]
    assert list(shards) == ["0"]
    steps = [
        runner["batch_started"],
        runner["planned"],
        runner["kernel_warm"],
        shards["0"]["shard_started"],
        shards["0"]["first_job_done"],
        shards["0"]["shard_closed"],
        runner["shards_done"],
        runner["reported"],
    ]
    assert steps == sorted(steps)
    assert not (root / "batches" / "ahead" / "shard-0.timings.json").exists()  # merged into timings.json


def test_concurrency_is_the_batch_total_across_its_shards(root, tmp_path, cli, openai_server, monkeypatch):
    """--concurrency 3 with 2 shards: the service sees 3 requests at once, never 6 (each kernel may
    send 3; the slots in <root>/limits keep the total), and each shard made its thumbnails."""
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-batch-concurrency")
    openai_server.faults.latency = 0.15
    Workbench(root).wallet.topup(200)
    subjects = ", ".join(f"'a mug, take {i}'" for i in range(16))
    path = experiment(tmp_path, f"name: busy\nspec: {{quality: low}}\ngrid:\n  subject: [{subjects}]\n")
    code, out, err = cli(
        "--base-url", openai_server.base_url, "batch", "run", str(path), "--backend", "openai",
        "--workers", "2", "--concurrency", "3", "--no-progress",
    )  # fmt: skip
    assert code == 0, out + err
    assert openai_server.counts["/v1/images/generations"] == 16
    assert openai_server.max_inflight == 3
    runs = Workbench(root).runs()
    assert set(runs["shard"]) == {0, 1} and set(runs["status"]) == {"ok"}
    assert len(list((root / "thumbs").rglob("*.webp"))) == 16  # made in the shards, read by the report
    code, out, _ = cli("batch", "run", str(path), "--concurrency", "0")
    assert code == 1 and "--concurrency must be 1 or more, not 0." in out + _


@pytest.mark.slow
def test_a_service_batch_that_fits_in_flight_runs_in_one_kernel(
    root, tmp_path, cli, openai_server, monkeypatch
):
    """--concurrency 8 covers all 6 requests: they are in flight at once from one kernel (a second
    would only add its start); with --concurrency 3 the same batch takes both shards."""
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-batch-one-wave")
    openai_server.faults.latency = 0.6
    Workbench(root).wallet.topup(100)
    subjects = ", ".join(f"'a vase, take {i}'" for i in range(6))
    path = experiment(tmp_path, f"name: wave\nspec: {{quality: low}}\ngrid:\n  subject: [{subjects}]\n")
    for concurrency, shards in (("8", {0}), ("3", {0, 1})):
        code, out, err = cli(
            "--base-url", openai_server.base_url, "batch", "run", str(path), "--backend", "openai",
            "--workers", "2", "--concurrency", concurrency, "--no-progress",
            "--batch-id", f"wave-{concurrency}",
        )  # fmt: skip
        assert code == 0, out + err
        runs = Workbench(root).runs(batch_id=f"wave-{concurrency}")
        assert len(runs) == 6 and set(runs["shard"]) == shards
    assert openai_server.max_inflight == 6  # the first batch: all six at once


def test_a_new_kernel_client_is_ready_with_a_live_iopub_and_sees_every_output(tmp_path):
    """The batch's kernel clients skip jupyter_client's fixed 0.2 s waits in wait_for_ready, but
    keep its proof: once ready, the client's IOPub subscription is live, so the first output of
    the first cell is not lost (nbclient writes it into the shard's notebook)."""
    import asyncio

    from workbench.batch.runner import _boot_kernel, _kernel_manager_class, _stop_kernel

    manager = _kernel_manager_class(cwd=tmp_path)
    km, booted = _boot_kernel(manager, str(tmp_path), 60.0)
    booted.stop_channels()

    async def outputs_of_new_clients() -> list[str]:
        seen = []
        for i in range(5):
            client = km.client()
            client.start_channels()
            try:
                await client.wait_for_ready(timeout=30)
                msg_id = client.execute(f"print('hello {i}')")
                text = ""
                while True:
                    msg = await client.get_iopub_msg(timeout=30)
                    if msg["parent_header"].get("msg_id") != msg_id:
                        continue  # (a kernel_info request's status)
                    if msg["msg_type"] == "stream":
                        text += msg["content"]["text"]
                    if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                        break
                reply = await client.get_shell_msg(timeout=30)
                while reply["parent_header"].get("msg_id") != msg_id:
                    reply = await client.get_shell_msg(timeout=30)
                assert reply["content"]["status"] == "ok"
                seen.append(text)
            finally:
                client.stop_channels()
        return seen

    try:
        assert type(km.client()).__name__ == "ReadyAsyncKernelClient"
        assert asyncio.run(outputs_of_new_clients()) == [f"hello {i}\n" for i in range(5)]
    finally:
        _stop_kernel(km)


def test_a_kernel_client_is_not_ready_until_iopub_has_answered():
    """_wait_for_ready asks for kernel_info again (every 20 ms) until a message comes on IOPub
    after a reply on shell: a client whose subscription is not live yet would lose the first
    cell's output. A client made of queues stands in for the kernel."""
    import asyncio
    from queue import Empty

    from workbench.batch.runner import _wait_for_ready

    class Channel:
        def __init__(self, answers):
            self.answers = answers  # what each get_msg gives: a message, or None for nothing yet

        async def get_msg(self, timeout=None):
            if not self.answers or self.answers[0] is None:
                if self.answers:
                    self.answers.pop(0)
                raise Empty
            return self.answers.pop(0)

    class Client:
        asked = 0
        handled = None

        def __init__(self):
            reply = {"msg_type": "kernel_info_reply", "content": {"protocol_version": "5.3"}}
            self.shell_channel = Channel([dict(reply) for _ in range(10)])
            # IOPub silent for the first three replies, then a status, then two queued ones.
            status = {"msg_type": "status"}
            self.iopub_channel = Channel([None, None, None, status, status, status])

        def kernel_info(self):
            self.asked += 1

        async def is_alive(self):
            return True

        def _handle_kernel_info_reply(self, msg):
            self.handled = msg

    client = Client()
    asyncio.run(_wait_for_ready(client, timeout=5))
    assert client.asked == 4 and client.handled["msg_type"] == "kernel_info_reply"
    assert client.iopub_channel.answers == []  # what was queued on IOPub is dropped

    class Dead(Client):
        async def is_alive(self):
            return False

    with pytest.raises(RuntimeError, match="Kernel died"):
        asyncio.run(_wait_for_ready(Dead(), timeout=5))
