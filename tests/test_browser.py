"""A real browser: JupyterLab on 127.0.0.1, headless Debian Chromium driven by Playwright, the
quickstart run top to bottom, Generate clicked, the image seen on the page and the run in the log.

The screenshot goes to the project's ``outputs/browser-quickstart.png`` (git-ignored) so a person
can look at what the test saw.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from _skips import require

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
SCREENSHOT = ROOT / "outputs" / "browser-quickstart.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_server(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer at {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _runs(root: Path) -> list[tuple[str, str, str]]:
    path = root / "ledger.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, status, spec FROM runs ORDER BY rowid").fetchall()


@pytest.fixture
def jupyterlab(tmp_path: Path, root: Path):
    """JupyterLab serving a folder of the test's own, with the quickstart notebook in it."""
    lab_root = tmp_path / "lab"
    lab_root.mkdir()
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", lab_root / "quickstart.ipynb")
    port = _free_port()
    env = dict(os.environ)
    env.update(
        {
            "WORKBENCH_HOME": str(root),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
            "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
            "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
            "MPLBACKEND": "Agg",
        }
    )
    # No "get Jupyter news?" toast over the panel in the screenshot.
    news = (
        tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false", "checkForUpdates": false}')
    log = tmp_path / "jupyterlab.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--allow-root",
                "--no-browser",
                "--ip",
                "127.0.0.1",
                "--port",
                str(port),
                "--ServerApp.port_retries=0",
                "--ServerApp.token=",
                "--ServerApp.password=",
                f"--ServerApp.root_dir={lab_root}",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            cwd=lab_root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status", process, log)
        yield f"http://127.0.0.1:{port}", lab_root, log
    finally:
        process.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_quickstart_in_a_real_browser(jupyterlab, root: Path):
    require(Path(CHROMIUM).is_file(), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        require(False, "Playwright for Python is not installed (pip install playwright)")
    base, _lab_root, log = jupyterlab

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(f"{base}/lab/tree/quickstart.ipynb", wait_until="domcontentloaded", timeout=60_000)
            notebook = page.locator(".jp-NotebookPanel")
            expect(notebook).to_be_visible(timeout=60_000)
            status = page.locator("#jp-main-statusbar")
            # "Run All" while the kernel is still starting does nothing: wait for it to be idle.
            expect(status).to_contain_text("| Idle", timeout=60_000)

            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

            panel = page.locator(".workbench-panel")
            expect(panel).to_be_visible(timeout=60_000)
            # The last cells (the gallery, the run table) have run: the kernel is idle again.
            expect(page.locator(".wb-gallery")).to_be_visible(timeout=60_000)
            expect(page.locator(".jp-OutputArea-output table.dataframe")).to_be_visible(timeout=60_000)
            expect(status).to_contain_text("| Idle", timeout=60_000)
            before = _runs(root)
            assert before and all(status == "ok" for _, status, _ in before), before

            button = panel.locator("button", has_text="Generate")
            expect(button).to_be_enabled(timeout=10_000)
            panel.scroll_into_view_if_needed()
            button.click()
            image = panel.locator(".workbench-run img")
            expect(image).to_be_visible(timeout=60_000)
            expect(panel.locator(".workbench-done")).to_contain_text("ok")
            assert image.evaluate("img => img.naturalWidth > 0 && img.complete")
            assert panel.locator(".workbench-error").count() == 0

            after = _runs(root)
            assert len(after) == len(before) + 1, (before, after)
            new_id, new_status, new_spec = after[-1]
            assert new_status == "ok"
            assert '"preset": "marketing-poster"' in new_spec
            assert new_id[:8] in panel.inner_text()

            SCREENSHOT.parent.mkdir(exist_ok=True)
            panel.screenshot(path=str(SCREENSHOT))
            assert SCREENSHOT.stat().st_size > 10_000

            # The gallery: refresh to see the new run, select two to compare, open one full size.
            gallery = page.locator(".wb-gallery")
            gallery.scroll_into_view_if_needed()
            gallery.locator(".wb-refresh").click()
            cards = gallery.locator(".wb-card")
            expect(cards).to_have_count(len(after), timeout=20_000)
            expect(cards.first.locator("img")).to_be_visible(timeout=20_000)
            cards.nth(0).click()
            cards.nth(1).click()
            expect(gallery.locator(".wb-compare-col")).to_have_count(2, timeout=10_000)
            expect(gallery.locator(".wb-compare")).to_contain_text(new_id[:8])
            gallery.screenshot(path=str(SCREENSHOT.with_name("browser-gallery.png")))
            gallery.locator(".wb-open").first.click()
            full = page.locator(".wb-overlay img")
            expect(full).to_be_visible(timeout=20_000)
            assert full.evaluate("img => img.naturalWidth") == 1024  # the full image, not a thumbnail
        except BaseException:
            try:
                page.screenshot(path=str(root / "browser-failure.png"), full_page=True)
            except Exception:  # noqa: BLE001
                pass
            print(log.read_text()[-3000:])
            raise
        finally:
            browser.close()
