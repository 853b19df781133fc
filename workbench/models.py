"""The image models of the service, as data: ``workbench/data/models.yaml``, with ``<root>/models.yaml``
over it.

Each model's sizes (a fixed set, or free sizes within multiples, pixel, edge and ratio limits), the
size each quality means for each aspect ratio, and what it takes (transparency, edits, masks,
reference images, ``input_fidelity``, moderation, compression, streaming, the Batch API), with its
status: current, deprecated (with its replacement) or retired (refused, naming the replacement).
A new model is a table row, not a code change; a gateway behind ``--base-url`` declares its own
model names in the root's ``models.yaml`` (``like: gpt-image-2`` copies an entry).

The API for front ends (the panel's size control, the CLI)::

    table = ModelTable.load(root)
    table.names()                                  # usable models, the default first
    table.allowed_sizes("gpt-image-2", "16:9")     # [(1536, 864), (3840, 2160)]
    table.nearest_sizes("gpt-image-2", 1920, 1080) # [(1920, 1088), (1920, 1072), ...]
    table.size_for("gpt-image-1.5", "16:9", "high")  # (1536, 1024)
    table.check(request)                           # CapabilityError before anything is sent
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import yamlio
from workbench.backends.base import COMPLEXITIES, FORMATS, OUTPUT_FORMATS, ModelCapabilities, check_request
from workbench.errors import CapabilityError, TemplateError

if TYPE_CHECKING:
    from workbench.backends.base import ImageRequest

__all__ = [
    "API_FIELDS",
    "BACKEND",
    "DEFAULT_MODEL",
    "ModelInfo",
    "ModelTable",
    "allowed_sizes",
    "check_size_aspect",
    "nearest_sizes",
    "parse_size",
    "read_yaml",
    "refuse_unsent",
]

log = logging.getLogger("workbench.models")

BACKEND = "openai"
DEFAULT_MODEL = "gpt-image-2"
STATUSES = ("current", "deprecated", "retired")
_FLAGS = (
    "transparency",
    "edits",
    "mask",
    "moderation",
    "output_compression",
    "streaming",
    "batch_api",
    "markup",
)
_KEYS = frozenset(
    {
        "like",
        "status",
        "date",
        "replacement",
        "note",
        "sizes",
        "qualities",
        "max_inputs",
        "input_fidelity",
        "max_n",
        "formats",
        "complexity",
        *_FLAGS,
    }
)


def read_yaml(path: Path | str, text: str | None = None) -> Any:
    """One YAML file as a ``yamlio.Document`` (the project's one reader): every problem in it, from a
    syntax error to a wrong value, is one ``TemplateError`` sentence ``file:line: field: problem``."""
    return yamlio.load(path, text=text, error=TemplateError)


def parse_size(value: str | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``"1920x1080"`` (or a pair) as (width, height); anything else is one ``SpecError`` sentence."""
    from workbench.errors import SpecError

    if isinstance(value, (tuple, list)) and len(value) == 2:
        width, height = value
    else:
        parts = str(value).lower().replace("×", "x").split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise SpecError(f"A size is WIDTHxHEIGHT in pixels, e.g. 1536x1024, not {value!r}.", field="size")
        width, height = (int(p) for p in parts)
    if any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in (width, height)):
        raise SpecError(f"A size is two whole numbers of pixels above 0, not {value!r}.", field="size")
    return width, height


