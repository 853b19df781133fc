"""The draft backend: an offline, deterministic renderer of the structured spec (0 credits).

It draws what the spec says, at the exact size the real service would return: the background's
colours, gradient and texture, the light's direction and colour, a labelled placeholder for the
subject with its shadow, every exact text by role (headline, subtext, labelled steps), and a
"DRAFT" badge, so its output is never taken for a model's. The same request always gives the
same bytes; a seed or variant number changes the sample.

It follows the spec a designer rehearses with: hex colours exactly (within a few ΔE2000, in any
field), named colours and template words as they read (``@dark-concrete`` is dark), placement
words for texts and subject ("headline at the bottom", "in the lower left corner", "space for text
on the right"), and one visual family per style (photo, editorial, film, noir, poster, social
graphic, infographic, flat, storybook, watercolour, 3D, packaging: palette, texture, light,
subject rendering and type differ). ``result.raw["layout"]`` records, per image, where each text
and the subject were laid; the run's recipe keeps it, so the text check reads those regions.

The package: ``scene`` reads the spec (words → backdrop, light, placement, look), ``layout``
places the boxes, ``paint`` draws; the words themselves live in ``workbench.vocabulary``.

Speed comes from rendering the soft parts (background, light, texture, shadow) at a fraction of
the size and scaling them up by pixel repetition, which also keeps the PNG fast to compress (the
encoder filters repeated rows to zeros); the sharp parts (subject, texts, badge) are drawn at
full size.

Example:
    >>> backend = DraftBackend()
    >>> spec = PromptSpec(subject="a white leather sneaker", background="dark concrete",
    ...                   texts=[TextItem("MOVE FORWARD")], aspect="2:3")
    >>> result = backend.generate(ImageRequest(compose(spec), *spec.size, spec=spec))
    >>> len(result.images), result.model
    (1, 'draft-1')
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import time
import zlib
from typing import Any

from PIL import Image

from workbench.backends.base import Backend, ImageRequest, ImageResult, ModelCapabilities, PartialCallback
from workbench.backends.draft.paint import render
from workbench.backends.draft.scene import (
    Scene,
    parse_backdrop,
    parse_light,
    scene_for,
    short_label,
    spec_from_prompt,
)
from workbench.imaging.fonts import FontLibrary
from workbench.spec import QUALITIES
from workbench.vocabulary import SCENES, colours_in

__all__ = [
    "SCENES",
    "DraftBackend",
    "Scene",
    "colours_in",
    "encode",
    "parse_backdrop",
    "parse_light",
    "render",
    "scene_for",
    "short_label",
    "spec_from_prompt",
]

MODEL = "draft-1"


def encode(image: Image.Image, fmt: str, compression: int | None = None) -> bytes:
    """Encode deterministically: no timestamps or other metadata; PNG at the fastest level.

    ``compression`` (0-100, as the image service takes it) sets JPEG and WebP quality.
    """
    buffer = io.BytesIO()
    quality = 90 if compression is None else min(95, max(1, compression))
    if fmt == "png":
        if image.mode in ("RGB", "RGBA"):
            return encode_png(image)
        image.save(buffer, "PNG", compress_level=1)
    elif fmt == "jpeg":
        image.convert("RGB").save(buffer, "JPEG", quality=quality)
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=quality, method=4)
    else:  # ImageRequest validates formats; this guards direct callers.
        raise ValueError(f"Unknown image format {fmt!r}.")
    return buffer.getvalue()


def _laid_texts(source: bytes) -> list[dict[str, Any]]:
    """Where the source's recipe says its exact texts were laid (none for a foreign image)."""
    from workbench.store import read_recipe

    try:
        recipe = read_recipe(source) or {}
    except Exception:  # a damaged or foreign recipe: nothing to re-lay
        return []
    texts = (recipe.get("layout") or {}).get("texts") or []
    return [t for t in texts if isinstance(t, dict) and t.get("text") and t.get("box")]


def _erase_boxes(image: Image.Image, boxes: list[Any]) -> Image.Image:
    """The image with each box filled by the median colour around it (texts out of the cut-out's way)."""
    import numpy as np

    pixels = np.array(image.convert("RGB"))
    height, width = pixels.shape[:2]
    for box in boxes:
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        pad = max(4, (y1 - y0) // 6)
        x0, y0, x1, y1 = max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad)
        if x1 <= x0 or y1 <= y0:
            continue
        ring = np.concatenate(
            [pixels[max(0, y0 - 3) : y0, x0:x1].reshape(-1, 3), pixels[y1 : y1 + 3, x0:x1].reshape(-1, 3)]
        )
        if len(ring):
            pixels[y0:y1, x0:x1] = np.median(ring, axis=0).astype(np.uint8)
    out = Image.fromarray(pixels, "RGB")
    return out if "A" not in image.mode else Image.merge("RGBA", (*out.split(), image.getchannel("A")))


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


