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

__all__ = ["LocalOperation", "map_instruction", "output_size"]


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


def map_instruction(text: str) -> LocalOperation | None:
    """The local operation an edit instruction asks for, or None when it needs a model."""
    if not text or not text.strip():
        return None
    canonical = _canonical(text)
    if canonical is not None:
        return canonical
    t = " ".join(text.lower().split())
    if re.search(r"\b(black[ -]and[ -]white|b&w|monochrome|gr[ae]yscale|desaturate)\b", t):
        contrast = 0.8 if re.search(r"\bhigh[- ]contrast|contrasty|punchy|dramatic\b", t) else 0.2
        return LocalOperation("black_and_white", {"contrast": contrast})
    if (
        re.search(r"\b(remove|delete|erase|cut out|drop|get rid of)\b.*\bbackground\b", t)
        or re.search(r"\b(transparent background|cut[- ]?out|background removed|no background)\b", t)
        or re.search(r"\bbackground\b.*\b(transparent|see-through|alpha)\b", t)
    ):
        if not re.search(r"\b(replace|change|swap|with a|to a)\b.*\bbackground\b.*\b(with|to|into)\b", t):
            return LocalOperation("remove_background", {})
    background = re.search(
        r"\b(?:replace|change|swap|make|turn|set)\b.*\bbackground\b.*?\b(?:with|to|into|for)\b\s+(.*)$", t
    ) or re.search(r"\b(?:put|place|set)\b.*\b(?:on|against)\b\s+(.*\bbackground\b.*)$", t)
    if background:
        return _background(background.group(1))
    if re.search(r"\b(upscale|upsize|enlarge|4k|uhd|3840|print[- ]ready|print resolution)\b", t):
        return LocalOperation("upscale", {})
    if re.search(r"\bcrop\b|\breframe\b|\baspect\b", t):
        match = _ASPECT.search(t)
        if match:
            return LocalOperation("crop", {"aspect": f"{int(match.group(1))}:{int(match.group(2))}"})
        for word, aspect in _NAMED_ASPECTS.items():
            if word in t:
                return LocalOperation("crop", {"aspect": aspect})
    warm = re.search(
        r"\b(warmer|warm up|warm(?:er)? tone|golden(?: hour)?|warm light(?:ing)?|make .*warm)\b", t
    )
    cool = re.search(
        r"\b(cooler|cool down|cool(?:er)? tone|colder|cold tone|blue hour|cool light(?:ing)?|make .*cool)\b",
        t,
    )
    if warm and not cool:
        return LocalOperation("tone", {"warmth": _amount(t, 0.5)})
    if cool and not warm:
        return LocalOperation("tone", {"warmth": -_amount(t, 0.5)})
    if re.search(r"\b(more|increase|boost|add|higher|high) contrast\b", t):
        return LocalOperation("tone", {"contrast": _amount(t, 0.5)})
    if re.search(r"\b(brighter|brighten|lighter)\b", t):
        return LocalOperation("tone", {"brightness": _amount(t, 0.4)})
    if re.search(r"\b(darker|darken)\b", t) and "background" not in t:
        return LocalOperation("tone", {"brightness": -_amount(t, 0.4)})
    if re.search(r"\b(more (?:vivid|saturated|colou?rful)|saturate|vibrant)\b", t):
        return LocalOperation("tone", {"saturation": _amount(t, 0.4)})
    return None


def _background(rest: str) -> LocalOperation | None:
    """A new background the draft can paint: a colour, a gradient or a (plain/studio) wall."""
    from workbench.vocabulary import SCENES, colours_in
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
        return upscale_size(size, int(operation.params.get("long_edge", UHD_EDGE)))
    if operation.operation == "crop":
        return crop_size(size, operation.params.get("aspect", "1:1"))
    return size