@dataclass(frozen=True)
class ModelInfo:
    """One model's row of the table: capabilities, quality sizes, features and status."""

    name: str
    status: str = "current"
    date: str | None = None
    replacement: str | None = None
    note: str | None = None
    caps: ModelCapabilities = field(default_factory=ModelCapabilities)
    quality_sizes: Mapping[str, Mapping[str, tuple[int, int]]] = field(default_factory=dict)
    mask: bool = True
    max_inputs: int = 16
    input_fidelity: tuple[str, ...] = ()
    moderation: bool = True
    output_compression: bool = True
    streaming: bool = True
    batch_api: bool = True
    complexity: tuple[str, ...] = ()
    markup: bool = False

    @property
    def usable(self) -> bool:
        return self.status != "retired"

    def describe_status(self) -> str:
        """``current``, ``deprecated since … (use …)``, ``retired … (use …)``."""
        text = self.status
        if self.date and self.status != "current":
            text += f" {self.date}"
        if self.replacement and self.status != "current":
            text += f", use {self.replacement}"
        return text

    def features(self) -> list[str]:
        names = []
        if self.caps.transparency:
            names.append("transparent")
        if self.caps.edit:
            names.append("edits" + ("+mask" if self.mask else ""))
        if self.input_fidelity:
            names.append("input_fidelity=" + "/".join(self.input_fidelity))
        if self.markup:
            names.append("markup")
        if self.complexity:
            names.append("complexity")
        extra = [f for f in self.caps.formats if f not in FORMATS]
        if extra:
            names.append("+".join(extra))
        if self.streaming:
            names.append("streaming")
        if self.batch_api:
            names.append("batch")
        return names


