"""PromptSpec: the structured description of an image, and ``compose()`` that writes its prompt.

A spec is data: subject, background, lighting, style, exact texts with roles, free details, an
aspect ratio, a quality, ``n`` and a seed, and optionally a recurring character and the name of
the preset it came from. Fields may hold free text or a template reference ``@name`` that
``compose()`` resolves from the template library.

Example:
    >>> spec = PromptSpec(subject="a white leather sneaker", background="dark concrete",
    ...                   texts=[TextItem("MOVE FORWARD")], aspect="2:3")
    >>> compose(spec)
    "a white leather sneaker, dark concrete, headline text reading 'MOVE FORWARD', high resolution"
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import SpecError, TemplateError
from workbench.quotes import quote_text, quoted_texts

if TYPE_CHECKING:
    from workbench.templates import TemplateLibrary

__all__ = [
    "ASPECTS",
    "MAX_PROMPT_CHARS",
    "ALL_QUALITIES",
    "QUALITIES",
    "TEXT_ROLES",
    "FIELD_KINDS",
    "SPEC_FIELDS",
    "STRING_FIELDS",
    "TEMPLATE_KINDS",
    "Character",
    "PromptSpec",
    "TextItem",
    "compose",
    "size_for",
    "template_references",
]

TEXT_ROLES = ("headline", "subtext", "label")
QUALITIES = ("low", "medium", "high")
# Qualities only some service models have (the 2.5 models' xhigh and max: more detail at the size
# high renders at); the model table says which, and every other model refuses them in a sentence.
SERVICE_QUALITIES = ("xhigh", "max")
ALL_QUALITIES = (*QUALITIES, *SERVICE_QUALITIES)
MAX_PROMPT_CHARS = 32_000
MAX_N = 10

# Pixel sizes per aspect ratio: (medium, high). Low uses the medium size. Every side is a
# multiple of 16 and no image exceeds 3840x2160 pixels, as the real service requires; 1:1, 2:3
# and 3:2 at medium are the classic 1024x1024, 1024x1536 and 1536x1024.
ASPECT_SIZES: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "1:1": ((1024, 1024), (2048, 2048)),
    "2:3": ((1024, 1536), (1440, 2160)),
    "3:2": ((1536, 1024), (2160, 1440)),
    "3:4": ((1152, 1536), (1632, 2176)),
    "4:3": ((1536, 1152), (2176, 1632)),
    "4:5": ((1024, 1280), (1728, 2160)),
    "5:4": ((1280, 1024), (2160, 1728)),
    "9:16": ((864, 1536), (2160, 3840)),
    "16:9": ((1536, 864), (3840, 2160)),
    "9:21": ((768, 1792), (1440, 3360)),
    "21:9": ((1792, 768), (3360, 1440)),
}
ASPECTS = tuple(ASPECT_SIZES)

# What the prompt says about resolution, last in the prompt. Pixel sizes never go into the
# prompt: the aspect setting chooses them.
_RESOLUTION_WORDS = {
    "low": "",
    "medium": "high resolution",
    "high": "4K, ultra detailed",
    "xhigh": "4K, ultra detailed",
    "max": "4K, ultra detailed",
}


def size_for(aspect: str, quality: str) -> tuple[int, int]:
    """Return the (width, height) in pixels for an aspect ratio and quality."""
    _check_choice("aspect", aspect, ASPECTS)
    _check_choice("quality", quality, ALL_QUALITIES)
    medium, high = ASPECT_SIZES[aspect]
    return medium if quality in ("low", "medium") else high


def _check_choice(name: str, value: object, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise SpecError(f"Unsupported {name} {value!r}: choose one of {', '.join(choices)}.", field=name)


def _text(name: str, value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SpecError(f"The {name} must be text, not {type(value).__name__}.", field=name)
    return value.strip()


@dataclass(frozen=True)
class TextItem:
    """An exact text to render in the image, with its role: headline, subtext or label."""

    text: str
    role: str = "headline"

    def __post_init__(self) -> None:
        text = _text("text", self.text)
        if not text:
            raise SpecError("An exact text is empty: give the words to render.", field="texts")
        object.__setattr__(self, "text", text)
        _check_choice("text role", self.role, TEXT_ROLES)

    @classmethod
    def coerce(cls, value: TextItem | str | Mapping[str, Any]) -> TextItem:
        if isinstance(value, TextItem):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping):
            unknown = set(value) - {"text", "role"}
            if unknown:
                raise SpecError(f"Unknown key {sorted(unknown)[0]!r} in an exact text.", field="texts")
            return cls(value.get("text", ""), value.get("role", "headline"))
        raise SpecError(
            f"An exact text must be a string or a mapping, not {type(value).__name__}.", field="texts"
        )

    @classmethod
    def coerce_many(cls, texts: Any) -> list[TextItem]:
        """Exact texts from a ``{role: text}`` mapping, one string, or a list of strings, mappings
        or TextItems; bare strings are the headline first, then subtexts."""
        if isinstance(texts, Mapping):
            return [cls(str(text), role) for role, text in texts.items()]
        if isinstance(texts, str):
            texts = [texts]
        return [
            cls(item, "headline" if i == 0 else "subtext") if isinstance(item, str) else cls.coerce(item)
            for i, item in enumerate(texts)
        ]


@dataclass(frozen=True)
class Character:
    """A recurring character: its description leads every prompt of a series."""

    name: str
    description: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _text("character name", self.name))
        description = _text("character description", self.description)
        if not description:
            raise SpecError("A character needs a description.", field="character")
        object.__setattr__(self, "description", description)

    @classmethod
    def coerce(cls, value: Character | Mapping[str, Any] | None) -> Character | None:
        if value is None or isinstance(value, Character):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"name", "description"}
            if unknown:
                raise SpecError(f"Unknown key {sorted(unknown)[0]!r} in the character.", field="character")
            return cls(value.get("name", ""), value.get("description", ""))
        raise SpecError("The character must be a mapping with a name and a description.", field="character")


def _template_field(kind: str) -> Any:
    """A text field that may hold a ``@name`` reference to a template of ``kind``."""
    return dataclasses.field(default="", metadata={"template": kind})


@dataclass(frozen=True)
class PromptSpec:
    """Everything that describes one image request, validated at construction.

    Args:
        subject: the main subject (free text or ``@template``).
        background: the background or setting.
        lighting: light source, direction and mood.
        style: medium, genre or look.
        texts: exact texts to render, each with a role (headline, subtext, label).
        details: free details: composition, colours with hex codes, mood.
        aspect: aspect ratio, one of ``ASPECTS``.
        quality: ``low``, ``medium`` or ``high`` (``xhigh`` and ``max`` on the models whose table
            row lists them).
        n: how many images (1-10).
        seed: a seed for backends that take one (the draft renderer does).
        character: a recurring character whose description leads the prompt.
        preset: the name of the preset the spec came from, for filtering runs.
    """

    subject: str = _template_field("subject")
    background: str = _template_field("background")
    lighting: str = _template_field("lighting")
    style: str = _template_field("style")
    texts: tuple[TextItem, ...] = ()
    details: str = _template_field("style")  # composition, colour and mood notes: closest to a style
    aspect: str = "1:1"
    quality: str = "medium"
    n: int = 1
    seed: int | None = None
    character: Character | None = None
    preset: str | None = None

    def __post_init__(self) -> None:
        for name in _FIELDS:
            object.__setattr__(self, name, _text(name, getattr(self, name)))
        texts = self.texts
        if isinstance(texts, (str, TextItem, Mapping)):
            texts = (texts,)
        object.__setattr__(self, "texts", tuple(TextItem.coerce(t) for t in texts or ()))
        object.__setattr__(self, "character", Character.coerce(self.character))
        _check_choice("aspect", self.aspect, ASPECTS)
        _check_choice("quality", self.quality, ALL_QUALITIES)
        if isinstance(self.n, bool) or not isinstance(self.n, int) or not 1 <= self.n <= MAX_N:
            raise SpecError(f"n must be a whole number from 1 to {MAX_N}, not {self.n!r}.", field="n")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise SpecError(f"The seed must be a whole number, not {self.seed!r}.", field="seed")
        if self.preset is not None:
            object.__setattr__(self, "preset", _text("preset", self.preset) or None)

    @property
    def size(self) -> tuple[int, int]:
        """The (width, height) this spec's aspect and quality render at."""
        return size_for(self.aspect, self.quality)

    @property
    def is_empty(self) -> bool:
        return not (self.subject or self.details or self.texts or self.character)

    def replace(self, **changes: Any) -> PromptSpec:
        """Return a copy with some fields changed, validated again."""
        self._check_names(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def _check_names(cls, data: Mapping[str, Any]) -> None:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known, key=str)
        if unknown:
            raise SpecError(
                f"Unknown spec field {unknown[0]!r}.{_did_you_mean(unknown[0])} "
                f"The fields are {', '.join(sorted(known))}.",
                field=str(unknown[0]),
            )

    # -- round trips -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A plain dict of JSON types; defaults are kept so the dict is self-describing."""
        data = {name: getattr(self, name) for name in SPEC_FIELDS}
        data["texts"] = [{"text": t.text, "role": t.role} for t in self.texts]
        data["character"] = dataclasses.asdict(self.character) if self.character else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptSpec:
        if not isinstance(data, Mapping):
            raise SpecError(f"A prompt spec must be a mapping, not {type(data).__name__}.")
        cls._check_names(data)
        return cls(**dict(data))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PromptSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"The spec is not valid JSON: {exc.msg} at line {exc.lineno}.") from None
        return cls.from_dict(data)

    def to_yaml(self) -> str:
        import yaml  # here: the command line's help and most specs never write YAML

        return yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "spec") -> PromptSpec:
        """A spec from YAML text, read by the project's one YAML reader: every problem (bad YAML,
        a key written twice, an unknown field, a wrong value) is one sentence
        ``source:line: field: problem``."""
        from workbench import yamlio

        return cls._from_document(yamlio.load(source, text=text, error=SpecError))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PromptSpec:
        """A spec from a YAML file (``workbench generate --spec FILE``); see ``from_yaml``."""
        from workbench import yamlio

        return cls._from_document(yamlio.load(path, error=SpecError))

    @classmethod
    def _from_document(cls, doc: Any) -> PromptSpec:
        data = doc.data
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise doc.error((), "a spec is a mapping of its fields (subject: …, aspect: …).")
        for key in data:
            if key not in SPEC_FIELDS:
                raise doc.error(
                    (key,),
                    f"unknown spec field.{_did_you_mean(key)} The fields are {', '.join(SPEC_FIELDS)}.",
                )
        values = dict(data)
        for name in STRING_FIELDS:  # as written: `aspect: 16:9` is text, not a base-60 number
            if name in values and not isinstance(values[name], (list, dict)):
                values[name] = doc.text((name,))
        try:
            return cls(**values)
        except SpecError as exc:
            field = exc.field if exc.field in data else None
            raise doc.error((field,) if field else (), str(exc)) from None


