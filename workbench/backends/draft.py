"""The draft backend: an offline, deterministic renderer of the structured spec (0 credits).

It draws what the spec says, at the exact size the real service would return: the background's
colours, gradient and texture, the light's direction and colour, a labelled placeholder for the
subject with its shadow, every exact text by role (headline, subtext, labelled steps), and a
"DRAFT" badge, so its output is never taken for a model's. The same request always gives the
same bytes; a seed or variant number changes the sample.

Speed comes from rendering the soft parts (background, light, texture, shadow) at a fraction of
the size and scaling them up by pixel repetition, which also keeps the PNG fast to compress; the
sharp parts (subject, texts, badge) are drawn at full size.

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
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from workbench.backends.base import Backend, ImageRequest, ImageResult, ModelCapabilities, PartialCallback
from workbench.imaging.fonts import FontLibrary, default_library, draw_lines, fit_text, line_pitch
from workbench.spec import QUALITIES, PromptSpec, TextItem

__all__ = [
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
RGB = tuple[int, int, int]

# -- words → colours, textures, light --------------------------------------------------------

COLOURS: dict[str, str] = {
    "white": "#F7F7F5", "off-white": "#F2F0EB", "ivory": "#F6F1E3", "cream": "#F3E9D2",
    "beige": "#E3D5BC", "sand": "#D9C59F", "tan": "#C8A882", "kraft": "#BE9A6C", "peach": "#F6C4A4",
    "coral": "#F07F6B", "salmon": "#F09A85", "terracotta": "#C8664B", "rust": "#A84B2B",
    "orange": "#F08A24", "mustard": "#D6A62A", "gold": "#D4AF37", "golden": "#D4AF37",
    "yellow": "#F4D03F", "lemon": "#F7E36B", "red": "#D0312D", "crimson": "#B3122E",
    "burgundy": "#7A1F2B", "maroon": "#6D1A24", "pink": "#F2A7BE", "blush": "#F1C9CF",
    "magenta": "#C2187A", "purple": "#6E3FA3", "violet": "#7F4FC9", "lavender": "#C9B8E8",
    "lilac": "#C8A2C8", "navy": "#1B2A4A", "blue": "#2F6FD6", "cobalt": "#1F4EB4",
    "sky blue": "#8EC5EA", "teal": "#1F7A7A", "turquoise": "#36C3C0", "cyan": "#22C7E0",
    "mint": "#A8E6CF", "sage": "#A3B18A", "olive": "#7A7A3A", "green": "#3C9D5D",
    "emerald": "#1E8C5A", "forest green": "#2E5233", "brown": "#7A5230", "chocolate": "#4E2E1E",
    "walnut": "#5C4033", "oak": "#B08550", "wood": "#9C6B3E", "wooden": "#9C6B3E",
    "charcoal": "#36393D", "black": "#141414", "grey": "#8E8E8E", "gray": "#8E8E8E",
    "silver": "#C0C2C5", "slate": "#5A6470", "concrete": "#A3A29E", "cement": "#A3A29E",
    "stone": "#A89F94", "marble": "#ECEAE6", "linen": "#E8E0D0", "paper": "#F3F0E8",
    "taupe": "#8B7D72", "plaster": "#E4DFD6",
}  # fmt: skip
_SHADES = {
    "dark": 0.55,
    "deep": 0.7,
    "light": -0.45,
    "pale": -0.6,
    "soft": -0.3,
    "pastel": -0.5,
    "bright": -0.1,
    "muted": 0.15,
}
_COLOUR_RE = re.compile(
    r"#(?P<hex>[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b"
    r"|\b(?:(?P<shade>" + "|".join(_SHADES) + r")[\s-]+)?"
    r"(?P<name>" + "|".join(sorted(map(re.escape, COLOURS), key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
TEXTURES = {
    "concrete": "concrete", "cement": "concrete", "stone": "concrete", "plaster": "concrete",
    "marble": "marble", "linen": "fabric", "fabric": "fabric", "canvas": "fabric", "cotton": "fabric",
    "wood": "wood", "wooden": "wood", "walnut": "wood", "oak": "wood", "paper": "paper",
    "kraft": "paper", "cardboard": "paper", "sand": "sand", "sandy": "sand",
}  # fmt: skip
_TEXTURE_RE = re.compile(r"\b(" + "|".join(TEXTURES) + r")\b", re.IGNORECASE)
# Settings that imply colours when none are named: (top, bottom).
SCENES: dict[str, tuple[str, str]] = {
    "sunset": ("#F6A65A", "#7B4B94"), "sunrise": ("#FBD38D", "#F49B7A"), "night": ("#0E1630", "#27305A"),
    "space": ("#05060F", "#1A1440"), "sky": ("#8EC5EA", "#E6F3FB"), "ocean": ("#2F8FBF", "#0E4C6E"),
    "sea": ("#2F8FBF", "#0E4C6E"), "beach": ("#BFE3F2", "#E8D4A8"), "forest": ("#5C8A4E", "#2E5233"),
    "desert": ("#F2C48D", "#C9834E"), "snow": ("#F4F8FB", "#DCE6EE"), "city": ("#5F6B7A", "#2C3440"),
    "studio": ("#ECECE9", "#D6D6D2"), "neon": ("#12081F", "#2B0F3D"),
}  # fmt: skip
_SCENE_RE = re.compile(r"\b(" + "|".join(SCENES) + r")\b", re.IGNORECASE)
DEFAULT_BACKGROUND = ("#ECECE9", "#D3D3CF")  # a light neutral grey studio sweep

_TALL = frozenset(
    "bottle person woman man girl boy model tower vase phone smartphone can perfume candle lamp "
    "tree statue robot astronaut portrait dress jar glass skyscraper rocket chef doctor".split()
)
_WIDE = frozenset(
    "car sneaker sneakers shoe shoes sofa couch laptop bike bicycle truck boat train bench "
    "landscape keyboard sunglasses bus van plane airplane table bed dog cat horse fish".split()
)
_ROUND = frozenset(
    "ball plate clock watch cake donut doughnut coin planet bowl pizza cookie orange apple globe "
    "button pie moon sun wheel".split()
)
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


def _hex(code: str) -> RGB:
    code = code.lstrip("#")
    if len(code) == 3:
        code = "".join(c * 2 for c in code)
    return int(code[0:2], 16), int(code[2:4], 16), int(code[4:6], 16)


def _shade(colour: RGB, amount: float) -> RGB:
    """Darken (amount > 0, toward black) or lighten (amount < 0, toward white)."""
    if amount >= 0:
        return tuple(round(c * (1 - amount)) for c in colour)  # type: ignore[return-value]
    return tuple(round(c + (255 - c) * -amount) for c in colour)  # type: ignore[return-value]


def colours_in(text: str) -> list[RGB]:
    """Every colour a text names, in order: hex codes and names, with dark/light/pale shades.

    Example:
        >>> colours_in("gradient from navy to #FF8800")
        [(27, 42, 74), (255, 136, 0)]
    """
    found = []
    for match in _COLOUR_RE.finditer(text):
        if match.group("hex"):
            found.append(_hex(match.group("hex")))
            continue
        colour = _hex(COLOURS[match.group("name").lower()])
        shade = match.group("shade")
        found.append(_shade(colour, _SHADES[shade.lower()]) if shade else colour)
    return found


def _luminance(colour: Sequence[float]) -> float:
    """Relative luminance (WCAG) of an sRGB colour, 0-1."""

    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: float, b: float) -> float:
    high, low = max(a, b), min(a, b)
    return (high + 0.05) / (low + 0.05)


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
    textures = _TEXTURE_RE.findall(text)
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
    scenes = _SCENE_RE.findall(text)
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


# -- layout ----------------------------------------------------------------------------------

INK_DARK: RGB = (22, 24, 28)
INK_LIGHT: RGB = (250, 250, 247)
_MEASURE = ImageDraw.Draw(Image.new("L", (1, 1)))
_ASPECTS = {"box": 1.0, "tall": 0.62, "wide": 1.65, "round": 1.0, "figure": 0.66}


@dataclass(frozen=True)
class TextBlock:
    text: str
    box: tuple[int, int, int, int]
    font: ImageFont.FreeTypeFont
    lines: tuple[str, ...]
    bold: bool


@dataclass(frozen=True)
class Layout:
    """Where everything goes; the same for every image of a request except the subject's jitter."""

    margin: int
    headline: TextBlock | None
    subtext: TextBlock | None
    area: tuple[int, int, int, int]  # the subject's composition area
    steps: tuple[int, int, int, int] | None  # the labelled steps' row
    tag_room: int  # width kept free right of the subject for a single label