class ModelTable:
    """The model table of one Workbench root (the packaged one with ``root/models.yaml`` over it)."""

    def __init__(self, models: Mapping[str, ModelInfo], *, default: str = DEFAULT_MODEL) -> None:
        self.models = dict(models)
        self.default = default
        self._warned: set[str] = set()

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def packaged_path(cls) -> Any:
        return resources.files("workbench").joinpath("data/models.yaml")

    @classmethod
    def load(cls, root: Path | str | None = None) -> ModelTable:
        """The packaged table, with ``root/models.yaml`` merged over it (entry by entry) when present."""
        packaged = cls.packaged_path()
        packaged_doc = read_yaml("workbench/data/models.yaml", packaged.read_text())
        raw = _models_of(packaged_doc)
        sources = dict.fromkeys(raw, packaged_doc)
        override = Path(root) / "models.yaml" if root else None
        if override is not None and override.is_file():
            override_doc = read_yaml(override)
            extra = _models_of(override_doc)
            for name, entry in extra.items():
                if name in raw and "like" not in entry:
                    raw[name] = {**raw[name], **entry}
                else:
                    raw[name] = dict(entry)
                sources[name] = override_doc
        # The root's entries first: a mistake there is reported there, not in an entry that copies it.
        order = sorted(raw, key=lambda name: sources[name] is packaged_doc)
        infos = {name: _build(name, raw, sources, ()) for name in order}
        for name in order:  # a replacement names a model of the table
            for replacement in (infos[name].replacement or "").split(" or "):
                if replacement and replacement not in raw:
                    raise _bad(
                        sources[name],
                        name,
                        "replacement",
                        f"no model {replacement!r} in the table{_did_you_mean(replacement, raw)}",
                    )
        return cls({name: infos[name] for name in raw})

    # -- lookups ------------------------------------------------------------------------------
    def names(self, *, include_retired: bool = False) -> list[str]:
        """Model names, the default first, then current, deprecated (and retired when asked)."""
        order = {status: i for i, status in enumerate(STATUSES)}
        names = [n for n, m in self.models.items() if include_retired or m.usable]
        return sorted(names, key=lambda n: (n != self.default, order[self.models[n].status], n))

    def info(self, model: str | None) -> ModelInfo:
        """The row of a usable model; a retired or unknown one is one ``CapabilityError`` sentence."""
        name = model or self.default
        info = self.models.get(name)
        if info is None:
            hint = _did_you_mean(name, self.models)
            raise CapabilityError(
                f"The openai backend has no model {name!r}.{hint} Choose one of {', '.join(self.names())}, "
                "or declare it in the models.yaml of your Workbench folder (e.g. `like: gpt-image-2`).",
                field="model",
            )
        if not info.usable:
            since = f" on {info.date}" if info.date else ""
            raise CapabilityError(
                f"The model {name!r} was retired{since}: "
                f"use {info.replacement or 'a current model'} instead.",
                field="model",
            )
        return info

    def capabilities(self, model: str | None) -> ModelCapabilities:
        return self.info(model).caps

    def capabilities_map(self) -> dict[str, ModelCapabilities]:
        """Usable models and their capabilities (what ``Backend.models`` holds)."""
        return {name: self.models[name].caps for name in self.names()}

    def size_for(self, model: str | None, aspect: str, quality: str) -> tuple[int, int] | None:
        """The size a quality means at an aspect ratio on this model, or None when the table has none."""
        return self.info(model).quality_sizes.get(quality, {}).get(aspect)

    def allowed_sizes(self, model: str | None, aspect: str | None = None) -> list[tuple[int, int]]:
        """Sizes to offer in a size control: a fixed-size model's sizes (those nearest ``aspect``
        first), or a free-size model's named sizes for ``aspect`` (one per quality; any other size
        within its limits works too, see ``nearest_sizes``)."""
        info = self.info(model)
        if info.caps.sizes is not None:
            sizes = sorted(info.caps.sizes)
            if aspect:
                target = _ratio(aspect)
                sizes.sort(key=lambda s: abs(math.log(s[0] / s[1] / target)))
            return sizes
        named = {
            size
            for per_aspect in info.quality_sizes.values()
            for a, size in per_aspect.items()
            if aspect is None or a == aspect
        }
        return sorted(named, key=lambda s: (s[0] * s[1], s))

    def nearest_sizes(self, model: str | None, width: int, height: int, k: int = 3) -> list[tuple[int, int]]:
        """Up to ``k`` sizes the model can make, nearest (in shape, then pixels) to width x height."""
        caps = self.info(model).caps
        return caps.nearest_sizes(width, height, k)

    # -- checks -------------------------------------------------------------------------------
    def check(self, request: ImageRequest) -> ModelInfo:
        """Raise ``CapabilityError`` for anything in ``request`` its model cannot take; sends nothing."""
        info = self.info(request.model)
        if info.status == "deprecated" and info.name not in self._warned:
            self._warned.add(info.name)
            log.warning(
                "The model %r is deprecated (%s): use %s.",
                info.name,
                info.date or "date unknown",
                info.replacement,
            )
        caps = info.caps
        where = f"The openai model {info.name!r}"
        check_request(caps, request, where)
        if request.moderation != "auto" and request.inputs:
            raise CapabilityError(
                "moderation applies to generations without images; the edits endpoint (edits and "
                "reference images) takes none.",
                field="moderation",
            )
        if request.inputs and not caps.edit:
            raise CapabilityError(f"{where} takes no input or reference images.", field="inputs")
        if len(request.inputs) > info.max_inputs:
            raise CapabilityError(
                f"{where} takes at most {info.max_inputs} input images per request, "
                f"not {len(request.inputs)}.",
                field="inputs",
            )
        if request.mask is not None and not info.mask:
            raise CapabilityError(f"{where} takes no mask.", field="mask")
        if request.markup is not None:
            if not info.markup:
                raise CapabilityError(
                    f"{where} takes no markup (the GPT Image 2.5 models do): mark the edit with regions "
                    "or a mask.",
                    field="markup",
                )
            _check_markup(request.markup, request.inputs[0])
        fidelity = getattr(request, "input_fidelity", None)
        if fidelity is not None:
            if not info.input_fidelity:
                raise CapabilityError(
                    f"{where} takes no input_fidelity: leave it unset.", field="input_fidelity"
                )
            if fidelity not in info.input_fidelity:
                raise CapabilityError(
                    f"{where} takes input_fidelity {' or '.join(info.input_fidelity)}, not {fidelity!r}.",
                    field="input_fidelity",
                )
            if not request.inputs:
                raise CapabilityError(
                    "input_fidelity applies to input images; this request has none.", field="input_fidelity"
                )
        if request.moderation != "auto" and not info.moderation:
            raise CapabilityError(f"{where} takes no moderation setting.", field="moderation")
        if request.output_compression is not None:
            if not info.output_compression:
                raise CapabilityError(f"{where} takes no output_compression.", field="output_compression")
            if request.output_format == "png":
                raise CapabilityError(
                    "output_compression applies to jpeg and webp output, not png.", field="output_compression"
                )
        if request.partial_images and not info.streaming:
            raise CapabilityError(f"{where} does not stream partial images.", field="partial_images")
        if request.complexity is not None and request.complexity not in info.complexity:
            takes = (
                f"takes complexity {', '.join(info.complexity)}" if info.complexity else "takes no complexity"
            )
            raise CapabilityError(f"{where} {takes}, not {request.complexity!r}.", field="complexity")
        return info

    def check_batch(self, model: str | None, request: ImageRequest | None = None) -> ModelInfo:
        """Refuse (one ``CapabilityError`` sentence) a model the Batch API does not offer, or a
        request it cannot carry: a batch answers once, in a file, so nothing streams."""
        info = self.info(model)
        if not info.batch_api:
            raise CapabilityError(
                f"The openai model {info.name!r} is not offered through the Batch API: "
                "run it directly, or choose another model.",
                field="model",
            )
        if request is not None and request.partial_images:
            raise CapabilityError(
                "The Batch API answers in a file and streams nothing: partial_images cannot go "
                "through it (leave it at 0, or run the job directly).",
                field="partial_images",
            )
        return info