# The spec's fields, derived from the dataclass: the one list the templates, experiments, the panel
# and the CLI use.
SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(PromptSpec))
# The text fields that may hold a template reference, and the kind of template each refers to.
FIELD_KINDS = {
    f.name: f.metadata["template"] for f in dataclasses.fields(PromptSpec) if "template" in f.metadata
}
TEMPLATE_KINDS = tuple(dict.fromkeys(FIELD_KINDS.values()))  # subject, background, lighting, style
STRING_FIELDS = tuple(f.name for f in dataclasses.fields(PromptSpec) if f.type == "str")
_FIELDS = tuple(FIELD_KINDS)


def _did_you_mean(name: Any) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), SPEC_FIELDS, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _texts_phrase(texts: tuple[TextItem, ...], already: frozenset[str] = frozenset()) -> list[str]:
    """The exact texts as the prompt words them, skipping those the other fields already quote."""
    parts = []
    texts = tuple(t for t in texts if t.text not in already)
    labels = [t for t in texts if t.role == "label"]
    for item in texts:
        if item.role == "headline":
            parts.append(f"headline text reading {quote_text(item.text)}")
        elif item.role == "subtext":
            parts.append(f"subtext reading {quote_text(item.text)}")
    if len(labels) == 1:
        parts.append(f"a label reading {quote_text(labels[0].text)}")
    elif labels:
        steps = ", ".join(f"step {i} labeled {quote_text(t.text)}" for i, t in enumerate(labels, 1))
        parts.append(f"{len(labels)} labeled steps in order: {steps}")
    return parts


