"""Batch reports that answer which factor value works best and what it costs.

``write_report`` writes, into the batch's folder:

- ``report.html`` (a jinja2 template, ``workbench/data/templates/report.html.j2``): per axis of
  the experiment, its values ranked — images ok, mean text accuracy when the texts were checked
  with OCR, credits and dollars per image and per passing image, the estimate beside the actual,
  latency — with two bar charts (score and cost per value, inline SVG); a note of every
  missing, failed, blocked or budget-stopped job; for a draft batch, what the same batch would
  cost on the service per model and quality; the contact sheets; every job with a thumbnail that
  opens its full image.
- ``ranking.csv`` (one row per axis value) and ``jobs.csv`` (one row per job): the same data.
- ``contact-sheet*.jpg``: the first axis down the rows, the second across; a third axis and beyond
  make one sheet per value (``contact-sheet-<value>.jpg``). A one-axis experiment is laid out in
  rows of six, each thumbnail captioned. A sheet never grows past ``MAX_SHEET_ROWS`` rows or
  ``MAX_SHEET_COLUMNS`` columns of thumbnails (JPEG stops at 65,500 px): larger ones are split into
  pages, ``contact-sheet-p2.jpg`` and so on.
- ``images/``: the batch's images named by job (hard links into the store).
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import math
import os
import re
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageFont

from workbench.batch.folders import batch_folder, best_per_job
from workbench.credits import credits_value, format_credits
from workbench.errors import InputImageError, WorkbenchError
from workbench.store import Store

if TYPE_CHECKING:
    import pandas as pd

    from workbench.core import Workbench

__all__ = ["Report", "batch_frame", "contact_sheets", "ranking", "service_prices", "write_report"]

THUMB = 256
MAX_CHART_BARS = 30  # bars in a chart: the best values of an axis with more
MAX_SHEET_ROWS = 40
MAX_SHEET_COLUMNS = 40
# Up to this many jobs the report carries its thumbnails as data URIs (one self-contained file);
# beyond, they are small files in ``thumbs/`` beside it, so the page stays a few MB.
INLINE_THUMBS = 400
# An axis with more values than this lists its best and worst in the page (all in ranking.csv);
# its charts show the best CHART_VALUES.
TABLE_VALUES = 50
CHART_VALUES = 25
# A checked image passes when at least this share of its exact texts reads back.
PASSING_TEXT = 0.98
_PAD = 8
_LABEL_W = 180
_HEADER_H = 44
_TITLE_H = 40
_WRAP = 6
_STATUS_COLOURS = {"failed": (190, 40, 40), "blocked": (200, 120, 0), "missing": (120, 120, 120)}
_DONE = ("ok", "cached")
_QUALITIES = ("low", "medium", "high")


@dataclass
class Report:
    contact_sheets: list[Path]
    html: Path
    frame: pd.DataFrame
    ranking_csv: Path | None = None
    jobs_csv: Path | None = None
    conclusions: list[dict[str, Any]] | None = None  # per axis and check: ranked values, the sentence


# -- the data ---------------------------------------------------------------------------------
def batch_frame(wb: Workbench, batch_id: str) -> pd.DataFrame:
    """One row per job of a batch: its best run (ok/cached over failed), factors as columns.

    Jobs that never ran are rows with status ``missing``, with the price table's estimate.
    """
    import pandas as pd

    from workbench.ledger.scores import SCORE_FRAME_COLUMNS

    folder = batch_folder(wb, batch_id)
    jobs = json.loads((folder / "jobs.json").read_text(encoding="utf-8"))
    runs = wb.runs(batch_id=batch_id)
    best = best_per_job(
        (json.loads(r["params"] or "{}").get("job"), r["status"], r) for r in runs.to_dict("records")
    )
    rows = []
    for job in jobs:
        run = best.get(job["key"], {})
        spec = job.get("spec") or {}
        backend = _text(run.get("backend")) or job.get("backend") or "draft"
        model = _text(run.get("model")) or job.get("model")
        quality = _text(run.get("quality")) or spec.get("quality") or "medium"
        width, height = _size(run, spec, quality)
        n = int(run.get("n") or spec.get("n") or 1)
        prompt = _text(run.get("prompt")) or ""
        if run:
            estimated = (credits_value(run.get("credits_estimated")), float(run.get("usd_estimated") or 0.0))
        else:
            estimated = _estimate(wb, backend, model, quality, width, height, n, len(prompt) or 200)
        latency = run.get("latency_ms")
        rows.append(
            {
                "job": job["key"],
                "index": job["index"],
                **job["factors"],
                "coords": tuple(job["coords"]),
                "status": run.get("status", "missing"),
                "backend": backend,
                "model": model,
                "quality": quality,
                "size": f"{width}x{height}",
                "aspect_ratio": str(spec.get("aspect") or "1:1"),
                "n": n,
                "credits": credits_value(run.get("credits")),
                "usd": float(run.get("usd") or 0.0),
                "credits_estimated": estimated[0],
                "usd_estimated": estimated[1],
                "latency_ms": None if latency is None or pd.isna(latency) else float(latency),
                "shard": run.get("shard"),
                "prompt": prompt,
                "image": wb.store.path(run["images"][0]) if run.get("images") else None,  # fetched if shared
                "run_id": _text(run.get("id")),
                "error": _text(run.get("error")),
                "text_accuracy": _accuracy(run.get("text_accuracy")),
                "repeat": int(job.get("repeat") or 0),
                # One column per check the job's image was scored on (workbench.checks).
                **{name: _accuracy(run.get(name)) for name in SCORE_FRAME_COLUMNS},
            }
        )
    return pd.DataFrame(rows)


def _size(run: dict[str, Any], spec: dict[str, Any], quality: str) -> tuple[int, int]:
    width, height = run.get("width"), run.get("height")
    if width is not None and height is not None and not _missing(width) and not _missing(height):
        return int(width), int(height)
    from workbench.spec import size_for

    try:
        return size_for(spec.get("aspect") or "1:1", quality)
    except WorkbenchError:
        return 1024, 1024


def _missing(value: Any) -> bool:
    try:
        return bool(value != value) or value is None  # NaN / pandas NA
    except TypeError:
        return True


def _estimate(
    wb: Workbench, backend: str, model: str | None, quality: str, width: int, height: int, n: int, chars: int
) -> tuple[int, float]:
    """Credits and dollars the price table expects for one job (0 where it has no price)."""
    from workbench.backends.base import ImageRequest

    try:
        request = ImageRequest(prompt="x" * max(1, chars), width=width, height=height, quality=quality, n=n)
        estimate = wb.prices.estimate(backend, model, request)
    except WorkbenchError:
        return 0.0, 0.0
    return credits_value(estimate.credits), float(estimate.usd)


def _accuracy(value: Any) -> float:
    """A run's text accuracy, NaN when it was never checked (or the job never ran)."""
    return float("nan") if value is None or _missing(value) else float(value)


