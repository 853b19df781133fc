"""Batch reports: a labelled contact sheet (an X/Y plot of the factors) and an HTML report.

The contact sheet puts the first axis of the experiment down the rows and the second across the
columns; a third axis and beyond make one sheet per value (``contact-sheet-<value>.jpg``). A
one-axis experiment is laid out in rows of up to six, each thumbnail captioned. Thumbnails are
about 256 px, the sheet a JPEG of a few hundred kB.

The HTML report is one self-contained file: the sheets (linked, beside it), a table of every job
with a small thumbnail (a data URI), its factors, prompt, status, credits, dollars and latency,
and pandas tables of credits, dollars, latency and status per factor. When any run of the batch
had its exact texts checked with OCR (``workbench batch run --check-text``, or
``Workbench.check_text`` afterwards), the tables add the mean text accuracy per factor value and
each job's own.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageFont

from workbench.batch.folders import batch_folder, best_per_job
from workbench.errors import InputImageError
from workbench.store import Store

if TYPE_CHECKING:
    import pandas as pd

    from workbench.core import Workbench

__all__ = ["Report", "batch_frame", "contact_sheets", "write_report"]

THUMB = 256
_PAD = 8
_LABEL_W = 180
_HEADER_H = 44
_TITLE_H = 40
_WRAP = 6
_STATUS_COLOURS = {"failed": (190, 40, 40), "blocked": (200, 120, 0), "missing": (120, 120, 120)}


@dataclass
class Report:
    contact_sheets: list[Path]
    html: Path
    frame: pd.DataFrame


def batch_frame(wb: Workbench, batch_id: str) -> pd.DataFrame:
    """One row per job of a batch: its best run (ok/cached over failed), factors as columns.

    Jobs that never ran are rows with status ``missing``.
    """
    import pandas as pd

    folder = batch_folder(wb, batch_id)
    jobs = json.loads((folder / "jobs.json").read_text(encoding="utf-8"))
    runs = wb.runs(batch_id=batch_id)
    best = best_per_job(
        (json.loads(r["params"] or "{}").get("job"), r["status"], r) for r in runs.to_dict("records")
    )
    rows = []
    for job in jobs:
        run = best.get(job["key"], {})
        rows.append(
            {
                "job": job["key"],
                "index": job["index"],
                **job["factors"],
                "coords": tuple(job["coords"]),
                "status": run.get("status", "missing"),
                "credits": int(run.get("credits") or 0),
                "usd": float(run.get("usd") or 0.0),
                "latency_ms": None if pd.isna(run.get("latency_ms")) else float(run["latency_ms"]),
                "shard": run.get("shard"),
                "prompt": _text(run.get("prompt")) or "",
                "image": (wb.root / run["images"][0]) if run.get("images") else None,
                "run_id": _text(run.get("id")),
                "error": _text(run.get("error")),
                "text_accuracy": _accuracy(run.get("text_accuracy")),
            }
        )
    return pd.DataFrame(rows)


def _accuracy(value: Any) -> float:
    """A run's text accuracy, NaN when it was never checked (or the job never ran)."""
    return float("nan") if value is None else float(value)


def _percent(accuracy: float) -> str:
    """``98 %``, rounded down so that 100 % means every character read back exactly."""
    return f"{math.floor(accuracy * 100 + 1e-9)} %"


def _text(value: Any) -> str | None:
    """Text from a frame cell: None for a missing value (pandas reads those as NaN)."""
    return value if isinstance(value, str) else None


