"""The scene: everything the draft reads from a request's spec (background, light, subject,
texts, placement and the style's visual family)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from workbench.backends.base import ImageRequest
from workbench.quotes import strip_quotes, texts_in
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
    r"jumping|dancing|smiling|looking|placed|set|shot|photographed|surrounded|grouped|filled)\b(?!-)",
    re.IGNORECASE,
)
_ARTICLES = re.compile(r"^(a|an|the|one|some)\s+", re.IGNORECASE)
_LIGHT_WORDS = re.compile(r"\b(light|lit|lighting|glow|sun|sunlight|shadows?|hour|backlit|neon|lamp)\b", re.I)
_BACKGROUND_WORDS = re.compile(r"\b(background|backdrop|wall|setting|surface|floor)\b", re.IGNORECASE)


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
    exact: bool = False  # the colours are hex codes: painted as given, not graded by a style
    named: bool = False  # the words named the colours (else a setting's or the default's)


_HEX_CODE = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")


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
    exact = bool(_HEX_CODE.search(text))
    if colours:
        if is_gradient and len(colours) >= 2:
            return Backdrop((colours[0], colours[1]), gradient, texture, text, exact, True)
        base = colours[0]
        if is_gradient:
            return Backdrop((_shade(base, -0.25), _shade(base, 0.3)), gradient, texture, text, exact, True)
        if exact:  # a brand colour is painted as given
            return Backdrop((base, base), "vertical", texture, text, True, True)
        # A solid colour still falls off a little, like a lit studio sweep.
        return Backdrop((_shade(base, -0.04), _shade(base, 0.1)), "vertical", texture, text, False, True)
    scenes = SCENE_RE.findall(text)
    if scenes:
        top, bottom = SCENES[scenes[0].lower()]
        return Backdrop((_hex(top), _hex(bottom)), gradient, texture, text)
    if texture:
        base = _hex(COLOURS.get(textures[0].lower(), "#D9D4CC"))
        return Backdrop((_shade(base, -0.04), _shade(base, 0.1)), "vertical", texture, text, False, True)
    return Backdrop(words=text)


# -- the scene: everything read from the spec ------------------------------------------------


def _words(value: str) -> str:
    """Free text of a spec field; a template reference ``@dark-concrete`` reads as its words."""
    return value[1:].replace("-", " ").replace("_", " ") if value.startswith("@") else value


_DANGLING = frozenset("of and or a an the to for with in on at by from".split())
_NUMBER = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a few|several|some|many)"
# Quantities before the subject ("a pair of", "a set of three", "three"): the label names the thing.
_QUANTITY = re.compile(
    r"^(?:(?:pair|set|couple|trio|duo|pack|group|bunch|collection|selection|range|stack|row|line[- ]up)"
    rf"\s+of\s+(?:{_NUMBER}\s+)?|{_NUMBER}\s+)",
    re.IGNORECASE,
)
# Containers keep what they hold: "bowl of tonkotsu ramen" → "tonkotsu ramen bowl".
_CONTAINER_OF = re.compile(
    r"^(?:.*?\s)?(?P<what>bowl|cup|mug|glass|bottle|plate|slice|jar|box|bag|can|basket|bouquet|pile|tray|bar|loaf)"
    r"\s+of\s+(?P<rest>.+)$",
    re.IGNORECASE,
)


# Pictures of something name what they show: "a lifestyle poster of a runner" → "runner".
_DEPICTION_OF = re.compile(
    r"^(?:.*?\s)?(?:poster|photo|photograph|image|picture|illustration|painting|drawing|render|"
    r"rendering|shot|portrait|close-up|closeup|sketch)\s+of\s+(?P<rest>.+)$",
    re.IGNORECASE,
)


def short_label(text: str, *, max_words: int = 4) -> str:
    """A few words naming the subject, ending on its noun:

    'a white leather sneaker on a plinth' → 'white leather sneaker'; 'a pair of over-ear wireless
    headphones in sand beige' → 'over-ear wireless headphones'; 'a girl of about eight' → 'girl'.
    """
    text = _ARTICLES.sub("", _words(text).strip())
    text = _ARTICLES.sub("", _QUANTITY.sub("", text))
    depicted = _DEPICTION_OF.match(text)
    if depicted and depicted.start("rest") <= len(_LABEL_END.split(text, maxsplit=1)[0]) + 1:
        # "a bold poster of a runner" shows a runner (not "a sneaker with a photo of a cat")
        text = _ARTICLES.sub("", _QUANTITY.sub("", _ARTICLES.sub("", depicted.group("rest"))))
    # The first word always stays ("smiling woman in …" → "smiling woman", not "").
    first = re.match(r"\S+\s*", text)
    if first is None:
        return ""
    phrase = text[: first.end()] + _LABEL_END.split(text[first.end() :], maxsplit=1)[0]
    container = _CONTAINER_OF.match(phrase.strip())
    if container:
        phrase = f"{container.group('rest')} {container.group('what')}"
    else:
        phrase = re.split(r"\s+of\s+", phrase, maxsplit=1)[0]  # "girl of about eight" → "girl"
    words = phrase.split()
    while len(words) > 1 and words[-1].lower() in _DANGLING:  # "poster of" → "poster"
        words.pop()
    words = words[-max_words:]  # the head noun comes last: keep it, drop leading adjectives
    return " ".join(words)[:48].rstrip()


# -- placement: where texts and the subject go ----------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where the spec's words put things.

    ``text_v``/``text_h``: the texts' block (top/middle/bottom, left/centre/right);
    ``subject_v``/``subject_h``: the subject; ``free``: a side kept free of the subject
    ("space for text on the right").
    """

    text_v: str = "top"
    text_h: str = "centre"
    subject_v: str = "middle"
    subject_h: str = "centre"
    free: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "text": [self.text_v, self.text_h],
            "subject": [self.subject_v, self.subject_h],
            "free": self.free,
        }