@lru_cache(maxsize=128)
def _fit(
    library: FontLibrary, text: str, width: int, height: int, max_size: int, bold: bool, max_lines: int | None
) -> tuple[Any, tuple[str, ...]]:
    """``fit_text`` remembered: the n images of a run, and reruns, lay out the same texts."""
    font, lines = fit_text(
        _MEASURE,
        text,
        (0, 0, width, height),
        max_size,
        bold=bold,
        min_size=8,
        max_lines=max_lines,
        library=library,
    )
    return font, tuple(lines)


def _block(
    library: FontLibrary,
    text: str,
    left: int,
    top: int,
    width: int,
    height: int,
    max_size: int,
    bold: bool,
    max_lines: int | None = None,
) -> TextBlock:
    font, lines = _fit(library, text, width, height, max_size, bold, max_lines)
    ascent, descent = font.getmetrics()
    used = line_pitch(font) * (len(lines) - 1) + ascent + descent
    return TextBlock(text, (left, top, left + width, top + min(height, used)), font, lines, bold)


@lru_cache(maxsize=32)
def _layout(scene: Scene, width: int, height: int, library: FontLibrary) -> Layout:
    """Text blocks at the top, labelled steps at the bottom, the subject's area between."""
    short = min(width, height)
    margin = round(short * 0.06)
    gap = round(short * 0.025)
    inner = width - 2 * margin
    top = margin
    headline = subtext = None
    if scene.headlines:
        box_height = round(min(height * 0.2, short * 0.24))
        headline = _block(
            library, "\n".join(scene.headlines), margin, top, inner, box_height, box_height, True, 3
        )
        top = headline.box[3] + gap
    if scene.subtexts:
        box_height = round(min(height * 0.1, short * 0.12))
        max_size = (
            round(short * 0.05) if headline is None else min(round(short * 0.05), headline.font.size * 2 // 5)
        )
        subtext = _block(
            library, "\n".join(scene.subtexts), margin, top, inner, box_height, max(max_size, 10), False, 3
        )
        top = subtext.box[3] + gap
    if headline or subtext:
        top += gap
    bottom = height - margin
    steps = None
    if len(scene.labels) >= 2:
        row = round(short * 0.25)
        steps = (margin, bottom - row, width - margin, bottom)
        bottom = steps[1] - gap
    tag_room = round(inner * 0.3) if len(scene.labels) == 1 else 0
    return Layout(
        margin, headline, subtext, (margin, top, width - margin, max(bottom, top + gap)), steps, tag_room
    )


def _subject_box(scene: Scene, layout: Layout, rng: np.random.Generator) -> tuple[int, int, int, int]:
    left, top, right, bottom = layout.area
    right -= layout.tag_room
    area_w, area_h = right - left, bottom - top
    aspect = _ASPECTS[scene.shape]
    scale = 0.8 + 0.06 * rng.random()
    box_h = min(area_h * scale, area_w * 0.78 / aspect)
    box_w = box_h * aspect
    cx = left + area_w / 2 + (rng.random() - 0.5) * 0.08 * area_w
    cy = top + area_h / 2 + (rng.random() - 0.5) * 0.06 * area_h
    cx = min(max(cx, left + box_w / 2), right - box_w / 2)
    cy = min(max(cy, top + box_h / 2), bottom - box_h / 2)
    return round(cx - box_w / 2), round(cy - box_h / 2), round(cx + box_w / 2), round(cy + box_h / 2)


def _shape_mask(shape: str, size: tuple[int, int], scale: int = 1) -> Image.Image:
    """The subject's silhouette as an L mask, drawn ``scale`` times larger then reduced (smooth edges)."""
    w, h = max(1, size[0] * scale), max(1, size[1] * scale)
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    if shape == "round":
        draw.ellipse((0, 0, w - 1, h - 1), fill=255)
    elif shape == "figure":
        head = w * 0.42
        draw.ellipse(((w - head) / 2, 0, (w + head) / 2, head), fill=255)
        draw.rounded_rectangle((0, head * 1.08, w - 1, h - 1), radius=w * 0.32, fill=255)
    else:
        draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=min(w, h) * 0.16, fill=255)
    return mask.reduce(scale) if scale > 1 else mask


