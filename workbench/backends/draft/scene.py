"""The scene: everything the draft reads from a request's spec (background, light, subject,
texts, placement and the style's visual family)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from workbench.backends.base import ImageRequest
from workbench.spec import PromptSpec, TextItem
from workbench.vocabulary import (
    COLOURS,
    DEFAULT_BACKGROUND,
    RGB,
    SCENE_RE,
    SCENES,
    TEXTURE_RE,
    TEXTURES,
    colours_in,
)
from workbench.vocabulary import ROUND as _ROUND
from workbench.vocabulary import TALL as _TALL
from workbench.vocabulary import WIDE as _WIDE
from workbench.vocabulary import hex_rgb as _hex
from workbench.vocabulary import shade as _shade

_LABEL_END = re.compile(
    r"[,;:.(\[]|\s[-–—]\s|\b(?:on|in|with|against|under|over|at|from|for|by|near|beside|next|"
    r"wearing|holding|leaning|sitting|standing|lying|floating|flying|running|walking|resting|hanging|"
    r"jumping|dancing|smiling|looking|placed|set|shot|photographed|surrounded)\b",
    re.IGNORECASE,
)
_ARTICLES = re.compile(r"^(a|an|the|one|some)\s+", re.IGNORECASE)
_LIGHT_WORDS = re.compile(r"\b(light|lit|lighting|glow|sun|sunlight|shadows?|hour|backlit|neon|lamp)\b", re.I)
_BACKGROUND_WORDS = re.compile(r"\b(background|backdrop|wall|setting|surface|floor)\b", re.IGNORECASE)
_QUOTED = re.compile(r"(?<!\w)'([^'\n]+?)'(?!\w)|\"([^\"\n]+?)\"|“([^”\n]+?)”|‘([^’\n]+?)’")


@dataclass(frozen=True)
class Light:
    """Where the light comes from and what it is like.

    ``direction`` points from the centre toward the light in image coordinates (y down);
    ``kind`` is ``side`` (directional), ``overhead``, ``back`` or ``front``.
    """

    direction: tuple[float, float] = (-0.6, -0.8)
    kind: str = "side"
    strength: float = 1.0
    tint: RGB | None = None
    tint_amount: float = 0.0
    neon: bool = False
    words: str = "default soft studio light from the upper left"


_DIRECTIONS = [
    (r"\b(upper|top)[\s-]+left\b", (-0.7, -0.7)),
    (r"\b(upper|top)[\s-]+right\b", (0.7, -0.7)),
    (r"\b(lower|bottom)[\s-]+left\b", (-0.7, 0.7)),
    (r"\b(lower|bottom)[\s-]+right\b", (0.7, 0.7)),
    (r"\bleft\b", (-0.97, -0.25)),
    (r"\bright\b", (0.97, -0.25)),
]


def parse_light(text: str) -> Light:
    """Read a lighting description: direction, kind, strength and colour of the light.

    Example:
        >>> parse_light("warm golden hour light from the left").direction
        (-0.97, -0.25)
    """
    words = text.lower()
    if not words.strip():
        return Light()
    direction, kind = (-0.6, -0.8), "side"
    if re.search(r"\b(backlit|backlight|back[\s-]light|behind|rim[\s-]light|silhouette)", words):
        direction, kind = (0.0, -0.3), "back"
    elif re.search(r"\b(overhead|from above|above|top[\s-]down|top light|from the top|from top)\b", words):
        direction, kind = (0.0, -1.0), "overhead"
    elif re.search(r"\b(from below|underlit|uplight|uplit|from beneath|below)\b", words):
        direction = (0.0, 1.0)
    else:
        for pattern, vector in _DIRECTIONS:
            if re.search(pattern, words):
                direction = vector
                break
        else:
            if re.search(r"\b(front|frontal|ring[\s-]light|flash|on[\s-]camera)\b", words):
                direction, kind = (0.0, -0.15), "front"
    strength = 1.0
    if re.search(r"\b(dramatic|hard|harsh|chiaroscuro|low[\s-]key|spotlight|strong|contrasty)\b", words):
        strength = 1.6
    elif re.search(r"\b(soft|diffused|diffuse|overcast|even|high[\s-]key|gentle|cloudy)\b", words):
        strength = 0.6
    tint, amount = None, 0.0
    if re.search(r"\b(golden|sunset|sunrise|warm|candle|candlelit|tungsten|firelight|amber)\b", words):
        tint, amount = (255, 170, 90), 0.22
    elif re.search(r"\b(cool|blue hour|moonlight|moonlit|cold|twilight|icy)\b", words):
        tint, amount = (110, 150, 255), 0.18
    neon = bool(re.search(r"\b(neon|cyberpunk|synthwave)\b", words))
    return Light(direction, kind, strength, tint, amount, neon, text.strip())


@dataclass(frozen=True)
class Backdrop:
    """The background: one colour, or a gradient of two, and a texture."""

    colours: tuple[RGB, ...] = tuple(_hex(c) for c in DEFAULT_BACKGROUND)
    gradient: str = "vertical"  # vertical, horizontal, diagonal, radial
    texture: str | None = None
    words: str = ""


def parse_backdrop(text: str) -> Backdrop:
    """Read a background description: colours (hex or names), gradient and texture.

    Example:
        >>> parse_backdrop("dark concrete").texture
        'concrete'
    """
    colours = colours_in(text)
    textures = TEXTURE_RE.findall(text)
    texture = TEXTURES[textures[0].lower()] if textures else None
    words = text.lower()
    gradient = "vertical"
    if re.search(r"\b(horizontal|left to right|right to left)\b", words):
        gradient = "horizontal"
    elif "diagonal" in words:
        gradient = "diagonal"
    elif re.search(r"\b(radial|vignette|spotlight|halo)\b", words):
        gradient = "radial"
    is_gradient = bool(re.search(r"\b(gradient|fading|fade|ombre|ombré)\b|\bfrom\b.+\bto\b", words))
    if colours:
        if is_gradient and len(colours) >= 2:
            return Backdrop((colours[0], colours[1]), gradient, texture, text)
        base = colours[0]
        if is_gradient:
            return Backdrop((_shade(base, -0.25), _shade(base, 0.3)), gradient, texture, text)
        # A solid colour still falls off a little, like a lit studio sweep.
        return Backdrop((_shade(base, -0.04), _shade(base, 0.1)), "vertical", texture, text)
    scenes = SCENE_RE.findall(text)
    if scenes:
        top, bottom = SCENES[scenes[0].lower()]
        return Backdrop((_hex(top), _hex(bottom)), gradient, texture, text)
    if texture:
        base = _hex(COLOURS.get(textures[0].lower(), "#D9D4CC"))
        return Backdrop((_shade(base, -0.04), _shade(base, 0.1)), "vertical", texture, text)
    return Backdrop(words=text)


# -- the scene: everything read from the spec ------------------------------------------------


@dataclass(frozen=True)
class Scene:
    """What the draft draws, read once from a request's spec."""

    backdrop: Backdrop
    light: Light
    subject: str
    shape: str  # box, tall, wide, round, figure
    subject_colour: RGB | None
    accent: RGB | None
    headlines: tuple[str, ...] = ()
    subtexts: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary, for the result's raw metadata."""
        return {
            "background": {
                "colours": ["#{:02X}{:02X}{:02X}".format(*c) for c in self.backdrop.colours],
                "gradient": self.backdrop.gradient,
                "texture": self.backdrop.texture,
            },
            "light": {
                "direction": list(self.light.direction),
                "kind": self.light.kind,
                "strength": self.light.strength,
                "tint": self.light.tint is not None,
                "neon": self.light.neon,
            },
            "subject": self.subject,
            "shape": self.shape,
            "texts": {
                "headline": list(self.headlines),
                "subtext": list(self.subtexts),
                "label": list(self.labels),
            },
        }


