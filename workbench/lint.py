"""The prompt linter: rules that catch the mistakes that waste a generation.

Each rule has a stable code, says what is wrong in one sentence and suggests a concrete fix.
Findings are advice: they are shown beside the prompt and never block a run.

========  =====================================================================================
WB001     too vague: a very short or generic prompt with no setting, lighting or style
WB002     contradictory lighting: two light moods, times of day or key-light directions
WB003     text meant to appear in the image but not in quotes (or never given)
WB004     too many main subjects in one prompt
WB005     brand colours named without hex codes or colour names
WB006     pixel dimensions in the prompt (the aspect and quality settings choose the size)
WB007     a ``@name`` template reference that does not exist (specs only)
========  =====================================================================================

Quoted text ('…', "…", “…”) is never examined by the rules: it is what the image should say.
The rules are heuristics tuned to stay quiet on good prompts; a finding is a hint, not a verdict.

Example:
    >>> [f.code for f in lint("a nice product photo")]
    ['WB001']
    >>> lint("a white leather sneaker on dark concrete, soft overhead light, product photography")
    []
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.errors import SpecError, TemplateError
from workbench.quotes import has_opening_quote, mask_quotes, quote_text
from workbench.spec import ASPECT_SIZES, PromptSpec, compose

if TYPE_CHECKING:
    from workbench.templates import TemplateLibrary

__all__ = ["RULES", "Finding", "lint"]

RULES: dict[str, str] = {
    "WB001": "too vague",
    "WB002": "contradictory lighting",
    "WB003": "text to render is not quoted",
    "WB004": "too many main subjects",
    "WB005": "brand colours without hex codes or names",
    "WB006": "pixel dimensions in the prompt",
    "WB007": "unknown template",
}


@dataclass(frozen=True)
class Finding:
    """One piece of advice about a prompt.

    Attributes:
        code: the rule's stable code, e.g. ``"WB003"``.
        message: what is wrong, in one sentence.
        fix: a concrete change to make, in one sentence.
        severity: ``"warning"`` (likely to spoil the image) or ``"info"`` (worth a look).
        span: ``(start, end)`` character offsets of the problem in the linted prompt (for a spec,
            in its composed prompt), when it has a place.
        excerpt: the prompt text at ``span`` (for an unknown template, the field's value).
    """

    code: str
    message: str
    fix: str
    severity: str = "warning"
    span: tuple[int, int] | None = None
    excerpt: str | None = None

    @property
    def title(self) -> str:
        """The rule's short name, e.g. "contradictory lighting"."""
        return RULES.get(self.code, "")

    def __str__(self) -> str:
        return f"{self.code} {self.message} {self.fix}"


def lint(prompt: str | PromptSpec, *, templates: TemplateLibrary | None = None) -> list[Finding]:
    """Check a prompt, or a spec's composed prompt, for common mistakes.

    Args:
        prompt: the prompt text, or a spec: its composed prompt is checked, its subject alone
            for too many heroes (fields join with commas), and its template references.
        templates: the library that resolves a spec's ``@name`` references (the default
            library when omitted and a reference is present).

    Returns:
        Findings sorted by position; an empty list for a clean or empty prompt. Never raises for
        anything a user typed, so a widget can lint on every keystroke.

    Example:
        >>> for finding in lint("a sign that says SALE, 1920x1080"):
        ...     print(finding.code, finding.fix)
        WB003 Put the exact text in quotes: sign that says 'SALE'.
        WB006 Remove '1920x1080' and set aspect '16:9' instead; the aspect and quality choose ...
    """
    if isinstance(prompt, PromptSpec):
        return _lint_spec(prompt, templates)
    if not isinstance(prompt, str):
        raise TypeError(f"lint() takes a prompt string or a PromptSpec, not {type(prompt).__name__}.")
    return _lint_text(prompt, check_heroes=True)


# -- shared helpers ---------------------------------------------------------------------------

_I = re.IGNORECASE


def _any(words: str) -> str:
    """A regex group matching any of the space-separated ``words``; in a word, ``-`` matches a
    hyphen or a space and ``_`` a run of whitespace."""
    escaped = (re.escape(w).replace(r"\-", "[- ]").replace("_", r"\s+") for w in words.split())
    return "(?:" + "|".join(escaped) + ")"


def _mask_quotes(text: str) -> str:
    """The text with every quoted passage's inside replaced by underscores (offsets kept)."""
    return mask_quotes(text)


def _excerpt(text: str, start: int, end: int) -> tuple[tuple[int, int], str]:
    return (start, end), text[start:end]


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.span[0] if f.span else -1, f.code))