def _font(size: int) -> ImageFont.ImageFont:
    try:
        from workbench.imaging.fonts import font_for

        return font_for("Aa", size)
    except Exception:  # noqa: BLE001 - no installed font: Pillow's own still labels the sheet
        return ImageFont.load_default(size)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _thumb(path: Path | None) -> Image.Image | None:
    """A ~256 px RGB thumbnail on white, from the store's thumbnail cache (an image is reduced
    once, for every report and gallery after)."""
    if path is None:
        return None
    path = Path(path)  # <root>/images/<xx>/<sha>.<ext>
    try:
        data = Store(path.parents[2]).thumbnail(path, THUMB)
    except InputImageError:
        return None
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGBA")
    canvas = Image.new("RGB", image.size, "white")
    canvas.paste(image, mask=image.getchannel("A"))
    return canvas


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
    thumb = _thumb(row["image"]) if row is not None and status in ("ok", "cached") else None
    if thumb is not None:
        sheet.paste(thumb, (x + (THUMB - thumb.width) // 2, y + (THUMB - thumb.height) // 2))
        return
    colour = _STATUS_COLOURS.get(status, (120, 120, 120))
    draw.text((x + THUMB // 2, y + THUMB // 2), status, fill=colour, font=font, anchor="mm")


def contact_sheets(
    wb: Workbench, batch_id: str, frame: pd.DataFrame | None = None, *, folder: Path | None = None
) -> list[Path]:
    """Draw the batch's contact sheet(s) and return their paths."""
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
        return [_wrapped_sheet(folder / "contact-sheet.jpg", title, cells, axes[0]["name"] if axes else "")]
    rows, columns = axes[0], axes[1]
    sheets = []
    extra = [a["labels"] for a in axes[2:]]
    for z in itertools.product(*extra) if extra else [()]:
        name = "contact-sheet" + ("-" + _slug("-".join(z)) if z else "") + ".jpg"
        subtitle = "  ·  ".join(f"{a['name']}: {v}" for a, v in zip(axes[2:], z, strict=True))
        grid = [[by_coords.get((r, c, *z)) for c in columns["labels"]] for r in rows["labels"]]
        sheets.append(
            _grid_sheet(folder / name, title + (f" — {subtitle}" if subtitle else ""), rows, columns, grid)
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
    small, bold = _font(15), _font(18)
    draw.text(
        (_PAD, _TITLE_H // 2), _fit(draw, title, bold, width - 2 * _PAD), fill="black", font=bold, anchor="lm"
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
            _fit(draw, label, small, THUMB - 4),
            fill="black",
            font=small,
            anchor="mm",
        )
    for i, label in enumerate(rows["labels"]):
        y = _TITLE_H + _HEADER_H + i * (THUMB + _PAD)
        draw.text(
            (_PAD, y + THUMB // 2),
            _fit(draw, label, small, _LABEL_W - 2 * _PAD),
            fill="black",
            font=small,
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
    small, bold = _font(15), _font(18)
    heading = title + (f" — {axis}" if axis else "")
    draw.text(
        (_PAD, _TITLE_H // 2),
        _fit(draw, heading, bold, width - 2 * _PAD),
        fill="black",
        font=bold,
        anchor="lm",
    )
    for index, (row, label) in enumerate(cells):
        x = _PAD + (index % n_cols) * (THUMB + _PAD)
        y = _TITLE_H + (index // n_cols) * (THUMB + caption + _PAD)
        _cell(draw, sheet, x, y, row, small)
        draw.text(
            (x + THUMB // 2, y + THUMB + caption // 2),
            _fit(draw, label, small, THUMB - 4),
            fill="black",
            font=small,
            anchor="mm",
        )
    sheet.save(path, "JPEG", quality=85, optimize=True)
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:60] or "x"


def _link_images(folder: Path, frame: pd.DataFrame) -> None:
    """Name the batch's images by job in ``images/`` (hard links into the store, else copies)."""
    target = folder / "images"
    target.mkdir(exist_ok=True)
    for record in frame.to_dict("records"):
        source = record["image"]
        if source is None or not Path(source).is_file():
            continue
        name = f"{record['index']:04d}-{_slug('-'.join(record['coords']))}{Path(source).suffix}"
        link = target / name
        if link.exists():
            continue
        try:
            os.link(source, link)
        except OSError:
            import shutil

            shutil.copyfile(source, link)


def _data_uri(path: Path | None, size: int = 128) -> str:
    thumb = _thumb(path)
    if thumb is None:
        return ""
    image = thumb.copy()
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _per_factor(frame: pd.DataFrame, factor: str) -> pd.DataFrame:
    import pandas as pd

    grouped = frame.groupby(factor, sort=False, observed=True)
    table = pd.DataFrame(
        {
            "jobs": grouped.size(),
            "credits": grouped["credits"].sum(),
            "usd": grouped["usd"].sum().round(4),
            "latency_ms (mean)": grouped["latency_ms"].mean().round(1),
        }
    )
    if frame["text_accuracy"].notna().any():
        table["text accuracy % (mean)"] = (grouped["text_accuracy"].mean() * 100).round(1)
    status = pd.crosstab(frame[factor], frame["status"]).reindex(table.index).fillna(0).astype(int)
    return table.join(status)


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px}
td,th{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f4f4f4} img.sheet{max-width:100%;border:1px solid #ccc}
td.prompt{max-width:520px;font-size:12px;color:#444} .failed,.blocked,.missing{color:#b22}
"""


def write_report(wb: Workbench, batch_id: str) -> Report:
    """Write the contact sheet(s), ``images/`` and ``report.html`` of a batch; return them."""
    folder = batch_folder(wb, batch_id)
    meta = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
    return _write_report(wb, batch_id, folder, meta, batch_frame(wb, batch_id))


def _write_report(
    wb: Workbench, batch_id: str, folder: Path, meta: dict[str, Any], frame: pd.DataFrame
) -> Report:
    sheets = contact_sheets(wb, batch_id, frame, folder=folder)
    _link_images(folder, frame)
    factors = [f for axis in meta["axes"] for f in axis["factors"]]
    checked = frame["text_accuracy"].dropna()
    text_line = (
        f"<p>Text accuracy (OCR of the exact texts): {checked.mean():.1%} mean over {len(checked)} "
        f"checked job{'s' if len(checked) != 1 else ''}, lowest {_percent(checked.min())}.</p>"
        if len(checked)
        else ""
    )
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(meta['experiment'])} — {esc(batch_id)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(meta['experiment'])}</h1><p>{esc(meta.get('description') or '')}</p>",
        f"<p>Batch <code>{esc(batch_id)}</code>: {len(frame)} jobs; "
        + ", ".join(f"{n} {esc(s)}" for s, n in frame["status"].value_counts().items())
        + f"; {int(frame['credits'].sum())} credits, ${frame['usd'].sum():.4f}.</p>",
        text_line,
        "<h2>Contact sheet</h2>",
        *(f"<p><img class='sheet' src='{esc(p.name)}' alt='{esc(p.stem)}'></p>" for p in sheets),
        "<h2>Per factor</h2>",
    ]
    for factor in factors:
        if factor in frame.columns:
            parts += [f"<h3>{esc(factor)}</h3>", _per_factor(frame, factor).to_html(border=0)]
    parts.append(
        "<h2>Jobs</h2><table><tr><th>image</th><th>factors</th><th>status</th><th>credits</th>"
        "<th>usd</th><th>latency ms</th>"
        + ("<th>text accuracy</th>" if len(checked) else "")
        + "<th>prompt</th></tr>"
    )
    for record in frame.to_dict("records"):
        uri = _data_uri(record["image"])
        image = f"<img src='{uri}' width='96'>" if uri else ""
        labels = "<br>".join(f"{esc(f)}: {esc(str(record.get(f, '')))}" for f in factors if f in record)
        error = _text(record.get("error"))
        status = esc(record["status"]) + (f"<br><small>{esc(error)}</small>" if error else "")
        seconds = record["latency_ms"]
        latency = "" if seconds is None or seconds != seconds else f"{seconds:.0f}"  # None or NaN: no run
        accuracy = record["text_accuracy"]
        text_cell = ""
        if len(checked):
            text_cell = "<td></td>" if math.isnan(accuracy) else f"<td class='text'>{_percent(accuracy)}</td>"
        parts.append(
            f"<tr><td>{image}</td><td>{labels}</td><td class='{esc(record['status'])}'>{status}</td>"
            f"<td>{record['credits']}</td><td>{record['usd']:.4f}</td><td>{latency}</td>{text_cell}"
            f"<td class='prompt'>{esc(_text(record['prompt']) or '')}</td></tr>"
        )
    parts.append("</table></body></html>")
    path = folder / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return Report(sheets, path, frame)