def _words(value: str) -> str:
    """Free text of a spec field; a template reference ``@dark-concrete`` reads as its words."""
    return value[1:].replace("-", " ").replace("_", " ") if value.startswith("@") else value


_DANGLING = frozenset("of and or a an the to for with in on at by from".split())


def short_label(text: str, *, max_words: int = 4) -> str:
    """A few words naming the subject: 'a white leather sneaker on a plinth' → 'white leather sneaker'."""
    text = _ARTICLES.sub("", _words(text).strip())
    # The first word always stays ("smiling woman in …" → "smiling woman", not "").
    first = re.match(r"\S+\s*", text)
    if first is None:
        return ""
    words = (text[: first.end()] + _LABEL_END.split(text[first.end() :], maxsplit=1)[0]).split()[:max_words]
    while len(words) > 1 and words[-1].lower() in _DANGLING:  # "poster of" → "poster"
        words.pop()
    return " ".join(words)[:48].rstrip()


def _shape_for(subject: str) -> str:
    words = set(re.findall(r"[a-z]+", subject.lower()))
    if words & _ROUND:
        return "round"
    if words & _TALL:
        return "tall"
    if words & _WIDE:
        return "wide"
    return "box"


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in re.split(r"[,;\n]|\.\s", text) if c.strip()]


