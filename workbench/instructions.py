"""Edit instructions that need no model: map a sentence to a local finishing operation, or None.

"Convert to black and white, high contrast", "make the lighting warmer", "remove the background",
"replace the background with a white studio wall", "crop to 3:2", "upscale to 4K" all run locally
on the draft backend, free. Anything else ("remove the coffee cup", "change the jacket to navy",
"put it on a sunset beach") is for the image service, and ``map_instruction`` returns None.

An operation also has a canonical text, ``crop {"aspect": "3:2"}``, which ``map_instruction`` reads
back exactly: it is what a run's prompt says when an operation was asked for by name.

Example:
    >>> map_instruction("Convert to black and white, high contrast")
    LocalOperation(operation='black_and_white', params={'contrast': 0.8})
    >>> map_instruction("Remove the coffee cup from the left side") is None
    True
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from workbench.vocabulary import SCENES, colours_in

__all__ = [
    "LocalOperation",
    "local_sounding",
    "map_instruction",
    "output_size",
    "suggest",
    "unknown_local_error",
]


@dataclass(frozen=True)
class LocalOperation:
    """A finishing operation by name (see ``workbench.imaging.finishing.OPERATIONS``) and its parameters."""

    operation: str
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """The canonical text, e.g. ``tone {"warmth": 0.5}``; ``map_instruction`` reads it back."""
        if not self.params:
            return self.operation
        return f"{self.operation} {json.dumps(self.params, sort_keys=True, ensure_ascii=False)}"


_CANONICAL = re.compile(r"^\s*([a-z_]+)\s*(\{.*\})?\s*$", re.S)
_ASPECT = re.compile(r"\b(\d{1,2})\s*[:x/]\s*(\d{1,2})\b")
_NAMED_ASPECTS = {
    "square": "1:1",
    "portrait": "2:3",
    "landscape": "3:2",
    "widescreen": "16:9",
    "story": "9:16",
}
_INTENSITY = re.compile(r"\b(much|very|a lot|strongly|dramatic(?:ally)?|deep)\b", re.I)
_GENTLY = re.compile(r"\b(slightly|a (?:little|bit|touch)|subtle|subtly|gently|hint)\b", re.I)


def _amount(text: str, base: float) -> float:
    if _INTENSITY.search(text):
        return round(min(1.0, base * 1.6), 3)
    if _GENTLY.search(text):
        return round(base * 0.5, 3)
    return base


def _canonical(text: str) -> LocalOperation | None:
    from workbench.imaging.finishing import OPERATIONS

    match = _CANONICAL.match(text)
    if not match or match.group(1) not in OPERATIONS:
        return None
    try:
        params = json.loads(match.group(2)) if match.group(2) else {}
    except json.JSONDecodeError:
        return None
    return LocalOperation(match.group(1), params) if isinstance(params, dict) else None


_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "double": 2, "twice": 2, "triple": 3, "quadruple": 4}
_FACTOR = re.compile(
    r"\b(\d+(?:\.\d+)?)\s*(?:x|×|times)\b|\b(?:by|to)\s+(\d+(?:\.\d+)?)\s*(?:x|×)|\bx\s*(\d+(?:\.\d+)?)\b"
)
_COLOUR_BACKGROUND = re.compile(
    r"^(?:a |an |the |plain |solid |pure |clean )*(.+?)\s+(?:background|backdrop)s?$"
)
_ON_COLOUR = re.compile(
    r"\b(?:put|place|set|paste|drop|show)\b.*?\b(?:on|onto|against|over)\s+"
    r"(?:a |an |the |plain |solid |pure )*(.+)$"
)
_LESS = r"(?:less|lower|reduce|decrease|tone down|soften|cut|weaker|flatter|lower the|drop the)"
_MORE = r"(?:more|increase|boost|add|higher|high|raise|pump up|strengthen|stronger|punch up|bump up|up the)"


def map_instruction(text: str) -> LocalOperation | None:
    """The local operation an edit instruction asks for, or None when it needs a model.

    Paraphrases route as a person means them: "increase the contrast" and "more contrast" are
    the same tone change; "white background" and "remove the background and put it on white"
    paint a white background (not transparency); "sharpen", "rotate 90 degrees" (clockwise
    unless it says otherwise), "flip horizontally" and "upscale 2x" (exactly twice each side)
    are local too.

    Example:
        >>> map_instruction("upscale 2x")
        LocalOperation(operation='upscale', params={'factor': 2.0})
        >>> map_instruction("remove the background and put it on white").operation
        'replace_background'
    """
    if not text or not text.strip():
        return None
    canonical = _canonical(text)
    if canonical is not None:
        return canonical
    t = " ".join(text.lower().replace("’", "'").split()).strip(" .!")
    t = re.sub(r"^(?:please\s+|can you\s+|could you\s+|i want to\s+|i'd like to\s+)+", "", t)
    if re.search(r"\b(black[ -]and[ -]white|b&w|monochrome|gr[ae]yscale|desaturate|no colou?r)\b", t):
        contrast = 0.8 if re.search(r"\bhigh[- ]contrast|contrasty|punchy|dramatic\b", t) else 0.2
        return LocalOperation("black_and_white", {"contrast": contrast})
    # A background: removed (transparent), or a new one painted (a colour, a studio wall).
    removes = re.search(
        r"\b(remove|delete|erase|cut out|drop|get rid of|lose|strip|take out|knock out)\b.*\bbackground\b", t
    )
    removes = removes or re.search(
        r"\b(transparent background|cut[- ]?out|background removed|no background|isolate)\b", t
    )
    removes = removes or re.search(r"\bbackground\b.*\b(transparent|see-through|alpha)\b", t)
    if removes and not re.search(r"\b(replace|change|swap)\b.*\bbackground\b.*\b(with|to|into)\b", t):
        after = _ON_COLOUR.search(t[removes.end() :]) or re.search(
            r"\b(?:and|then)\s+(?:make it|use|go with|give it)\s+(?:a |an )?(.+)$", t[removes.end() :]
        )
        if after and not re.search(r"\btransparen", after.group(1)):
            local = _background(after.group(1))
            if local is not None:
                return local
        return LocalOperation("remove_background", {})
    background = re.search(
        r"\b(?:replace|change|swap|make|turn|set|paint)\b.*\bbackground\b.*?\b(?:with|to|into|for)\b\s+(.*)$",
        t,
    ) or re.search(r"\b(?:put|place|set)\b.*\b(?:on|against|onto)\b\s+(.*\bbackground\b.*)$", t)
    if background:
        return _background(background.group(1))
    bare = _COLOUR_BACKGROUND.match(t) or re.match(
        r"^(?:make )?(?:the )?background\s+(?:to be\s+|should be\s+)?(.+)$", t
    )
    if bare:
        local = _background(bare.group(1))
        if local is not None:
            return local
    on_colour = _ON_COLOUR.search(t)
    if on_colour and colours_in(on_colour.group(1)) and len(on_colour.group(1).split()) <= 3:
        return _background(on_colour.group(1))
    if re.search(
        r"\b(upscale|upsize|up-?res|enlarge|4k|uhd|3840|print[- ]ready|print resolution|higher resolution|"
        r"bigger|larger|increase the (?:size|resolution)|double the (?:size|resolution)|"
        r"super[- ]?resolution)\b",
        t,
    ):
        factor = _factor(t)
        if factor is not None and not re.search(r"\b(4k|uhd|3840)\b", t):
            return LocalOperation("upscale", {"factor": factor})
        return LocalOperation("upscale", {})
    if re.search(r"\bcrop\b|\breframe\b|\baspect\b|\bmake it (?:square|portrait|landscape|widescreen)\b", t):
        match = _ASPECT.search(t)
        if match:
            return LocalOperation("crop", {"aspect": f"{int(match.group(1))}:{int(match.group(2))}"})
        for word, aspect in _NAMED_ASPECTS.items():
            if word in t:
                return LocalOperation("crop", {"aspect": aspect})
    if re.search(r"\b(rotate|turn|spin)\b", t) or "upside down" in t:
        if "upside down" in t:
            return LocalOperation("rotate", {"degrees": 180})
        degrees = re.search(r"(-?\d+(?:\.\d+)?)\s*(?:°|deg|degrees?)?", t)
        amount = float(degrees.group(1)) if degrees else 90.0
        if re.search(r"\b(quarter)\b", t):
            amount = 90.0
        if re.search(r"\b(half[- ]turn)\b", t):
            amount = 180.0
        if not re.search(r"\b(counter[- ]?clockwise|anti[- ]?clockwise|to the left|left)\b", t):
            amount = -amount  # clockwise, as people (and photo tools) turn pictures
        return LocalOperation("rotate", {"degrees": int(amount) if float(amount).is_integer() else amount})
    if re.search(r"\b(flip|mirror)\b", t):
        vertical = re.search(r"\b(vertical(?:ly)?|upside|top to bottom)\b", t)
        return LocalOperation("flip", {"direction": "vertical" if vertical else "horizontal"})
    if re.search(
        r"\b(sharpen|sharper|crisper|crisp up|more detail|more defined|less blurry|deblur|unblur)\b", t
    ):
        return LocalOperation("sharpen", {"amount": _amount(t, 0.6)})
    warm = re.search(
        r"\b(warmer|warm (?:it )?up|warm(?:er)? tones?|golden(?: hour)?|warm light(?:ing)?|make .*warm)\b", t
    )
    cool = re.search(
        r"\b(cooler|cool (?:it )?down|cool(?:er)? tones?|colder|cold tone|blue hour|cool light(?:ing)?|"
        r"make .*cool)\b",
        t,
    )
    if warm and not cool:
        return LocalOperation("tone", {"warmth": _amount(t, 0.5)})
    if cool and not warm:
        return LocalOperation("tone", {"warmth": -_amount(t, 0.5)})
    if re.search(rf"\b{_LESS}\b.*\bcontrast\b|\bcontrast\b.*\b(?:down|lower|less)\b", t):
        return LocalOperation("tone", {"contrast": -_amount(t, 0.4)})
    if re.search(
        rf"\b{_MORE}\b.*\bcontrast\b|\bcontrast\b.*\b(?:up|higher|more)\b|\b(?:punchier|punchy|contrasty)\b",
        t,
    ):
        return LocalOperation("tone", {"contrast": _amount(t, 0.5)})
    if re.search(
        r"\b(brighter|brighten|lighter|lighten|more light|too dark|exposure up|increase the exposure)\b", t
    ):
        return LocalOperation("tone", {"brightness": _amount(t, 0.4)})
    if re.search(r"\b(darker|darken|too bright|exposure down|moodier)\b", t) and "background" not in t:
        return LocalOperation("tone", {"brightness": -_amount(t, 0.4)})
    if re.search(
        r"\b(more (?:vivid|saturated|colou?rful)|saturate|vibrant|colou?rs? pop|pop(?:py)? colou?rs?|"
        r"richer colou?rs?|"
        r"boost the colou?rs?|more colou?r)\b",
        t,
    ):
        return LocalOperation("tone", {"saturation": _amount(t, 0.4)})
    if re.search(r"\b(less saturated|muted colou?rs?|desaturated?|tone down the colou?rs?|washed out)\b", t):
        return LocalOperation("tone", {"saturation": -_amount(t, 0.4)})
    if re.search(r"\b(auto[- ]?contrast|auto[- ]?level|levels|auto[- ]?enhance|fix the exposure)\b", t):
        return LocalOperation("autocontrast", {})
    return None


def _factor(t: str) -> float | None:
    match = _FACTOR.search(t)
    if match:
        value = next(g for g in match.groups() if g is not None)
        return float(value)
    for word, factor in _NUMBER_WORDS.items():
        if re.search(rf"\b{word}\b", t):
            return float(factor)
    return None


# Operations that sound like quick local adjustments but that neither the draft backend nor the
# image service does well as an edit instruction: asked about, not silently paid for.
_LOCAL_SOUNDING = {
    r"\b(blur|blurr(?:y|ed)|bokeh|defocus)\b": "a blur",
    r"\b(denoise|de-noise|noise reduction|reduce (?:the )?noise|grain(?:y)?)\b": "noise reduction",
    r"\b(vignette)\b": "a vignette",
    r"\b(straighten|level the horizon|deskew)\b": "straightening",
    r"\b(resize|downscale|shrink|smaller|compress)\b": "resizing",
    r"\b(invert|negative)\b": "inverting the colours",
    r"\b(sepia|vintage filter|film filter|instagram filter)\b": "a colour filter",
    r"\b(hue|white balance|tint)\b": "a colour-balance change",
    r"\b(exposure|highlights|shadows|gamma|curves)\b": "an exposure adjustment",
}
_SUGGESTIONS = (
    "increase the contrast",
    "less contrast",
    "brighter",
    "darker",
    "warmer",
    "cooler",
    "more vivid",
    "black and white",
    "sharpen",
    "rotate 90 degrees",
    "flip horizontally",
    "crop to 3:2",
    "upscale 2x",
    "upscale to 4K",
    "remove the background",
    "white background",
)


def local_sounding(text: str) -> str | None:
    """What a local-sounding instruction asks for that no local operation does ("a blur"), or None.

    Such an instruction should be asked about (``unknown_local_error``) rather than sent to the
    paid image service without a word.
    """
    t = " ".join(text.lower().split())
    if map_instruction(text) is not None:
        return None
    for pattern, what in _LOCAL_SOUNDING.items():
        if re.search(pattern, t):
            return what
    return None


def suggest(text: str) -> str:
    """The local instruction nearest in wording to ``text`` (for "did you mean")."""
    import difflib

    return max(_SUGGESTIONS, key=lambda s: difflib.SequenceMatcher(None, text.lower(), s).ratio())


def unknown_local_error(text: str, what: str) -> str:
    """The sentence that asks, for a local-sounding instruction no local operation does."""
    return (
        f"{text!r} sounds like {what}, which Workbench cannot do locally; did you mean {suggest(text)!r}? "
        "To send it to the image service as an edit (paid), pass backend='openai' (--backend openai)."
    )


def _background(rest: str) -> LocalOperation | None:
    """A new background the draft can paint: a colour, a gradient or a (plain/studio) wall."""
    from workbench.imaging.cutout import parse_background

    rest = re.split(r"[,;]\s*(?:keep|keeping|and keep|leave|preserve)\b", rest)[0]
    scene_words = set(SCENES) - {"studio"}
    if any(re.search(rf"\b{word}\b", rest) for word in scene_words) or re.search(
        r"\b(scene|landscape|room|street|office|kitchen|field|mountains?|garden|city|beach|park)\b", rest
    ):
        return None  # a place to be imagined: the image service's job
    if not (colours_in(rest) or re.search(r"\b(studio|plain|solid|seamless|backdrop|wall|paper)\b", rest)):
        return None
    return LocalOperation("replace_background", parse_background(rest))


def output_size(operation: LocalOperation, size: tuple[int, int]) -> tuple[int, int]:
    """The size an operation's result will have, from the input's size (without running it)."""
    from workbench.imaging.finishing import UHD_EDGE, crop_size, upscale_size

    if operation.operation == "upscale":
        factor = operation.params.get("factor")
        return upscale_size(size, int(operation.params.get("long_edge", UHD_EDGE)), factor)
    if operation.operation == "rotate":
        from workbench.imaging.finishing import rotate_size

        return rotate_size(size, float(operation.params.get("degrees", 90)))
    if operation.operation == "crop":
        return crop_size(size, operation.params.get("aspect", "1:1"))
    return size