# Every field of the installed client's image generate and edit parameters, and what Workbench
# does with it: "sent" (a run option or the spec, checked against the model's row before sending)
# or "not sent" with the sentence a run that names it gets. A test compares this with the
# client's own params types, so a new client's new field fails it until it is listed here.
API_FIELDS: dict[str, tuple[str, str]] = {
    "prompt": ("sent", "the composed prompt (or an edit's instruction)"),
    "background": ("sent", "transparent= (the model's `transparency`); auto is omitted"),
    "complexity": ("sent", "complexity= where the model's `complexity` lists it"),
    "frame_count": ("sent", "frame_count= with output_format gif"),
    "frame_duration_ms": ("sent", "frame_duration_ms= with output_format gif"),
    "model": ("sent", "model= (a row of the model table)"),
    "moderation": ("sent", "moderation= on generations without images"),
    "n": ("sent", "the spec's n, up to the model's max_n"),
    "output_compression": ("sent", "output_compression= with jpeg or webp"),
    "output_format": ("sent", "output_format=, one of the model's `formats`"),
    "partial_images": ("sent", "partial_images= (streamed; not through the Batch API)"),
    "quality": ("sent", "the spec's quality, one of the model's `qualities`"),
    "safety_identifier": ("sent", "the run's user (safety_identifier=), or the backend's hashed default"),
    "size": ("sent", "size= or the size the model's row gives the aspect and quality"),
    "svg": ("sent", "svg_model= and svg_effort= with output_format svg"),
    "stream": ("sent", "set with partial_images"),
    "image": ("sent", "an edit's image and its references"),
    "mask": ("sent", "an edit's mask or regions (the model's `mask`)"),
    "input_fidelity": ("sent", "input_fidelity= where the model's `input_fidelity` lists it"),
    "response_format": (
        "not sent",
        "response_format is a parameter of the retired DALL·E models: GPT image models answer with "
        "b64_json (an answer with a url is fetched), so Workbench never sends it.",
    ),
    "style": (
        "not sent",
        "style (vivid/natural) is a parameter of the retired DALL·E models: describe the style in "
        "the spec's style field instead.",
    ),
    "user": (
        "not sent",
        "user is deprecated: Workbench sends the run's user as safety_identifier instead.",
    ),
    "markup": ("sent", "markup= on an edit (a transparent PNG over the image), where the model's `markup`"),
}
# The client's values Workbench does not offer, with why (the spec refuses them in a sentence).
API_VALUES_NOT_OFFERED = {
    "quality": {
        "auto": "Workbench sends the quality it priced",
        "standard": "DALL·E only",
        "hd": "DALL·E only",
    },
    "size": {"auto": "Workbench sends the size it priced"},
}


