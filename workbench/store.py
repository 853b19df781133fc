"""The content-addressed image store, with each image's recipe embedded in its own metadata.

Files live at ``<root>/images/<sha[:2]>/<sha>.<ext>`` where ``sha`` is the SHA-256 of the file's
bytes: the same bytes are stored once. The recipe (spec, prompt, backend, model, run id) travels
inside the file — an iTXt chunk in PNG, an XMP packet in JPEG and WebP — so ``read_recipe`` rebuilds
it from any copy of the image, wherever it went. Metadata is spliced into the encoded bytes: the
pixels are never decoded or re-encoded.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

from PIL import Image

from workbench.errors import InputImageError

__all__ = ["RECIPE_KEY", "Store", "embed_recipe", "read_recipe", "sniff_format"]

RECIPE_KEY = "workbench:recipe"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_XMP_NS = "http://ns.adobe.com/xap/1.0/\x00"
_XMP_RE = re.compile(rb"<workbench:recipe>([A-Za-z0-9+/=\s]+)</workbench:recipe>")
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}


def sniff_format(data: bytes) -> str | None:
    """``png``, ``jpeg`` or ``webp`` from the file's first bytes, else None."""
    if data.startswith(_PNG_SIGNATURE):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _recipe_json(recipe: dict[str, Any]) -> bytes:
    return json.dumps(recipe, ensure_ascii=False, sort_keys=True, default=str).encode()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _xmp_packet(recipe: dict[str, Any]) -> bytes:
    encoded = base64.b64encode(zlib.compress(_recipe_json(recipe), 9)).decode()
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:workbench="https://github.com/workbench/ns/1.0/">'
        f"<workbench:recipe>{encoded}</workbench:recipe>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _embed_png(data: bytes, recipe: dict[str, Any]) -> bytes:
    # iTXt: keyword, NUL, compression flag 1, method 0, empty language and translated keyword.
    payload = RECIPE_KEY.encode() + b"\x00\x01\x00\x00\x00" + zlib.compress(_recipe_json(recipe), 9)
    end_of_ihdr = 8 + 4 + 4 + 13 + 4
    return data[:end_of_ihdr] + _png_chunk(b"iTXt", payload) + data[end_of_ihdr:]


def _embed_jpeg(data: bytes, recipe: dict[str, Any]) -> bytes:
    payload = _XMP_NS.encode() + _xmp_packet(recipe)
    if len(payload) + 2 > 0xFFFF:
        raise InputImageError("The recipe is too large to embed in a JPEG file; save as PNG or WebP instead.")
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    position = 2
    if data[2:4] == b"\xff\xe0":  # keep the JFIF APP0 segment first, as the standard wants
        position = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:position] + segment + data[position:]


def _embed_webp(data: bytes, recipe: dict[str, Any]) -> bytes:
    chunks = data[12:]
    packet = _xmp_packet(recipe)
    xmp = b"XMP " + struct.pack("<I", len(packet)) + packet + (b"\x00" if len(packet) % 2 else b"")
    if chunks[:4] == b"VP8X":
        flags = chunks[8] | 0x04
        chunks = chunks[:8] + bytes([flags]) + chunks[9:] + xmp
    else:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            alpha = image.mode in ("RGBA", "LA") or "transparency" in image.info
        flags = 0x04 | (0x10 if alpha else 0)
        vp8x = (
            bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        )
        chunks = b"VP8X" + struct.pack("<I", 10) + vp8x + chunks + xmp
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def embed_recipe(data: bytes, recipe: dict[str, Any]) -> bytes:
    """Return the encoded image ``data`` with ``recipe`` embedded in its metadata."""
    kind = sniff_format(data)
    if kind == "png":
        return _embed_png(data, recipe)
    if kind == "jpeg":
        return _embed_jpeg(data, recipe)
    if kind == "webp":
        return _embed_webp(data, recipe)
    raise InputImageError("Only PNG, JPEG and WebP images can carry a recipe.")