def _lint_text(text: str, *, check_heroes: bool) -> list[Finding]:
    if not text.strip():
        return []
    masked = _mask_quotes(text)
    findings = [
        *_too_vague(text, masked),
        *_contradictory_lighting(text, masked),
        *_unquoted_text(text, masked),
        *_brand_colours(text, masked),
        *_pixel_dimensions(text, masked),
    ]
    if check_heroes:
        findings += _too_many_heroes(text, masked)
    return _sorted(findings)


# -- WB001 too vague --------------------------------------------------------------------------

_PRAISE = _any(
    "nice good great cool beautiful pretty amazing awesome stunning lovely interesting professional"
    " high-quality"
)
_MEDIUM = _any(
    "photo photograph picture image pic shot design graphic poster illustration render banner visual artwork"
)
_GENERIC = re.compile(
    rf"\bsomething\s+(?:really\s+|very\s+)?(?:{_PRAISE}|fun)"
    rf"|\b(?:an?\s+)?(?:really\s+|very\s+)?{_PRAISE}\s+(?:\w+\s+)?{_MEDIUM}s?\b"
    rf"|\b{_any('make create generate draw give')}\s+(?:me\s+)?(?:an?\s+|some\s+)?"
    rf"{_any('image picture photo pic')}s?\b"
    rf"|\bmake\s+it\s+{_any('pop nice look_good cool')}\b",
    _I,
)
_SETTING = re.compile(
    rf"\b{_any('on against in at under inside beside over near across')}\s+(?:an?|the|some|\w+)\s+\w+"
    r"|\b"
    + _any(
        "background backdrop surface table tabletop floor wall counter desk shelf street room studio"
        " park beach forest sky field kitchen landscape setting scene interior city garden mountain"
        " mountains ocean sea"
    )
    + r"\b",
    _I,
)
_LIGHTING = re.compile(
    r"\b"
    + _any(
        "light lights lighting lit sunlight sunshine sunlit shadow shadows glow glowing golden-hour"
        " overcast backlit neon candlelight daylight high-key low-key night sunset sunrise moonlight"
        " illuminated"
    )
    + r"\b",
    _I,
)
_STYLE = re.compile(
    r"\b\d+\s?mm\b|\b"
    + _any(
        "photo photos photography photograph illustration render rendering painting watercolor"
        " watercolour drawing sketch vector 3d cinematic editorial minimal minimalist style anime"
        " cartoon flat isometric realistic photorealistic film lens vintage retro infographic diagram"
        " layout design visualisation visualization poster graphic portrait mockup mock-up"
    )
    + r"\b",
    _I,
)
_WORD = re.compile(r"[\w'’-]+")
_RESOLUTION = re.compile(
    rf"\b(?:[248]k|{_any('hd uhd high-resolution hi-res hires ultra-detailed high-quality highly-detailed')})"
    r"\b",
    _I,
)


