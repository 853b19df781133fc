"""Uploads: every bad kind is refused with its sentence, and leaves the store and run log as they were."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import ledger_state
from PIL import Image

from workbench import InputImageError
from workbench.imaging.uploads import load_upload, open_upload


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _photo(size=(64, 48), mode="RGB") -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB").convert(mode)


def _store_files(root: Path) -> list[str]:
    images = root / "images"
    return sorted(str(p) for p in images.rglob("*")) if images.exists() else []


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp")])
def test_accepted_formats_come_back_as_upright_png(tmp_path, fmt, suffix):
    path = tmp_path / f"photo{suffix}"
    path.write_bytes(_encode(_photo(), fmt))
    data = load_upload(path)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.mode == "RGB" and image.size == (64, 48)


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    image = open_upload(_encode(_photo((64, 48)), "JPEG", exif=exif.tobytes()))
    assert image.size == (48, 64)


@pytest.mark.parametrize(
    "mode,expected", [("P", "RGB"), ("CMYK", "RGB"), ("I;16", "RGB"), ("LA", "RGBA"), ("L", "RGB")]
)
def test_modes_are_converted(mode, expected):
    if mode == "I;16":
        array = np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20
        source = Image.fromarray(array)
        assert source.mode == "I;16"
        fmt = "PNG"
    elif mode == "CMYK":
        source, fmt = _photo(mode="CMYK"), "JPEG"
    elif mode == "LA":
        source = _photo(mode="LA")
        source.putalpha(Image.linear_gradient("L").resize((64, 48)))
        fmt = "PNG"
    else:
        source, fmt = _photo(mode=mode), "PNG"
    image = open_upload(_encode(source, fmt))
    assert image.mode == expected


BAD = {
    "empty": (b"", "is empty (0 bytes)"),
    "gif": (b"GIF89a" + b"\x00" * 40, "is a GIF: uploads must be PNG, JPEG or WebP"),
    "text": (b"hello, this is not an image at all", "is not an image Workbench can read"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_wrong_types_are_refused(case):
    data, sentence = BAD[case]
    with pytest.raises(InputImageError, match=re.escape(sentence)):
        load_upload(data)


def test_lying_extension_is_refused(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(_encode(_photo(), "JPEG"))
    with pytest.raises(InputImageError, match=r"photo.png is named as PNG but holds a JPEG image"):
        load_upload(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_file_is_refused(fmt):
    data = _encode(_photo((256, 256)), fmt)
    with pytest.raises(InputImageError, match="is truncated or corrupt"):
        load_upload(data[: len(data) // 2])


def test_corrupt_file_is_refused():
    data = bytearray(_encode(_photo((128, 128)), "PNG"))
    data[60:400] = b"\x00" * 340
    with pytest.raises(InputImageError, match="is truncated or corrupt"):
        load_upload(bytes(data))


def test_decompression_bomb_is_refused():
    bomb = _encode(Image.new("L", (12000, 12000)), "PNG")  # a few kB that decode to 144 MP
    assert len(bomb) < 1_000_000
    with pytest.raises(InputImageError, match="decompression bomb"):
        load_upload(bomb)


def test_too_large_is_refused(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(_encode(_photo((600, 600)), "PNG"))
    with pytest.raises(InputImageError, match=r"big.png is 1\.0 MB; uploads are limited to 0\.5 MB"):
        load_upload(path, max_bytes=512 * 1024)
    assert load_upload(path)  # within the default 10 MB


def test_the_limit_is_configurable_by_environment(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    path.write_bytes(_encode(_photo((600, 600)), "PNG"))
    monkeypatch.setenv("WORKBENCH_MAX_UPLOAD_MB", "0.25")
    with pytest.raises(InputImageError, match=r"uploads are limited to 0\.25 MB"):
        load_upload(path)
    assert load_upload(path, max_bytes=2 * 1024 * 1024)  # an explicit limit wins


def test_zero_sized_image_file_is_refused(tmp_path):
    path = tmp_path / "nothing.jpg"
    path.write_bytes(b"")
    with pytest.raises(InputImageError, match="nothing.jpg is empty"):
        load_upload(path)


@pytest.mark.parametrize("case", ["empty", "truncated", "lying", "bomb", "large"])
def test_refused_uploads_change_neither_store_nor_ledger(wb, root, tmp_path, case):
    wb.generate("a red mug")  # a store and a ledger with something in them
    before = (_store_files(root), ledger_state(root))
    good = _encode(_photo((300, 300)), "PNG")
    path = tmp_path / "upload.png"
    path.write_bytes(
        {
            "empty": b"",
            "truncated": good[: len(good) // 2],
            "lying": _encode(_photo(), "JPEG"),
            "bomb": _encode(Image.new("L", (12000, 12000)), "PNG"),
            "large": good,
        }[case]
    )
    with pytest.raises(InputImageError):
        wb.finish(path, "black and white", max_bytes=200_000 if case == "large" else 10 * 1024 * 1024)
    assert (_store_files(root), ledger_state(root)) == before


@pytest.mark.parametrize("size", [(0, 0), (0, 10), (10, 0)])
def test_zero_sized_image_is_refused(size):
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", *size, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(InputImageError, match=rf"has no pixels \({size[0]}x{size[1]}\)"):
        load_upload(data)


def test_zero_sized_jpeg_header_is_refused():
    data = bytearray(_encode(_photo((64, 48)), "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = b"\x00\x00\x00\x40"  # height 0, width 64
    with pytest.raises(InputImageError, match=r"has no pixels \(64x0\)"):
        load_upload(bytes(data))
