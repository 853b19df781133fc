"""The content-addressed image store, with each image's recipe embedded in its own metadata.

Files live at ``<root>/images/<sha[:2]>/<sha>.<ext>`` where ``sha`` is the SHA-256 of the file's
bytes: the same bytes are stored once. The recipe (spec, prompt, backend, model, run id) travels
inside the file — an iTXt chunk in PNG, an XMP packet in JPEG, WebP and GIF (an ``XMP DataXMP``
application extension), a ``<metadata>`` element in SVG — so ``read_recipe`` rebuilds it from any
copy of the image, wherever it went. Metadata is spliced into the encoded bytes: the pixels are
never decoded or re-encoded.

SVG answers (the service's vector output) are stored as they came, as ``.svg`` text; they are not
rasters, so they have no thumbnail and raster-only work (finishing, checks, uploads for edits)
refuses them in a sentence. Animated GIFs are stored whole; their thumbnail is the first frame.

The images live in the local folder, or on shared storage by an fsspec URL (``s3://bucket/prefix``
through s3fs, a shared mount) with the local folder as this machine's cache: ``Store.open`` reads
``$WORKBENCH_STORE`` and ``$WORKBENCH_STORE_OPTIONS``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import math
import os
import re
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from workbench.errors import InputImageError, StoreError

__all__ = [
    "MAX_RECIPE_BYTES",
    "RECIPE_KEY",
    "STORE_ENV",
    "STORE_OPTIONS_ENV",
    "Store",
    "embed_recipe",
    "read_recipe",
    "sniff_format",
    "sniff_stored_format",
]

RECIPE_KEY = "workbench:recipe"
MAX_RECIPE_BYTES = 1 << 20
"""The largest recipe ``read_recipe`` decompresses: a real one is a few kilobytes."""
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_XMP_NS = "http://ns.adobe.com/xap/1.0/\x00"
_XMP_RE = re.compile(rb"<workbench:recipe>([A-Za-z0-9+/=\s]+)</workbench:recipe>")
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp", "gif": "gif", "svg": "svg"}
_SVG_START = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!DOCTYPE[^>]*>\s*)?<svg[\s>]", re.S
)
NOT_RASTER = (
    "{what} is an SVG (vector) image, not a raster: {action} needs PNG, JPEG or WebP pixels; ask for "
    "output_format png for an image to {verb}."
)


def sniff_format(data: bytes) -> str | None:
    """``png``, ``jpeg`` or ``webp`` from the file's first bytes, else None."""
    if data.startswith(_PNG_SIGNATURE):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def sniff_stored_format(data: bytes) -> str | None:
    """What the store keeps: ``sniff_format``'s rasters, and the service's ``gif`` (GIF87a/89a)
    and ``svg`` (XML whose root is ``<svg>``) answers; else None."""
    kind = sniff_format(data)
    if kind is not None:
        return kind
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if _SVG_START.match(data[:4096]):
        return "svg"
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


# XMP in GIF (the XMP specification, part 3): the packet in an application extension, followed by
# a 258-byte "magic trailer" so a decoder reading it as sub-blocks always lands on the terminator.
_GIF_XMP_TRAILER = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"


def _embed_gif(data: bytes, recipe: dict[str, Any]) -> bytes:
    flags = data[10]
    position = 13 + (3 * 2 ** ((flags & 0x07) + 1) if flags & 0x80 else 0)  # after the global palette
    extension = b"\x21\xff\x0bXMP DataXMP" + _xmp_packet(recipe) + _GIF_XMP_TRAILER
    return data[:position] + extension + data[position:]


def _embed_svg(data: bytes, recipe: dict[str, Any]) -> bytes:
    match = re.search(rb"<svg[^>]*>", data)
    if match is None or match.group(0).endswith(b"/>"):
        raise InputImageError("The SVG has no content to carry a recipe in.")
    return data[: match.end()] + b"<metadata>" + _xmp_packet(recipe) + b"</metadata>" + data[match.end() :]