def _check_markup(markup: bytes, image: bytes) -> None:
    """A markup is a PNG the size of the image it is drawn over, with transparent pixels (where
    the image shows through): anything else is one sentence before sending."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(markup)) as drawn, Image.open(io.BytesIO(image)) as under:
            fmt, size, under_size = drawn.format, drawn.size, under.size
            alpha = drawn.convert("RGBA").getchannel("A").getextrema()[0] if fmt == "PNG" else 255
    except Exception:  # noqa: BLE001 - any file Pillow cannot read is the same finding
        raise CapabilityError("The markup is not an image: give a transparent PNG.", field="markup") from None
    if fmt != "PNG":
        raise CapabilityError(f"The markup is {fmt}, not the transparent PNG it must be.", field="markup")
    if size != under_size:
        raise CapabilityError(
            f"The markup is {size[0]}x{size[1]}; it must be the image's size, "
            f"{under_size[0]}x{under_size[1]}.",
            field="markup",
        )
    if alpha == 255:
        raise CapabilityError(
            "The markup has no transparent pixels: draw on a transparent PNG, so the image shows through.",
            field="markup",
        )


def refuse_unsent(options: Mapping[str, Any]) -> None:
    """An Images API parameter Workbench does not send, named as a run option: its one sentence
    (rather than 'unknown spec field')."""
    from workbench.errors import SpecError
    from workbench.spec import SPEC_FIELDS

    for name in options:
        how, why = API_FIELDS.get(name, ("", ""))
        if how == "not sent" and name not in SPEC_FIELDS:  # style= is the spec's own style
            raise SpecError(why, field=name)


def check_size_aspect(size: tuple[int, int], aspect: str) -> None:
    """A size and an aspect that disagree (beyond the 16-pixel rounding of sizes, 3 %) are one
    sentence: the size would win silently and the run would be logged with the wrong aspect."""
    width, height = size
    try:
        a, b = (int(part) for part in aspect.split(":"))
    except ValueError:
        return  # the spec refuses an aspect it does not know, in its own words
    if abs((width / height) / (a / b) - 1) > 0.03:
        from workbench.errors import SpecError

        raise SpecError(
            f"The size {width}x{height} is not the aspect {aspect} (it is {width / height:.2f}:1, not "
            f"{a / b:.2f}:1): give one of them, or a size of that aspect.",
            field="size",
        )


# -- module-level conveniences (the packaged table, or a root's) --------------------------------
def allowed_sizes(
    model: str | None, aspect: str | None = None, *, root: Path | None = None
) -> list[tuple[int, int]]:
    return ModelTable.load(root).allowed_sizes(model, aspect)


def nearest_sizes(
    model: str | None, width: int, height: int, k: int = 3, *, root: Path | None = None
) -> list[tuple[int, int]]:
    return ModelTable.load(root).nearest_sizes(model, width, height, k)


# -- building rows ------------------------------------------------------------------------------
# The top-level keys of a models.yaml: the models, and the blocks their YAML anchors live in.
_TOP_KEYS = ("models", "ladders", "free_sizes", "standard_sizes")


def _did_you_mean(word: Any, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _models_of(doc: Any) -> dict[str, dict[str, Any]]:
    data = doc.data
    if data is None:
        return {}
    if not isinstance(data, Mapping) or not isinstance(data.get("models", {}), Mapping):
        raise doc.error(("models",), "the file must have a `models:` mapping of model names.")
    for key in data:
        if key not in _TOP_KEYS:
            raise doc.error(
                (key,),
                f"unknown key{_did_you_mean(key, _TOP_KEYS)} A models.yaml takes {', '.join(_TOP_KEYS)} "
                "(models under `models:`).",
            )
    models = {}
    for name, entry in (data.get("models") or {}).items():
        if not isinstance(entry, Mapping):
            raise doc.error(("models", name), "an entry must be a mapping of its capabilities.")
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise doc.error(
                ("models", name, unknown[0]),
                f"unknown key.{_did_you_mean(unknown[0], _KEYS)} A model takes {', '.join(sorted(_KEYS))}.",
            )
        models[str(name)] = dict(entry)
    return models


def _bad(doc: Any, name: str, key: str, problem: str) -> Exception:
    """The error for one model's key (``key`` dotted below the model: ``qualities.high.1:1``)."""
    return doc.error(("models", name, *key.split(".")), f"{problem}.")