try:  # ISA-L's deflate: a few ms for a 1024x1024 draft where zlib takes 10-14
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - isal is a dependency; a build without it still works
    _isal_zlib = None


def _deflate(data: memoryview, level: int) -> bytes:
    """A zlib stream of ``data``: ISA-L at its level ``level`` (0-3) if installed, else zlib's."""
    if _isal_zlib is not None:
        return _isal_zlib.compress(data, min(level, _isal_zlib.ISAL_BEST_COMPRESSION))
    deflate = zlib.compressobj(level, zlib.DEFLATED, 15, 9)
    return deflate.compress(data) + deflate.flush()


def encode_png(image: Image.Image, level: int = 1) -> bytes:
    """A PNG of an RGB or RGBA image, filtered for the draft's pictures and deflated at ``level``.

    A row equal to the one above is filtered "Up" (all zeros: the soft layer is drawn small and
    scaled up, so most rows repeat), every other row "Sub"; numpy does the filtering and ISA-L
    (``isal``) the deflate, about eight times as fast as zlib at level 1 and a little smaller
    (zlib at ``level`` where isal is not installed), with no metadata: the same image always
    gives the same bytes.
    """
    import numpy as np

    pixels = np.asarray(image)
    height, width = pixels.shape[:2]
    channels = pixels.shape[2]
    rows = pixels.reshape(height, width * channels)
    out = np.empty((height, width * channels + 1), np.uint8)
    out[:, 0] = 1  # Sub: each byte minus the one a pixel to the left
    out[:, 1 : 1 + channels] = rows[:, :channels]
    np.subtract(rows[:, channels:], rows[:, :-channels], out=out[:, 1 + channels :], casting="unsafe")
    same = np.zeros(height, bool)
    # Rows compared as 8-byte words where their length allows: a third of the time of byte-wise.
    words = np.ascontiguousarray(rows).view(f"u{math.gcd(rows.shape[1], 8)}")
    same[1:] = (words[1:] == words[:-1]).all(axis=1)
    out[same, 0] = 2  # Up: a repeated row is all zeros
    out[same, 1:] = 0
    data = _deflate(out.data, level)
    colour = 2 if channels == 3 else 6
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def _seed(request: ImageRequest) -> int:
    """The run's seed: the request's (or its spec's) seed, else a hash of the prompt; with the variant."""
    seed = request.seed
    if seed is None and request.spec is not None:
        seed = request.spec.seed
    material = f"seed:{seed}" if seed is not None else f"prompt:{request.prompt}"
    digest = hashlib.sha256(f"{material}|variant:{request.variant}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _image_seed(base: int, index: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{base}:{index}".encode()).digest()[:8], "big")