def _too_vague(text: str, masked: str) -> list[Finding]:
    generic = _GENERIC.search(masked)
    if not generic and len(masked) > 80:
        return []  # long and not generic: it says plenty (and the rule stays cheap)
    content = _RESOLUTION.sub(" ", masked)
    words = len(_WORD.findall(content))
    missing = [
        name
        for name, pattern in (("setting", _SETTING), ("lighting", _LIGHTING), ("style", _STYLE))
        if not pattern.search(content)
    ]
    present = 3 - len(missing)
    if not ((generic and present < 2) or (words < 6 and present == 0) or words <= 3):
        return []
    what = " or ".join([", ".join(missing[:-1]), missing[-1]]) if len(missing) > 1 else "".join(missing)
    if generic:
        message = f"The prompt is too vague: '{generic.group().strip()}' is generic"
    else:
        plural = "s" if words != 1 else ""
        message = f"The prompt is too vague: {words} word{plural} say little about the image"
    message += f" and it names no {what}." if what else "."
    span, excerpt = _excerpt(text, *generic.span()) if generic else ((0, len(text)), text)
    return [
        Finding(
            "WB001",
            message,
            "Name the exact subject, the surface, the lighting and the style, e.g. "
            '"a ceramic coffee mug on a wooden table, warm side light, lifestyle photography".',
            "warning",
            span,
            excerpt,
        )
    ]


# -- WB002 contradictory lighting -------------------------------------------------------------

_LIGHT_GROUPS: dict[str, re.Pattern[str]] = {
    "midday": re.compile(
        r"\b(?:midday|mid-day|noon(?:time)?|broad daylight|blazing sun|full sun|sunny day"
        r"|bright\s+(?:midday\s+|summer\s+|afternoon\s+)?sun(?:light|shine)?"
        r"|harsh\s+(?:midday\s+|summer\s+)?sun(?:light)?)\b",
        _I,
    ),
    "night": re.compile(
        r"\b(?:night(?:time)?|moonlit|moonlight|midnight(?!\s+blue)|after dark|starlit"
        r"|starry (?:night|sky))\b",
        _I,
    ),
    "golden": re.compile(r"\b(?:golden[- ]hour|sunset|sunrise|magic hour)\b", _I),
    "overcast": re.compile(
        r"\b(?:overcast|cloudy (?:sky|day|weather)|gr[ae]y sky|clouded sky|dull daylight)\b", _I
    ),
    "soft": re.compile(
        r"\b(?:soft,?\s+(?:[\w-]+\s+){0,2}?(?:light|lighting|glow|illumination|key|daylight|sunlight)"
        r"|diffused?\s+(?:[\w-]+\s+)?(?:light|lighting|daylight|sunlight)|softbox|soft shadows?)\b",
        _I,
    ),
    "hard": re.compile(
        r"\b(?:hard\s+(?:[\w-]+\s+)?(?:light|lighting|shadows?|sunlight|key)"
        r"|harsh\s+(?:[\w-]+\s+)?(?:light|lighting|shadows?|sun|sunlight|flash)"
        r"|direct flash|on-camera flash)\b",
        _I,
    ),
    "airy": re.compile(r"\b(?:high[- ]key|bright and airy|light and airy)\b", _I),
    "moody": re.compile(
        r"\b(?:low[- ]key|dark and moody"
        r"|moody\s+(?:light|lighting|night|atmosphere|shadows?|darkness|dusk))\b",
        _I,
    ),
}
_LIGHT_CONFLICTS = (
    ("midday", "night"),
    ("midday", "golden"),
    ("midday", "overcast"),
    ("golden", "overcast"),
    ("golden", "night"),
    ("soft", "hard"),
    ("airy", "moody"),
)
_FROM_SIDE = re.compile(
    r"\bfrom\s+the\s+(?:(?:upper|lower|top|bottom|far)[- ]?)?(left|right)\b(?:[- ]hand)?(?:\s+side)?", _I
)
_CLAUSE_START = re.compile(r"[,;.:]")
_LIGHT_WORD = re.compile(
    rf"\b(?:illuminat\w*"
    rf"|{_any('light lights lighting lit sun sunlight sunshine glow key beam ray rays lamp window')})\b",
    _I,
)
_SECONDARY_LIGHT = re.compile(
    rf"\b{_any('rim fill back hair kicker accent edge bounce reflector secondary separation backlight')}\b",
    _I,
)