# -- the soft layer: background, light, texture, shadow --------------------------------------


def _texture(
    kind: str, shape: tuple[int, int], rng: np.random.Generator, fine: bool, dark: bool = False
) -> np.ndarray:
    """A brightness offset (in 0-255 units) for a texture, made from low-resolution noise.

    ``dark`` backgrounds get light marble veins instead of dark ones.
    """
    h, w = shape

    def blotches(cells: int, amplitude: float) -> np.ndarray:
        small = rng.random((max(2, h // cells), max(2, w // cells)), dtype=np.float32)
        image = Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
        return (np.asarray(image, dtype=np.float32) / 255 - 0.5) * amplitude

    def grain(amplitude: float) -> np.ndarray:
        if not fine:
            return np.zeros((h, w), np.float32)
        return (rng.random((h, w), dtype=np.float32) - 0.5) * amplitude

    if kind == "concrete":
        pits = (rng.random((h, w), dtype=np.float32) > 0.996) * -22.0
        return blotches(max(8, w // 40), 16) + blotches(3, 6) + grain(8) + pits
    if kind == "marble":
        # Veins: the zero lines of a sine across the slab, bent by smooth noise.
        turbulence = blotches(max(8, w // 5), 1.0) + blotches(max(8, w // 14), 0.35)
        y, x = np.ogrid[0:h, 0:w]
        phase = ((x * 1.0 + y * 0.55) / max(w, h) * 2.6 + turbulence * 1.6).astype(np.float32)
        veins = 1.0 - np.abs(np.sin(phase * np.float32(math.pi))) ** 0.12
        fine_veins = 1.0 - np.abs(np.sin(phase * np.float32(3.1 * math.pi) + 1.3)) ** 0.08
        sign = 1.0 if dark else -1.0
        return sign * (veins * 34 + fine_veins * 12) + blotches(max(8, w // 24), 6) + grain(2)
    if kind == "wood":
        rows = rng.random((max(2, h // 3), 6), dtype=np.float32)
        streaks = Image.fromarray((rows * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
        streak = (np.asarray(streaks, dtype=np.float32) / 255 - 0.5) * 22
        y = np.arange(h, dtype=np.float32)[:, None]
        rings = np.sin(y / max(h, 1) * 60 + blotches(max(8, w // 16), 4)) * 5
        return streak + rings + grain(4)
    if kind == "fabric":
        rows = (rng.random((h, 1), dtype=np.float32) - 0.5) * 9
        cols = (rng.random((1, w), dtype=np.float32) - 0.5) * 9
        return rows + cols + blotches(max(8, w // 20), 6) + grain(3)
    if kind == "paper":
        return blotches(max(8, w // 24), 8) + grain(6)
    if kind == "sand":
        return blotches(max(8, w // 30), 10) + grain(14)
    return np.zeros((h, w), np.float32)


def _soft_layer(
    scene: Scene,
    size: tuple[int, int],
    factor: int,
    subject: tuple[int, int, int, int],
    rng: np.random.Generator,
    *,
    transparent: bool,
    fine: bool,
) -> np.ndarray:
    """Background, light, texture and the subject's shadow at 1/``factor`` of the size.

    Returns an (h, w, 3) RGB or, when transparent, (h, w, 4) RGBA float array in 0-255.
    """
    width, height = size
    w, h = -(-width // factor), -(-height // factor)
    short = min(width, height) / 2
    x = ((np.arange(w, dtype=np.float32) + 0.5) * factor - width / 2) / short
    y = ((np.arange(h, dtype=np.float32) + 0.5) * factor - height / 2) / short
    px, py = x[None, :], y[:, None]
    light = scene.light
    lx, ly = light.direction
    norm = math.hypot(lx, ly) or 1.0
    lx, ly = lx / norm, ly / norm

    # The shadow: the subject's silhouette, moved away from the light, blurred at low resolution.
    sx0, sy0, sx1, sy1 = subject
    sw, sh = sx1 - sx0, sy1 - sy0
    shrink = 8 * factor
    small = (max(1, -(-width // shrink)), max(1, -(-height // shrink)))
    shadow_img = Image.new("L", small, 0)
    draw = ImageDraw.Draw(shadow_img)
    reach = 0.09 * max(sw, sh) * (0.7 + 0.3 * light.strength)
    if light.kind in ("overhead", "back", "front"):
        spread = 0.55 if light.kind == "overhead" else 0.75
        drop = {"overhead": 0.0, "back": 0.035, "front": 0.02}[light.kind] * sh
        cx, base = (sx0 + sx1) / 2, sy1 + drop
        ellipse = (cx - sw * spread, base - sh * 0.05, cx + sw * spread, base + sh * 0.05)
        draw.ellipse([v / shrink for v in ellipse], fill=255)
    else:
        dx, dy = -lx * reach, -ly * reach
        mask = _shape_mask(scene.shape, (max(1, round(sw / shrink)), max(1, round(sh / shrink))))
        shadow_img.paste(255, (round((sx0 + dx) / shrink), round((sy0 + dy) / shrink)), mask)
        # A contact shadow where the subject meets the ground.
        cx, half = (sx0 + sx1) / 2, sw * (0.25 if scene.shape == "round" else 0.45)
        draw.ellipse([v / shrink for v in (cx - half, sy1 - sh * 0.04, cx + half, sy1 + sh * 0.04)], fill=255)
    blur = max(0.8, 0.05 * max(sw, sh) / shrink / max(0.5, light.strength))
    shadow_img = shadow_img.filter(ImageFilter.GaussianBlur(blur)).resize((w, h), Image.Resampling.BILINEAR)
    opacity = min(0.6, 0.32 * light.strength + 0.08)
    shadow = np.asarray(shadow_img, dtype=np.float32) * (opacity / 255)

    if transparent:
        layer = np.zeros((h, w, 4), np.float32)
        layer[..., 3] = shadow * 255
        return layer

    # Everything below works on (h, w) fields or on rows/columns and meets in two full-size steps:
    # out = (colour + texture * tint) * gain * (1 - shadow) + neon.
    tint = np.ones(3, np.float32)
    if light.tint is not None:
        tint = 1 - light.tint_amount + light.tint_amount * 1.25 * np.array(light.tint, np.float32) / 255
    colours = np.array(scene.backdrop.colours, dtype=np.float32) * tint
    kind = scene.backdrop.gradient
    if len(colours) == 1:
        colour = colours[0][None, None, :]
    elif kind == "horizontal":
        colour = (
            colours[0] + (colours[1] - colours[0]) * ((x - x[0]) / max(1e-6, float(x[-1] - x[0])))[:, None]
        )[None]
    elif kind == "vertical":
        colour = (
            colours[0] + (colours[1] - colours[0]) * ((y - y[0]) / max(1e-6, float(y[-1] - y[0])))[:, None]
        )[:, None]
    else:
        if kind == "diagonal":
            t = (px - x[0]) + (py - y[0])
            t = t / max(1e-6, float(t.max()))
        else:
            t = np.clip(np.sqrt(px**2 + py**2) / 1.4, 0, 1)
        colour = colours[0] + (colours[1] - colours[0]) * t[..., None]

    # Brightness from the light: brighter toward it, a gentle vignette, a glow behind for back light.
    if light.kind == "back":
        cx = ((sx0 + sx1) / 2 - width / 2) / short
        cy = ((sy0 + sy1) / 2 - height / 2) / short
        gain = 0.82 + 0.45 * np.exp(-((px - cx) ** 2 + (py - cy) ** 2) / 0.45)
    elif light.kind == "front":
        gain = 1.03 - 0.05 * (px**2 + py**2)
    else:
        k = 0.1 * light.strength
        gain = 1.0 + k * np.clip(px * lx + py * ly, -1.6, 1.6) - 0.035 * (px**2 + py**2)
    gain = gain * (1.0 - shadow)

    out = colour * gain[..., None]
    if scene.backdrop.texture:
        dark = _luminance(scene.backdrop.colours[0]) < 0.12
        texture = _texture(scene.backdrop.texture, (h, w), rng, fine, dark) * gain
        out += texture[..., None] * tint
    if light.neon:
        # Magenta from the left edge, cyan from the right: the two-tone glow of neon signs.
        magenta = np.exp(-((x + 1.3) ** 2) / 0.35)[:, None] * np.array([140, 24, 118], np.float32)
        cyan = np.exp(-((x - 1.3) ** 2) / 0.35)[:, None] * np.array([15, 104, 115], np.float32)
        out += (magenta + cyan)[None]
    return out


# -- the sharp layer: subject, texts, steps, badge --------------------------------------------


def _ink_for(region: np.ndarray) -> tuple[RGB, RGB | None]:
    """Text colour for a background region, and an outline colour when one colour cannot read."""
    if region.size == 0:
        return INK_DARK, None
    sample = region.reshape(-1, region.shape[-1])[:, :3]
    sample = sample[:: max(1, len(sample) // 2048)].astype(np.float32) / 255
    linear = np.where(sample <= 0.03928, sample / 12.92, ((sample + 0.055) / 1.055) ** 2.4)
    lum = np.sort(linear @ np.array([0.2126, 0.7152, 0.0722], np.float32))
    low, mid, high = (float(lum[int(q * (len(lum) - 1))]) for q in (0.05, 0.5, 0.95))
    dark, light = _luminance(INK_DARK), _luminance(INK_LIGHT)
    ink = INK_DARK if _contrast(dark, mid) >= _contrast(light, mid) else INK_LIGHT
    worst = min(_contrast(_luminance(ink), low), _contrast(_luminance(ink), high))
    outline = (INK_LIGHT if ink == INK_DARK else INK_DARK) if worst < 3.0 else None
    return ink, outline


def _region(soft: np.ndarray, box: Sequence[int], factor: int) -> np.ndarray:
    x0, y0, x1, y1 = (max(0, int(v) // factor) for v in box)
    return soft[y0 : max(y0 + 1, y1), x0 : max(x0 + 1, x1)]


def _default_subject_colour(backdrop: Backdrop, rng: np.random.Generator) -> RGB:
    """A placeholder colour that stands off the background, varied a little per image."""
    light_background = _luminance(backdrop.colours[0]) > 0.35
    base = np.array((84, 102, 128) if light_background else (206, 214, 226), dtype=np.float32)
    jitter = (rng.random(3) - 0.5) * 26
    return tuple(int(v) for v in np.clip(base + jitter, 0, 255))  # type: ignore[return-value]


def _stand_off(colour: RGB, background: RGB) -> RGB:
    """Nudge a colour until it differs enough from the background to read as a shape."""
    distance = math.dist(colour, background)
    if distance >= 90 or _contrast(_luminance(colour), _luminance(background)) >= 1.6:
        return colour
    return _shade(colour, 0.45) if _luminance(background) > 0.3 else _shade(colour, -0.5)


def _draw_subject(
    canvas: Image.Image, scene: Scene, box: tuple[int, int, int, int], colour: RGB, library: FontLibrary
) -> None:
    """The subject's placeholder: its silhouette shaded along the light, its short name inside."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w < 2 or h < 2:
        return
    scale = 2 if w * h < 1_600_000 else 1
    mask = _shape_mask(scene.shape, (w, h), scale)
    # Shade the fill along the light: a 16x16 ramp scaled up smoothly.
    lx, ly = scene.light.direction
    grid = np.linspace(-1, 1, 16, dtype=np.float32)
    ramp = grid[None, :] * lx + grid[:, None] * ly
    if scene.light.kind == "back":
        ramp = np.broadcast_to(np.abs(grid[None, :]) * 0.8 - 0.6, (16, 16))  # bright rims, dark centre
    amount = 0.16 * scene.light.strength
    shaded = np.clip(np.array(colour, np.float32) * (1 + amount * ramp[..., None]), 0, 255).astype(np.uint8)
    fill = Image.fromarray(shaded).resize((w, h), Image.Resampling.BILINEAR)
    if canvas.mode == "RGBA":
        fill = fill.convert("RGBA")
    canvas.paste(fill, (x0, y0), mask)

    # The label: the subject's short name (or the character's), centred on the body.
    draw = ImageDraw.Draw(canvas)
    if scene.shape == "figure":
        inner = (x0 + w * 0.12, y0 + h * 0.52, x1 - w * 0.12, y1 - h * 0.12)
    elif scene.shape == "round":
        inner = (x0 + w * 0.17, y0 + h * 0.3, x1 - w * 0.17, y1 - h * 0.3)
    else:
        inner = (x0 + w * 0.1, y0 + h * 0.28, x1 - w * 0.1, y1 - h * 0.28)
    iw, ih = round(inner[2] - inner[0]), round(inner[3] - inner[1])
    if iw < 8 or ih < 8:
        return
    font, lines = _fit(library, scene.subject, iw, ih, max(10, round(min(w, h) * 0.12)), True, 3)
    mid = tuple(int(c) for c in colour)
    ink = (
        INK_DARK
        if _contrast(_luminance(INK_DARK), _luminance(mid))
        >= _contrast(_luminance(INK_LIGHT), _luminance(mid))
        else INK_LIGHT
    )
    draw_lines(draw, lines, font, inner, fill=ink, valign="middle")


def _draw_block(
    draw: ImageDraw.ImageDraw, block: TextBlock, soft: np.ndarray, factor: int, transparent: bool
) -> None:
    if transparent:
        ink, outline = INK_DARK, INK_LIGHT
    else:
        ink, outline = _ink_for(_region(soft, block.box, factor))
    stroke = max(1, round(block.font.size * 0.06)) if outline else 0
    draw_lines(draw, block.lines, block.font, block.box, fill=ink, stroke_width=stroke, stroke_fill=outline)


def _arrow(
    draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float], width: int, colour: RGB
) -> None:
    (x0, y), (x1, _) = start, end
    head = width * 3.2
    draw.line((x0, y, x1 - head * 0.8, y), fill=colour, width=width)
    draw.polygon([(x1, y), (x1 - head, y - head * 0.6), (x1 - head, y + head * 0.6)], fill=colour)


def _draw_steps(
    canvas: Image.Image,
    scene: Scene,
    row: tuple[int, int, int, int],
    soft: np.ndarray,
    factor: int,
    accent: RGB,
    transparent: bool,
    library: FontLibrary,
) -> None:
    """Labels as numbered steps: circles in a row joined by arrows, each label under its circle."""
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = row
    count = len(scene.labels)
    cell = (right - left) / count
    diameter = round(min((bottom - top) * 0.46, cell * 0.52))
    label_top = top + diameter + round(diameter * 0.14)
    label_w, label_h = round(cell * 0.92), max(8, bottom - label_top)
    max_size = max(10, round(diameter * 0.36))
    size = min(_fit(library, text, label_w, label_h, max_size, True, 3)[0].size for text in scene.labels)
    if transparent:
        ink, outline = INK_DARK, INK_LIGHT
    else:
        ink, outline = _ink_for(_region(soft, row, factor))
    number_ink = INK_DARK if _luminance(accent) > 0.4 else INK_LIGHT
    arrow_colour = (
        ink if transparent else tuple(int(v) for v in (np.array(ink) * 0.6 + np.array(accent) * 0.4))
    )
    cy = top + diameter / 2
    for i, text in enumerate(scene.labels):
        cx = left + cell * (i + 0.5)
        draw.ellipse((cx - diameter / 2, top, cx + diameter / 2, top + diameter), fill=accent)
        number = str(i + 1)
        number_font = library.font_for(number, round(diameter * 0.5), bold=True)
        draw.text((cx, cy), number, font=number_font, fill=number_ink, anchor="mm")
        font, lines = _fit(library, text, label_w, label_h, size, True, 3)
        box = (round(cx - label_w / 2), label_top, round(cx + label_w / 2), bottom)
        stroke = max(1, round(font.size * 0.06)) if outline else 0
        draw_lines(draw, lines, font, box, fill=ink, stroke_width=stroke, stroke_fill=outline)
        if i + 1 < count and cell - diameter > diameter * 0.45:
            gap = (cell - diameter) * 0.18
            _arrow(
                draw,
                (cx + diameter / 2 + gap, cy),
                (cx + cell - diameter / 2 - gap, cy),
                max(2, round(diameter * 0.05)),
                arrow_colour,
            )


def _draw_tag(
    canvas: Image.Image, text: str, subject: tuple[int, int, int, int], layout: Layout, library: FontLibrary
) -> None:
    """A single label: a pill beside the subject, joined to it by a leader line."""
    draw = ImageDraw.Draw(canvas)
    x0, y0, x1, y1 = subject
    area = layout.area
    room = area[2] - x1 - round(layout.margin * 0.5)
    short = min(canvas.size)
    pill_w = max(room, round(short * 0.2))
    font, lines = _fit(
        library, text, round(pill_w * 0.84), round(short * 0.14), max(10, round(short * 0.045)), True, 3
    )
    ascent, descent = font.getmetrics()
    text_h = line_pitch(font) * (len(lines) - 1) + ascent + descent
    text_w = max(draw.textlength(line, font=font) for line in lines)
    pad = round(font.size * 0.55)
    box_w, box_h = round(text_w + 2 * pad), round(text_h + 1.2 * pad)
    if room >= box_w:
        bx = x1 + (room - box_w) // 2 + round(layout.margin * 0.5)
        by = round(y0 + (y1 - y0) * 0.22)
        anchor_point, joint = (bx, by + box_h / 2), (x1 - (x1 - x0) * 0.08, by + box_h / 2)
    else:
        bx = round((x0 + x1 - box_w) / 2)
        by = min(y1 + round(short * 0.02), area[3] - box_h)
        anchor_point, joint = ((x0 + x1) / 2, by), ((x0 + x1) / 2, y1 - (y1 - y0) * 0.08)
    line_width = max(2, round(short * 0.004))
    draw.line((*joint, *anchor_point), fill=INK_DARK, width=line_width)
    r = line_width * 2.2
    draw.ellipse((joint[0] - r, joint[1] - r, joint[0] + r, joint[1] + r), fill=INK_DARK)
    draw.rounded_rectangle(
        (bx, by, bx + box_w, by + box_h),
        radius=box_h * 0.3,
        fill=INK_LIGHT,
        outline=INK_DARK,
        width=line_width,
    )
    draw_lines(
        draw, lines, font, (bx + pad, by, bx + box_w - pad, by + box_h), fill=INK_DARK, valign="middle"
    )


def _draw_badge(canvas: Image.Image, index: int, count: int, library: FontLibrary) -> None:
    """The DRAFT badge, bottom right: this image is a stand-in, not a model's output."""
    width, height = canvas.size
    short = min(width, height)
    text = "DRAFT" if count == 1 else f"DRAFT {index + 1}/{count}"
    font = library.font_for(text, max(10, round(short * 0.026)), bold=True)
    draw = ImageDraw.Draw(canvas)
    text_w = draw.textlength(text, font=font)
    ascent, descent = font.getmetrics()
    pad_x, pad_y = round(font.size * 0.7), round(font.size * 0.32)
    inset = round(short * 0.016)
    box = (
        width - inset - text_w - 2 * pad_x,
        height - inset - ascent - descent - 2 * pad_y,
        width - inset,
        height - inset,
    )
    draw.rounded_rectangle(box, radius=(box[3] - box[1]) * 0.28, fill=(200, 36, 36))
    draw.text(((box[0] + box[2]) / 2, box[1] + pad_y), text, font=font, fill=(255, 255, 255), anchor="ma")


# -- rendering --------------------------------------------------------------------------------


def _factor(width: int, height: int, quality: str) -> int:
    """How much smaller the soft layer is drawn: 3 up to about 2.5K, 4 beyond, one more at low."""
    factor = 3 if max(width, height) <= 2560 else 4
    return factor + 1 if quality == "low" else factor


def render(
    scene: Scene,
    width: int,
    height: int,
    *,
    seed: int,
    index: int = 0,
    count: int = 1,
    transparent: bool = False,
    quality: str = "medium",
    fonts: FontLibrary | None = None,
) -> Image.Image:
    """Draw one draft image of exactly ``width`` x ``height`` (RGB, or RGBA when transparent).

    ``fonts`` is where texts find their fonts; the default library when omitted.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    library = fonts or default_library()
    layout = _layout(scene, width, height, library)
    subject = _subject_box(scene, layout, rng)
    factor = _factor(width, height, quality)
    soft = _soft_layer(
        scene, (width, height), factor, subject, rng, transparent=transparent, fine=quality != "low"
    )
    soft8 = np.clip(soft, 0, 255, out=soft).astype(np.uint8)
    canvas = Image.fromarray(soft8).resize((width, height), Image.Resampling.NEAREST)

    background = (
        tuple(int(v) for v in soft8[soft8.shape[0] // 2, 2][:3]) if not transparent else (255, 255, 255)
    )
    colour = scene.subject_colour or _default_subject_colour(scene.backdrop, rng)
    colour = _stand_off(colour, background) if not transparent else colour
    _draw_subject(canvas, scene, subject, colour, library)

    draw = ImageDraw.Draw(canvas)
    for block in (layout.headline, layout.subtext):
        if block is not None:
            _draw_block(draw, block, soft8, factor, transparent)
    if layout.steps is not None:
        accent = scene.accent or ((47, 111, 214) if _luminance(background) > 0.25 else (255, 196, 61))
        accent = _stand_off(accent, background) if not transparent else accent
        _draw_steps(canvas, scene, layout.steps, soft8, factor, accent, transparent, library)
    elif len(scene.labels) == 1:
        _draw_tag(canvas, scene.labels[0], subject, layout, library)
    _draw_badge(canvas, index, count, library)
    return canvas


def encode(image: Image.Image, fmt: str, compression: int | None = None) -> bytes:
    """Encode deterministically: no timestamps or other metadata; PNG at the fastest level.

    ``compression`` (0-100, as the image service takes it) sets JPEG and WebP quality.
    """
    buffer = io.BytesIO()
    quality = 90 if compression is None else min(95, max(1, compression))
    if fmt == "png":
        image.save(buffer, "PNG", compress_level=1)
    elif fmt == "jpeg":
        image.convert("RGB").save(buffer, "JPEG", quality=quality)
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=quality, method=4)
    else:  # ImageRequest validates formats; this guards direct callers.
        raise ValueError(f"Unknown image format {fmt!r}.")
    return buffer.getvalue()


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
        from workbench.instructions import map_instruction

        cls.capabilities(request.model)
        if map_instruction(request.prompt) is None:
            raise CapabilityError(
                f"The draft backend cannot edit with {request.prompt!r}: it edits locally only "
                "(black and white, warmer or cooler tone, contrast, background removal or replacement "
                "with a colour, crop, upscale). Use the image service (backend 'openai') for this edit.",
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
        if operation.operation == "overlay_text" and self.fonts is not None:
            params["library"] = self.fonts  # the brand's fonts, as for generated texts
        result = apply(image, operation.operation, **params)
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
            },
        )

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
        for i, seed in enumerate(seeds):
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
            )
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
            },
        )