class DraftBackend(Backend):
    """The offline draft renderer: free, deterministic, labelled as a draft.

    Options:
        fonts: a ``FontLibrary`` for the texts (a brand's fonts, or none at all in tests);
            the default library (``$WORKBENCH_FONTS`` and the system's fonts) when omitted.

    Example:
        >>> result = DraftBackend().generate(ImageRequest("a red bicycle, 'RIDE'", 1024, 1024))
        >>> result.raw["draft"]
        True
    """

    name = "draft"
    version = "1"
    needs_key = False
    key_env = None
    uses_spec = True
    is_draft = True
    default_model = MODEL
    option_names = ("fonts",)
    models = {
        MODEL: ModelCapabilities(
            sizes=None,
            qualities=QUALITIES,
            transparency=True,
            edit=True,  # local finishing only (see ``edit``); other edits need the image service
            max_n=10,
            multiple_of=16,
            max_ratio=3.0,
            max_pixels=3840 * 2160,
            max_edge=3840,
            formats=("png", "jpeg", "webp"),
        )
    }

    def __init__(self, *, fonts: FontLibrary | None = None, **options: Any) -> None:
        super().__init__(fonts=fonts, **options)
        self.fonts = fonts

    @classmethod
    def check(cls, request: ImageRequest) -> None:
        """Generation is checked as usual; an edit must name a local finishing operation.

        A local edit works on the input at whatever size it has (uploads need not be multiples of
        16, and a 4K upscale is larger than the renderer's own limit), so sizes are not checked.
        """
        if request.kind != "edit":
            super().check(request)
            return
        from workbench.errors import CapabilityError
        from workbench.instructions import LOCAL_EDIT_EXAMPLES, map_instruction

        cls.capabilities(request.model)
        if map_instruction(request.prompt) is None:
            raise CapabilityError(
                f"The draft backend cannot edit with {request.prompt!r}: it edits locally only, as in "
                f"{', '.join(repr(example) for example in LOCAL_EDIT_EXAMPLES)}. Use the image service "
                "(backend 'openai') for this edit.",
                field="kind",
            )

    def edit(self, request: ImageRequest, *, on_partial: PartialCallback | None = None) -> ImageResult:
        """Run the local finishing operation the prompt names on ``request.inputs[0]`` (0 credits).

        With a mask, the result replaces the source only where the mask's alpha is 0 (for
        operations that keep the size). A replacement background image travels as ``inputs[1]``.
        """
        self.check(request)
        from workbench.imaging.finishing import apply
        from workbench.instructions import map_instruction

        start = time.perf_counter()
        operation = map_instruction(request.prompt)
        assert operation is not None  # check() refused anything else
        params = dict(operation.params)
        with Image.open(io.BytesIO(request.inputs[0])) as source:
            source.load()
            image = source.copy()
        if params.get("background") == "input:1":
            if len(request.inputs) < 2:
                from workbench.errors import SpecError

                raise SpecError("The new background image is missing (inputs[1]).", field="inputs")
            with Image.open(io.BytesIO(request.inputs[1])) as background:
                background.load()
                params["background"] = background.copy()
        laid: list[dict[str, Any]] = []
        if operation.operation == "overlay_text":
            params["laid"] = laid  # where each text goes: the text check reads there
            if self.fonts is not None:
                params["library"] = self.fonts  # the brand's fonts, as for generated texts
        relaid = operation.operation in ("replace_background", "remove_background")
        texts = _laid_texts(request.inputs[0]) if relaid else []
        if texts:
            image = _erase_boxes(image, [t["box"] for t in texts])  # the texts are laid again below
        result = apply(image, operation.operation, **params)
        if texts:
            result = self._relay_texts(texts, result, laid)
        if request.mask is not None and result.size == image.size:
            with Image.open(io.BytesIO(request.mask)) as mask:
                keep = mask.convert("RGBA").getchannel("A")  # 255 = keep the source, 0 = edited
            mode = "RGBA" if "A" in result.mode or "A" in image.mode else "RGB"
            result = Image.composite(image.convert(mode), result.convert(mode), keep)
        latency = (time.perf_counter() - start) * 1000
        return ImageResult(
            images=[encode(result, request.output_format, request.output_compression)],
            format=request.output_format,
            model=MODEL,
            usage=None,
            latency_ms=latency,
            raw={
                "draft": True,
                "renderer": f"{self.name}/{self.version}",
                "operation": operation.describe(),
                "size": f"{result.width}x{result.height}",
                **({"layout": [{"texts": laid}]} if laid else {}),
            },
        )

    def _relay_texts(
        self, texts: list[dict[str, Any]], result: Image.Image, laid: list[dict[str, Any]]
    ) -> Image.Image:
        """Lay the source's exact texts again after its background changed: segmentation keeps the
        subject and drops everything else, texts included, so they are typeset anew where the
        source's recipe says they were (the ink chosen for the new background)."""
        from workbench.imaging.overlay import overlay_texts

        width, height = result.size
        for item in texts:
            box = item.get("box")
            if not box or not item.get("text"):
                continue
            x0, y0, x1, y1 = (float(v) for v in box)
            pad = 0.15 * (y1 - y0)
            slot = (
                max(0.0, (x0 - pad) / width),
                max(0.0, (y0 - pad) / height),
                min(1.0, (x1 + pad) / width),
                min(1.0, (y1 + pad) / height),
            )
            role = f"relaid-{len(laid)}"
            result = overlay_texts(
                result, [{"text": item["text"], "role": "headline"}], slots={"headline": slot},
                library=self.fonts, laid=laid,
            )  # fmt: skip
            laid[-1]["role"] = item.get("role", "headline") if laid else role
        return result

    def generate(self, request: ImageRequest, *, on_partial: PartialCallback | None = None) -> ImageResult:
        """Render ``request.n`` draft images of exactly the requested size and format.

        Raises:
            CapabilityError: the request asks for what the draft model cannot make (size, edit...).
            FontMissingError: an exact text is in a script no installed font covers.
        """
        self.check(request)
        start = time.perf_counter()
        scene = scene_for(request)
        base = _seed(request)
        seeds = [_image_seed(base, i) for i in range(request.n)]
        transparent = request.background == "transparent"
        images = []
        layouts: list[dict[str, Any]] = []
        for i, seed in enumerate(seeds):
            laid: dict[str, Any] = {}
            image = render(
                scene,
                request.width,
                request.height,
                seed=seed,
                index=i,
                count=request.n,
                transparent=transparent,
                quality=request.quality,
                fonts=self.fonts,
                laid=laid,
            )
            layouts.append(laid)
            if i == 0 and on_partial is not None and request.partial_images:
                for k in range(request.partial_images):
                    step = 2 ** (request.partial_images - k + 1)
                    preview = image.reduce(step)
                    on_partial(k, encode(preview, request.output_format, request.output_compression))
            images.append(encode(image, request.output_format, request.output_compression))
        latency = (time.perf_counter() - start) * 1000
        return ImageResult(
            images=images,
            format=request.output_format,
            model=MODEL,
            usage=None,
            latency_ms=latency,
            raw={
                "draft": True,
                "renderer": f"{self.name}/{self.version}",
                "seed": base,
                "seeds": seeds,
                "size": request.size,
                "scene": scene.describe(),
                "layout": layouts,
            },
        )