def embed_recipe(data: bytes, recipe: dict[str, Any]) -> bytes:
    """Return the encoded image ``data`` with ``recipe`` embedded in its metadata."""
    kind = sniff_stored_format(data)
    if kind == "png":
        return _embed_png(data, recipe)
    if kind == "jpeg":
        return _embed_jpeg(data, recipe)
    if kind == "webp":
        return _embed_webp(data, recipe)
    if kind == "gif":
        return _embed_gif(data, recipe)
    if kind == "svg":
        return _embed_svg(data, recipe)
    raise InputImageError("Only PNG, JPEG, WebP, GIF and SVG images can carry a recipe.")


def _png_recipe(data: bytes) -> dict[str, Any] | None:
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        key = RECIPE_KEY.encode() + b"\x00"
        if kind == b"iTXt" and data[position + 8 : position + 8 + len(key)] == key:
            # The length first: a 50 MB chunk is refused, never copied (a recipe is well under 1 MB,
            # compressed or not).
            if length > MAX_RECIPE_BYTES + 4096:
                raise _TooLarge
            payload = data[position + 8 : position + 8 + length]
            rest = payload[len(RECIPE_KEY) + 1 :]
            compressed = rest[0] == 1
            text = rest[2:].split(b"\x00", 2)[2]  # skip language tag and translated keyword
            return _parse_recipe(_inflate(text) if compressed else text)
        if kind in (b"IDAT", b"IEND"):
            break
        position += 12 + length
    return None


class _TooLarge(Exception):
    """Recipe metadata beyond ``MAX_RECIPE_BYTES``."""


def _inflate(compressed: bytes) -> bytes:
    # Decompress at most MAX_RECIPE_BYTES (+1 to know it is more): a crafted chunk that inflates
    # to gigabytes costs one megabyte and a few milliseconds.
    inflater = zlib.decompressobj()
    text = inflater.decompress(compressed, MAX_RECIPE_BYTES + 1)
    if len(text) > MAX_RECIPE_BYTES:
        raise _TooLarge
    return text


def _parse_recipe(text: bytes) -> dict[str, Any]:
    if len(text) > MAX_RECIPE_BYTES:
        raise _TooLarge
    return json.loads(text)