def spec_from_prompt(prompt: str) -> PromptSpec:
    """A spec for a bare prompt: the prompt as subject, its quoted strings as exact texts.

    The first quoted string is the headline and the others subtexts, unless the words before a
    quote call it a subtext, a label or a step (as ``compose()`` writes them).
    """
    texts = []
    for match in _QUOTED.finditer(prompt):
        text = next(g for g in match.groups() if g is not None).strip()
        if not text:
            continue
        before = prompt[max(0, match.start() - 24) : match.start()].lower()
        if re.search(r"\b(label|labeled|labelled|step \d+)\b", before):
            role = "label"
        elif "subtext" in before or "tagline" in before or "caption" in before:
            role = "subtext"
        elif re.search(r"\b(headline|title)\b", before) or not any(t.role == "headline" for t in texts):
            role = "headline"
        else:
            role = "subtext"
        texts.append(TextItem(text, role))
    return PromptSpec(subject=prompt, texts=tuple(texts))


def scene_for(request: ImageRequest) -> Scene:
    """Read the scene from a request's spec (or, without one, from its prompt)."""
    spec = request.spec
    from_prompt = spec is None
    if spec is None:
        spec = spec_from_prompt(request.prompt)
    subject_text = _words(spec.subject)
    if from_prompt:
        # Strip the quoted texts, then sort the prompt's clauses into subject, light and setting.
        bare = _QUOTED.sub("", subject_text)
        clauses = _clauses(bare)
        subject_text = clauses[0] if clauses else ""
        lighting = ", ".join(c for c in clauses[1:] if _LIGHT_WORDS.search(c))
        background = ", ".join(c for c in clauses[1:] if not _LIGHT_WORDS.search(c))
        details = ""
    else:
        lighting = _words(spec.lighting)
        background = _words(spec.background)
        details = _words(spec.details)
    # Details name a background colour only in a clause about the background; their other
    # colours are accents (the subject placeholder, the steps).
    detail_clauses = _clauses(details)
    background_extra = [c for c in detail_clauses if _BACKGROUND_WORDS.search(c)]
    accents = [c for clause in detail_clauses if clause not in background_extra for c in colours_in(clause)]
    backdrop_text = background or ", ".join(background_extra)
    if not colours_in(backdrop_text) and background_extra:
        backdrop_text = ", ".join([backdrop_text, *background_extra])
    backdrop = parse_backdrop(backdrop_text)
    light = parse_light(lighting or ", ".join(c for c in detail_clauses if _LIGHT_WORDS.search(c)))

    if spec.character:
        label = spec.character.name or short_label(spec.character.description)
        shape = "figure"
        subject_colours = colours_in(spec.character.description)
    else:
        label = short_label(subject_text)
        shape = _shape_for(subject_text)
        subject_colours = colours_in(short_label(subject_text, max_words=8))
    texts = spec.texts
    return Scene(
        backdrop=backdrop,
        light=light,
        subject=label or "subject",
        shape=shape,
        subject_colour=subject_colours[0] if subject_colours else (accents[0] if accents else None),
        accent=accents[0] if accents else (subject_colours[0] if subject_colours else None),
        headlines=tuple(t.text for t in texts if t.role == "headline"),
        subtexts=tuple(t.text for t in texts if t.role == "subtext"),
        labels=tuple(t.text for t in texts if t.role == "label"),
    )
