"""Format choice for export: PNG, WebP or JPEG by content, the smallest that keeps the quality bar.

An image is sorted into one of three kinds:

- ``alpha``: it has transparent pixels → PNG or WebP (lossless, or lossy with alpha if it passes);
- ``flat``: few colours or large flat areas (posters, logos, diagrams) → PNG or lossless WebP;
- ``photo``: everything else → JPEG or lossy WebP.

Each candidate encoding is compared with the lossless original by SSIM (structural similarity,
computed here with numpy and OpenCV); lossy qualities are found by bisection — the lowest quality
whose SSIM is at least ``min_ssim`` (0.98 by default). The smallest passing candidate wins, and the
result says how many bytes it saved against a plain PNG. The recipe is embedded in whichever
format is chosen, so ``read_recipe`` works on every export.

Example:
    >>> result = choose_format(Image.open("poster.png"), recipe={"run_id": "…"})
    >>> result.format, result.saved_bytes, round(result.ssim, 3)
    ('png', 812345, 1.0)
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from workbench.errors import SpecError

__all__ = ["ExportResult", "MIN_SSIM", "choose_format", "classify", "encode", "export_animation", "ssim"]

MIN_SSIM = 0.98
_LUMA = np.array([[0.299], [0.587], [0.114]], np.float32)
_EXT = {"png": "png", "jpeg": "jpg", "webp": "webp", "gif": "gif"}


def ssim(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray) -> float:
    """Mean structural similarity (Wang et al. 2004, Gaussian window σ = 1.5) of two images.

    Computed on luma (ITU-R BT.601 Y), as image codecs and most SSIM tools do; transparent images
    add the alpha channel (averaged with luma) and are composited over mid grey first, so hidden
    colour under alpha 0 does not count but the alpha does.
    """
    x, y = _pixels(a), _pixels(b)
    if x.shape != y.shape:
        raise ValueError(f"SSIM needs images of one size, got {x.shape} and {y.shape}.")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    scores = []
    for channel in range(x.shape[2]):
        p, q = x[..., channel], y[..., channel]
        blur = lambda v: cv2.GaussianBlur(v, (11, 11), 1.5)  # noqa: E731
        mu_p, mu_q = blur(p), blur(q)
        var_p = blur(p * p) - mu_p * mu_p
        var_q = blur(q * q) - mu_q * mu_q
        cov = blur(p * q) - mu_p * mu_q
        value = ((2 * mu_p * mu_q + c1) * (2 * cov + c2)) / ((mu_p**2 + mu_q**2 + c1) * (var_p + var_q + c2))
        scores.append(float(value.mean()))
    return float(np.mean(scores))


def _pixels(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        array = image.astype(np.float32)
        return array[..., None] if array.ndim == 2 else array
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:4] / 255.0
        over_grey = rgba[..., :3] * alpha + 128.0 * (1 - alpha)
        return np.concatenate([over_grey @ _LUMA, rgba[..., 3:4]], axis=2)
    return np.asarray(image.convert("RGB"), dtype=np.float32) @ _LUMA


def classify(image: Image.Image) -> str:
    """``alpha``, ``flat`` or ``photo`` (see the module's docstring)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        if image.convert("RGBA").getchannel("A").getextrema()[0] < 255:
            return "alpha"
    rgb = image.convert("RGB")
    if max(rgb.size) > 1024:
        rgb = rgb.reduce(max(1, max(rgb.size) // 512))  # nearest-ish sample: keeps flat areas flat
    pixels = np.asarray(rgb, dtype=np.int16)
    same = (np.abs(np.diff(pixels, axis=1)).max(axis=2) == 0).mean()  # exactly flat neighbours
    colours = len(np.unique(pixels.reshape(-1, 3) @ np.array([65536, 256, 1], np.int64)))
    return "flat" if same >= 0.5 or colours <= 256 else "photo"


def encode(image: Image.Image, fmt: str, *, quality: int | None = None, lossless: bool = False) -> bytes:
    """Encode without metadata: PNG (zlib level 6), JPEG (progressive, 4:2:0 below q 90), WebP."""
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, "PNG", compress_level=6)
    elif fmt == "jpeg":
        q = quality or 90
        image.convert("RGB").save(
            buffer, "JPEG", quality=q, optimize=True, progressive=True, subsampling=0 if q >= 90 else 2
        )
    elif fmt == "webp":
        if lossless:
            image.save(buffer, "WEBP", lossless=True, quality=80, method=4)  # quality = effort here
        else:
            image.save(buffer, "WEBP", quality=quality or 90, method=4, alpha_quality=100)
    else:
        raise SpecError(f"Unknown format {fmt!r}: use png, jpeg, webp or auto.", field="format")
    return buffer.getvalue()


@dataclass
class Candidate:
    format: str
    data: bytes
    ssim: float
    quality: int | None = None
    lossless: bool = False


@dataclass
class ExportResult:
    """The chosen encoding: ``data`` (with the recipe embedded), its format and what it saved."""

    data: bytes
    format: str
    kind: str
    ssim: float
    quality: int | None
    png_bytes: int
    candidates: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None  # where ``Workbench.export`` wrote it
    frames: int = 1  # an animation's frames (all of them are kept)
    renamed_from: Path | None = None  # the --out name, when its suffix said another format

    @property
    def bytes(self) -> int:
        return len(self.data)

    @property
    def saved_bytes(self) -> int:
        """Bytes saved against a plain (optimised) PNG; negative if larger."""
        return self.png_bytes - len(self.data)

    @property
    def extension(self) -> str:
        return _EXT[self.format]

    def summary(self) -> str:
        pct = 100 * self.saved_bytes / self.png_bytes if self.png_bytes else 0.0
        q = f" q{self.quality}" if self.quality else ""
        renamed = (
            f" (written as .{self.extension}: {self.renamed_from.name} would not be a {self.format.upper()})"
            if self.renamed_from is not None
            else ""
        )
        if self.frames > 1:
            kept = "kept as it is" if self.format == "gif" else "lossless"
            animation = f"{self.format.upper()} animation of {self.frames} frames ({kept})"
            return f"{animation}: {self.bytes:,} bytes{renamed}"
        return (
            f"{self.format.upper()}{q} ({self.kind}): {self.bytes:,} bytes, {self.saved_bytes:,} bytes "
            f"({pct:.0f} %) smaller than PNG, SSIM {self.ssim:.4f}{renamed}"
        )


def _decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image


def _search(image: Image.Image, fmt: str, min_ssim: float, low: int = 30, high: int = 95) -> Candidate | None:
    """The lowest quality whose encoding keeps ``min_ssim`` (SSIM rises with quality)."""
    best: Candidate | None = None
    reference = _pixels(image)  # once, not at every step
    while low <= high:
        middle = (low + high) // 2
        data = encode(image, fmt, quality=middle)
        score = ssim(reference, _pixels(_decode(data)))
        if score >= min_ssim:
            best = Candidate(fmt, data, score, middle)
            high = middle - 1
        else:
            low = middle + 1
    return best


def choose_format(
    image: Image.Image,
    *,
    format: str = "auto",
    min_ssim: float = MIN_SSIM,
    recipe: dict[str, Any] | None = None,
) -> ExportResult:
    """Pick and encode the export format (see the module's docstring).

    Args:
        image: the lossless original.
        format: ``auto``, or force ``png``, ``jpeg`` or ``webp`` (lossy formats still keep the bar).
        min_ssim: the quality bar against the original.
        recipe: embedded in the chosen file's metadata.
    """
    from workbench.store import embed_recipe

    if format not in ("auto", "png", "jpeg", "webp"):
        raise SpecError(f"Unknown format {format!r}: use auto, png, jpeg or webp.", field="format")
    kind = classify(image)
    if kind == "alpha" and format == "jpeg":
        raise SpecError(
            "This image is transparent; JPEG cannot keep that: export as PNG or WebP.", field="format"
        )
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if kind == "alpha" else "RGB")
    if kind != "alpha" and image.mode == "RGBA":
        image = image.convert("RGB")
    png = encode(image, "png")
    searched: dict[str, Candidate | None] = {}

    def lossy(fmt: str) -> Candidate | None:
        """The smallest ``fmt`` encoding that keeps the bar (each format searched once)."""
        if fmt not in searched:
            searched[fmt] = _search(image, fmt, min_ssim)
        return searched[fmt]

    tries: list[Callable[[], Candidate | None]] = []
    lossless_webp = lambda: Candidate("webp", encode(image, "webp", lossless=True), 1.0, None, True)  # noqa: E731
    wants = {"auto": ("png", "webp", "jpeg"), "png": ("png",), "webp": ("webp",), "jpeg": ("jpeg",)}[format]
    if "png" in wants:
        tries.append(lambda: Candidate("png", png, 1.0, None, True))
    if "webp" in wants:
        tries.append(lossless_webp)
        if kind != "flat" or format == "webp":
            tries.append(lambda: lossy("webp"))
    if "jpeg" in wants and (kind == "photo" or format == "jpeg"):
        tries.append(lambda: lossy("jpeg"))
    if kind == "photo" and format == "auto":
        # A photo goes lossy whenever a lossy encoding keeps the bar; lossless only if none does.
        found = [c for c in (lossy("jpeg"), lossy("webp")) if c is not None]
        tries = [lambda c=c: c for c in found] if found else tries
    candidates = [c for c in (t() for t in tries) if c is not None]
    chosen = min(candidates, key=lambda c: len(c.data))
    data = embed_recipe(chosen.data, recipe) if recipe is not None else chosen.data
    return ExportResult(
        data=data,
        format=chosen.format,
        kind=kind,
        ssim=chosen.ssim,
        quality=chosen.quality,
        png_bytes=len(png),
        candidates=[
            {
                "format": c.format,
                "quality": c.quality,
                "lossless": c.lossless,
                "bytes": len(c.data),
                "ssim": round(c.ssim, 5),
            }
            for c in candidates
        ],
    )


def export_animation(
    image: Image.Image, data: bytes, *, format: str = "auto", recipe: dict[str, Any] | None = None
) -> ExportResult:
    """An animated GIF's export, every frame kept: as it is (``auto`` or ``gif``: the stored file,
    its recipe in it already), or as a lossless animated WebP (``webp``) with the frames' timing
    and the recipe. PNG and JPEG hold one frame, so they are refused with a sentence."""
    from workbench.store import embed_recipe, read_recipe

    frames = int(getattr(image, "n_frames", 1))
    if format in ("png", "jpeg"):
        raise SpecError(
            f"This image is an animated GIF of {frames} frames and {format.upper()} holds one: export it "
            "as it is (--format auto, a .gif) or as an animated WebP (--format webp).",
            field="format",
        )
    if format not in ("auto", "gif", "webp"):
        raise SpecError(f"Unknown format {format!r}: use auto, png, jpeg or webp.", field="format")
    if format in ("auto", "gif"):
        kept = data if recipe is None or read_recipe(data) is not None else embed_recipe(data, recipe)
        return ExportResult(kept, "gif", "animation", 1.0, None, len(kept), frames=frames)
    stills, durations = [], []
    for index in range(frames):
        image.seek(index)
        durations.append(int(image.info.get("duration") or 100))
        stills.append(image.convert("RGBA"))
    buffer = io.BytesIO()
    stills[0].save(
        buffer,
        "WEBP",
        save_all=True,
        append_images=stills[1:],
        duration=durations,
        loop=int(image.info.get("loop", 0) or 0),
        lossless=True,
    )
    webp = buffer.getvalue()
    webp = embed_recipe(webp, recipe) if recipe is not None else webp
    return ExportResult(webp, "webp", "animation", 1.0, None, len(webp), frames=frames)
