"""A real browser: JupyterLab on 127.0.0.1, headless Debian Chromium driven by Playwright.

The quickstart runs top to bottom and Generate is clicked; a notebook of the widgets' own checks the
panel (new sample, an unaffordable run, upload and edit), the gallery (a run from a code cell shows
by itself, compare at 512 px, filters, the full-size view inside JupyterLab and Escape), batch
reports open as a person would open them, and the mask painter paints on a light image.

Screenshots go under each test's own tmp folder (``screens/``); set ``WORKBENCH_SCREENS`` to a
folder to keep a copy of them for a person to look at.
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

import nbformat
import pytest
from _skips import require
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
KEEP_SCREENS = os.environ.get("WORKBENCH_SCREENS")
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


def _screenshot(locator, folder: Path, name: str, **options) -> Path:
    """Screenshot a page or an element into the test's folder (and WORKBENCH_SCREENS, if set)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page = getattr(locator, "page", None)
    if page is not None and not options:
        # An element taller or wider than the window: grow the window for the shot, so the
        # picture is the element as laid out, not a stitched scroll.
        before = page.viewport_size
        box = locator.bounding_box()
        width = max(
            before["width"],
            min(
                int(
                    locator.evaluate(
                        "e => Math.max(e.scrollWidth, "
                        "...[...e.querySelectorAll('*')].map(c => c.scrollWidth))"
                    )
                )
                + 400,
                2600,
            ),
        )
        height = max(before["height"], min(int(box["height"]) + 300, 4000))
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)
        locator.scroll_into_view_if_needed()
        locator.screenshot(path=str(path))
        page.set_viewport_size(before)
    else:
        locator.screenshot(path=str(path), **options)
    if KEEP_SCREENS:
        Path(KEEP_SCREENS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(KEEP_SCREENS) / name)
    return path