def _resolved(
    name: str, raw: Mapping[str, dict[str, Any]], sources: Mapping[str, Any], seen: tuple[str, ...]
) -> dict[str, Any]:
    entry = raw[name]
    parent = entry.get("like")
    if parent is None:
        return dict(entry)
    if parent not in raw:
        raise _bad(sources[name], name, "like", f"no model {parent!r} to start from")
    if parent in seen or parent == name:
        raise _bad(sources[name], name, "like", "the `like:` chain comes back to itself")
    base = _resolved(parent, raw, sources, (*seen, name))
    if "status" in entry and entry["status"] != base.get("status", "current"):
        # Another status is another life: the parent's date, replacement and note are not this one's.
        base = {k: v for k, v in base.items() if k not in ("date", "replacement", "note")}
    return {**base, **{k: v for k, v in entry.items() if k != "like"}}


def _build(
    name: str, raw: Mapping[str, dict[str, Any]], sources: Mapping[str, Any], seen: tuple[str, ...]
) -> ModelInfo:
    source = sources[name]
    entry = _resolved(name, raw, sources, seen)
    status = entry.get("status", "current")
    if status not in STATUSES:
        raise _bad(source, name, "status", f"{status!r} is not one of {', '.join(STATUSES)}")
    date = entry.get("date")
    if status != "current" and date is None:
        raise _bad(
            source,
            name,
            "status",
            f"a {status} model needs its own `date:` (when it was "
            f"{'deprecated' if status == 'deprecated' else 'shut down'})",
        )
    common: dict[str, Any] = {
        "name": name,
        "status": status,
        "date": str(date) if date is not None else None,
        "replacement": _replacement(source, name, entry.get("replacement")),
        "note": entry.get("note"),
    }
    if status == "retired":
        return ModelInfo(**common, caps=ModelCapabilities(sizes=frozenset(), qualities=()))
    for key in _FLAGS:
        if key in entry and not isinstance(entry[key], bool):
            raise _bad(source, name, key, f"true or false, not {entry[key]!r}")
    sizes, limits = _sizes(source, name, entry.get("sizes"))
    quality_sizes = _quality_sizes(source, name, entry.get("qualities"))
    max_n = _count(source, name, entry, "max_n", 10)
    max_inputs = _count(source, name, entry, "max_inputs", 16)
    fidelity = entry.get("input_fidelity") or []
    if not isinstance(fidelity, list) or any(v not in ("low", "high") for v in fidelity):
        raise _bad(source, name, "input_fidelity", f"a list of low and high, not {fidelity!r}")
    formats = tuple(entry.get("formats") or FORMATS)
    if not isinstance(entry.get("formats") or [], list) or any(f not in OUTPUT_FORMATS for f in formats):
        raise _bad(
            source, name, "formats", f"a list of {', '.join(OUTPUT_FORMATS)}, not {entry.get('formats')!r}"
        )
    complexity = entry.get("complexity") or []
    if not isinstance(complexity, list) or any(v not in COMPLEXITIES for v in complexity):
        raise _bad(source, name, "complexity", f"a list of {', '.join(COMPLEXITIES)}, not {complexity!r}")
    caps = ModelCapabilities(
        sizes=sizes,
        qualities=tuple(quality_sizes),
        transparency=entry.get("transparency", True),
        edit=entry.get("edits", True),
        max_n=max_n,
        formats=formats,
        **limits,
    )
    for quality, per_aspect in quality_sizes.items():
        for aspect, (w, h) in per_aspect.items():
            if not caps.supports_size(w, h):
                raise _bad(
                    source, name, f"qualities.{quality}.{aspect}", f"{w}x{h} is not a size the model can make"
                )
    return ModelInfo(
        **common,
        caps=caps,
        quality_sizes=quality_sizes,
        mask=entry.get("mask", True),
        max_inputs=max_inputs,
        input_fidelity=tuple(fidelity),
        moderation=entry.get("moderation", True),
        output_compression=entry.get("output_compression", True),
        streaming=entry.get("streaming", True),
        batch_api=entry.get("batch_api", True),
        complexity=tuple(complexity),
        markup=entry.get("markup", False),
    )