def _percent(accuracy: float) -> str:
    """``98 %``, rounded down so that 100 % means every character read back exactly."""
    return f"{math.floor(accuracy * 100 + 1e-9)} %"


def _text(value: Any) -> str | None:
    """Text from a frame cell: None for a missing value (pandas reads those as NaN)."""
    return value if isinstance(value, str) else None


def _passing(frame: pd.DataFrame) -> pd.Series:
    """Jobs whose image is made and, where its texts were checked, reads back (≥ 98 %), and
    which passes every other check it was scored on (``workbench.checks`` thresholds)."""
    from workbench.checks.judge import THRESHOLD as JUDGE
    from workbench.checks.offline import THRESHOLDS

    done = frame["status"].isin(_DONE)
    checked = frame["text_accuracy"].notna()
    passing = done & (~checked | (frame["text_accuracy"] >= PASSING_TEXT))
    for name, floor in {**THRESHOLDS, "judge": JUDGE}.items():
        if name != "text_accuracy" and name in frame:
            passing &= frame[name].isna() | (frame[name] >= floor - 1e-9)
    return passing


def ranking(frame: pd.DataFrame, axes: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per axis value, best first within each axis.

    Ranked by mean text accuracy when any job was checked, else by the share of images made;
    ties go to the lower dollars (then credits) per image.
    """
    import pandas as pd

    tables = []
    frame = frame.assign(
        _failed=frame["status"] == "failed",
        _blocked=frame["status"] == "blocked",
        _missing=frame["status"] == "missing",
    )
    frame = frame.assign(
        _done=frame["status"].isin(_DONE),
        _pass=_passing(frame),
        _images=frame["n"].where(frame["status"].isin(_DONE), 0),
    )
    has_text = bool(frame["text_accuracy"].notna().any())
    for position, axis in enumerate(axes):
        labels = frame["coords"].map(lambda c, p=position: c[p] if len(c) > p else "")
        grouped = frame.groupby(labels, sort=False)
        images = grouped["_images"].sum()
        passing_images = frame["n"].where(frame["_pass"], 0).groupby(labels, sort=False).sum()
        credits, usd = grouped["credits"].sum().round(2), grouped["usd"].sum()
        table = pd.DataFrame(
            {
                "axis": axis["name"],
                "value": images.index,
                "jobs": grouped.size().to_numpy(),
                "ok": grouped["_done"].sum().to_numpy(),
                "failed": grouped["_failed"].sum().astype(int).to_numpy(),
                "blocked": grouped["_blocked"].sum().astype(int).to_numpy(),
                "missing": grouped["_missing"].sum().astype(int).to_numpy(),
                "ok_share": (grouped["_done"].mean()).to_numpy(),
                "text_accuracy": grouped["text_accuracy"].mean().to_numpy(),
                "text_checked": grouped["text_accuracy"].count().to_numpy(),
                "passing": passing_images.to_numpy(),
                "credits": credits.to_numpy(),
                "credits_estimated": grouped["credits_estimated"].sum().round(2).to_numpy(),
                "usd": usd.to_numpy(),
                "usd_estimated": grouped["usd_estimated"].sum().to_numpy(),
                "credits_per_image": (credits / images.where(images > 0)).to_numpy(),
                "usd_per_image": (usd / images.where(images > 0)).to_numpy(),
                "credits_per_passing": (credits / passing_images.where(passing_images > 0)).to_numpy(),
                "usd_per_passing": (usd / passing_images.where(passing_images > 0)).to_numpy(),
                "latency_ms": grouped["latency_ms"].mean().to_numpy(),
            }
        )
        order = ["text_accuracy", "ok_share"] if has_text else ["ok_share"]
        table = table.sort_values(
            [*order, "usd_per_image", "credits_per_image"],
            ascending=[False] * len(order) + [True, True],
            na_position="last",
            kind="stable",
        )
        table.insert(2, "rank", range(1, len(table) + 1))
        tables.append(table)
    if not tables:
        return pd.DataFrame()
    return pd.concat(tables, ignore_index=True)


@lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    source = (
        resources.files("workbench").joinpath("data/templates/report.html.j2").read_text(encoding="utf-8")
    )
    # Compiled once per machine (jinja2's per-user cache in the temp folder, keyed by the
    # template's text): compiling it costs a new process ~0.25 s.
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (source, None, lambda: True)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
    )
    environment.filters["credits"] = format_credits  # 2, 0.59, 12.5
    return environment.get_template("report.html.j2")


def service_prices(wb: Workbench, frame: pd.DataFrame, backend: str = "openai") -> dict[str, Any] | None:
    """What the batch's jobs would cost on ``backend``, per model and quality, from the price table.

    Returns ``{"images", "qualities", "rows": [{"model", "cells": [{"credits", "usd"}]}]}`` or
    None when the table has no prices for that backend.
    """
    from workbench.spec import size_for as spec_size_for

    rates = wb.prices.data.get("usd_per_million_tokens", {}).get(backend) or {}
    models = [m for m in rates if m != "*"] or (["*"] if rates else [])
    if not models:
        return None
    # Jobs of one aspect, size and count cost the same but for their prompt length: price each
    # group once. The service's size is the model's for that quality and aspect, as `batch plan
    # --backend openai --quality q` works it out (high is 2048 px on gpt-image-2), not the draft's.
    aspects = frame["aspect_ratio"] if "aspect_ratio" in frame else ["1:1"] * len(frame)
    groups: dict[tuple[str, int, int, int], list[int]] = {}
    for aspect, size, n, prompt in zip(aspects, frame["size"], frame["n"], frame["prompt"], strict=True):
        width, height = (int(x) for x in str(size).split("x"))
        groups.setdefault((str(aspect), width, height, int(n)), []).append(len(prompt or "") or 200)
    rows = []
    for model in models:
        cells = []
        for quality in _QUALITIES:
            credits, usd = 0.0, 0.0
            for (aspect, width, height, n), lengths in groups.items():
                name = None if model == "*" else model
                try:  # the model's size for it, else the spec's (as a plan's request takes)
                    sized = wb.models.size_for(name, aspect, quality) or spec_size_for(aspect, quality)
                except WorkbenchError:
                    sized = None
                for chars, count in Counter(lengths).items():  # each prompt length priced once
                    per_credits, per_usd = _estimate(
                        wb, backend, name, quality, *(sized or (width, height)), n, chars
                    )
                    credits = credits_value(credits + per_credits * count)
                    usd += per_usd * count
            cells.append({"credits": credits, "usd": usd})
        rows.append({"model": model if model != "*" else backend, "cells": cells})
    return {"images": int(frame["n"].sum()), "qualities": list(_QUALITIES), "rows": rows}


# -- charts -----------------------------------------------------------------------------------
# Chart text falls back to Noto for CJK, Arabic and Devanagari factor values (no tofu boxes).
_SVG_FONTS = (
    "DejaVu Sans, Noto Sans, Noto Sans CJK SC, Noto Sans CJK JP, Noto Sans CJK KR, "
    "Noto Sans Arabic, Noto Sans Devanagari, Arial, sans-serif"
)


def _chart(values: list[str], numbers: list[float], *, title: str, xlabel: str, fmt: str, colour: str) -> str:
    """A small horizontal bar chart as inline SVG (one bar per axis value, best at the top): drawn
    as plain SVG text, so a report neither imports matplotlib (~1.5 s) nor lays out a figure."""
    from html import escape

    shown = [v if len(v) <= 28 else v[:27] + "…" for v in values]
    clean = [0.0 if (x is None or x != x) else float(x) for x in numbers]
    top = max(clean) if clean and max(clean) > 0 else 1.0
    span = top * 1.25
    step = _tick_step(span / 4)
    width, bar, pitch = 596, 16, 24
    left = max(48, 14 + max((len(v) for v in shown), default=1) * 7.4)  # room for the value names
    right = width - 16
    plot_top, plot_height = 36, pitch * len(values)
    height = plot_top + plot_height + 48
    scale = (right - left) / span
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{_SVG_FONTS}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="8" y="20" font-size="15">{escape(title)}</text>',
    ]
    tick = 0.0
    while tick <= span + 1e-9:
        x = left + tick * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{plot_top}" x2="{x:.1f}" y2="{plot_top + plot_height}" '
            'stroke="#e0e0e0"/>'
            f'<text x="{x:.1f}" y="{plot_top + plot_height + 15}" font-size="11" '
            f'text-anchor="middle">{_tick_label(tick, step)}</text>'
        )
        tick += step
    for index, (name, value, number) in enumerate(zip(shown, clean, numbers, strict=True)):
        y = plot_top + index * pitch + (pitch - bar) / 2
        label = "n/a" if number is None or number != number else fmt.format(number)
        parts.append(
            f'<text x="{left - 6:.1f}" y="{y + bar / 2 + 4:.1f}" font-size="12" '
            f'text-anchor="end">{escape(name)}</text>'
            f'<rect x="{left:.1f}" y="{y:.1f}" width="{value * scale:.1f}" height="{bar}" fill="{colour}"/>'
            f'<text x="{left + value * scale + 4:.1f}" y="{y + bar / 2 + 4:.1f}" '
            f'font-size="11">{escape(label)}</text>'
        )
    parts.append(
        f'<line x1="{left:.1f}" y1="{plot_top}" x2="{left:.1f}" y2="{plot_top + plot_height}" stroke="#333"/>'
        f'<line x1="{left:.1f}" y1="{plot_top + plot_height}" x2="{right}" y2="{plot_top + plot_height}" '
        'stroke="#333"/>'
        f'<text x="{(left + right) / 2:.1f}" y="{height - 8}" font-size="12" '
        f'text-anchor="middle">{escape(xlabel)}</text></svg>'
    )
    return "".join(parts)


def _tick_step(rough: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) at least ``rough``."""
    power = 10 ** math.floor(math.log10(rough))
    return next(power * k for k in (1, 2, 5, 10) if power * k >= rough * (1 - 1e-9))


def _tick_label(tick: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{tick:.{decimals}f}"


def _axis_charts(
    table: pd.DataFrame, axis: str, *, has_text: bool, draft: bool, service_usd: dict[str, float]
) -> list[str]:
    note = ""
    if len(table) > MAX_CHART_BARS:
        # The table is ranked best first; a chart of hundreds of bars is unreadable and costs
        # seconds to draw (4 s at 200 values), so it shows the best values, the table has them all.
        note = f" (best {MAX_CHART_BARS} of {len(table)})"
        table = table.head(MAX_CHART_BARS)
    values = [str(v) for v in table["value"]]
    if has_text:
        score = _chart(
            values,
            [x * 100 for x in table["text_accuracy"]],
            title=f"Text accuracy by {axis}{note}",
            xlabel="mean text accuracy (%)",
            fmt="{:.0f} %",
            colour="#2e7d32",
        )
    else:
        score = _chart(
            values,
            [x * 100 for x in table["ok_share"]],
            title=f"Images made by {axis}{note}",
            xlabel="jobs with an image (%)",
            fmt="{:.0f} %",
            colour="#2e7d32",
        )
    if draft:
        cost = _chart(
            values,
            [service_usd.get(v, float("nan")) for v in values],
            title=f"Service price per image by {axis}{note}",
            xlabel="estimated dollars per image on the service (medium)",
            fmt="${:.3f}",
            colour="#1565c0",
        )
    else:
        cost = _chart(
            values,
            list(table["usd_per_image"]),
            title=f"Cost per image by {axis}{note}",
            xlabel="dollars per image made",
            fmt="${:.4f}",
            colour="#1565c0",
        )
    return [score, cost]


# -- contact sheets ---------------------------------------------------------------------------
def _font(size: int, text: str = "Aa") -> ImageFont.ImageFont:
    """A font for ``text`` (a CJK or Arabic factor value gets a font with its glyphs, not boxes)."""
    try:
        from workbench.imaging.fonts import font_for

        return font_for(text or "Aa", size)
    except Exception:  # noqa: BLE001 - no installed font: Pillow's own still labels the sheet
        return ImageFont.load_default(size)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _thumb_bytes(path: Path | None) -> bytes | None:
    """The store's cached thumbnail of a stored image (made now if missing); None when it cannot
    be made (the sheet then shows the job's status in its cell, not a broken report)."""
    if path is None:
        return None
    path = Path(path).absolute()  # <root>/images/<xx>/<sha>.<ext> (a relative root too)
    try:
        return Store(path.parents[2]).thumbnail(path, THUMB)
    except (InputImageError, ValueError):  # (ValueError: a mode Pillow cannot write as WebP)
        return None


def _thumb(path: Path | None) -> Image.Image | None:
    """A ~256 px RGB thumbnail on white, from the store's thumbnail cache (an image is reduced
    once, for every report and gallery after); None when there is none to show."""
    from PIL import WebPImagePlugin  # noqa: F401 - registers the WebP reader alone

    data = _thumb_bytes(path)
    if data is None:
        return None
    # Only the WebP reader looks at it (it is the store's cached thumbnail): Image.open neither
    # tries other formats' readers first nor, with the plugin imported above, loads them all.
    try:
        with Image.open(io.BytesIO(data), formats=["WEBP"]) as image:
            image.load()
            if image.mode == "RGB":
                return image  # nothing transparent to put on white
            image = image.convert("RGBA")
    except OSError:  # a damaged cached thumbnail: shown as missing, not a failed report
        return None
    canvas = Image.new("RGB", image.size, "white")
    canvas.paste(image, mask=image.getchannel("A"))
    return canvas


def _prefetch(frame: pd.DataFrame) -> None:
    """Make every missing thumbnail at once, on every core (decoding releases the GIL)."""
    paths = [p for p, s in zip(frame["image"], frame["status"], strict=True) if p is not None and s in _DONE]
    if len(paths) > 4:
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            list(pool.map(_thumb_bytes, paths))


def _cell(
    draw: ImageDraw.ImageDraw,
    sheet: Image.Image,
    x: int,
    y: int,
    row: dict[str, Any] | None,
    font: ImageFont.ImageFont,
) -> None:
    draw.rectangle((x, y, x + THUMB - 1, y + THUMB - 1), fill=(238, 238, 238))
    status = row["status"] if row is not None else "missing"
    thumb = _thumb(row["image"]) if row is not None and status in _DONE else None
    if thumb is not None:
        sheet.paste(thumb, (x + (THUMB - thumb.width) // 2, y + (THUMB - thumb.height) // 2))
        return
    colour = _STATUS_COLOURS.get(status, (120, 120, 120))
    draw.text((x + THUMB // 2, y + THUMB // 2), status, fill=colour, font=font, anchor="mm")


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _page_name(base: str, page: int, pages: int) -> str:
    return f"{base}.jpg" if pages == 1 else f"{base}-p{page}.jpg" if page > 1 else f"{base}.jpg"


def contact_sheets(
    wb: Workbench, batch_id: str, frame: pd.DataFrame | None = None, *, folder: Path | None = None
) -> list[Path]:
    """Draw the batch's contact sheet(s) and return their paths (pages of at most
    ``MAX_SHEET_ROWS`` × ``MAX_SHEET_COLUMNS`` thumbnails)."""
    folder = folder or batch_folder(wb, batch_id)
    meta = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
    frame = batch_frame(wb, batch_id) if frame is None else frame
    axes = meta["axes"]
    by_coords = {tuple(c): r for c, r in zip(frame["coords"], frame.to_dict("records"), strict=True)}
    for old in folder.glob("contact-sheet*.jpg"):
        old.unlink()
    title = f"{meta['experiment']} — batch {batch_id}"
    if len(axes) <= 1:
        labels = axes[0]["labels"] if axes else [""]
        cells = [(by_coords.get((label,) if axes else ()), label) for label in labels]
        pages = _chunks(cells, _WRAP * MAX_SHEET_ROWS)
        axis = axes[0]["name"] if axes else ""
        jobs = [
            (
                folder / _page_name("contact-sheet", i, len(pages)),
                title + (f" (page {i} of {len(pages)})" if len(pages) > 1 else ""),
                page,
                axis,
            )
            for i, page in enumerate(pages, start=1)
        ]
        if len(jobs) == 1:
            return [_wrapped_sheet(*jobs[0])]
        # Pages are independent; decoding, pasting and encoding release the GIL: use the cores.
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            return list(pool.map(lambda job: _wrapped_sheet(*job), jobs))
    rows, columns = axes[0], axes[1]
    sheets = []
    extra = [a["labels"] for a in axes[2:]]
    row_pages = _chunks(list(rows["labels"]), MAX_SHEET_ROWS)
    column_pages = _chunks(list(columns["labels"]), MAX_SHEET_COLUMNS)
    n_pages = len(row_pages) * len(column_pages)
    for z in itertools.product(*extra) if extra else [()]:
        base = "contact-sheet" + ("-" + _slug("-".join(z)) if z else "")
        subtitle = "  ·  ".join(f"{a['name']}: {v}" for a, v in zip(axes[2:], z, strict=True))
        for page, (row_labels, column_labels) in enumerate(
            itertools.product(row_pages, column_pages), start=1
        ):
            grid = [[by_coords.get((r, c, *z)) for c in column_labels] for r in row_labels]
            heading = title + (f" — {subtitle}" if subtitle else "")
            heading += f" (page {page} of {n_pages})" if n_pages > 1 else ""
            sheets.append(
                _grid_sheet(
                    folder / _page_name(base, page, n_pages),
                    heading,
                    rows | {"labels": row_labels},
                    columns | {"labels": column_labels},
                    grid,
                )
            )
    return sheets


def _grid_sheet(
    path: Path,
    title: str,
    rows: dict[str, Any],
    columns: dict[str, Any],
    grid: list[list[dict[str, Any] | None]],
) -> Path:
    n_rows, n_cols = len(rows["labels"]), len(columns["labels"])
    width = _LABEL_W + n_cols * (THUMB + _PAD) + _PAD
    height = _TITLE_H + _HEADER_H + n_rows * (THUMB + _PAD) + _PAD
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    small = _font(15)
    draw.text(
        (_PAD, _TITLE_H // 2),
        _fit(draw, title, _font(18, title), width - 2 * _PAD),
        fill="black",
        font=_font(18, title),
        anchor="lm",
    )
    for line, corner in enumerate((f"columns: {columns['name']}", f"rows: {rows['name']}")):
        draw.text(
            (_PAD, _TITLE_H + 4 + line * (_HEADER_H // 2)),
            _fit(draw, corner, small, _LABEL_W - _PAD),
            fill=(90, 90, 90),
            font=small,
            anchor="lt",
        )
    for j, label in enumerate(columns["labels"]):
        x = _LABEL_W + j * (THUMB + _PAD)
        draw.text(
            (x + THUMB // 2, _TITLE_H + _HEADER_H // 2),
            _fit(draw, label, _font(15, label), THUMB - 4),
            fill="black",
            font=_font(15, label),
            anchor="mm",
        )
    for i, label in enumerate(rows["labels"]):
        y = _TITLE_H + _HEADER_H + i * (THUMB + _PAD)
        draw.text(
            (_PAD, y + THUMB // 2),
            _fit(draw, label, _font(15, label), _LABEL_W - 2 * _PAD),
            fill="black",
            font=_font(15, label),
            anchor="lm",
        )
        for j in range(n_cols):
            _cell(draw, sheet, _LABEL_W + j * (THUMB + _PAD), y, grid[i][j], small)
    sheet.save(path, "JPEG", quality=85, optimize=True)
    return path


def _wrapped_sheet(path: Path, title: str, cells: list[tuple[dict[str, Any] | None, str]], axis: str) -> Path:
    n_cols = min(_WRAP, max(1, len(cells)))
    n_rows = -(-len(cells) // n_cols)
    caption = 28
    width = max(n_cols * (THUMB + _PAD) + _PAD, 480)
    height = _TITLE_H + n_rows * (THUMB + caption + _PAD) + _PAD
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    small = _font(15)
    heading = title + (f" — {axis}" if axis else "")
    draw.text(
        (_PAD, _TITLE_H // 2),
        _fit(draw, heading, _font(18, heading), width - 2 * _PAD),
        fill="black",
        font=_font(18, heading),
        anchor="lm",
    )
    for index, (row, label) in enumerate(cells):
        x = _PAD + (index % n_cols) * (THUMB + _PAD)
        y = _TITLE_H + (index // n_cols) * (THUMB + caption + _PAD)
        _cell(draw, sheet, x, y, row, small)
        draw.text(
            (x + THUMB // 2, y + THUMB + caption // 2),
            _fit(draw, label, _font(15, label), THUMB - 4),
            fill="black",
            font=_font(15, label),
            anchor="mm",
        )
    sheet.save(path, "JPEG", quality=85, optimize=True)
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:60] or "x"


def _image_name(record: dict[str, Any]) -> str | None:
    source = record["image"]
    if source is None:
        return None
    return f"{record['index']:04d}-{_slug('-'.join(record['coords']))}{Path(source).suffix}"


def _link_images(folder: Path, records: list[dict[str, Any]]) -> None:
    """Name the batch's images by job in ``images/`` (hard links into the store, else copies)."""
    target = folder / "images"
    target.mkdir(exist_ok=True)
    for record in records:
        source, name = record["image"], _image_name(record)
        if name is None or not Path(source).is_file():
            continue
        link = target / name
        if link.exists():
            continue
        try:
            os.link(source, link)
        except OSError:
            import shutil

            shutil.copyfile(source, link)


def _cached_thumb(image: Path) -> Path | None:
    """The store's cached ``THUMB`` px thumbnail file of a stored image, when it has been made
    (``Store.thumbnail`` keeps them at ``<root>/thumbs/<size>/<name>.webp``)."""
    cached = image.parents[2] / "thumbs" / str(THUMB) / f"{image.stem}.webp"
    return cached if cached.is_file() else None


def _small_jpeg(path: Path | None, size: int = 128) -> bytes | None:
    thumb = _thumb(path)
    if thumb is None:
        return None
    image = thumb.copy()
    image.thumbnail((size, size), reducing_gap=1.0)  # 256 -> 128: a box average, no resampling
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def _data_uri(path: Path | None, size: int = 128) -> str:
    data = _small_jpeg(path, size)
    return "" if data is None else "data:image/jpeg;base64," + base64.b64encode(data).decode()


# -- the report -------------------------------------------------------------------------------
def write_report(wb: Workbench, batch_id: str) -> Report:
    """Write the contact sheet(s), ``images/``, ``report.html``, ``ranking.csv`` and ``jobs.csv``
    of a batch; return them.

    Example:
        >>> report = write_report(wb, result.batch_id)
        >>> report.html
        PosixPath('outputs/batches/product-lighting-…/report.html')
    """
    folder = batch_folder(wb, batch_id)
    meta = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
    return _write_report(wb, batch_id, folder, meta, batch_frame(wb, batch_id))


def _fmt(value: Any, pattern: str, empty: str = "—") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return empty
    return pattern.format(value)


def _credits_text(value: Any, empty: str = "—") -> str:
    """Credits as they read (2, 0.59, 12.5: two decimals, not one), or ``empty`` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return empty
    return format_credits(value)


def _notes(wb: Workbench, batch_id: str, frame: pd.DataFrame) -> list[str]:
    counts = frame["status"].value_counts()
    notes = []
    missing = int(counts.get("missing", 0))
    if missing:
        record = wb.batches.get(batch_id)
        options = json.loads(record["options"] or "{}") if record else {}
        cost = format_credits(frame.loc[frame["status"] == "missing", "credits_estimated"].sum())
        why = (
            f"the batch stopped at its budget of {format_credits(options['budget'])} credits"
            if options.get("budget") is not None
            else "the batch was stopped or interrupted before them"
        )
        notes.append(
            f"{missing} of {len(frame)} jobs never ran ({why}); they would cost about {cost} credits. "
            f"Finish them with: workbench batch run --resume {batch_id}"
        )
    failed = int(counts.get("failed", 0))
    if failed:
        errors = frame.loc[frame["status"] == "failed", "error"].dropna()
        common = f" — most often: {errors.value_counts().index[0]}" if len(errors) else ""
        notes.append(f"{failed} job{'s' if failed != 1 else ''} failed and made no image{common}.")
    blocked = int(counts.get("blocked", 0))
    if blocked:
        notes.append(f"{blocked} job{'s' if blocked != 1 else ''} blocked by the service's content policy.")
    if missing or failed or blocked:
        notes.append(
            "Per-image costs below divide by the images actually made, "
            "so jobs without an image never look free."
        )
    return notes


def _write_report(
    wb: Workbench, batch_id: str, folder: Path, meta: dict[str, Any], frame: pd.DataFrame
) -> Report:
    _prefetch(frame)
    # The contact sheets are drawn while the rest of the report is worked out: decoding, pasting,
    # drawing text and encoding the JPEG release the GIL, so the sheets take the other core (about
    # half of a 200-job batch's report, which the runner writes after its last job).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="contact-sheets") as pool:
        drawing = pool.submit(contact_sheets, wb, batch_id, frame, folder=folder)
        return _report_beside(wb, batch_id, folder, meta, frame, drawing)


def _report_beside(
    wb: Workbench,
    batch_id: str,
    folder: Path,
    meta: dict[str, Any],
    frame: pd.DataFrame,
    drawing: Future[list[Path]],
) -> Report:
    """The report of ``_write_report`` but its contact sheets, which ``drawing`` makes meanwhile."""
    import pandas as pd

    records = frame.to_dict("records")  # once, for the images, jobs.csv and the jobs table
    _link_images(folder, records)
    axes = meta["axes"]
    checked = frame["text_accuracy"].dropna()
    has_text = len(checked) > 0
    table = ranking(frame, axes)
    conclusions = _conclusions(frame, axes, table, folder)  # which value wins, with what confidence
    draft = bool(len(frame)) and bool((frame["backend"] == "draft").all())
    service = service_prices(wb, frame) if draft else None

    # Per axis value, the service's price per image (medium, first model) for the draft cost chart.
    service_by_value: dict[str, dict[str, float]] = {}
    if draft and service:
        rates = wb.prices.data.get("usd_per_million_tokens", {}).get("openai") or {}
        model = next((m for m in rates if m != "*"), None)
        prices: dict[tuple[int, int, int, int], float] = {}

        def service_usd(size: str, n: int, prompt: str) -> float:
            key = (*(int(x) for x in size.split("x")), int(n), len(prompt or "") or 200)
            if key not in prices:
                prices[key] = _estimate(wb, "openai", model, "medium", *key)[1]
            return prices[key]

        usd = [service_usd(*row) for row in zip(frame["size"], frame["n"], frame["prompt"], strict=True)]
        priced = frame.assign(_service=usd)
        for position, axis in enumerate(axes):
            labels = priced["coords"].map(lambda c, p=position: c[p] if len(c) > p else "")
            grouped = priced.groupby(labels, sort=False)
            per_image = grouped["_service"].sum() / grouped["n"].sum().clip(lower=1)
            service_by_value[axis["name"]] = {str(k): float(v) for k, v in per_image.items()}

    columns = [
        ("rank", "rank", True),
        ("value", "value", False),
        ("jobs", "jobs", True),
        ("ok", "images ok", True),
    ]
    if has_text:
        columns.append(("text_accuracy", "text accuracy % (mean)", True))
    columns += [
        ("credits_per_image", "credits / image", True),
        ("usd_per_image", "$ / image", True),
        ("usd_per_passing", "$ / passing image", True),
        ("estimate", "estimate (credits · $)", True),
        ("actual", "actual (credits · $)", True),
        ("latency_ms", "latency s (mean)", True),
        ("not_made", "failed · blocked · missing", True),
    ]
    axis_views = []
    for axis in axes:
        part = table[table["axis"] == axis["name"]]
        # A long axis (a seed per job) lists its best and worst values; ranking.csv has them all.
        shown = (
            part if len(part) <= TABLE_VALUES else pd.concat([part.head(TABLE_VALUES - 10), part.tail(10)])
        )
        rows = []
        for record in shown.to_dict("records"):
            cells = {
                "rank": record["rank"],
                "value": record["value"],
                "jobs": record["jobs"],
                "ok": f"{record['ok']} ({record['ok_share']:.0%})",
                "text_accuracy": _fmt(
                    record["text_accuracy"] * 100 if record["text_checked"] else None, "{:.1f}"
                ),
                "credits_per_image": _credits_text(record["credits_per_image"]),
                "usd_per_image": _fmt(record["usd_per_image"], "${:.4f}"),
                "usd_per_passing": _fmt(record["usd_per_passing"], "${:.4f}"),
                "estimate": f"{format_credits(record['credits_estimated'])} · ${record['usd_estimated']:.4f}",
                "actual": f"{format_credits(record['credits'])} · ${record['usd']:.4f}",
                "latency_ms": _fmt(
                    record["latency_ms"] / 1000 if record["latency_ms"] == record["latency_ms"] else None,
                    "{:.2f}",
                ),
                "not_made": f"{record['failed']} · {record['blocked']} · {record['missing']}",
            }
            rows.append([cells[key] for key, _, _ in columns])
        charts = _axis_charts(
            part.head(CHART_VALUES),
            axis["name"],
            has_text=has_text,
            draft=draft,
            service_usd=service_by_value.get(axis["name"], {}),
        )
        axis_views.append(
            {
                "name": axis["name"],
                "more": len(part) - len(shown),
                "columns": [{"label": label, "num": num} for _, label, num in columns],
                "rows": rows,
                "charts": charts,
            }
        )

    ranking_csv, jobs_csv = folder / "ranking.csv", folder / "jobs.csv"
    table.to_csv(ranking_csv, index=False, float_format="%.6g")
    _jobs_csv(jobs_csv, records, axes)

    inline = len(frame) <= INLINE_THUMBS

    def thumb_for(record: dict[str, Any]) -> str:
        if record["image"] is None or record["status"] not in _DONE:
            return ""
        if inline:
            return _data_uri(record["image"])
        # A big batch links the store's own cached thumbnail (made by the shard) instead of
        # inlining it: the page stays a few MB and nothing is encoded again.
        cached = _cached_thumb(Path(record["image"]))
        if cached is not None:
            return os.path.relpath(cached, folder)
        return _data_uri(record["image"])

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        thumb_sources = list(pool.map(thumb_for, records))
    factor_names = [f for axis in axes for f in axis["factors"]]
    job_rows = []
    for record, thumb in zip(records, thumb_sources, strict=True):
        name = _image_name(record)
        latency = record["latency_ms"]
        accuracy = record["text_accuracy"]
        job_rows.append(
            {
                "index": record["index"],
                "thumb": thumb,
                "full": f"images/{name}" if name else "",
                "factors": [(f, record.get(f, "")) for f in factor_names if f in record],
                "status": record["status"],
                "error": _text(record.get("error")),
                "credits": record["credits"],
                "credits_estimated": record["credits_estimated"],
                "usd": record["usd"],
                "usd_estimated": record["usd_estimated"],
                "latency": "" if latency is None or latency != latency else f"{latency:.0f}",
                "text": "" if math.isnan(accuracy) else _percent(accuracy),
                "prompt": _text(record["prompt"]) or "",
            }
        )
    text_line = (
        f"Text accuracy (OCR of the exact texts): {checked.mean():.1%} mean over {len(checked)} "
        f"checked job{'s' if len(checked) != 1 else ''}, lowest {_percent(checked.min())}."
        if has_text
        else ""
    )
    sheets = drawing.result()
    page = _template().render(
        experiment=meta["experiment"],
        description=meta.get("description") or "",
        batch_id=batch_id,
        jobs=len(frame),
        statuses=list(frame["status"].value_counts().items()),
        credits=credits_value(frame["credits"].sum()),
        usd=float(frame["usd"].sum()),
        # Dollars the service may have billed for tries whose answer never came (every run of the batch).
        usd_possibly_billed=float(wb.runs(batch_id=batch_id)["usd_possibly_billed"].fillna(0.0).sum()),
        credits_estimated=credits_value(frame["credits_estimated"].sum()),
        usd_estimated=float(frame["usd_estimated"].sum()),
        backends=", ".join(
            sorted(
                {f"{b}/{m}" if m else str(b) for b, m in zip(frame["backend"], frame["model"], strict=True)}
            )
        )
        or "—",
        text_line=text_line,
        notes=_notes(wb, batch_id, frame),
        service=service,
        ranked_by=(
            "mean text accuracy, then dollars per image"
            if has_text
            else "the share of jobs that made an image, then dollars per image"
        ),
        passing=f"made and read back at least {PASSING_TEXT:.0%} of their exact texts (where checked) "
        "and passed every check they were scored on",
        axes=axis_views,
        ranking_csv=ranking_csv.name,
        chart_values=CHART_VALUES,
        jobs_csv=jobs_csv.name,
        sheets=[p.name for p in sheets],
        checked=has_text,
        conclusions=conclusions,
        job_rows=job_rows,
    )
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return Report(sheets, path, frame, ranking_csv, jobs_csv, conclusions)


def _conclusions(
    frame: pd.DataFrame, axes: list[dict[str, Any]], table: pd.DataFrame, folder: Path
) -> list[dict[str, Any]]:
    """Per axis and check: the values by mean score with 95 % bootstrap intervals and the sentence
    naming a winner only where the intervals separate; also written to ``conclusions.csv``."""
    import pandas as pd

    from workbench.checks.stats import experiment_conclusions

    found = experiment_conclusions(frame, axes, table)
    rows = [
        {"axis": c["axis"], "check": c["check"], **row, "sentence": c["sentence"]}
        for c in found
        for row in c["rows"]
    ]
    if rows:
        pd.DataFrame(rows).to_csv(folder / "conclusions.csv", index=False, float_format="%.6g")
    return found


def _jobs_csv(path: Path, records: list[dict[str, Any]], axes: list[dict[str, Any]]) -> None:
    factor_names = list(dict.fromkeys(f for axis in axes for f in axis["factors"]))
    fields = [
        "index",
        "job",
        *factor_names,
        "status",
        "backend",
        "model",
        "quality",
        "size",
        "n",
        "credits",
        "credits_estimated",
        "usd",
        "usd_estimated",
        "latency_ms",
        "text_accuracy",
        "run_id",
        "image",
        "error",
        "prompt",
    ]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(fields)
        for record in records:
            row = []
            for field in fields:
                value = record.get(field)
                if field == "image" and value is not None:
                    value = _image_name(record) and f"images/{_image_name(record)}"
                if isinstance(value, float) and math.isnan(value):
                    value = ""
                row.append("" if value is None else value)
            writer.writerow(row)