def template_references(spec: PromptSpec) -> list[str]:
    """The text fields of ``spec`` that hold a template reference (``@name``)."""
    return [name for name in _FIELDS if getattr(spec, name).startswith("@")]


def compose(spec: PromptSpec, templates: TemplateLibrary | None = None) -> str:
    """Write the prompt for a spec.

    The order is character → subject → background → lighting → style → exact texts → details →
    resolution; every exact text is quoted. Template references (``@name``) are resolved from
    ``templates``; ``workbench.compose`` (``workbench.templates.compose``) and
    ``Workbench.compose`` find the default library when none is given. (This module does not read
    template files: the template library is built on ``PromptSpec``, not the other way round.)

    Raises:
        SpecError: the spec is empty or the prompt would exceed 32,000 characters.
        TemplateError: a ``@name`` reference is unknown, or there is no library to resolve it.
    """
    if spec.is_empty:
        raise SpecError("The prompt is empty: give a subject, details or a text to render.", field="subject")
    references = template_references(spec)
    if references:
        if templates is None:
            name = references[0]
            raise TemplateError(
                f"The {name} {getattr(spec, name)!r} is a template reference: compose it with a template "
                "library (workbench.compose and Workbench.compose use the default one).",
                name=getattr(spec, name)[1:],
            )
        spec = templates.resolve(spec)
    parts: list[str] = []
    if spec.character:
        who = f"{spec.character.name}, " if spec.character.name else ""
        parts.append(f"[{who}{spec.character.description}]")
    parts += [spec.subject, spec.background, spec.lighting, spec.style]
    # A free prompt's quoted texts are its exact texts already: quoted once, where they stand.
    already = frozenset(q for name in _FIELDS for q in quoted_texts(getattr(spec, name)))
    parts += _texts_phrase(spec.texts, already)
    parts += [spec.details, _RESOLUTION_WORDS[spec.quality]]
    prompt = ", ".join(p.strip().rstrip(",.") for p in parts if p and p.strip())
    if spec.character and spec.subject:
        prompt = prompt.replace("], ", "] ", 1)
    if len(prompt) > MAX_PROMPT_CHARS:
        raise SpecError(
            f"The prompt is {len(prompt):,} characters long; the limit is {MAX_PROMPT_CHARS:,}.",
            field="details",
        )
    return prompt