def _clause_before(masked: str, index: int, reach: int = 80) -> str:
    """The words between the last clause break (or ``reach`` characters back) and ``index``."""
    window_start = max(0, index - reach)
    breaks = _CLAUSE_START.finditer(masked, window_start, index)
    return masked[max((m.end() for m in breaks), default=window_start) : index]


def _contradictory_lighting(text: str, masked: str) -> list[Finding]:
    findings = []
    found = {name: pattern.search(masked) for name, pattern in _LIGHT_GROUPS.items()}
    for first, second in _LIGHT_CONFLICTS:
        a, b = found[first], found[second]
        if a is None or b is None or (a.start() < b.end() and b.start() < a.end()):
            continue
        a, b = sorted((a, b), key=lambda m: m.start())
        findings.append(
            Finding(
                "WB002",
                f"The lighting contradicts itself: '{a.group()}' and '{b.group()}' cannot both describe "
                "the light.",
                f"Pick one lighting mood and stick to it: keep '{a.group()}' or '{b.group()}', not both.",
                "warning",
                *_excerpt(text, a.start(), b.end()),
            )
        )
    # The key light has one direction; a rim, fill or back light from the other side is fine.
    sides: dict[str, re.Match[str]] = {}
    for match in _FROM_SIDE.finditer(masked):
        clause = _clause_before(masked, match.start())
        if _LIGHT_WORD.search(clause) and not _SECONDARY_LIGHT.search(clause):
            sides.setdefault(match.group(1).lower(), match)
    if len(sides) == 2:
        a, b = sorted(sides.values(), key=lambda m: m.start())
        findings.append(
            Finding(
                "WB002",
                f"The key light comes from two sides: '{a.group()}' and '{b.group()}'.",
                f"Give the key light one direction (e.g. keep '{a.group()}'); call a second light a rim or "
                "fill light if you want one.",
                "warning",
                *_excerpt(text, a.start(), b.end()),
            )
        )
    return findings


# -- WB003 text not quoted --------------------------------------------------------------------

_TEXT_NOUN = _any(
    "text headline heading title subtitle subheading caption label sign signage banner slogan tagline"
    " lettering subtext word words inscription message placard poster button badge sticker logo"
    " typography"
)
_TEXT_VERB = _any(
    "reading reads saying says stating states spelling_out spelling spells_out spells displaying"
    " displays titled entitled with_the_words with_the_word"
)
# "a sign that says SALE", "with the words Happy Birthday", "headline: SUMMER SALE".
_UNQUOTED_TEXT = re.compile(
    rf"\b{_TEXT_NOUN}\b(?:\s+(?!and\b|or\b|while\b|but\b)[\w'’-]+){{0,3}}?\s+(?:that\s+|which\s+)?"
    rf"{_TEXT_VERB}\b\s*:?\s*"
    rf"|\bwith\s+the\s+(?:words?|phrase)\s+"
    rf"|\b{_any('text headline title caption label slogan tagline')}\s*:\s*",
    _I,
)
# "step 1 labeled Input", "a book titled The Long Road": a capitalised literal after the verb.
_LABELED = re.compile(r"\b(?:labell?ed|titled|entitled)\s+(?=[A-Z0-9])")
# Where an unquoted literal most likely ends: "a sign that says SALE on the door" → SALE.
_LITERAL_END = re.compile(
    r"\s+"
    + _any(
        "on in at above below over under across with against beside next_to in_front_of printed"
        " written painted engraved embossed and_a and_an"
    )
    + r"\s",
    _I,
)
# Text implied but never given: "a label with a product name on it", "a poster with a catchy slogan".
_TEXT_NOT_GIVEN = re.compile(
    rf"\b{_any('with showing displaying bearing featuring')}\s+{_any('a an the some its their our my')}\s+"
    rf"(?:{_any('product brand company shop store business')}\s+name"
    rf"|{_any('catchy short bold big clever nice fun')}\s+"
    rf"{_any('slogan headline tagline title caption text message')}"
    rf"|{_any('slogan tagline caption text title message')})\b"
    rf"(?!\s*(?:reading|saying|says|reads|that|which|:))",
    _I,
)
_CLAUSE_END = re.compile(r"[,;.!?](?=\s|$)|$")
_NOT_A_LITERAL = re.compile(
    rf"{_any('in on at with of across above below inside printed written that which a an the')}\b", _I
)