_CORNER = re.compile(r"\b(upper|top|lower|bottom)[\s-]+(left|right)(?:[\s-]+(?:hand\s+)?corner)?\b")
_VERTICAL = re.compile(r"\b(top|upper|above|bottom|lower|below|foot|middle|centre|center|centred|centered)\b")
_HORIZONTAL = re.compile(r"\b(left|right|centre|center|centred|centered|middle)\b")
_TEXT_WORDS = re.compile(
    r"\b(headlines?|titles?|heading|texts?|copy|type|typography|lettering|wording|captions?|taglines?|"
    r"subtexts?|slogans?|words|logo)\b"
)
_FREE_WORDS = re.compile(r"\b(space|room|negative space|copy space|blank|empty|free|clear|clean|open)\b")
_SUBJECT_WORDS = re.compile(
    r"\b(subject|product|object|item|it|placed|positioned|sits|sitting|standing|framed|off[\s-]cent(?:re|er)|"
    r"composition|composed)\b"
)
_NOT_PLACEMENT = re.compile(r"\b(light|lit|lighting|shadows?|gradient|fading|fade|from\b.*\bto)\b")


def _where(clause: str) -> tuple[str | None, str | None]:
    """(vertical, horizontal) place a clause names, each None when it names none."""
    corner = _CORNER.search(clause)
    if corner:
        return ("top" if corner.group(1) in ("upper", "top") else "bottom"), corner.group(2)
    v = h = None
    vertical = _VERTICAL.search(clause)
    if vertical:
        word = vertical.group(1)
        v = (
            "top"
            if word in ("top", "upper", "above")
            else "bottom"
            if word in ("bottom", "lower", "below", "foot")
            else None
        )
    horizontal = _HORIZONTAL.search(clause)
    if horizontal:
        word = horizontal.group(1)
        h = word if word in ("left", "right") else "centre"
    if v is None and h == "centre":
        v = "middle"
    return v, h


