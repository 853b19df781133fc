"""The words Workbench reads as colours, textures, settings and shapes, shared by the draft
renderer, the finishing operations and the edit router.

Example:
    >>> colours_in("deep navy (#1B2A4A) and warm white (#FAF8F5)")
    [(27, 42, 74), (250, 248, 245)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "COLOURS",
    "DEFAULT_BACKGROUND",
    "RGB",
    "ROUND",
    "SCENES",
    "SHADES",
    "TALL",
    "TEXTURES",
    "WIDE",
    "COLOUR_RE",
    "SCENE_RE",
    "TEXTURE_RE",
    "colours_in",
    "contrast",
    "delta_e2000",
    "to_lab",
    "hex_rgb",
    "luminance",
    "rgb_hex",
    "shade",
]

RGB = tuple[int, int, int]

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
SHADES = {
    "dark": 0.55,
    "deep": 0.7,
    "light": -0.45,
    "pale": -0.6,
    "soft": -0.3,
    "pastel": -0.5,
    "bright": -0.1,
    "muted": 0.15,
}
# A shade word may stand one word away from its colour: "dark raw concrete", "pale dusty pink".
COLOUR_RE = re.compile(
    r"#(?P<hex>[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b"
    r"|\b(?:(?P<shade>" + "|".join(SHADES) + r")[\s-]+(?:[a-z]+[\s-]+)?)?"
    r"(?P<name>" + "|".join(sorted(map(re.escape, COLOURS), key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
# A name with its hex code beside it ("deep navy (#1B2A4A)") is the hex code: the name describes it.
_HEX_BESIDE = re.compile(
    r"(?:[\s-]+(?!(?:and|or|to|into|with|from|on|against|then|vs)\b)[A-Za-z]+){0,2}"
    r"\s*(?:\(\s*)?#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b"
)
TEXTURES = {
    "concrete": "concrete", "cement": "concrete", "stone": "concrete", "plaster": "concrete",
    "marble": "marble", "linen": "fabric", "fabric": "fabric", "canvas": "fabric", "cotton": "fabric",
    "wood": "wood", "wooden": "wood", "walnut": "wood", "oak": "wood", "paper": "paper",
    "kraft": "paper", "cardboard": "paper", "sand": "sand", "sandy": "sand",
}  # fmt: skip
TEXTURE_RE = re.compile(r"\b(" + "|".join(TEXTURES) + r")\b", re.IGNORECASE)
# Settings that imply colours when none are named: (top, bottom).
SCENES: dict[str, tuple[str, str]] = {
    "sunset": ("#F6A65A", "#7B4B94"), "sunrise": ("#FBD38D", "#F49B7A"), "night": ("#0E1630", "#27305A"),
    "space": ("#05060F", "#1A1440"), "sky": ("#8EC5EA", "#E6F3FB"), "ocean": ("#2F8FBF", "#0E4C6E"),
    "sea": ("#2F8FBF", "#0E4C6E"), "beach": ("#BFE3F2", "#E8D4A8"), "forest": ("#5C8A4E", "#2E5233"),
    "desert": ("#F2C48D", "#C9834E"), "snow": ("#F4F8FB", "#DCE6EE"), "city": ("#5F6B7A", "#2C3440"),
    "studio": ("#ECECE9", "#D6D6D2"), "neon": ("#12081F", "#2B0F3D"),
}  # fmt: skip
SCENE_RE = re.compile(r"\b(" + "|".join(SCENES) + r")\b", re.IGNORECASE)
DEFAULT_BACKGROUND = ("#ECECE9", "#D3D3CF")  # a light neutral grey studio sweep

TALL = frozenset(
    "bottle person woman man girl boy model tower vase phone smartphone can perfume candle lamp "
    "tree statue robot astronaut portrait dress jar glass skyscraper rocket chef doctor".split()
)
WIDE = frozenset(
    "car sneaker sneakers shoe shoes sofa couch laptop bike bicycle truck boat train bench "
    "landscape keyboard sunglasses bus van plane airplane table bed dog cat horse fish".split()
)
ROUND = frozenset(
    "ball plate clock watch cake donut doughnut coin planet bowl pizza cookie orange apple globe "
    "button pie moon sun wheel".split()
)


def hex_rgb(code: str) -> RGB:
    """``#RRGGBB`` (or ``#RGB``) as an (r, g, b) tuple."""
    code = code.lstrip("#")
    if len(code) == 3:
        code = "".join(c * 2 for c in code)
    return int(code[0:2], 16), int(code[2:4], 16), int(code[4:6], 16)


def rgb_hex(colour: Sequence[float]) -> str:
    """An (r, g, b) colour as ``#RRGGBB``."""
    return "#{:02X}{:02X}{:02X}".format(*(int(round(c)) for c in colour[:3]))


def shade(colour: RGB, amount: float) -> RGB:
    """Darken (amount > 0, toward black) or lighten (amount < 0, toward white)."""
    if amount >= 0:
        return tuple(round(c * (1 - amount)) for c in colour)  # type: ignore[return-value]
    return tuple(round(c + (255 - c) * -amount) for c in colour)  # type: ignore[return-value]


def colours_in(text: str) -> list[RGB]:
    """Every colour a text names, in order: hex codes and names, with dark/light/pale shades.

    A name followed by its hex code counts once, as the hex code.

    Example:
        >>> colours_in("gradient from navy to #FF8800")
        [(27, 42, 74), (255, 136, 0)]
        >>> colours_in("bright orange (#FF6600)")
        [(255, 102, 0)]
    """
    found = []
    for match in COLOUR_RE.finditer(text):
        if match.group("hex"):
            found.append(hex_rgb(match.group("hex")))
            continue
        if _HEX_BESIDE.match(text, match.end()):
            continue
        colour = hex_rgb(COLOURS[match.group("name").lower()])
        amount = match.group("shade")
        found.append(shade(colour, SHADES[amount.lower()]) if amount else colour)
    return found


def luminance(colour: Sequence[float]) -> float:
    """Relative luminance (WCAG) of an sRGB colour, 0-1."""

    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: float, b: float) -> float:
    """WCAG contrast ratio of two luminances (1-21)."""
    high, low = max(a, b), min(a, b)
    return (high + 0.05) / (low + 0.05)


def to_lab(colour: Sequence[float]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour (``workbench.checks.colour.rgb_to_lab`` for one)."""
    from workbench.checks.colour import rgb_to_lab

    lab = rgb_to_lab(colour)
    return float(lab[0]), float(lab[1]), float(lab[2])


def delta_e2000(a: Sequence[float], b: Sequence[float]) -> float:
    """CIEDE2000 colour difference of two sRGB colours (about 1: just noticeable; 3: close).

    One implementation serves scalars and arrays: ``workbench.checks.colour.delta_e2000``."""
    from workbench.checks.colour import delta_e2000 as delta_e2000_lab
    from workbench.checks.colour import rgb_to_lab

    return float(delta_e2000_lab(rgb_to_lab(a), rgb_to_lab(b)))
