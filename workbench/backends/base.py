"""The one backend contract: requests, results, capabilities and the registry.

A backend declares what it can do as class attributes (``needs_key``, ``key_env``, its models and
their capabilities) and implements ``generate`` and ``edit``. Backends register through the
``workbench.backends`` entry-point group — the built-in ``draft`` and ``openai`` exactly like a
third party's::

    [project.entry-points."workbench.backends"]
    mine = "my_package.backend:MyBackend"
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from workbench.errors import BackendError, CapabilityError, SpecError

if TYPE_CHECKING:
    from workbench.spec import PromptSpec

__all__ = [
    "Backend",
    "ImageRequest",
    "ImageResult",
    "ModelCapabilities",
    "PartialCallback",
    "Usage",
    "available_backends",
    "get_backend_class",
    "register_backend",
    "registered_backend",
    "registry_snapshot",
    "unregister_backend",
]

KINDS = ("generate", "edit")
BACKGROUNDS = ("auto", "opaque", "transparent")
FORMATS = ("png", "jpeg", "webp")  # raster formats every backend may write (the default capability)
# What the Images API can answer in: the raster formats, animated GIF and SVG (vector). A model's
# table row says which it writes; GIF and SVG have their own rules, checked in ImageRequest.
OUTPUT_FORMATS = (*FORMATS, "gif", "svg")
MODERATIONS = ("auto", "low")
COMPLEXITIES = ("low", "medium", "high")
SVG_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
GIF_FRAMES = (2, 16)  # frame_count, from..to (the service's default is 9)
GIF_MAX_FRAME_MS = 655_350

MAX_SEED = 2**63 - 1
MAX_EDGE = 65536

PartialCallback = Callable[[int, bytes], None]
"""Called with (index, encoded preview image) as partial images stream in."""


def _whole(value: Any, least: int, most: int) -> bool:
    """A whole number (not a bool, a float or text) within least..most."""
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= most


@dataclass(frozen=True)
class ImageRequest:
    """One request to a backend: everything that changes its output, nothing that does not.

    ``inputs`` and ``mask`` are encoded image files (edits). ``spec`` travels along for backends
    that render from the structured spec (``Backend.uses_spec``), such as the draft renderer.
    """

    prompt: str
    width: int
    height: int
    quality: str = "medium"
    kind: str = "generate"
    n: int = 1
    seed: int | None = None
    model: str | None = None
    background: str = "auto"
    output_format: str = "png"
    output_compression: int | None = None
    moderation: str = "auto"
    inputs: tuple[bytes, ...] = ()
    mask: bytes | None = None
    spec: PromptSpec | None = None
    variant: int = 0
    partial_images: int = 0
    input_fidelity: str | None = None
    safety_identifier: str | None = None
    complexity: str | None = None
    frame_count: int | None = None
    frame_duration_ms: int | None = None
    svg_model: str | None = None
    svg_effort: str | None = None
    markup: bytes | None = None  # a transparent PNG drawn over the first input to guide an edit

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SpecError(f"Unknown request kind {self.kind!r}: use generate or edit.", field="kind")
        if not self.prompt or not self.prompt.strip():
            raise SpecError("The prompt is empty: describe the image you want.", field="prompt")
        if self.background not in BACKGROUNDS:
            raise SpecError(
                f"Unknown background {self.background!r}: use auto, opaque or transparent.",
                field="background",
            )
        if self.output_format not in OUTPUT_FORMATS:
            raise SpecError(
                f"Unknown output format {self.output_format!r}: use png, jpeg, webp, gif or svg.",
                field="output_format",
            )
        if self.background == "transparent" and self.output_format not in ("png", "webp"):
            raise SpecError(
                f"A transparent background needs PNG or WebP output, not {self.output_format.upper()}.",
                field="output_format",
            )
        self._check_animation_and_vector()
        if self.output_compression is not None and not _whole(self.output_compression, 0, 100):
            raise SpecError(
                f"output_compression is a whole number from 0 to 100, not {self.output_compression!r}.",
                field="output_compression",
            )
        if self.seed is not None and not _whole(self.seed, 0, MAX_SEED):
            raise SpecError(
                f"The seed is a whole number from 0 to 2**63 - 1, not {self.seed!r}.", field="seed"
            )
        if not _whole(self.variant, 0, MAX_SEED):
            raise SpecError(
                f"The variant is a whole number of 0 or more, not {self.variant!r}.", field="variant"
            )
        if self.input_fidelity not in (None, "low", "high"):
            raise SpecError(
                f"Unknown input_fidelity {self.input_fidelity!r}: use low or high.", field="input_fidelity"
            )
        if self.safety_identifier is not None and (
            not isinstance(self.safety_identifier, str) or not 0 < len(self.safety_identifier) <= 64
        ):
            raise SpecError(
                "The safety identifier (the run's user) is text of 1 to 64 characters: hash a user name "
                "or e-mail rather than sending it.",
                field="safety_identifier",
            )
        if self.moderation not in MODERATIONS:
            raise SpecError(f"Unknown moderation {self.moderation!r}: use auto or low.", field="moderation")
        if self.kind == "edit" and not self.inputs:
            raise SpecError("An edit needs at least one input image.", field="inputs")
        if self.markup is not None:
            if not self.inputs:
                raise SpecError(
                    "A markup is drawn over an input image: it goes with an edit.", field="markup"
                )
            if self.mask is not None:
                raise SpecError(
                    "A markup cannot be combined with a mask: give one way of marking the edit.",
                    field="markup",
                )
        if not _whole(self.width, 1, MAX_EDGE) or not _whole(self.height, 1, MAX_EDGE):
            raise SpecError(f"Invalid size {self.width}x{self.height}.", field="size")
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise SpecError(
                f"n is the number of images: a whole number of at least 1, not {self.n!r}.", field="n"
            )
        if not _whole(self.partial_images, 0, 3):
            raise SpecError("partial_images must be from 0 to 3.", field="partial_images")

    def _check_animation_and_vector(self) -> None:
        """The rules of GIF and SVG output and of ``complexity``, as the Images API states them."""
        if self.complexity is not None and self.complexity not in COMPLEXITIES:
            raise SpecError(
                f"Unknown complexity {self.complexity!r}: use low, medium or high.", field="complexity"
            )
        fmt = self.output_format
        if fmt != "gif" and (self.frame_count is not None or self.frame_duration_ms is not None):
            raise SpecError("frame_count and frame_duration_ms go with GIF output only.", field="frame_count")
        if self.frame_count is not None and not _whole(self.frame_count, *GIF_FRAMES):
            raise SpecError(
                f"A GIF has {GIF_FRAMES[0]} to {GIF_FRAMES[1]} frames, not {self.frame_count!r}.",
                field="frame_count",
            )
        if self.frame_duration_ms is not None and not _whole(self.frame_duration_ms, 10, GIF_MAX_FRAME_MS):
            raise SpecError(
                f"frame_duration_ms is a whole number of milliseconds from 10 to {GIF_MAX_FRAME_MS:,}, "
                f"not {self.frame_duration_ms!r}.",
                field="frame_duration_ms",
            )
        if fmt != "svg" and (self.svg_model is not None or self.svg_effort is not None):
            raise SpecError("svg_model and svg_effort go with SVG output only.", field="svg_model")
        if self.svg_model is not None and (not isinstance(self.svg_model, str) or not self.svg_model.strip()):
            raise SpecError("svg_model is the name of the model that authors the SVG.", field="svg_model")
        if self.svg_effort is not None and self.svg_model is None:
            # The service's svg object requires its model whenever it is sent (omitted, the
            # service's default author and effort are used): an effort alone cannot be sent.
            raise SpecError(
                "svg_effort needs svg_model (the model that authors the SVG, e.g. gpt-5): give both, "
                "or neither for the service's default author.",
                field="svg_effort",
            )
        if self.svg_effort is not None and self.svg_effort not in SVG_EFFORTS:
            raise SpecError(
                f"Unknown svg_effort {self.svg_effort!r}: use {', '.join(SVG_EFFORTS)}.", field="svg_effort"
            )
        if fmt in ("gif", "svg"):
            name = fmt.upper()
            if self.partial_images:
                raise SpecError(
                    f"{name} output does not stream: leave partial_images at 0.", field="partial_images"
                )
            if self.output_compression is not None:
                raise SpecError(f"{name} output takes no output_compression.", field="output_compression")
            if fmt == "gif" and self.mask is not None:
                raise SpecError(
                    "GIF output takes no mask: edit a still image, or leave out the mask.", field="mask"
                )
            if fmt == "svg" and self.n != 1:
                raise SpecError(f"SVG output makes one image per request, not {self.n}.", field="n")

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def fingerprint(self, *, backend: str, version: str, uses_spec: bool) -> str:
        """A hash of everything that changes the output of this request on a backend."""
        payload: dict[str, Any] = {
            "backend": backend,
            "version": version,
            "kind": self.kind,
            "model": self.model,
            "prompt": self.prompt,
            "size": self.size,
            "quality": self.quality,
            "n": self.n,
            "seed": self.seed,
            "background": self.background,
            "format": self.output_format,
            "compression": self.output_compression,
            "moderation": self.moderation,
            "inputs": [hashlib.sha256(b).hexdigest() for b in self.inputs],
            "mask": hashlib.sha256(self.mask).hexdigest() if self.mask else None,
            **({"markup": hashlib.sha256(self.markup).hexdigest()} if self.markup else {}),
            "variant": self.variant,
        }
        # Only when set, so earlier fingerprints stay the same.
        for name in (
            "input_fidelity",
            "complexity",
            "frame_count",
            "frame_duration_ms",
            "svg_model",
            "svg_effort",
        ):
            if getattr(self, name) is not None:
                payload[name] = getattr(self, name)
        if uses_spec and self.spec is not None:
            payload["spec"] = self.spec.to_dict() | {"preset": None}
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class Usage:
    """Tokens the service reported for one call."""

    text_in: int = 0
    image_in: int = 0
    image_out: int = 0
    text_out: int = 0
    # SVG output's author (a text model the service bills apart, its ``svg_usage``): its tokens
    # in and out (reasoning included in out, ``svg_reasoning`` of them) and its model.
    svg_in: int = 0
    svg_out: int = 0
    svg_reasoning: int = 0
    svg_model: str | None = None

    @property
    def tokens_in(self) -> int:
        return self.text_in + self.image_in + self.svg_in

    @property
    def tokens_out(self) -> int:
        return self.image_out + self.text_out + self.svg_out


@dataclass
class ImageResult:
    """What a backend returns: encoded image files, usage, latency and non-secret metadata."""

    images: list[bytes]
    format: str = "png"
    model: str | None = None
    usage: Usage | None = None
    latency_ms: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelCapabilities:
    """What one model can make.

    ``sizes`` is a fixed set of (width, height), or ``None`` for flexible sizes: any WxH whose
    sides are multiples of ``multiple_of``, whose ratio is within ``max_ratio``:1, and whose
    pixel count and edge stay within ``max_pixels`` and ``max_edge``.
    """

    sizes: frozenset[tuple[int, int]] | None = None
    qualities: tuple[str, ...] = ("low", "medium", "high")
    transparency: bool = True
    edit: bool = True
    max_n: int = 10
    multiple_of: int = 16
    max_ratio: float = 3.0
    max_pixels: int = 3840 * 2160
    min_pixels: int = 0
    max_edge: int = 3840
    formats: tuple[str, ...] = FORMATS

    def supports_size(self, width: int, height: int) -> bool:
        if self.sizes is not None:
            return (width, height) in self.sizes
        return (
            width % self.multiple_of == 0
            and height % self.multiple_of == 0
            and max(width, height) / min(width, height) <= self.max_ratio
            and self.min_pixels <= width * height <= self.max_pixels
            and max(width, height) <= self.max_edge
        )

    def describe_sizes(self) -> str:
        if self.sizes is not None:
            return ", ".join(f"{w}x{h}" for w, h in sorted(self.sizes))
        least = f"at least {self.min_pixels:,} and " if self.min_pixels else ""
        return (
            f"any WxH in multiples of {self.multiple_of}, ratio up to {self.max_ratio:g}:1, "
            f"at most {self.max_edge} px a side and {least}at most {self.max_pixels:,} pixels"
        )

    def nearest_sizes(self, width: int, height: int, k: int = 3) -> list[tuple[int, int]]:
        """The ``k`` sizes this model can make nearest to ``width`` x ``height``: fewest pixels
        away first; on a tie the size that covers the request (a crop gives it exactly)."""

        def distance(size: tuple[int, int]) -> tuple[int, bool, float, tuple[int, int]]:
            covers = size[0] >= width and size[1] >= height
            shape = abs(math.log(size[0] / size[1] * height / width))
            return (abs(size[0] - width) + abs(size[1] - height), not covers, shape, size)

        if self.sizes is not None:
            return sorted(self.sizes, key=distance)[:k]
        step = self.multiple_of
        candidates: set[tuple[int, int]] = set()
        # Scale into the pixel and edge limits first, keeping the shape (clamped to the ratio range).
        ratio = min(max(width / height, 1 / self.max_ratio), self.max_ratio)
        pixels = min(max(width * height, self.min_pixels), self.max_pixels)
        w0 = math.sqrt(pixels * ratio)
        h0 = w0 / ratio
        scale = min(1.0, self.max_edge / max(w0, h0))
        w0, h0 = w0 * scale, h0 * scale
        for base_w, base_h in ((width, height), (w0, h0)):
            for dw in range(-3, 4):
                for dh in range(-3, 4):
                    w = (int(base_w) // step + dw) * step
                    h = (int(base_h) // step + dh) * step
                    if w > 0 and h > 0 and self.supports_size(w, h):
                        candidates.add((w, h))
        return sorted(candidates, key=distance)[:k]


def check_request(caps: ModelCapabilities, request: ImageRequest, where: str) -> None:
    """Raise ``CapabilityError`` for what ``request`` asks that ``caps`` cannot make (``where``
    names the model in the sentence, e.g. "The openai model 'gpt-image-2'"); sends nothing.
    The one check of sizes, qualities, counts, transparency, formats and edits, for every backend."""
    if request.quality not in caps.qualities:  # first: a quality it lacks has no size of its own either
        raise CapabilityError(
            f"{where} has no quality {request.quality!r}: it has {', '.join(caps.qualities)}.",
            field="quality",
        )
    if not caps.supports_size(request.width, request.height):
        near = ", ".join(f"{w}x{h}" for w, h in caps.nearest_sizes(request.width, request.height, 3))
        raise CapabilityError(
            f"{where} cannot make {request.size} (it makes {caps.describe_sizes()}); "
            f"the nearest sizes it can make: {near}.",
            field="size",
        )
    if request.n > caps.max_n:
        raise CapabilityError(f"{where} makes at most {caps.max_n} images per request.", field="n")
    if request.background == "transparent" and not caps.transparency:
        raise CapabilityError(f"{where} cannot make transparent backgrounds.", field="background")
    if request.output_format not in caps.formats:
        raise CapabilityError(
            f"{where} cannot write {request.output_format}: it writes {', '.join(caps.formats)}.",
            field="output_format",
        )
    if request.kind == "edit" and not caps.edit:
        raise CapabilityError(f"{where} cannot edit images.", field="kind")


class Backend:
    """Base class of every backend. Subclasses set the class attributes and implement ``generate``.

    Attributes:
        name: the registry name (``draft``, ``openai``).
        version: bumps when the same request would give different images (part of fingerprints).
        needs_key / key_env: whether an API key is needed and which environment variable holds it.
        models: capabilities per model name; ``default_model`` is used when a run names none.
        uses_spec: renders from the structured spec, not only the prompt text.
        uses_model_table: its models are rows of the model table (``workbench.models``), which a
            Workbench root's ``models.yaml`` extends; the instance is made with ``models=``.
        is_draft: output is a draft, never to be passed off as a model's.
        option_names: the constructor options it takes (``backend_options``); a ``Workbench``
            refuses any other name when it is made, naming the close match.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    needs_key: ClassVar[bool] = False
    key_env: ClassVar[str | None] = None
    models: ClassVar[dict[str, ModelCapabilities]] = {}
    default_model: ClassVar[str] = ""
    uses_spec: ClassVar[bool] = False
    is_draft: ClassVar[bool] = False
    uses_model_table: ClassVar[bool] = False  # capabilities from workbench/data/models.yaml (+ root's)
    option_names: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> None:
        """Refuse option names the backend does not take, in one sentence naming the close match,
        then option values it cannot use (``check_values``)."""
        if not isinstance(options, Mapping):
            raise SpecError(
                f"The {cls.name or 'this'} backend's options are a mapping of option names to values "
                f"(e.g. {{'timeout': 60}}), not {options!r}.",
                field="backend_options",
            )
        unknown = sorted(set(options) - set(cls.option_names))
        if not unknown:
            cls.check_values(options)
            return
        name = unknown[0]
        close = difflib.get_close_matches(name, cls.option_names, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        takes = ", ".join(cls.option_names) if cls.option_names else "no options"
        raise SpecError(
            f"The {cls.name or 'this'} backend has no option {name!r}.{hint} It takes: {takes}.",
            field="backend_options",
        )

    @classmethod
    def check_values(cls, options: Mapping[str, Any]) -> None:
        """Refuse option values the backend cannot use (one ``SpecError`` sentence); none here."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    @classmethod
    def capabilities(cls, model: str | None = None) -> ModelCapabilities:
        model = model or cls.default_model
        try:
            return cls.models[model]
        except KeyError:
            raise CapabilityError(
                f"The {cls.name} backend has no model {model!r}: "
                f"choose one of {', '.join(sorted(cls.models))}.",
                field="model",
            ) from None

    @classmethod
    def check(cls, request: ImageRequest) -> None:
        """Raise ``CapabilityError`` when the request's model cannot make it; sends nothing."""
        model = request.model or cls.default_model
        check_request(cls.capabilities(model), request, f"The {cls.name} model {model!r}")

    def generate(self, request: ImageRequest, *, on_partial: PartialCallback | None = None) -> ImageResult:
        raise NotImplementedError

    def edit(self, request: ImageRequest, *, on_partial: PartialCallback | None = None) -> ImageResult:
        raise CapabilityError(f"The {self.name} backend cannot edit images.", field="kind")

    def send(self, request: ImageRequest, *, on_partial: PartialCallback | None = None) -> ImageResult:
        """Send one request (dispatch on ``request.kind``): ``Workbench.run(id)`` reads a run back,
        ``Backend.send`` makes one."""
        method = self.edit if request.kind == "edit" else self.generate
        return method(request, on_partial=on_partial)

    async def asend(self, request: ImageRequest, *, on_partial: PartialCallback | None = None) -> ImageResult:
        """Async twin of ``send``; backends with a native async client override it."""
        import asyncio  # here, not at the top: a draft from the command line never awaits

        return await asyncio.to_thread(self.send, request, on_partial=on_partial)

    def close(self) -> None:
        """Release connections; the default holds none."""


_REGISTRY: dict[str, type[Backend]] = {}  # registered in this process (register_backend)
_LOADED: dict[str, type[Backend]] = {}  # entry points loaded once
ENTRY_POINT_GROUP = "workbench.backends"


def register_backend(name: str, cls: type[Backend]) -> None:
    """Register a backend class under ``name`` for this process (tests, notebooks)."""
    _REGISTRY[name] = cls


def unregister_backend(name: str) -> None:
    """Forget a backend registered with ``register_backend`` (an entry point is found again)."""
    _REGISTRY.pop(name, None)


@contextlib.contextmanager
def registered_backend(name: str, cls: type[Backend]) -> Iterator[type[Backend]]:
    """Register ``cls`` as ``name`` for the ``with`` block only; what was there before comes back.

    Example:
        >>> with registered_backend("faulty", FaultyBackend):
        ...     Workbench(backend="faulty").generate("a mug")
    """
    before = _REGISTRY.get(name)
    _REGISTRY[name] = cls
    try:
        yield cls
    finally:
        if before is None:
            _REGISTRY.pop(name, None)
        else:
            _REGISTRY[name] = before


@contextlib.contextmanager
def registry_snapshot() -> Iterator[None]:
    """Restore the registry as it was when the block ends (a test fixture: no backend leaks)."""
    saved = dict(_REGISTRY)
    try:
        yield
    finally:
        _REGISTRY.clear()
        _REGISTRY.update(saved)


# The package's own backends, as pyproject.toml declares their entry points: found without
# importlib.metadata's scan of every installed package (about 40 ms of a cold command).
_BUILTIN = {
    "draft": "workbench.backends.draft:DraftBackend",
    "openai": "workbench.backends.openai:OpenAIBackend",
}


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_backends() -> list[str]:
    """Names of every registered backend, sorted."""
    return sorted(set(_REGISTRY) | set(_entry_points()))


def check_backend_name(name: str) -> None:
    """Raise ``SpecError`` (naming the ones there are) unless a backend called ``name`` exists,
    or ``BackendError`` if its package cannot be loaded. The package's own backends are not
    loaded for it (the draft renderer's modules, numpy and its painting, are ~0.15 s of CPU of a
    cold process that only sends requests to the service); another package's is, so a broken
    one is refused here."""
    if name not in _BUILTIN:
        get_backend_class(name)


def _entry_point(name: str) -> Any:
    eps = _entry_points()
    if name not in eps:
        names = available_backends()
        close = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SpecError(
            f"Unknown backend {name!r}.{hint} Choose one of {', '.join(names) or 'none installed'}.",
            field="backend",
        )
    return eps[name]


def get_backend_class(name: str) -> type[Backend]:
    """Look a backend class up by name; ``SpecError`` names the ones there are."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _LOADED:
        return _LOADED[name]
    builtin = _BUILTIN.get(name)
    entry = None if builtin else _entry_point(name)
    try:
        if builtin:
            module, _, attr = builtin.partition(":")
            cls = getattr(importlib.import_module(module), attr)
        else:
            cls = entry.load()
    except (ImportError, AttributeError) as exc:  # its package is missing or broken
        raise BackendError(f"The {name} backend cannot be loaded ({exc}).", backend=name) from None
    _LOADED[name] = cls
    return cls
