"""Uploaded images: checked before anything is stored or sent, then normalised.

``load_upload`` accepts PNG, JPEG or WebP up to ``max_bytes`` (10 MiB by default, or
``$WORKBENCH_MAX_UPLOAD_MB``). It reads the
type from the file's first bytes, never from its name, and refuses — with one sentence a person
can act on — a file that is empty, too large, of another type, named as one type but holding
another, truncated or corrupt, or a decompression bomb. What it accepts comes back as PNG bytes
with the EXIF orientation applied and palette, CMYK and 16-bit modes converted to RGB(A). Nothing
is written anywhere: a rejected file never reaches the store.

Example:
    >>> data = load_upload("photo.jpg")          # PNG bytes, upright, RGB
    >>> load_upload(b"")
    Traceback (most recent call last):
    InputImageError: The upload is empty (0 bytes): choose a PNG, JPEG or WebP image.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from workbench.errors import InputImageError
from workbench.store import sniff_format

__all__ = [
    "MAX_BYTES",
    "MAX_PIXELS",
    "Source",
    "load_upload",
    "normalise",
    "open_upload",
    "resolve_source",
    "upload_limit",
]

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 64_000_000  # 8000 x 8000: larger is a decompression bomb or nothing a service takes
ENV_MAX_MB = "WORKBENCH_MAX_UPLOAD_MB"
_EXTENSIONS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".webp": "webp"}
_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}


def _other_type(data: bytes) -> str | None:
    """A name for common non-accepted types, so the sentence says what the file is."""
    heads = {
        b"GIF8": "a GIF",
        b"BM": "a BMP",
        b"II*\x00": "a TIFF",
        b"MM\x00*": "a TIFF",
        b"%PDF": "a PDF",
        b"\x00\x00\x01\x00": "an ICO",
        b"8BPS": "a Photoshop file",
        b"PK\x03\x04": "a ZIP archive",
    }
    for head, name in heads.items():
        if data.startswith(head):
            return name
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "a HEIC/AVIF"
    if data.lstrip()[:5].lower() in (b"<?xml", b"<svg "):
        return "an SVG"
    return None


def upload_limit(max_bytes: int | None = None) -> int:
    """The upload limit in bytes: ``max_bytes``, else ``$WORKBENCH_MAX_UPLOAD_MB``, else 10 MiB."""
    if max_bytes:
        return int(max_bytes)
    value = os.environ.get(ENV_MAX_MB)
    if value:
        try:
            return int(float(value) * 1024 * 1024)
        except ValueError:
            raise InputImageError(f"{ENV_MAX_MB}={value!r} is not a number of megabytes.") from None
    return MAX_BYTES


def _declared_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """The width and height a PNG or JPEG header declares (before any decoding), if readable."""
    import struct

    if kind == "png" and len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if kind == "jpeg":
        position = 2
        while position + 9 < len(data) and data[position] == 0xFF:
            marker = data[position + 1]
            length = struct.unpack(">H", data[position + 2 : position + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[position + 5 : position + 9])
                return width, height
            position += 2 + length
    return None


def open_upload(
    source: str | Path | bytes, *, max_bytes: int | None = None, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """Check an upload and return it decoded, upright and in RGB or RGBA.

    Args:
        source: a path, or the file's bytes.
        max_bytes: the largest file accepted (default: ``upload_limit()``).
        max_pixels: the most pixels accepted (width x height); more is a decompression bomb.

    Raises:
        InputImageError: with a sentence saying why the file was refused.
    """
    max_bytes = upload_limit(max_bytes)
    path = None if isinstance(source, (bytes, bytearray)) else Path(source)
    name = path.name if path is not None else "The upload"
    label = f"{name}" if path is not None else name
    if path is not None:
        if not path.is_file():
            raise InputImageError(f"No image at {path}.", path=str(path))
        size = path.stat().st_size
        if size > max_bytes:  # refuse before reading a huge file into memory
            raise InputImageError(
                f"{label} is {size / 1048576:.1f} MB; uploads are limited to {max_bytes / 1048576:g} MB.",
                path=str(path),
            )
        data = path.read_bytes()
    else:
        data = bytes(source)
    where = str(path) if path is not None else None
    if not data:
        raise InputImageError(f"{label} is empty (0 bytes): choose a PNG, JPEG or WebP image.", path=where)
    if len(data) > max_bytes:
        raise InputImageError(
            f"{label} is {len(data) / 1048576:.1f} MB; uploads are limited to {max_bytes / 1048576:g} MB.",
            path=where,
        )
    kind = sniff_format(data)
    if kind is None:
        other = _other_type(data)
        what = f"is {other}" if other else "is not an image Workbench can read"
        raise InputImageError(f"{label} {what}: uploads must be PNG, JPEG or WebP.", path=where)
    declared = _declared_size(data, kind)
    if declared is not None and 0 in declared:
        raise InputImageError(
            f"{label} has no pixels ({declared[0]}x{declared[1]}): choose another image.", path=where
        )
    named = _EXTENSIONS.get(path.suffix.lower()) if path is not None else None
    if named is not None and named != kind:
        raise InputImageError(
            f"{label} is named as {_NAMES[named]} but holds a {_NAMES[kind]} image: "
            "rename it or export it again.",
            path=where,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind.upper()]) as probe:
                width, height = probe.size
                if width <= 0 or height <= 0:
                    raise InputImageError(f"{label} has no pixels ({width}x{height}).", path=where)
                if width * height > max_pixels:
                    raise InputImageError(
                        f"{label} claims {width}x{height} pixels, more than the {max_pixels:,} accepted: "
                        "it looks like a decompression bomb.",
                        path=where,
                    )
                probe.verify()
            image = Image.open(io.BytesIO(data), formats=[kind.upper()])
            image.load()
    except InputImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputImageError(
            f"{label} is too many pixels to open safely: it looks like a decompression bomb.", path=where
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        detail = "" if "cannot identify" in str(exc) else f" ({exc})"
        raise InputImageError(
            f"{label} is truncated or corrupt and cannot be read as {_NAMES[kind]}{detail}.", path=where
        ) from None
    return normalise(image)


def normalise(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; convert palette, CMYK, greyscale and 16-bit modes to RGB(A)."""
    image = ImageOps.exif_transpose(image) or image
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        import numpy as np

        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max() > 255 else 255.0
        image = Image.fromarray(np.clip(values * 255.0 / top + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "CMYK":
        image = image.convert("RGB")
    target = "RGBA" if has_alpha else "RGB"
    if image.mode != target:
        image = image.convert(target)
    if target == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")  # an alpha channel that hides nothing is dropped
    return image


def load_upload(
    source: str | Path | bytes, *, max_bytes: int | None = None, max_pixels: int = MAX_PIXELS
) -> bytes:
    """Check an upload and return it as normalised PNG bytes (see ``open_upload``).

    Example:
        >>> png = load_upload("product.jpg", max_bytes=5 * 1024 * 1024)
    """
    image = open_upload(source, max_bytes=max_bytes, max_pixels=max_pixels)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


@dataclass(frozen=True)
class Source:
    """An image to edit or finish: its encoded bytes, size, and the run it came from (if known)."""

    data: bytes
    size: tuple[int, int]
    parent_id: str | None = None
    recipe: dict[str, Any] | None = None


def _size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def _refuse_vector(data: bytes, what: str) -> None:
    """A stored SVG answer is not pixels: editing, finishing and checking it is one sentence."""
    from workbench.store import NOT_RASTER, sniff_stored_format

    if sniff_stored_format(data) == "svg":
        raise InputImageError(
            NOT_RASTER.format(what=what, action="editing, finishing and checking", verb="work on")
        )


def resolve_source(source: Any, *, store_root: Path | None = None, max_bytes: int | None = None) -> Source:
    """Turn what a person passes to ``edit``/``finish``/``export`` into a ``Source``.

    A ``Run`` (anything with ``images`` and ``id``) or a file in the store is taken as it is: it
    was checked when it was made. Any other path or bytes is an upload and goes through
    ``load_upload`` (refused with a sentence before anything is stored). A Pillow image is
    encoded as PNG. The parent run comes from the run, else from the recipe in the file.
    """
    from workbench.store import read_recipe

    if hasattr(source, "images") and hasattr(source, "id"):
        if not source.images:
            raise InputImageError(f"Run {source.id[:8]} has no image to work on (status {source.status}).")
        data = Path(source.images[0]).read_bytes()
        _refuse_vector(data, f"Run {source.id[:8]}'s image")
        return Source(data, _size_of(data), source.id, read_recipe(data))
    if isinstance(source, Image.Image):
        buffer = io.BytesIO()
        normalise(source).save(buffer, "PNG", compress_level=1)
        data = buffer.getvalue()
        return Source(data, _size_of(data))
    if isinstance(source, (str, Path)):
        path = Path(source)
        images = (Path(store_root) / "images").resolve() if store_root is not None else None
        if images is not None and path.is_file() and images in path.resolve().parents:
            data = path.read_bytes()
            _refuse_vector(data, str(path))
            recipe = read_recipe(data)
            return Source(data, _size_of(data), (recipe or {}).get("run_id"), recipe)
        # The recipe first (of a file the upload limit allows): one too large to read is refused in
        # its own words, not as a corrupt image.
        small = path.is_file() and path.stat().st_size <= upload_limit(max_bytes)
        raw_recipe = _recipe_of(path) if small else None
        data = load_upload(path, max_bytes=max_bytes)
        return Source(data, _size_of(data), (raw_recipe or {}).get("run_id"), raw_recipe)
    if isinstance(source, (bytes, bytearray)):
        raw_recipe = _recipe_of(bytes(source))  # first, as for a path
        data = load_upload(bytes(source), max_bytes=max_bytes)
        return Source(data, _size_of(data), (raw_recipe or {}).get("run_id"), raw_recipe)
    raise InputImageError(
        f"Cannot use {type(source).__name__} as an image: give a Run, a path, bytes or a PIL image."
    )


def _recipe_of(source: Path | bytes) -> dict[str, Any] | None:
    from workbench.store import read_recipe

    try:
        return read_recipe(source)
    except InputImageError:  # metadata over the cap: refused, never decompressed
        raise
    except (OSError, ValueError):
        return None