def _unquoted_text(text: str, masked: str) -> list[Finding]:
    findings = []
    matches = [(m, False) for m in _UNQUOTED_TEXT.finditer(masked)]
    matches += [(m, True) for m in _LABELED.finditer(masked)]
    for match, capitalised in matches:
        start = match.end()
        # A literal runs to the end of its clause; 120 characters is longer than any headline.
        end = _CLAUSE_END.search(masked, start, min(len(masked), start + 120)).start()
        clause = masked[start:end]
        words = clause.strip()
        if not words or has_opening_quote(clause):
            continue
        # "a sign that says the shop is open", "text in the corner": no literal given here.
        with_the = match.group().lower().startswith("with the")
        if not capitalised and not with_the and _NOT_A_LITERAL.match(words):
            continue
        cut = _LITERAL_END.search(masked, start, end)
        if cut is not None and cut.start() > start:
            end = cut.start()
        literal = text[start:end].strip()
        lead = text[match.start() : match.end()].strip()
        findings.append(
            Finding(
                "WB003",
                f"The words {quote_text(literal)} look meant to appear in the image but are not in quotes.",
                f"Put the exact text in quotes: {lead} {quote_text(literal)}.",
                "warning",
                *_excerpt(text, match.start(), end),
            )
        )
    if not findings and not has_opening_quote(masked):
        for match in _TEXT_NOT_GIVEN.finditer(masked):
            implied = match.group().split(None, 1)[1]
            findings.append(
                Finding(
                    "WB003",
                    f"The image is meant to carry text ('{implied}') but the prompt does not give the "
                    "exact words.",
                    "Write the exact words in quotes, e.g. \"a label reading 'COLD BREW COFFEE'\".",
                    "warning",
                    *_excerpt(text, *match.span()),
                )
            )
    return findings


# -- WB004 too many main subjects -------------------------------------------------------------

_ITEM_SEP = re.compile(r"\s*(?:,\s*(?:and|&|plus)\s+|[,;.:](?=\s|$)|\s+(?:and|&|plus|as well as)\s+)\s*", _I)
_COUNTED = _any("a an the two three some")
_ARTICLE = re.compile(rf"{_any('a an the one two three four five some several')}\s+\w", _I)
# "a desk with a laptop, a lamp and a plant": props of one subject, not heroes.
_PROP_INTRO = re.compile(
    rf"\b{_any('with including holding carrying wearing surrounded_by next_to beside and')}"
    rf"\s+(?={_COUNTED}\s)",
    _I,
)
# "a photo of a cat, a dog and a car", "featuring …": the heroes follow.
_PICTURE = _any(
    "photo photograph picture image illustration painting drawing render poster shot collage portrait"
)
_HERO_INTRO = re.compile(
    rf"\b(?:{_any('featuring showing depicting')}"
    rf"|{_PICTURE}"
    rf"\s+of)\s+(?={_COUNTED}\s)",
    _I,
)
# Items about the scene rather than a subject: "a soft top light", "a dark concrete floor".
_SCENE_WORD = re.compile(
    r"\b"
    + _any(
        "light lights lighting background backdrop surface floor wall table tabletop counter shadow"
        " shadows style photography photo illustration composition layout design texture sky scene"
        " palette color colors colour colours tone tones setting lens focus glow atmosphere mood view"
        " angle render grain space typography font text headline label frame border gradient finish"
        " aesthetic look feel vibe perspective depth"
    )
    + r"\b",
    _I,
)

