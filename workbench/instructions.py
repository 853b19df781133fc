"""Edit instructions that need no model: map a sentence to a local finishing operation, or None.

"Convert to black and white, high contrast", "make the lighting warmer", "remove the background",
"replace the background with a white studio wall", "crop to 3:2", "upscale to 4K", "make it
smaller", "add a slight blur", "remove noise", "rotate the hue by 30 degrees" all run locally on
the draft backend, free; so does a compound of them ("make it brighter, then crop to square").
Anything else ("remove the coffee cup", "change the jacket to navy", "put it on a sunset beach",
"turn it into a watercolour") is for the image service, and ``map_instruction`` returns None.
What sounds local but is not ("straighten the horizon", "convert to jpeg") is asked about
(``local_sounding``, ``unknown_local_error``), never silently paid for.

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
    "LOCAL_EDIT_EXAMPLES",
    "LocalOperation",
    "local_sounding",
    "map_instruction",
    "output_size",
    "steps_of",
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

    def summary(self) -> str:
        """What a person reads before it runs: the canonical text, a chain as its steps in order
        (``tone {"contrast": 0.5}, then crop {"aspect": "1:1"}``)."""
        if self.operation == "chain" and isinstance(self.params.get("steps"), list):
            return ", then ".join(
                LocalOperation(step.get("operation", "?"), step.get("params") or {}).describe()
                for step in self.params["steps"]
            )
        return self.describe()


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
_GENTLY = re.compile(r"\b(slight|slightly|a (?:little|bit|touch)|subtle|subtly|gently|hint|soft)\b", re.I)


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
_FRACTION_WORDS = {
    "half": 0.5,
    "a third": 0.3333,
    "one third": 0.3333,
    "a quarter": 0.25,
    "one quarter": 0.25,
}
_FACTOR = re.compile(
    r"\b(\d+(?:\.\d+)?)\s*(?:x|×|times)(?![a-z0-9])|\b(?:by|to)\s+(\d+(?:\.\d+)?)\s*(?:x|×)(?![a-z0-9])"
    r"|(?<![a-z0-9])[x×]\s*(\d+(?:\.\d+)?)\b"
)
_PERCENT = re.compile(r"\b(by|to)?\s*(\d+(?:\.\d+)?)\s*(?:%|percent\b)")
_PIXELS = re.compile(r"\b(\d{2,5})\s*(?:px|pixels?)?\s*(wide|width|across|tall|high|height|long)?\b")
_PIXEL_SIZE = re.compile(r"\b(\d{2,5})\s*[x×]\s*(\d{2,5})\b")
_COLOUR_BACKGROUND = re.compile(
    r"^(?:a |an |the |plain |solid |pure |clean )*(.+?)\s+(?:background|backdrop)s?$"
)
_ON_COLOUR = re.compile(
    r"\b(?:put|place|set|paste|drop|show)\b.*?\b(?:on|onto|against|over)\s+"
    r"(?:a |an |the |plain |solid |pure )*(.+)$"
)
_LESS = (
    r"(?:less|lower|reduce|decrease|tone down|turn down|dial down|dial back|soften|cut|weaker|flatter|"
    r"lower the|drop the|take down|bring down|pull back|not so much)"
)
_MORE = (
    r"(?:more|increase|boost|add|higher|high|raise|pump up|strengthen|stronger|punch up|bump up|up the|"
    r"turn up|crank up|dial up|bring up|push)"
)
# Words that start a step of a compound instruction ("make it brighter, then crop to square").
_STEP_VERBS = re.compile(
    r"^(?:also |then |and )*(?:please )?(?:make|add|remove|turn|put|place|set|crop|rotate|flip|mirror|"
    r"upscale|enlarge|resize|shrink|scale|sharpen|blur|soften|increase|reduce|lower|raise|boost|convert|"
    r"change|replace|give|fix|brighten|darken|warm|cool|invert|denoise|apply|use|cut|erase|delete|get|"
    r"tone|straighten|paint|swap|desaturate|saturate|spin|lighten|bump|boost|drop|take|bring|fill|put|"
    r"move|draw|write|insert|show|let|double|halve|clean|correct|adjust|level|export|save|keep)\b"
)
# A clause that only asks to leave something as it is ("keep the subject"): no step of its own.
_CONSTRAINT = re.compile(
    r"^(?:and |but )?(?:keep|keeping|leave|leaving|preserve|preserving|don't change|do not change|"
    r"without changing)\b"
)
_SEPARATOR = re.compile(
    r"(\s*[,;]\s*(?:and then |then |and )?|\s+and then\s+|\s+then\s+|\s+and\s+|\s+&\s+|\s+plus\s+)"
)
_FORMATS = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "png": "png",
    "webp": "webp",
    "gif": None,
    "tif": None,
    "tiff": None,
}
_FORMAT = re.compile(
    r"\b(?:convert|save|export|change|turn|make|write|output)\b.*\b(?:to |as |into |a |an |in )*"
    r"\.?(jpe?g|png|webp|gif|tiff?)\b(?! (?:background|image with))|^(?:as |to |a |an )?\.?(jpe?g|png|webp)$"
)


def _normalise(text: str) -> str:
    t = " ".join(text.lower().replace("’", "'").split()).strip(" .!")
    t = re.sub(r"^(?:please\s+|can you\s+|could you\s+|i want to\s+|i'd like to\s+|now\s+)+", "", t)
    t = re.sub(r"\b(?:please|thanks|thank you)\b[ ,.!]*$", "", t).strip(" ,.!")
    # "black and white" is one colour name, never two steps
    return re.sub(r"\bblack\s*(?:and|&|n|'n')\s*white\b", "black-and-white", t)


def map_instruction(text: str) -> LocalOperation | None:
    """The local operation an edit instruction asks for, or None when it needs a model.

    Paraphrases route as a person means them: "increase the contrast", "turn up the contrast" and
    "more contrast" are the same tone change; "white background" and "remove the background and
    put it on white" paint a white background (not transparency); "sharpen", "rotate 90 degrees"
    (clockwise unless it says otherwise), "flip horizontally", "upscale 2x" (exactly twice each
    side), "make it smaller" (half each side), "resize to 800 px wide", "add a slight blur",
    "remove noise", "add a vignette", "invert the colours", "make it sepia" and "rotate the hue by
    30 degrees" are local too. "turn" and "spin" rotate only beside an angle or a direction
    ("turn it 90 degrees left", "a quarter turn", "turn it upside down"): "turn up the brightness"
    is a tone change and "turn it into a watercolour" is for the image service.

    A compound instruction ("make it brighter and warmer", "add more contrast, then crop to
    square") is split on "and", "then", commas and semicolons into steps: every step local gives
    one operation (tone changes merged) or a ``chain`` of them; a step that needs a model sends the
    whole instruction to the service (None), so no step is ever dropped.

    Example:
        >>> map_instruction("upscale 2x")
        LocalOperation(operation='upscale', params={'factor': 2.0})
        >>> map_instruction("remove the background and put it on white").operation
        'replace_background'
        >>> map_instruction("make it brighter and warmer")
        LocalOperation(operation='tone', params={'brightness': 0.4, 'warmth': 0.5})
    """
    if not text or not text.strip():
        return None
    canonical = _canonical(text)
    if canonical is not None:
        return canonical
    t = _normalise(text)
    if not t:
        return None
    steps = steps_of(t)
    if len(steps) == 1:
        return _map_one(steps[0])
    operations = []
    for step in steps:
        operation = _map_one(step)
        if operation is None:
            return None  # a step needs a model: the service does the whole instruction
        operations.append(operation)
    return _combine(operations)


def steps_of(text: str) -> list[str]:
    """The steps of a (normalised) instruction: split on and/then/commas, each piece a step when it
    maps alone or starts with a verb ("add", "crop"); anything else belongs to the step before
    ("a red and blue gradient" stays one). Clauses that only keep something ("keep the subject")
    are dropped: they ask for nothing to be done."""
    pieces = _SEPARATOR.split(text)
    steps = [pieces[0]]
    for separator, piece in zip(pieces[1::2], pieces[2::2], strict=False):
        piece = piece.strip()
        if not piece:
            continue
        if _CONSTRAINT.match(piece):
            steps.append("")
            continue
        if _STEP_VERBS.match(piece) or _map_one(piece) is not None:
            steps.append(piece)
        else:
            steps[-1] = f"{steps[-1]}{separator}{piece}"
    return [step for step in steps if step.strip()] or [text]


def _combine(operations: list[LocalOperation]) -> LocalOperation:
    """Steps as one operation when they can be (tone changes merged; "remove the background" then
    "put it on white" is one white background), else a chain."""
    merged: list[LocalOperation] = []
    for op in operations:
        last = merged[-1] if merged else None
        if last is not None and last.operation == "tone" and op.operation == "tone":
            if not set(last.params) & set(op.params):
                merged[-1] = LocalOperation("tone", {**last.params, **op.params})
                continue
        if (
            last is not None
            and last.operation == "remove_background"
            and op.operation == "replace_background"
        ):
            merged[-1] = op
            continue
        if (
            last is not None
            and last.operation == "black_and_white"
            and op.operation == "tone"
            and set(op.params) == {"contrast"}
        ):
            merged[-1] = LocalOperation(
                "black_and_white", {"contrast": 0.8 if op.params["contrast"] > 0 else 0.0}
            )
            continue
        if op == last and op.operation not in ("rotate", "flip", "upscale", "resize"):
            continue  # said twice ("warm and golden"): once (two turns or flips are two)
        merged.append(op)
    if len(merged) == 1:
        return merged[0]
    return LocalOperation(
        "chain", {"steps": [{"operation": m.operation, "params": m.params} for m in merged]}
    )


def _map_one(t: str) -> LocalOperation | None:
    """One step of an instruction (normalised text) as a local operation, or None."""
    if not t:
        return None
    if _FORMAT.search(t) and not re.search(r"\b(background|colou?rs?|transparent)\b", t):
        return None  # a change of file format: workbench export (local_sounding says so)
    if re.search(r"\b(black-and-white|b&w|monochrome|gr[ae]yscale|desaturate|no colou?r)\b", t):
        contrast = 0.8 if re.search(r"\bhigh[- ]contrast|contrasty|punchy|dramatic\b", t) else 0.2
        return LocalOperation("black_and_white", {"contrast": contrast})
    if re.search(r"\bsepia\b", t):
        return LocalOperation("sepia", {"amount": _amount(t, 0.8)})
    if re.search(r"\b(invert|inverted|negative)\b", t) and not re.search(r"\bspace\b", t):
        return LocalOperation("invert", {})
    hue = _hue(t)
    if hue is not None or re.search(r"\bhue\b|\b(spin|rotate|shift|cycle)\b.*\bcolou?rs?\b", t):
        return hue  # a hue turn without an angle asks (local_sounding)
    if re.search(r"\b(noise|noisy|grain|grainy|denoise|de-noise)\b", t):
        if re.search(
            rf"\b(denoise|de-noise|noise reduction|remove|get rid of|clean up|{_LESS}|less)\b", t
        ) and not (re.search(r"\b(add|more|film grain|make it grainy)\b", t)):
            return LocalOperation("denoise", {"strength": _amount(t, 0.5)})
        return None  # adding grain: not local
    operation = _background_step(t)
    if operation is not None or re.search(r"\bbackground\b", t) and _mentions_background_edit(t):
        return operation
    operation = _size_step(t)
    if operation is not None:
        return operation
    if re.search(r"\bcrop\b|\breframe\b|\baspect\b|\bmake it (?:square|portrait|landscape|widescreen)\b", t):
        match = _ASPECT.search(t)
        if match:
            return LocalOperation("crop", {"aspect": f"{int(match.group(1))}:{int(match.group(2))}"})
        for word, aspect in _NAMED_ASPECTS.items():
            if word in t:
                return LocalOperation("crop", {"aspect": aspect})
    if re.search(r"\b(flip|mirror)\b", t):
        vertical = re.search(r"\b(vertical(?:ly)?|upside|top to bottom)\b", t)
        return LocalOperation("flip", {"direction": "vertical" if vertical else "horizontal"})
    operation = _rotation(t)
    if operation is not None:
        return operation
    if re.search(
        r"\b(sharpen|sharper|crisper|crisp up|more detail|more defined|less blurry|deblur|unblur)\b", t
    ):
        return LocalOperation("sharpen", {"amount": _amount(t, 0.6)})
    if re.search(r"\bvignett(?:e|ing)\b", t):
        if re.search(r"\b(remove|no|without|get rid of|less)\b", t):
            return None
        return LocalOperation("vignette", {"amount": _amount(t, 0.5)})
    if re.search(r"\b(blur|blurr(?:y|ed)|soft[- ]focus|defocus|out of focus)\b", t) or re.search(
        r"^(?:make it |)(?:soften|softer)(?: (?:it|the (?:image|photo|picture|whole thing)|everything))?"
        r"(?: a (?:bit|little|touch))?$|"
        r"^make (?:it|the (?:image|photo|picture)) (?:a (?:bit|little) )?softer$",
        t,
    ):
        if re.search(r"\b(background|behind|bokeh|depth of field)\b", t):
            return None  # a blurred background keeps the subject sharp: not a local operation
        radius = 1.5 if _GENTLY.search(t) or re.search(r"\bsoft", t) else 6.0 if _INTENSITY.search(t) else 3.0
        return LocalOperation("blur", {"radius": radius})
    return _tone_step(t)


def _mentions_background_edit(t: str) -> bool:
    """Whether a step that names the background asks to change it (then it is never a tone step)."""
    return bool(re.search(r"\b(replace|change|swap|remove|new|different|put|place|make|turn|paint)\b", t))


def _background_step(t: str) -> LocalOperation | None:
    # A background: removed (transparent), or a new one painted (a colour, a studio wall).
    removes = re.search(
        r"\b(remove|delete|erase|cut out|drop|get rid of|lose|strip|take out|knock out)\b.*\bbackground\b", t
    )
    removes = removes or re.search(
        r"\b(transparent background|cut[- ]?out|background removed|no background|isolate)\b", t
    )
    removes = removes or re.search(r"\bbackground\b.*\b(transparent|see-through|alpha)\b", t)
    removes = removes or re.search(
        r"^make (?:it|the (?:image|photo|picture)) (?:a )?transparent(?: png| cut-?out)?$", t
    )
    if removes and not re.search(r"\b(replace|change|swap)\b.*\bbackground\b.*\b(with|to|into)\b", t):
        after = _ON_COLOUR.search(t[removes.end() :]) or re.search(
            r"\b(?:and|then)\s+(?:make it|use|go with|give it)\s+(?:a |an )?(.+)$", t[removes.end() :]
        )
        if after and not re.search(r"\btransparen", after.group(1)):
            return _background(after.group(1))  # None: a scene to imagine, for the service
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
    return None


_ENLARGE = re.compile(
    r"\b(upscale|upsize|up-?res|enlarge|4k|uhd|3840|print[- ]ready|print resolution|higher resolution|"
    r"bigger|larger|increase the (?:size|resolution)|double the (?:size|resolution)|scale (?:it )?up|"
    r"size (?:it )?up|as (?:big|large)|(?:twice|double|triple) the size|super[- ]?resolution)\b"
)
_SHRINK = re.compile(
    r"\b(resize|rescale|downscale|downsize|down-?res|shrink|smaller|scale (?:it )?down|reduce the size|"
    r"decrease the size|half (?:the )?size|half as (?:big|large)|halve|less big|not so big|thumbnail size)\b"
)


def _size_step(t: str) -> LocalOperation | None:
    """A resize: larger ("upscale 2x", "make it twice as big", "enlarge by 150%": upscale, exact
    and sharpened; "make it bigger": twice each side; "upscale to 4K": 3840 px on the long side) or
    smaller ("make it smaller": half each side, "shrink to half size", "resize to 800 px wide")."""
    shrink, enlarge = _SHRINK.search(t), _ENLARGE.search(t)
    sized = re.search(r"^(?:make|set|scale|resize|change)\b.*\b\d{2,5}\s*(?:px|pixels?)\b", t) or re.search(
        r"^(?:scale|rescale|resize)\b.*\d\s*(?:%|percent\b|x\b|×)", t
    )
    if not (shrink or enlarge or sized):
        return None
    if re.search(r"\b(4k|uhd|3840|print[- ]ready|print resolution)\b", t) and not shrink:
        return LocalOperation("upscale", {})
    pixels = _pixel_target(t)
    if pixels is not None:
        return LocalOperation("resize", pixels)
    factor = _scale_factor(
        t, shrinking=bool(shrink) and not re.search(r"\b(bigger|larger|enlarge|upscale)\b", t)
    )
    if factor is None and not (shrink or enlarge):
        return None
    if factor is None:
        if shrink and not re.search(r"\b(bigger|larger|enlarge|upscale)\b", t):
            if re.fullmatch(r"(?:resize|rescale)(?: it| the (?:image|photo|picture))?", t):
                return None  # resize to what: asks
            return LocalOperation("resize", {"factor": 0.5})  # "make it smaller": half each side
        if re.search(r"\b(resolution)\b", t) and not re.search(r"\bdouble\b", t):
            return LocalOperation("upscale", {})  # "higher resolution": 4K, as for print
        return LocalOperation("upscale", {"factor": 2.0})  # "make it bigger": twice each side
    if factor > 1:
        return LocalOperation("upscale", {"factor": factor})
    if factor == 1:
        return None
    return LocalOperation("resize", {"factor": factor})


def _pixel_target(t: str) -> dict[str, int] | None:
    both = _PIXEL_SIZE.search(t)
    if both:
        return {"width": int(both.group(1)), "height": int(both.group(2))}
    long_side = re.search(
        r"\b(\d{2,5})\s*(?:px|pixels?)?\s*(?:on|along|for) the long(?:est)? (?:side|edge)\b", t
    )
    if long_side:
        return {"long_edge": int(long_side.group(1))}
    for match in _PIXELS.finditer(t):
        value, side = int(match.group(1)), match.group(2)
        unit = re.match(r"\s*(px|pixels?)", t[match.end(1) :])
        if side in ("wide", "width", "across"):
            return {"width": value}
        if side in ("tall", "high", "height"):
            return {"height": value}
        if unit or side == "long":
            return {"long_edge": value}
    return None


def _scale_factor(t: str, *, shrinking: bool) -> float | None:
    """The factor a resize asks for: "2x", "by 150%" (1.5), "to 50%", "half", "twice"."""
    percent = _PERCENT.search(t)
    if percent:
        value = float(percent.group(2)) / 100
        relative = percent.group(1) == "by" or (
            percent.group(1) is None and re.search(r"\b(bigger|larger|smaller|less)\b", t)
        )
        if relative:  # "by 25%", "25% smaller": a change; "by 150%" (an enlargement) is to 1.5x
            if shrinking:
                return round(1 - value, 4) if value < 1 else None
            return round(value if value >= 1 else 1 + value, 4)
        return round(value, 4)  # "to 50%", "resize 50%"
    factor = _factor(t)
    if factor is not None:
        return round(1 / factor, 4) if shrinking and factor > 1 and not re.search(r"\bto\b", t) else factor
    for words, value in _FRACTION_WORDS.items():
        if re.search(rf"\b{words}\b", t):
            return value
    return None


def _hue(t: str) -> LocalOperation | None:
    """A hue shift with an angle: "rotate the hue by 30 degrees", "shift the colours 90°"."""
    if not re.search(r"\bhue\b|\b(spin|rotate|shift|cycle|turn)\b.*\bcolou?rs?\b", t):
        return None
    angle = re.search(r"(-?\d+(?:\.\d+)?)\s*(?:°|deg\b|degrees?\b)?", t)
    if not angle:
        return None
    degrees = float(angle.group(1))
    if re.search(r"\b(back|backwards|counter|anti|negative)\b", t):
        degrees = -abs(degrees)
    return LocalOperation("hue_shift", {"degrees": int(degrees) if degrees.is_integer() else degrees})


_TURN_WORDS = (
    r"(?:by\s+)?-?\d+(?:\.\d+)?\s*(?:°|deg\b|degrees?\b)|-?\d+(?:\.\d+)?(?=\s|$)|(?:a |one )?quarter|half|"
    r"(?:to the |towards the )?(?:left|right)|(?:counter[- ]?|anti[- ]?)?clockwise|sideways|on its side|"
    r"upside down|around|round|over"
)
_TURN = re.compile(
    r"\b(?:turn|spin)\b(?:\s+(?:it|this|the (?:image|photo|picture|whole thing|page|canvas)))?"
    rf"\s+(?:{_TURN_WORDS})"
)


def _rotation(t: str) -> LocalOperation | None:
    """A turn of the picture. "rotate" always means one; "turn" and "spin" only beside an angle or a
    direction (degrees, °, left/right, clockwise, sideways, a quarter or half turn, upside down)."""
    if "upside down" in t:
        return LocalOperation("rotate", {"degrees": 180})
    quarter = re.search(r"\b(?:a |one )?(quarter|half)[- ]turn\b", t)
    if not (re.search(r"\b(rotate|rotation)\b", t) or _TURN.search(t) or quarter):
        return None
    degrees = re.search(r"(-?\d+(?:\.\d+)?)\s*(?:°|deg\b|degrees?\b)", t) or re.search(
        r"\b(?:rotate|turn|spin|rotation)\b(?:\s+(?:it|this|the \w+))?\s+(?:by\s+)?(-?\d+(?:\.\d+)?)\b", t
    )
    amount = float(degrees.group(1)) if degrees else 90.0
    if re.search(r"\bhalf\b|\b(?:turn|spin) (?:it )?(?:a)?round\b", t) and not degrees:
        amount = 180.0
    if re.search(r"\b(counter[- ]?clockwise|anti[- ]?clockwise|to the left|left)\b", t):
        pass  # counter-clockwise: the operation's own positive direction
    else:
        amount = -amount  # clockwise, as people (and photo tools) turn pictures
    if abs(amount) == 180:
        amount = 180.0  # a half turn either way
    return LocalOperation("rotate", {"degrees": int(amount) if float(amount).is_integer() else amount})


def _tone_step(t: str) -> LocalOperation | None:
    """Colour temperature, contrast, brightness and saturation, said any of the usual ways."""
    if re.search(
        r"\b(make it|give it) (?:\w+ )?pop(?: more)?\b|\bmore pop\b|\bpop more\b|^pop\b", t
    ) and not re.search(r"\bcolou?rs?\b", t):
        # "make it pop": more contrast and more colour, as photo editors mean it
        return LocalOperation("tone", {"contrast": _amount(t, 0.3), "saturation": _amount(t, 0.3)})
    if re.search(r"^tone (?:it|the (?:image|photo|picture|whole thing)|everything) down\b|^tone down$", t):
        return LocalOperation("tone", {"contrast": -_amount(t, 0.2), "saturation": -_amount(t, 0.2)})
    less_warm = re.search(r"\b(?:less|not so|too) warm\b|\b" + _LESS + r"\b.*\bwarmth\b", t)
    less_cool = re.search(r"\b(?:less|not so|too) (?:cool|cold|blue)\b", t)
    warm = less_cool or re.search(
        r"\b(warmer|warm (?:it )?up|warm(?:er)? tones?|golden(?: hour)?|warm light(?:ing)?|make .*warm|"
        rf"{_MORE}\b.*\bwarmth)\b",
        t,
    )
    cool = less_warm or re.search(
        r"\b(cooler|cool (?:it )?down|cool(?:er)? tones?|colder|cold tone|blue hour|cool light(?:ing)?|"
        r"make .*cool)\b",
        t,
    )
    if less_warm or less_cool:
        warm, cool = (None, cool) if less_warm else (warm, None)
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
        rf"\b(darker|darken|too bright|exposure down|moodier|dimmer|dim it|less bright|not so bright)\b|"
        rf"\b{_LESS}\b.*\b(brightness|exposure)\b|\b(brightness|exposure)\b.*\b(?:down|lower|less)\b",
        t,
    ) and not re.search(r"\bbackground\b", t):
        return LocalOperation("tone", {"brightness": -_amount(t, 0.4)})
    if re.search(
        r"\b(brighter|brighten|lighter|lighten|more light|too dark|exposure up|increase the exposure)\b|"
        rf"\b{_MORE}\b.*\b(brightness|exposure)\b|\b(brightness|exposure)\b.*\b(?:up|higher|more)\b",
        t,
    ):
        return LocalOperation("tone", {"brightness": _amount(t, 0.4)})
    if re.search(
        r"\b(less saturated|muted colou?rs?|desaturated?|washed out|less colou?rful)\b|"
        rf"\b{_LESS}\b.*\b(saturation|colou?rs?|vibrance)\b|\b(saturation|vibrance)\b.*\b(?:down|lower|less)\b",
        t,
    ):
        return LocalOperation("tone", {"saturation": -_amount(t, 0.4)})
    if re.search(
        r"\b(more (?:vivid|saturated|colou?rful)|saturate|vibrant|colou?rs? pop|pop(?:py)? colou?rs?|"
        r"richer colou?rs?|boost the colou?rs?|more colou?r)\b|"
        rf"\b{_MORE}\b.*\b(saturation|vibrance)\b|\b(saturation|vibrance)\b.*\b(?:up|higher|more)\b",
        t,
    ):
        return LocalOperation("tone", {"saturation": _amount(t, 0.4)})
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


# Instructions that sound like quick local adjustments that no local operation does: asked about,
# never silently paid for. Each: what it sounds like, and the local instructions nearest to it.
_LOCAL_SOUNDING: list[tuple[str, str, tuple[str, ...]]] = [
    (
        r"\b(blur|blurr(?:y|ed)|bokeh|defocus|depth of field)\b.*\b(background|behind)\b|"
        r"\b(background|behind)\b.*\b(blur|blurr(?:y|ed)|bokeh|defocus)\b|\bbokeh\b|\bdepth of field\b",
        "a background blur (the subject kept sharp)",
        ("add a slight blur",),
    ),
    (r"\b(grain|grainy|noise|noisy)\b", "adding film grain", ()),
    (
        r"\b(straighten|level the horizon|deskew|horizon straight)\b",
        "straightening",
        ("rotate it 2 degrees",),
    ),
    (
        r"\b(vintage|retro|film look|old photo|aged|faded|instagram filter|film filter|lomo)\b",
        "a vintage look",
        ("make it sepia", "tone it down"),
    ),
    (
        r"\bhue\b|\b(spin|rotate|shift|cycle)\b.*\bcolou?rs?\b",
        "a hue shift without an angle",
        ("rotate the hue by 30 degrees",),
    ),
    (
        r"\b(white balance|tint|colou?r cast|colou?r balance)\b",
        "a colour-balance change",
        ("warmer", "cooler"),
    ),
    (
        r"\b(highlights|shadows|gamma|curves|exposure|dynamic range|hdr)\b",
        "an exposure adjustment",
        ("make it brighter", "make it darker", "auto levels"),
    ),
    (r"\bvignett(?:e|ing)\b", "removing a vignette", ()),
    (r"\b(resize|rescale)\b", "a resize without a size", ("make it smaller", "resize to 800 px wide")),
]
LOCAL_EDIT_EXAMPLES = (  # what a local edit can be asked in words (also the draft's refusal)
    "increase the contrast",
    "less contrast",
    "brighter",
    "darker",
    "warmer",
    "cooler",
    "more vivid",
    "less saturation",
    "black and white",
    "sepia",
    "invert the colours",
    "sharpen",
    "add a slight blur",
    "remove noise",
    "add a vignette",
    "rotate 90 degrees",
    "rotate the hue by 30 degrees",
    "flip horizontally",
    "crop to 3:2",
    "make it smaller",
    "upscale 2x",
    "upscale to 4K",
    "remove the background",
    "white background",
)


def _format_asked(text: str) -> str | None:
    """The file format a format-conversion instruction asks for ("convert to jpeg": 'jpeg')."""
    t = _normalise(text)
    if re.search(r"\b(background|colou?rs?|transparent)\b", t):
        return None
    match = _FORMAT.search(t)
    if match:
        return next(g for g in match.groups() if g is not None).lstrip(".")
    if re.search(r"\b(compress|smaller file|file size|lighter file)\b", t):
        return "auto"
    return None


def local_sounding(text: str) -> str | None:
    """What a local-sounding instruction asks for that no local operation does ("straightening"),
    or None (it is local, or plainly for the image service).

    A compound instruction is asked about when any of its steps sounds local and is not. Such an
    instruction should be asked about (``unknown_local_error``) rather than sent to the paid image
    service without a word. A change of file format ("convert to jpeg") is "a format conversion".
    """
    if not text or map_instruction(text) is not None:
        return None
    if _format_asked(text) is not None:
        return "a format conversion"
    t = _normalise(text)
    for step in [*steps_of(t), t]:
        if _map_one(step) is not None:
            continue
        for pattern, what, _ in _LOCAL_SOUNDING:
            if re.search(pattern, step):
                return what
    return None


def suggest(text: str) -> str:
    """The local instruction nearest to ``text`` (for "did you mean"): the one its kind of edit
    suggests, else the nearest in wording."""
    import difflib

    t = _normalise(text)
    for pattern, _, nearest in _LOCAL_SOUNDING:
        if nearest and re.search(pattern, t):
            return nearest[0]
    return max(LOCAL_EDIT_EXAMPLES, key=lambda s: difflib.SequenceMatcher(None, t, s).ratio())


def unknown_local_error(text: str, what: str, *, cli: bool = False, image: str = "IMAGE") -> str:
    """The sentence that asks, for a local-sounding instruction no local operation does.

    In Python terms (``backend='openai'``, ``wb.export``), or with ``cli`` in the command line's
    (``--backend openai``, ``workbench export``), so each front end gives advice it can follow.
    """
    if what == "a format conversion":
        fmt = _format_asked(text) or "auto"
        if fmt not in ("auto", "png", "jpeg", "webp") and fmt in _FORMATS:
            fmt = _FORMATS[fmt] or "auto"
        how = f"`workbench export {image} --format {fmt}`" if cli else f"wb.export(image, format={fmt!r})"
        return (
            f"{text!r} is a change of file format, not an edit: {how} writes the image as PNG, JPEG or "
            "WebP with its recipe (free)."
        )
    t = _normalise(text)
    nearest = next((n for pattern, _, n in _LOCAL_SOUNDING if re.search(pattern, t)), ())
    offer = f"; did you mean {' or '.join(repr(n) for n in nearest)} (local, free)?" if nearest else "."
    service = (
        f'`workbench edit {image} "{text}" --backend openai`' if cli else "pass backend='openai' to edit()"
    )
    return (
        f"{text!r} sounds like {what}, which Workbench cannot do locally{offer} "
        f"To send it to the image service as an edit (paid): {service}."
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
    """The size an operation's result will have, from the input's size (without running it): the
    same computation the operation itself uses (``finishing.operation_size``)."""
    from workbench.imaging.finishing import operation_size

    return operation_size(operation.operation, operation.params, size)