def _replacement(source: Any, name: str, value: Any) -> str | None:
    if value is None:
        return None
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(v, str) and v for v in names):
        raise _bad(source, name, "replacement", f"a model name or a list of them, not {value!r}")
    return " or ".join(names)


def _count(source: Any, name: str, entry: Mapping[str, Any], key: str, default: int) -> int:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(source, name, key, f"a whole number of at least 1, not {value!r}")
    return value


def _size(source: Any, name: str, key: str, value: Any) -> tuple[int, int]:
    from workbench.errors import SpecError

    try:
        return parse_size(value)
    except SpecError:
        raise _bad(source, name, key, f"{value!r} is not a size WIDTHxHEIGHT") from None


def _sizes(source: Any, name: str, value: Any) -> tuple[frozenset[tuple[int, int]] | None, dict[str, Any]]:
    if isinstance(value, list) and value:
        return frozenset(_size(source, name, "sizes", v) for v in value), {}
    if isinstance(value, Mapping) and isinstance(value.get("free"), Mapping):
        free = value["free"]
        limits: dict[str, Any] = {}
        for key, kind in (
            ("multiple_of", int),
            ("min_pixels", int),
            ("max_pixels", int),
            ("max_edge", int),
            ("max_ratio", float),
        ):
            number = free.get(key)
            if (
                isinstance(number, bool)
                or not isinstance(number, (int, float))
                or not math.isfinite(number)
                or number <= 0
            ):
                raise _bad(source, name, f"sizes.free.{key}", f"a number above 0, not {number!r}")
            if kind is int and number != int(number):
                raise _bad(source, name, f"sizes.free.{key}", f"a whole number, not {number!r}")
            limits[key] = kind(number)
        if limits["min_pixels"] > limits["max_pixels"]:
            raise _bad(source, name, "sizes.free.min_pixels", "more than max_pixels")
        return None, limits
    raise _bad(source, name, "sizes", "a list of WxH sizes, or `free:` with its limits")


def _quality_sizes(source: Any, name: str, value: Any) -> dict[str, dict[str, tuple[int, int]]]:
    from workbench.spec import ALL_QUALITIES as QUALITIES
    from workbench.spec import ASPECTS

    if not isinstance(value, Mapping) or not value:
        raise _bad(source, name, "qualities", "a mapping of quality to the size of each aspect ratio")
    table: dict[str, dict[str, tuple[int, int]]] = {}
    for quality, per_aspect in value.items():
        if quality not in QUALITIES:
            raise _bad(
                source,
                name,
                f"qualities.{quality}",
                f"not a quality Workbench offers ({', '.join(QUALITIES)})",
            )
        if not isinstance(per_aspect, Mapping):
            raise _bad(source, name, f"qualities.{quality}", "a mapping of aspect ratio to size")
        missing = [a for a in ASPECTS if a not in per_aspect]
        if missing:
            raise _bad(source, name, f"qualities.{quality}", f"no size for aspect {missing[0]}")
        table[quality] = {
            str(a): _size(source, name, f"qualities.{quality}.{a}", s) for a, s in per_aspect.items()
        }
    return table


def _ratio(aspect: str) -> float:
    w, h = (float(x) for x in aspect.split(":"))
    return w / h