def parse_placement(clauses: list[str], *, texts: bool) -> Placement:
    """Read placement words from a spec's clauses: "headline at the bottom", "in the lower left
    corner", "space for text on the right", "product on the left".

    Example:
        >>> parse_placement(["headline at the bottom"], texts=True).text_v
        'bottom'
    """
    text_v, text_h, subject_v, subject_h, free = "top", "centre", "middle", "centre", None
    text_set = False
    for raw in clauses:
        clause = raw.lower()
        if _NOT_PLACEMENT.search(clause):
            continue
        v, h = _where(clause)
        if v is None and h is None:
            continue
        side = h if h in ("left", "right") else v if v in ("top", "bottom") else None
        if _FREE_WORDS.search(clause) and side is not None:
            free = side
            if _TEXT_WORDS.search(clause) and texts and not text_set:
                # the texts go where the space is kept for them
                text_v, text_h = (
                    (v or "middle", h or "centre") if side in ("left", "right") else (side, "centre")
                )
                if side in ("left", "right"):
                    text_v = v if v in ("top", "bottom") else "middle"
            continue
        if _TEXT_WORDS.search(clause) and not _SUBJECT_WORDS.search(clause):
            text_v = v or ("middle" if h in ("left", "right") else text_v)
            text_h = h or "centre"
            text_set = True
            continue
        subject_v, subject_h = v or "middle", h or "centre"
    if free in ("left", "right") and subject_h == free:
        subject_h = "centre"
    return Placement(text_v, text_h, subject_v, subject_h, free)


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
    quote call it a subtext, a label or a step (as ``compose()`` writes them); see
    ``workbench.quotes.texts_in``.
    """
    return PromptSpec(subject=prompt, texts=tuple(TextItem(text, role) for text, role in texts_in(prompt)))


# -- style families: one visual family per style -------------------------------------------


@dataclass(frozen=True)
class Look:
    """How a style family looks in the draft: palette, texture, lighting, subject and type.

    ``grade`` pulls named (not hex) colours toward a tone by ``grade_amount``; ``saturation``
    scales their chroma; ``grain`` is film grain (0-255 units); ``paper`` a paper texture;
    ``light`` scales the light's falloff and ``shadow`` the subject's shadow; ``subject`` is how
    the placeholder is drawn (``shaded``, ``flat``, ``glossy``, ``outline``, ``wash``); ``bold``,
    ``upper`` and ``align`` set the typography.
    """

    family: str = "plain"
    grade: RGB | None = None
    grade_amount: float = 0.0
    saturation: float = 1.0
    mono: bool = False
    grain: float = 0.0
    paper: float = 0.0
    light: float = 1.0
    shadow: float = 1.0
    subject: str = "shaded"
    outline: bool = False
    bold: bool = True
    upper: bool = False
    align: str = "center"
    letterbox: bool = False
    shape: str | None = None  # a colour shape behind the subject: "disc" or "band"
    shape_colour: RGB | None = None
    default_background: tuple[str, str] | None = None


LOOKS: dict[str, Look] = {
    "plain": Look(),
    "photo": Look("photo", grade=(236, 240, 246), grade_amount=0.06, saturation=1.05, grain=3.0, light=1.5,
                  shadow=1.35, subject="glossy", bold=True, default_background=("#F4F5F7", "#C9CCD2")),
    "editorial": Look("editorial", grade=(226, 204, 172), grade_amount=0.4, saturation=0.5, grain=14.0,
                      light=0.5, shadow=0.6, subject="shaded", bold=False, align="left",
                      default_background=("#EFE7DA", "#D9CCB8")),
    "cinematic": Look("cinematic", grade=(40, 92, 110), grade_amount=0.22, saturation=0.85, grain=12.0,
                      light=1.8, shadow=1.5, subject="shaded", bold=False, upper=True, letterbox=True,
                      default_background=("#2B3A42", "#12191E")),
    "noir": Look("noir", mono=True, grain=10.0, light=2.2, shadow=1.8, subject="shaded", bold=False,
                 upper=True, default_background=("#3A3A3A", "#0E0E0E")),
    "poster": Look("poster", saturation=1.25, light=0.15, shadow=0.0, subject="flat", bold=True, upper=True,
                   shape="band", shape_colour=(232, 65, 44),
                   default_background=("#E8412C", "#E8412C")),
    "graphic": Look("graphic", saturation=1.4, light=0.3, shadow=0.4, subject="flat", outline=True, bold=True,
                    shape="disc", shape_colour=(255, 92, 168),
                    default_background=("#7B5CFF", "#FF5CA8")),
    "infographic": Look("infographic", saturation=0.9, light=0.0, shadow=0.0, subject="outline", bold=True,
                        default_background=("#FFFFFF", "#FFFFFF")),
    "flat": Look("flat", saturation=1.2, light=0.0, shadow=0.25, subject="flat", outline=False, bold=True,
                 default_background=("#FFE8B8", "#FFE8B8")),
    "storybook": Look("storybook", grade=(250, 226, 190), grade_amount=0.2, saturation=0.8, paper=9.0,
                      light=0.2, shadow=0.3, subject="flat", outline=True, bold=True,
                      default_background=("#F6E7C8", "#EAD3A8")),
    "watercolour": Look("watercolour", grade=(245, 240, 230), grade_amount=0.3, saturation=0.7, paper=14.0,
                        light=0.2, shadow=0.2, subject="wash", bold=False,
                        default_background=("#F5F0E6", "#E6EEF2")),
    "line": Look("line", mono=False, grade=(255, 255, 255), grade_amount=0.85, saturation=0.2, light=0.0,
                 shadow=0.0, subject="outline", bold=False, default_background=("#FFFFFF", "#FFFFFF")),
    "3d": Look("3d", grade=(214, 206, 255), grade_amount=0.12, saturation=1.1, light=2.4, shadow=1.6,
               subject="glossy", bold=True, default_background=("#E9E4FF", "#B9AEEA")),
    "packaging": Look("packaging", saturation=1.0, grain=2.0, light=1.2, shadow=1.2, subject="flat",
                      outline=True, bold=True, upper=True, default_background=("#EDEBE6", "#CFCBC2")),
}  # fmt: skip

# Style words → family, first match wins: the specific looks before the general ones.
_FAMILY_WORDS: tuple[tuple[str, str], ...] = (
    ("line", r"line[\s-]?art|line drawing|outline drawing|ink drawing|pen and ink|sketch|blueprint"),
    ("noir", r"noir|black[\s-]and[\s-]white|monochrome|b&w|greyscale|grayscale"),
    ("watercolour", r"watercolou?r|gouache|painting|painted|oil paint"),
    ("storybook", r"storybook|children'?s[\s-]book|picture[\s-]book"),
    ("infographic", r"infographic|diagram|explainer|line icons"),
    ("3d", r"\b3d\b|render|cgi|clay|isometric|archviz|visuali[sz]ation"),
    ("flat", r"flat|vector|illustration|cartoon"),
    ("packaging", r"packaging|mock[\s-]?up|label design"),
    ("poster", r"poster|typographic"),
    ("graphic", r"social media|graphic|banner|ad\b|advert"),
    ("cinematic", r"cinematic|film still|35mm|film grain|movie"),
    ("editorial", r"editorial|magazine|fashion|minimalist photo"),
    ("photo", r"photo|photograph|shot on|lens|dslr|studio shot"),
)


def look_for(style: str) -> Look:
    """The visual family a style's words name (``plain`` when they name none).

    Example:
        >>> look_for("minimalist editorial photography, generous negative space").family
        'editorial'
    """
    words = style.lower()
    for family, pattern in _FAMILY_WORDS:
        if re.search(pattern, words):
            return LOOKS[family]
    return LOOKS["plain"]


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
    placement: Placement = Placement()
    look: Look = Look()

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
            "family": self.look.family,
            "placement": self.placement.describe(),
            "texts": {
                "headline": list(self.headlines),
                "subtext": list(self.subtexts),
                "label": list(self.labels),
            },
        }


def _grade(colour: RGB, look: Look) -> RGB:
    """A named colour as the style's palette sees it (hex codes are never graded)."""
    c = [float(v) for v in colour]
    if look.mono:
        grey = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
        return (round(grey),) * 3  # type: ignore[return-value]
    grey = sum(c) / 3
    c = [grey + (v - grey) * look.saturation for v in c]
    if look.grade is not None:
        c = [v + (g - v) * look.grade_amount for v, g in zip(c, look.grade, strict=True)]
    return tuple(int(min(255, max(0, round(v)))) for v in c)  # type: ignore[return-value]