def read_recipe(source: str | Path | bytes) -> dict[str, Any] | None:
    """The recipe embedded in an image file (path or bytes), or None when it carries none.

    Raises:
        InputImageError: the metadata would decompress to more than ``MAX_RECIPE_BYTES`` (1 MB);
            it is not decompressed further.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    kind = sniff_format(data)
    try:
        if kind == "png":
            return _png_recipe(data)
        match = _XMP_RE.search(data)
        if match:
            return _parse_recipe(_inflate(base64.b64decode(match.group(1))))
    except _TooLarge:
        where = source if not isinstance(source, bytes) else "The image"
        raise InputImageError(
            f"{where} carries a recipe larger than {MAX_RECIPE_BYTES // (1 << 20)} MB once decompressed; "
            "it is refused, not read.",
            path=None if isinstance(source, bytes) else str(source),
        ) from None
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
    """Images by content under ``root/images``, or on shared storage by an fsspec URL.

    With no ``url`` the images live in the local folder (the default, unchanged). With a ``url``
    (``s3://bucket/prefix`` through s3fs, a shared mount's folder, any fsspec URL) the shared
    storage holds every image at ``<url>/images/<sha[:2]>/<sha>.<ext>`` — the same relative path
    the run log records, so every root reads every other root's images — and ``root/images`` is
    this machine's cache of it: ``path()`` returns the local copy, fetched on first use and
    checked against its hash. Thumbnails always stay in the local ``root/thumbs``.

    Args:
        root: the local folder (images, or their cache with a ``url``; thumbnails).
        url: shared storage for the images, an fsspec URL or a folder.
        options: fsspec options for ``url`` (``endpoint_url`` for an S3-compatible server...).

    Example:
        >>> store = Store(Path("outputs"))
        >>> relative = store.put(png_bytes, recipe={"run_id": "…"})
        >>> store.path(relative)
        PosixPath('outputs/images/3f/3f9a….png')
        >>> Store(Path("outputs"), url="s3://team-images/workbench")  # shared, cached locally
    """

    def __init__(
        self, root: str | Path, *, url: str | None = None, options: dict[str, Any] | None = None
    ) -> None:
        self.root = Path(root)
        self.images = self.root / "images"
        self._folders: set[Path] = set()  # folders known to exist: one mkdir per folder, not per image
        self.url = str(url).rstrip("/") if url else None
        self.options = dict(options or {})
        self._fs: Any = None
        self._base = ""
        self._shared: set[str] = set()  # relative paths known to be on the shared storage
        if self.url:
            self._fs, self._base = _open_shared(self.url, options or {})

    @classmethod
    def open(
        cls, root: str | Path, url: str | None = None, options: dict[str, Any] | str | None = None
    ) -> Store:
        """The store a ``Workbench`` uses: ``url`` else ``$WORKBENCH_STORE`` (else the local folder),
        with ``options`` else ``$WORKBENCH_STORE_OPTIONS`` (a JSON object).

        Raises:
            StoreError: the URL cannot be opened or reached, or the options are not a JSON object.
        """
        url = url or os.environ.get(STORE_ENV) or None
        if options is None:
            options = os.environ.get(STORE_OPTIONS_ENV) or None
        if isinstance(options, str):
            try:
                options = json.loads(options)
            except ValueError:
                options = None
            if not isinstance(options, dict):
                raise StoreError(f"{STORE_OPTIONS_ENV} must be a JSON object, e.g. '{_OPTIONS_EXAMPLE}'.")
        store = cls(root, url=url, options=options)
        if store.url:
            store.check()
        return store

    @property
    def shared(self) -> bool:
        """True when the images live on shared storage (a URL), not only in the local folder."""
        return self._fs is not None

    @property
    def location(self) -> str:
        """Where the images live, for messages: the URL without credentials, or the local folder."""
        return _shown(self.url) if self.url else str(self.images)

    def check(self) -> None:
        """Make sure the shared storage can be reached (a local or mounted folder is created).

        Raises:
            StoreError: it cannot be reached, or its bucket does not exist.
        """
        if self._fs is None:
            return
        try:
            if _is_local(self._fs):
                self._fs.makedirs(self._base, exist_ok=True)
                return
            top = self._base.split("/", 1)[0]
            self._fs.info(top)  # the bucket (or top folder): its own error when it cannot be reached
        except FileNotFoundError:
            top = self._base.split("/", 1)[0]
            raise StoreError(
                f"The image store {self.location} cannot be used: {top} does not exist."
            ) from None
        except Exception as exc:
            raise StoreError(f"The image store {self.location} cannot be reached: {_reason(exc)}") from None
        finally:
            with contextlib.suppress(Exception):
                self._fs.invalidate_cache()

    def _key(self, relative: str | Path) -> str:
        return f"{self._base}/{Path(relative).as_posix()}"

    def path(self, relative: str | Path) -> Path:
        """The absolute local path of a stored image from its ledger entry (relative to the root).

        On shared storage the image is fetched into the local cache first, if it is not there
        yet; an image found nowhere gives a path that does not exist, as a missing local one does.
        """
        local = self.root / relative
        if self._fs is not None and not local.is_file():
            self._fetch(Path(relative), local)
        return local

    def read(self, relative: str | Path) -> bytes:
        """A stored image's bytes (from the local cache, else the shared storage).

        Raises:
            InputImageError: no such image.
        """
        path = self.path(relative)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise InputImageError(f"No image {Path(relative).as_posix()} in {self.location}.") from None

    def exists(self, relative: str | Path) -> bool:
        if (self.root / relative).is_file():
            return True
        if self._fs is None:
            return False
        key = Path(relative).as_posix()
        if key in self._shared:
            return True
        try:
            found = bool(self._fs.exists(self._key(key)))
        except Exception as exc:
            raise StoreError(f"The image store {self.location} cannot be reached: {_reason(exc)}") from None
        if found:
            self._shared.add(key)
        return found

    def put(self, data: bytes, *, recipe: dict[str, Any] | None = None) -> str:
        """Store encoded image bytes (with ``recipe`` embedded); return the path relative to the root.

        On shared storage the image is written there (once: its name is its hash) and kept in the
        local cache; an upload that fails raises ``StoreError`` and the run is not recorded as ok.
        """
        kind = sniff_stored_format(data)
        if kind is None:
            raise InputImageError("Only PNG, JPEG, WebP, GIF and SVG images can be stored.")
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
        if self._fs is not None:
            self._upload(relative.as_posix(), data)
        return relative.as_posix()

    def put_file(self, relative: str, data: bytes) -> None:
        """Keep a small file that is not an image (a batch's plan) on the shared storage too, at
        ``<url>/<relative>``, so another root can resume what this one started; nothing when the
        store is the local folder. It may be replaced (a resumed batch writes its plan again)."""
        if self._fs is None:
            return
        key = self._key(relative)
        try:
            if _is_local(self._fs):
                Path(key).parent.mkdir(parents=True, exist_ok=True)
                write_atomic(Path(key), data)
            else:
                self._fs.pipe_file(key, data)
        except Exception as exc:
            raise StoreError(f"{relative} could not be written to {self.location}: {_reason(exc)}") from None

    def get_file(self, relative: str) -> bytes | None:
        """A file kept with ``put_file``, or None (no such file, or the store is local)."""
        if self._fs is None:
            return None
        try:
            return self._fs.cat_file(self._key(relative))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise StoreError(f"{relative} could not be read from {self.location}: {_reason(exc)}") from None

    def _upload(self, relative: str, data: bytes) -> None:
        if relative in self._shared:
            return
        key = self._key(relative)
        try:
            if _is_local(self._fs):
                target = Path(key)
                if not target.is_file():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    write_atomic(target, data)
            elif not self._fs.exists(key):
                self._fs.pipe_file(key, data)  # an object store writes an object whole or not at all
        except Exception as exc:
            raise StoreError(
                f"The image could not be written to {self.location}: {_reason(exc)}", path=relative
            ) from None
        self._shared.add(relative)

    def _fetch(self, relative: Path, local: Path) -> None:
        key = self._key(relative)
        try:
            data = self._fs.cat_file(key)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise StoreError(
                f"The image {relative.as_posix()} could not be read from {self.location}: {_reason(exc)}",
                path=relative.as_posix(),
            ) from None
        if relative.stem != hashlib.sha256(data).hexdigest():
            raise StoreError(
                f"The image {relative.as_posix()} in {self.location} does not match its hash; "
                "it was changed after it was stored and is not used.",
                path=relative.as_posix(),
            )
        local.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(local, data)
        self._shared.add(relative.as_posix())

    def thumbnail(self, relative: str | Path, size: int = 256, *, image: Image.Image | None = None) -> bytes:
        """A small WebP of a stored image, at most ``size`` pixels a side, cached under ``root/thumbs``.

        Stored images never change (their name is their hash), so a thumbnail made once is good
        forever: widgets and notebooks show these instead of inlining full-size images. On shared
        storage the thumbnails stay in this machine's ``root/thumbs``.

        ``image``: the stored image's pixels already decoded (the run pipeline has just checked
        the answer), so the file is not decoded again; ``image`` is not changed. A PNG's or
        WebP's thumbnail is the same either way; a JPEG's is always made from its file (the
        decoder reduces while it reads), so a decoded JPEG is not used.

        Raises:
            InputImageError: the image is missing or cannot be read.
        """
        source = self.root / relative
        if source.suffix.lower() == ".svg":
            raise InputImageError(
                NOT_RASTER.format(what=str(relative), action="a thumbnail", verb="preview"),
                path=str(source),
            )
        cached = self.root / "thumbs" / str(size) / f"{source.stem}.webp"
        try:
            return cached.read_bytes()
        except FileNotFoundError:
            pass
        if image is not None and source.suffix.lower() in (".png", ".webp"):
            data = _thumbnail_webp(_thumbnail_pixels(image, size), size)
        else:
            source = self.path(relative)
            try:
                with Image.open(source) as opened:
                    data = _thumbnail_webp(opened, size)
            except FileNotFoundError:
                raise InputImageError(f"No image at {source}.", path=str(source)) from None
            except OSError as exc:
                raise InputImageError(
                    f"{source} cannot be read as an image: {exc}.", path=str(source)
                ) from None
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cached, data)
        return data


def _thumbnail_pixels(image: Image.Image, size: int) -> Image.Image:
    """What ``image.thumbnail((size, size), LANCZOS, reducing_gap=1.0)`` makes of a decoded PNG or
    WebP: a new, resized image, or ``image`` itself when it fits already (the caller only reads
    it). ``image`` is left as it is without a copy of its full pixels first (a fresh 1024² copy,
    faulting in new pages, was ~2.5 ms of each answer of a batch). The size is Pillow's own rounding
    (``Image.thumbnail``'s ``preserve_aspect_ratio``); a PNG has no ``draft``."""
    width, height = image.size
    if size >= width and size >= height:
        return image
    aspect = width / height

    def rounded(number: float, key: Callable[[int], float]) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    if aspect <= 1:  # (size / size against the aspect, as Pillow compares them)
        final = (rounded(size * aspect, lambda n: abs(aspect - n / size)), size)
    else:
        final = (size, rounded(size / aspect, lambda n: 0 if n == 0 else abs(aspect - size / n)))
    return image.resize(final, Image.Resampling.LANCZOS, reducing_gap=1.0)


def _thumbnail_webp(image: Image.Image, size: int) -> bytes:
    """``Store.thumbnail``'s encoding: ``image`` (reduced in place) at most ``size`` px a side, WebP.

    The image is first reduced by a whole factor (a box average, ~1 ms for 1024²) and only what
    remains goes through LANCZOS: a fifth of the cost of LANCZOS from twice the size. Importing
    the WebP plugin by name spares the first save of a process Pillow's load of every plugin."""
    from PIL import WebPImagePlugin  # noqa: F401 - registers the WebP writer

    image.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=1.0)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=72, method=0)  # the fastest: 2-4x quicker than 4, as small
    return buffer.getvalue()