_Run = list[tuple[int, int]]


def _segments(masked: str) -> _Run:
    spans, position = [], 0
    for separator in _ITEM_SEP.finditer(masked):
        spans.append((position, separator.start()))
        position = separator.end()
    spans.append((position, len(masked)))
    return [(a, b) for a, b in spans if b > a]


def _hero_runs(masked: str) -> list[tuple[bool, _Run]]:
    """Runs of article-led items ("a cat, a dog and a car") that stand as main subjects, each with
    whether it opens a clause (True) or follows "a photo of", "featuring" and the like (False)."""
    runs: list[tuple[bool, _Run]] = []
    run: _Run = []
    props = False  # inside a "with a …, a …" list of props: not heroes
    top = True
    for a, b in _segments(masked):
        item = masked[a:b]
        leads = bool(_ARTICLE.match(item))
        if leads and run:
            if not props:
                run.append((a, b))
            continue
        if len(run) > 1 and not props:
            runs.append((top, run))
        run, props, top = [], False, True
        hero_intro = _HERO_INTRO.search(item)
        prop_intro = None if hero_intro else _PROP_INTRO.search(item)
        if hero_intro:
            run, top = [(a + hero_intro.end(), b)], False
        elif prop_intro:
            run, props = [(a + prop_intro.end(), b)], True
        elif leads:
            run = [(a, b)]
    if len(run) > 1 and not props:
        runs.append((top, run))
    return [(top, [(a, b) for a, b in run if not _SCENE_WORD.search(masked[a:b])]) for top, run in runs]


def _too_many_heroes(text: str, masked: str, offset: int = 0) -> list[Finding]:
    findings = []
    for top, run in _hero_runs(masked):
        # Three heroes at the head of a clause deserve a look; after "a photo of" or "featuring"
        # three is a common group ("a mother, a father and a child"), four is a crowd.
        if len(run) < (3 if top else 4):
            continue
        names = [text[a:b].strip() for a, b in run]
        listed = ", ".join(f"'{name}'" for name in names)
        start, end = run[0][0], run[-1][1]
        findings.append(
            Finding(
                "WB004",
                f"The prompt has {len(run)} main subjects ({listed}), so none of them gets a hero's "
                "attention.",
                f"Keep one main idea, e.g. '{names[0]}', and add the others in follow-up edits or "
                "separate images.",
                "warning" if len(run) >= 4 else "info",
                (start + offset, end + offset),
                text[start:end],
            )
        )
    return findings


# -- WB005 brand colours ----------------------------------------------------------------------

_BRAND_COLOURS = re.compile(
    rf"\b(?:{_any('our the my your their its')}\s+)?"
    r"(?:brand(?:'s|’s)?|corporate|company(?:'s|’s)?|house|on-brand|official)\s+"
    r"(?:colou?rs?|palette|colou?r\s+(?:scheme|palette)|hues|tones)\b",
    _I,
)
_HEX = re.compile(r"#(?:[0-9a-f]{6}|[0-9a-f]{3})\b|\brgb\s*\(|\b(?:pantone|pms)\s*\d", _I)
_COLOUR_NAME = re.compile(
    r"\b"
    + _any(
        "red orange yellow green blue purple violet pink white black grey gray navy teal cyan magenta"
        " beige cream gold golden silver brown maroon coral peach turquoise lime olive ivory charcoal"
        " crimson burgundy indigo lavender mint sage mustard ochre terracotta scarlet cobalt emerald"
        " aqua tan khaki rust plum lilac sand blush off-white"
    )
    + r"\b",
    _I,
)