def _png_recipe(data: bytes) -> dict[str, Any] | None:
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        payload = data[position + 8 : position + 8 + length]
        if kind == b"iTXt" and payload.startswith(RECIPE_KEY.encode() + b"\x00"):
            rest = payload[len(RECIPE_KEY) + 1 :]
            compressed = rest[0] == 1
            text = rest[2:].split(b"\x00", 2)[2]  # skip language tag and translated keyword
            return json.loads(zlib.decompress(text) if compressed else text)
        if kind in (b"IDAT", b"IEND"):
            break
        position += 12 + length
    return None


def read_recipe(source: str | Path | bytes) -> dict[str, Any] | None:
    """The recipe embedded in an image file (path or bytes), or None when it carries none."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    kind = sniff_format(data)
    try:
        if kind == "png":
            return _png_recipe(data)
        match = _XMP_RE.search(data)
        if match:
            return json.loads(zlib.decompress(base64.b64decode(match.group(1))))
    except (ValueError, zlib.error, IndexError):
        return None
    return None


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` then rename: a crash never leaves a half-written file under
    its final name, and a failed write (a full disk) leaves no temporary file behind.

    The temporary name is unique per process and thread, so two writers of the same content
    both rename a complete file onto the same name.
    """
    tmp = target.with_name(f".{target.stem[:16]}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Store:
    """Images by content under ``root/images``.

    Example:
        >>> store = Store(Path("outputs"))
        >>> relative = store.put(png_bytes, recipe={"run_id": "…"})
        >>> store.path(relative)
        PosixPath('outputs/images/3f/3f9a….png')
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.images = self.root / "images"
        self._folders: set[Path] = set()  # folders known to exist: one mkdir per folder, not per image

    def path(self, relative: str | Path) -> Path:
        """The absolute path of a stored image from its ledger entry (relative to the root)."""
        return self.root / relative

    def exists(self, relative: str | Path) -> bool:
        return self.path(relative).is_file()

    def put(self, data: bytes, *, recipe: dict[str, Any] | None = None) -> str:
        """Store encoded image bytes (with ``recipe`` embedded); return the path relative to the root."""
        kind = sniff_format(data)
        if kind is None:
            raise InputImageError("Only PNG, JPEG and WebP images can be stored.")
        if recipe is not None:
            data = embed_recipe(data, recipe)
        sha = hashlib.sha256(data).hexdigest()
        relative = Path("images") / sha[:2] / f"{sha}.{EXTENSIONS[kind]}"
        target = self.root / relative
        if not target.exists():
            if target.parent not in self._folders:
                target.parent.mkdir(parents=True, exist_ok=True)
                self._folders.add(target.parent)
            write_atomic(target, data)
        return relative.as_posix()

    def thumbnail(self, relative: str | Path, size: int = 256) -> bytes:
        """A small WebP of a stored image, at most ``size`` pixels a side, cached under ``root/thumbs``.

        Stored images never change (their name is their hash), so a thumbnail made once is good
        forever: widgets and notebooks show these instead of inlining full-size images.

        Raises:
            InputImageError: the image is missing or cannot be read.
        """
        source = self.path(relative)
        cached = self.root / "thumbs" / str(size) / f"{source.stem}.webp"
        try:
            return cached.read_bytes()
        except FileNotFoundError:
            pass
        try:
            with Image.open(source) as image:
                image.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
                if image.mode not in ("RGB", "RGBA"):
                    image = image.convert("RGBA" if "transparency" in image.info else "RGB")
                buffer = io.BytesIO()
                image.save(buffer, "WEBP", quality=72, method=4)
        except FileNotFoundError:
            raise InputImageError(f"No image at {source}.", path=str(source)) from None
        except OSError as exc:
            raise InputImageError(f"{source} cannot be read as an image: {exc}.", path=str(source)) from None
        data = buffer.getvalue()
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cached, data)
        return data