def _styled_backdrop(backdrop: Backdrop, look: Look) -> Backdrop:
    """A backdrop as the style sees it: the style's own palette only where no background was
    read (a forest floor or a night street keeps its colours under a photo style, graded)."""
    if backdrop.exact:
        return backdrop
    colours = backdrop.colours
    given = backdrop.named or backdrop.texture or SCENE_RE.search(backdrop.words or "")
    if not given and look.default_background is not None:
        colours = tuple(_hex(c) for c in look.default_background)  # the family's own palette
        return replace(backdrop, colours=colours)
    if backdrop.named:
        return replace(backdrop, colours=tuple(_grade(c, look) for c in colours))
    # A setting (a forest floor, a night street) is graded in hue and saturation but keeps its
    # lightness: a night street stays dark under an editorial grade.
    return replace(backdrop, colours=tuple(_keep_lightness(_grade(c, look), c) for c in colours))


def _keep_lightness(graded: RGB, original: RGB) -> RGB:
    """``graded`` scaled to ``original``'s mean level (clipped to 0..255)."""
    was, now = sum(original) / 3, sum(graded) / 3
    if now <= 0:
        return graded
    return tuple(int(min(255, max(0, round(v * was / now)))) for v in graded)  # type: ignore[return-value]


_SUBJECT_CLAUSE = re.compile(r"\b(subject|product|object|item)\b")
# What a quoted text and a background phrase leave of a clause: "a poster and the text".
_LEFT_OVER = re.compile(r"(?:\s+(?:and|with|on))+(?:\s+the\s+(?:text|words?|headline|title))?\s*$", re.I)
_BACKGROUND_PHRASES = (
    # "a background of #00A3E0", "the backdrop is dark green"
    re.compile(
        r"\b(?:a|an|the)?\s*(?:background|backdrop)\s+(?:of|in|is)\s+(?P<what>[^,;]+?)"
        r"(?=\s+(?:and|with|featuring)\b|$)",
        re.IGNORECASE,
    ),
    # "on a lavender background", "with a coral (#FF7F50) backdrop", "against a teal wall backdrop"
    re.compile(
        r"\b(?:on|against|over|with|in front of)\s+(?:a|an|the)?\s*"
        r"(?P<what>(?:(?!\b(?:on|against|over|with)\b)[^,;])*?)\s*"
        r"\b(?:background|backdrop)\b",
        re.IGNORECASE,
    ),
)