def _brand_colours(text: str, masked: str) -> list[Finding]:
    match = _BRAND_COLOURS.search(masked)
    if match is None or _HEX.search(masked):
        return []
    if _COLOUR_NAME.search(masked, match.end(), min(len(masked), match.end() + 60)):
        return []  # "in our brand colours, navy and gold"
    return [
        Finding(
            "WB005",
            f"The model does not know your brand, so '{match.group()}' tells it nothing about the colours.",
            "Spell the colours out with names and hex codes, e.g. "
            '"deep navy (#1B2A4A) and warm white (#FAF8F5)".',
            "warning",
            *_excerpt(text, *match.span()),
        )
    ]


# -- WB006 pixel dimensions -------------------------------------------------------------------

# "1920 x 1080 px", "1024x1024", "1920 by 1080 pixels", "at 3000 pixels wide" — but not "4K",
# "a 24x36 inch poster" or "a 3x3 grid".
_PIXELS = re.compile(
    r"\b(?P<w>\d{3,5})\s*(?:px\s*)?[x×X*]\s*(?P<h>\d{3,5})(?:\s*(?:px|pixels?))?\b"
    r"|\b(?P<w2>\d{3,5})\s+by\s+(?P<h2>\d{3,5})\s*(?:px|pixels?)\b"
    r"|\b(?:at\s+)?\d{2,5}\s*(?:px|pixels?)(?:\s+(?:wide|tall|high|across))?\b",
    _I,
)


def _nearest_aspect(width: int, height: int) -> str:
    def ratio(aspect: str) -> float:
        w, h = aspect.split(":")
        return int(w) / int(h)

    return min(ASPECT_SIZES, key=lambda aspect: abs(ratio(aspect) - width / height))


def _pixel_dimensions(text: str, masked: str) -> list[Finding]:
    findings = []
    for match in _PIXELS.finditer(masked):
        width, height = match.group("w") or match.group("w2"), match.group("h") or match.group("h2")
        dimensions = match.group().strip()
        setting = "the aspect and quality instead; together they choose the pixel size"
        if width and height and int(height):
            aspect = _nearest_aspect(int(width), int(height))
            setting = f"aspect '{aspect}' instead; the aspect and quality choose the pixel size"
        findings.append(
            Finding(
                "WB006",
                f"The prompt gives pixel dimensions ('{dimensions}'), which the model does not use to "
                "size the image.",
                f"Remove '{dimensions}' and set {setting}.",
                "info",
                *_excerpt(text, *match.span()),
            )
        )
    return findings


# -- specs ------------------------------------------------------------------------------------


def _lint_spec(spec: PromptSpec, templates: TemplateLibrary | None) -> list[Finding]:
    from workbench.templates import FIELD_KINDS, TemplateLibrary

    findings: list[Finding] = []
    changes: dict[str, str] = {}
    for name, kind in FIELD_KINDS.items():
        value = getattr(spec, name)
        if not value.startswith("@"):
            continue
        if templates is None:
            try:
                templates = TemplateLibrary.default()
            except TemplateError as exc:
                return [Finding("WB007", str(exc), "Fix the template file named in the message.", "warning")]
        try:
            changes[name] = templates.resolve_field(name, value)
        except TemplateError as exc:
            changes[name] = ""
            ref = "@" + (exc.name or "").lstrip("@") if exc.name and " " not in exc.name else value
            hint = re.search(r"did you mean '([^']+)'\?", str(exc))
            findings.append(
                Finding(
                    "WB007",
                    f"The {name} refers to '{ref}', which is not a known {kind} template.",
                    (f"Did you mean '{hint.group(1)}'? " if hint else "")
                    + f"Choose one from `workbench templates {kind}` or write the text out.",
                    "warning",
                    None,
                    value,
                )
            )
    resolved = spec.replace(**changes) if changes else spec
    try:
        prompt = compose(resolved, templates)
    except SpecError:
        return findings  # empty (or too long): the run itself says so
    findings += _lint_text(prompt, check_heroes=False)
    subject = resolved.subject.rstrip(",. ")  # as compose() writes it
    if subject:
        offset = max(prompt.find(subject), 0)
        findings += _too_many_heroes(subject, _mask_quotes(subject), offset)
    return _sorted(findings)