STORE_ENV = "WORKBENCH_STORE"
STORE_OPTIONS_ENV = "WORKBENCH_STORE_OPTIONS"
_OPTIONS_EXAMPLE = '{"endpoint_url": "http://127.0.0.1:9000"}'
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def _shown(url: str) -> str:
    """A URL as it may be printed: any ``user:password@`` is dropped."""
    return _CREDENTIALS.sub("", url)


def _register_secrets(url: str, options: dict[str, Any]) -> None:
    """A URL's password and any secret-named option never reach a message (workbench.redaction)."""
    from urllib.parse import urlsplit

    from workbench.redaction import register_secret

    with contextlib.suppress(ValueError):
        parts = urlsplit(url)
        register_secret(parts.password)
        if parts.password:
            register_secret(f"{parts.username}:{parts.password}")
    for name, value in options.items():
        if isinstance(value, str) and re.search(r"secret|password|token|key", name, re.I):
            register_secret(value)


def _reason(exc: BaseException) -> str:
    """One line from an exception, ending in a full stop, with any credentials dropped."""
    from workbench.redaction import redact

    text = " ".join(str(exc).split()) or type(exc).__name__
    text = redact(_shown(text))
    return text if text.endswith(".") else text + "."


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


def _open_shared(url: str, options: dict[str, Any]) -> tuple[Any, str]:
    """An fsspec filesystem and base path for a store URL, or one StoreError sentence."""
    shown = _shown(url)
    _register_secrets(url, options)
    try:
        import fsspec
    except ImportError:
        raise StoreError(
            f"The image store {shown} needs fsspec: pip install 'workbench[team]'.", path=shown
        ) from None
    try:
        fs, base = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        raise StoreError(
            f"The image store {shown} needs a package that is not installed ({_reason(exc)[:-1]}): "
            "pip install 'workbench[team]'.",
            path=shown,
        ) from None
    except Exception as exc:
        raise StoreError(
            f"{shown} is not an image store fsspec can open: {_reason(exc)}", path=shown
        ) from None
    return fs, str(base).rstrip("/")