def scene_for(request: ImageRequest) -> Scene:
    """Read the scene from a request's spec (or, without one, from its prompt)."""
    spec = request.spec
    from_prompt = spec is None
    if spec is None:
        spec = spec_from_prompt(request.prompt)
    subject_text = _words(spec.subject)
    placement_clauses: list[str] = []
    if from_prompt or not (spec.background or spec.lighting or spec.style or spec.details):
        # A free prompt: strip the quoted texts, then sort its clauses into subject, light, setting.
        bare = strip_quotes(subject_text)
        clauses = _clauses(bare)
        # "on a lavender background", "a background of #00A3E0" inside any clause (the first,
        # the subject's, too) are the setting, not the subject.
        said: list[str] = []
        for i, clause in enumerate(clauses):
            for pattern in _BACKGROUND_PHRASES:
                said.extend(m.group("what") for m in pattern.finditer(clause) if m.group("what").strip())
                clause = pattern.sub(" ", clause)
            clauses[i] = _LEFT_OVER.sub("", " ".join(clause.split()))
        subject_text = clauses[0] if clauses else ""
        placement_clauses = clauses
        rest = [c for c in clauses[1:] if not _where_only(c)]
        lighting = ", ".join(c for c in rest if _LIGHT_WORDS.search(c))
        background = ", ".join([*said, *(c for c in rest if not _LIGHT_WORDS.search(c))])
        details = ""
        # Style words anywhere in the prompt ("a noir poster of a detective").
        style = ", ".join(c for c in clauses if look_for(c).family != "plain")
    else:
        lighting = _words(spec.lighting)
        background = _words(spec.background)
        details = _words(spec.details)
        style = _words(spec.style)
        placement_clauses = [*_clauses(subject_text), *_clauses(details), *_clauses(style)]
    look = look_for(", ".join([style, details]))
    # Details name a background colour only in a clause about the background; their other
    # colours are accents (the steps), and the subject's colour only in a clause about it.
    detail_clauses = _clauses(details)
    background_extra = [c for c in detail_clauses if _BACKGROUND_WORDS.search(c)]
    other = [c for c in detail_clauses if c not in background_extra and not _TEXT_WORDS.search(c.lower())]
    accents = [c for clause in other for c in colours_in(clause)]
    subject_accents = [
        c for clause in other if _SUBJECT_CLAUSE.search(clause.lower()) for c in colours_in(clause)
    ]
    backdrop_text = background or ", ".join(background_extra)
    if not colours_in(backdrop_text) and background_extra:
        backdrop_text = ", ".join([backdrop_text, *background_extra])
    backdrop = _styled_backdrop(parse_backdrop(backdrop_text), look)
    light = parse_light(lighting or ", ".join(c for c in detail_clauses if _LIGHT_WORDS.search(c)))

    if spec.character:
        label = spec.character.name or short_label(spec.character.description)
        shape = "figure"
        subject_colours = colours_in(spec.character.description)
    else:
        label = short_label(subject_text)
        shape = _shape_for(subject_text)
        subject_colours = colours_in(short_label(subject_text, max_words=8))
    subject_colour = (
        subject_colours[0] if subject_colours else (subject_accents[0] if subject_accents else None)
    )
    texts = spec.texts
    return Scene(
        backdrop=backdrop,
        light=light,
        subject=label or "subject",
        shape=shape,
        subject_colour=_grade(subject_colour, look) if subject_colour else None,
        accent=accents[0] if accents else (subject_colours[0] if subject_colours else None),
        headlines=tuple(t.text for t in texts if t.role == "headline"),
        subtexts=tuple(t.text for t in texts if t.role == "subtext"),
        labels=tuple(t.text for t in texts if t.role == "label"),
        placement=parse_placement(placement_clauses, texts=bool(texts)),
        look=look,
    )


def _where_only(clause: str) -> bool:
    """Whether a prompt clause only says where things go ("headline at the bottom")."""
    lowered = clause.lower()
    v, h = _where(lowered)
    return (v is not None or h is not None) and not _NOT_PLACEMENT.search(lowered) and not colours_in(clause)