def _chromium(playwright):
    require(Path(CHROMIUM).is_file(), f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def _playwright():
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        require(False, "Playwright for Python is not installed (pip install playwright)")
    return expect, sync_playwright


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
    # Every cell stays in the page (no windowing), so widgets below the fold keep their views.
    tracker = tmp_path / "lab-settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}')
    for notebook in WIDGET_NOTEBOOKS:
        nbformat.write(notebook(), lab_root / f"{notebook.__name__}.ipynb")
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


def test_quickstart_in_a_real_browser(jupyterlab, root: Path, tmp_path: Path):
    expect, sync_playwright = _playwright()
    base, _lab_root, log = jupyterlab
    screens = tmp_path / "screens"

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

            shot = _screenshot(panel, screens, "browser-quickstart.png")
            assert shot.stat().st_size > 10_000

            # The gallery shows the new run by itself; select two to compare, open one full size.
            gallery = page.locator(".wb-gallery")
            gallery.scroll_into_view_if_needed()
            cards = gallery.locator(".wb-card")
            expect(cards).to_have_count(len(after), timeout=5_000)
            expect(cards.first.locator("img")).to_be_visible(timeout=20_000)
            cards.nth(0).click()
            cards.nth(1).click()
            expect(gallery.locator(".wb-compare-col")).to_have_count(2, timeout=10_000)
            expect(gallery.locator(".wb-compare")).to_contain_text(new_id[:8])
            page.wait_for_function(
                "() => [...document.querySelectorAll('.wb-compare-img')].every(i => i.naturalWidth >= 512)",
                timeout=20_000,
            )
            _screenshot(gallery, screens, "browser-gallery.png")
            gallery.locator(".wb-open").first.click()
            full = gallery.locator(".wb-viewer img")
            expect(full).to_be_visible(timeout=20_000)
            assert full.evaluate("img => img.naturalWidth") == 1024  # the full image, not a thumbnail
            # The static copies beside the live widgets are hidden while the widgets show.
            assert page.locator(".wb-static-panel").first.is_hidden()
            assert page.locator(".wb-static-gallery").first.is_hidden()
        except BaseException:
            try:
                _screenshot(page, screens, "browser-quickstart-failure.png", full_page=True)
            except Exception:  # noqa: BLE001
                pass
            print(log.read_text()[-3000:])
            raise
        finally:
            browser.close()


# -- the widgets in JupyterLab ------------------------------------------------------------------
PRICED_DRAFT = 'credits:\n  draft:\n    "*": {low: 0, medium: 0, high: 50}\n'


def widgets_check() -> nbformat.NotebookNode:
    """A notebook of the widgets: a panel, one the wallet cannot pay for, a gallery of a small batch,
    and a cell that makes a run some seconds after the gallery shows."""
    cells = [
        "from workbench import Workbench\n\nwb = Workbench()\nprint(wb.wallet.balance)",
        'panel = wb.panel(preset="marketing-poster")\npanel',
        'poor = wb.panel(subject="a ceramic mug on a walnut table", quality="high")\npoor',
        'for colour in ("red", "blue", "green"):\n'
        '    wb.generate(f"a {colour} ceramic mug on a walnut table", batch_id="mugs")\n'
        'wb.generate("a yellow ceramic mug on a walnut table")',
        "gallery = wb.gallery()\ngallery",
        'import time\n\ntime.sleep(10)\nlate = wb.generate("a teapot made in a code cell")',
    ]
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    return notebook


WIDGET_NOTEBOOKS = [widgets_check]


def _wait_for_rows(root: Path, count: int, timeout: float = 60) -> list[tuple[str, str, str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _runs(root)
        if len(rows) >= count:
            return rows
        time.sleep(0.05)
    pytest.fail(f"the run log did not reach {count} runs within {timeout:.0f} s: {len(_runs(root))}")


def test_panel_and_gallery_in_jupyterlab(jupyterlab, root: Path, tmp_path: Path):
    expect, sync_playwright = _playwright()
    base, _lab_root, log = jupyterlab
    screens = tmp_path / "screens"
    root.mkdir(parents=True, exist_ok=True)
    (root / "prices.yaml").write_text(PRICED_DRAFT)  # high costs 50: more than the 10 welcome credits
    upload = tmp_path / "room.png"
    Image.new("RGB", (640, 480), (150, 160, 175)).save(upload)

    with sync_playwright() as playwright:
        browser = _chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(f"{base}/lab/tree/widgets_check.ipynb", wait_until="domcontentloaded", timeout=60_000)
            expect(page.locator(".jp-NotebookPanel")).to_be_visible(timeout=60_000)
            status = page.locator("#jp-main-statusbar")
            expect(status).to_contain_text("| Idle", timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

            gallery = page.locator(".wb-gallery")
            cards = gallery.locator(".wb-card")
            expect(cards).to_have_count(4, timeout=60_000)

            # A run made in a code cell (the last cell, seconds later) shows without Refresh.
            _wait_for_rows(root, 5)
            started = time.monotonic()
            expect(cards).to_have_count(5, timeout=2_000)
            appeared = time.monotonic() - started
            assert appeared < 2.0
            expect(status).to_contain_text("| Idle", timeout=60_000)

            panels = page.locator(".workbench-panel")
            expect(panels).to_have_count(2, timeout=10_000)
            panel, poor = panels.nth(0), panels.nth(1)

            # Generate is off, with the reason, when the wallet cannot pay.
            poor_button = poor.locator("button", has_text=re.compile(r"^\s*Generate$"))
            expect(poor_button).to_be_disabled()
            expect(poor.locator(".workbench-reason")).to_contain_text("Not enough credits")
            expect(poor.locator(".workbench-reason")).to_contain_text("wb.wallet.topup(40)")
            _screenshot(poor, screens, "browser-panel-unaffordable.png")

            # Generate, then New sample: a different image and a new row.
            panel.scroll_into_view_if_needed()
            panel.locator("button", has_text=re.compile(r"^\s*Generate$")).click()
            image = panel.locator(".workbench-run img")
            expect(image).to_be_visible(timeout=60_000)
            first_src = image.get_attribute("src")
            _wait_for_rows(root, 6)
            panel.locator("button", has_text="New sample").click()
            _wait_for_rows(root, 7)
            expect(panel.locator(".workbench-done")).to_contain_text("ok", timeout=60_000)
            page.wait_for_function(
                "src => { const i = document.querySelector('.workbench-panel .workbench-run img'); "
                "return Boolean(i) && i.src !== src; }",
                arg=first_src,
                timeout=30_000,
            )
            with sqlite3.connect(root / "ledger.sqlite") as db:
                last_two = db.execute(
                    "SELECT status, variant, images FROM runs ORDER BY rowid DESC LIMIT 2"
                ).fetchall()
            assert [r[:2] for r in last_two] == [("ok", 1), ("ok", 0)] and last_two[0][2] != last_two[1][2]

            # Upload a PNG and ask for warmer light: the route and price first, then a local edit.
            editor = panel.locator(".workbench-editor")
            with page.expect_file_chooser() as chooser:
                editor.locator("button", has_text="Upload image").click()
            chooser.value.set_files(str(upload))
            expect(editor).to_contain_text("room.png is ready", timeout=20_000)
            editor.locator("input[type=text]").fill("make the lighting warmer")
            route = editor.locator(".workbench-edit-route")
            expect(route).to_contain_text(
                "Route: runs locally on the draft backend · 0 credits", timeout=20_000
            )
            before_edit = len(_runs(root))
            editor.locator("button", has_text="Edit image").click()
            expect(editor.locator(".workbench-run img")).to_be_visible(timeout=60_000)
            _wait_for_rows(root, before_edit + 1)
            with sqlite3.connect(root / "ledger.sqlite") as db:
                kind, backend, credits = db.execute(
                    "SELECT kind, backend, credits FROM runs ORDER BY rowid DESC LIMIT 1"
                ).fetchone()
            assert (kind, backend, credits) == ("edit", "draft", 0)
            _screenshot(panel, screens, "browser-panel.png")

            # Compare three runs at 512 px, side by side; then a filter drops the hidden one.
            gallery.scroll_into_view_if_needed()
            for colour in ("yellow", "green", "blue"):
                gallery.locator(f'.wb-card[title*="a {colour} ceramic mug"]').click()
            compared = gallery.locator(".wb-compare-img")
            expect(compared).to_have_count(3, timeout=20_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('.wb-compare-img')].every(i => i.naturalWidth >= 512)",
                timeout=20_000,
            )
            widths = compared.evaluate_all("imgs => imgs.map(i => i.getBoundingClientRect().width)")
            assert all(w >= 512 for w in widths), widths
            tops = compared.evaluate_all("imgs => imgs.map(i => Math.round(i.getBoundingClientRect().top))")
            assert len(set(tops)) == 1, tops  # side by side, on one row
            gallery.locator(".wb-compare").scroll_into_view_if_needed()
            _screenshot(gallery.locator(".wb-compare"), screens, "browser-gallery-compare.png")
            gallery.locator('select[data-filter="batch_id"]').select_option("mugs")
            expect(compared).to_have_count(2, timeout=10_000)
            expect(gallery.locator(".wb-compare-title")).to_contain_text("Comparing 2 runs")
            assert "yellow" not in gallery.locator(".wb-compare").inner_text()

            # Full size inside the widget, below JupyterLab's toolbar; Escape closes it.
            gallery.locator(".wb-card .wb-open").first.click()
            viewer = gallery.locator(".wb-viewer")
            expect(viewer.locator("img")).to_be_visible(timeout=20_000)
            page.wait_for_timeout(300)
            bar = viewer.locator(".wb-viewer-bar").bounding_box()
            toolbar = page.locator(".jp-NotebookPanel-toolbar").bounding_box()
            assert bar["y"] >= toolbar["y"] + toolbar["height"] - 1, (bar, toolbar)
            assert viewer.locator("img").evaluate("img => img.naturalWidth") == 1024
            _screenshot(page, screens, "browser-fullsize.png")
            page.keyboard.press("Escape")
            expect(viewer).to_have_count(0, timeout=5_000)
            expect(gallery.locator(".wb-grid")).to_be_visible()
        except BaseException:
            try:
                _screenshot(page, screens, "browser-widgets-failure.png", full_page=True)
            except Exception:  # noqa: BLE001
                pass
            print(log.read_text()[-3000:])
            raise
        finally:
            browser.close()


# -- batch reports, opened as a file --------------------------------------------------------------
def test_a_3x4_draft_batch_report_in_a_browser(wb, tmp_path: Path):
    from test_report import draft_grid_report

    expect, sync_playwright = _playwright()
    report = draft_grid_report(wb, tmp_path)
    with sync_playwright() as playwright:
        browser = _chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(report.as_uri())
            expect(page.locator("table.ranking")).to_have_count(2)
            expect(page.locator("table.ranking").first).to_contain_text("images ok")
            expect(page.locator("table.ranking tr.best")).to_have_count(2)
            charts = page.locator("figure.chart svg")
            assert charts.count() >= 2
            assert all(
                box["width"] > 300
                for box in charts.evaluate_all("svgs => svgs.map(s => s.getBoundingClientRect().toJSON())")
            )
            service = page.locator("#service-price")
            expect(service).to_be_visible()
            expect(service).to_contain_text("On the service this batch would cost")
            expect(service).to_contain_text("gpt-image-2")
            thumb = page.locator("a.thumb").first
            href = thumb.get_attribute("href")
            assert (report.parent / href).is_file()
            _screenshot(page, tmp_path / "screens", "browser-report-draft.png", full_page=True)
        finally:
            browser.close()


def test_a_service_batch_report_shows_estimate_beside_actual(
    root, tmp_path: Path, openai_server, monkeypatch
):
    from test_report import service_report

    from workbench import Workbench

    expect, sync_playwright = _playwright()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-browser-report")
    wb = Workbench(root, backend_options={"openai": {"base_url": openai_server.base_url}})
    report = service_report(wb, tmp_path)
    wb.close()
    with sync_playwright() as playwright:
        browser = _chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(report.as_uri())
            ranking = page.locator("table.ranking")
            expect(ranking).to_have_count(1)
            headers = ranking.locator("th").all_inner_texts()
            at = headers.index("estimate (credits · $)")
            assert headers[at + 1] == "actual (credits · $)"  # side by side
            first = ranking.locator("tr").nth(1).locator("td").all_inner_texts()
            # A low image's credits and dollars, estimated and actual (0.59 credits, not 1).
            assert re.fullmatch(r"0\.59 · \$0\.\d{4}", first[at]) and re.fullmatch(
                r"0\.59 · \$0\.\d{4}", first[at + 1]
            )
            expect(page.locator("#service-price")).to_have_count(0)
            expect(page.locator("figure.chart svg")).to_have_count(2)
            _screenshot(page, tmp_path / "screens", "browser-report-service.png", full_page=True)
        finally:
            browser.close()


# -- the mask painter -----------------------------------------------------------------------------
def test_mask_painter_on_a_light_image(wb, tmp_path: Path):
    """Brush, rectangle and polygon on a near-white image: the paint is visible (tint and outline),
    a double-click closes the polygon with no repeated point, the eraser cuts the rectangle, and
    Undo steps back."""
    import json

    from workbench.imaging.masks import edited_area
    from workbench.widgets.mask_painter import HERE

    expect, sync_playwright = _playwright()
    light = tmp_path / "light.png"
    Image.new("RGB", (800, 600), (248, 248, 244)).save(light)
    painter = wb.mask_painter(light, display_size=800, brush=40)
    script = (
        (HERE / "mask_painter.js")
        .read_text()
        .replace("export default { render };", "window.painter = { render };")
    )
    state = {
        k: getattr(painter, k)
        for k in ("preview", "width", "height", "mode", "brush", "regions", "painted", "erased")
    }
    harness = """
      window.state = STATE; const handlers = {};
      window.model = { get: (k) => window.state[k], save_changes: () => {}, send: () => {},
        set: (k, v) => { window.state[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
        on: (e, f) => { (handlers[e] = handlers[e] || []).push(f); }, off: () => {} };
      const el = document.createElement("div"); el.style.width = "800px"; document.body.append(el);
      window.painter.render({ model: window.model, el });
    """.replace("STATE", json.dumps(state))
    with sync_playwright() as playwright:
        browser = _chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 760})
            page.set_content("<!doctype html><body style='margin:0'></body>")
            page.add_script_tag(content=script)
            page.add_script_tag(content=harness)
            page.wait_for_function(
                "document.querySelector('img').complete && document.querySelector('img').clientWidth > 0"
            )
            box = page.locator("canvas").bounding_box()
            at = lambda fx, fy: (box["x"] + fx * box["width"], box["y"] + fy * box["height"])  # noqa: E731
            button = lambda name: page.get_by_role("button", name=name, exact=True)  # noqa: E731

            button("Brush").click()
            page.mouse.move(*at(0.1, 0.8))
            page.mouse.down()
            page.mouse.move(*at(0.4, 0.8), steps=8)
            page.mouse.up()
            pixel = page.evaluate(
                "([x, y]) => Array.from(document.querySelector('canvas').getContext('2d')"
                ".getImageData(x, y, 1, 1).data)",
                [int(0.25 * box["width"]), int(0.8 * box["height"])],
            )
            assert pixel[3] > 80 and pixel[0] > pixel[1] + 60  # a red tint over the light image
            edge = page.evaluate(
                "([x, y]) => Array.from(document.querySelector('canvas').getContext('2d')"
                ".getImageData(x, y, 1, 6).data)",
                [int(0.25 * box["width"]), int(0.8 * box["height"] - 20 * box["height"] / 600) - 3],
            )
            assert any(
                edge[i + 3] > 150 and max(edge[i : i + 3]) < 90 for i in range(0, len(edge), 4)
            )  # dark outline

            button("Rectangle").click()
            page.mouse.move(*at(0.55, 0.1))
            page.mouse.down()
            page.mouse.move(*at(0.9, 0.4), steps=6)
            page.mouse.up()

            button("Polygon").click()
            page.mouse.click(*at(0.1, 0.1))
            page.mouse.click(*at(0.4, 0.1))
            page.mouse.dblclick(*at(0.25, 0.45))
            regions = page.evaluate("window.state.regions")
            assert len(regions) == 2 and len(regions[1]["points"]) == 3, regions  # no triple last point

            button("Erase").click()
            page.mouse.move(*at(0.5, 0.25))
            page.mouse.down()
            page.mouse.move(*at(0.95, 0.25), steps=10)
            page.mouse.up()
            erased_once = page.evaluate("window.state.erased")
            page.mouse.move(*at(0.72, 0.35))  # the brush ring shows where the pointer is
            _screenshot(page, tmp_path / "screens", "browser-mask-painter.png")
            synced = page.evaluate(
                "({regions: window.state.regions, painted: window.state.painted, "
                "erased: window.state.erased})"
            )

            button("Undo").click()
            after_undo = page.evaluate("window.state.erased")
            status = page.locator(".wb-mask-status").inner_text()
        finally:
            browser.close()
    assert "800×600 px · 2 shapes" in status
    painter.regions, painter.painted, painter.erased = synced["regions"], synced["painted"], synced["erased"]
    edited = edited_area(painter.mask_png())
    assert edited[480, 200] and edited[100, 200]  # the stroke and the polygon
    assert edited[100, 600] and not edited[150, 600]  # the rectangle, with the eraser's strip cut out
    assert erased_once and after_undo != erased_once  # Undo took the erase back
