"""The one quote parser: which passages of a prompt are quoted, exact text to render.

The composer (``spec.compose`` and a free prompt's spec), the linter, the draft renderer and the
text check all read quotes here, so a text counts as quoted for every one of them or for none.

Quotes recognised: straight ``"…"`` and ``'…'``, curly ``“…”`` and ``‘…’``, low ``„…“``,
guillemets ``«…»`` and ``»…«``, ``‹…›``, and the CJK corner brackets ``「…」`` and ``『…』``.
A single quote or ``’`` glued to letters on both sides is an apostrophe ("don't", "it’s"),
never a quote: a straight or curly single quote opens only after a non-letter and closes only
before one, so ``'DON'T STOP'`` is one quoted text. French spacing inside guillemets and the
other bracket pairs (``« SOLDES »``, with a space, no-break space or narrow no-break space) is
allowed and stripped; ``'n'`` in "rock 'n' roll" is an elision, not a quote.

Example:
    >>> [q.text for q in find_quotes("a poster, text reading 'DON'T STOP', it's «SOLDES»")]
    ["DON'T STOP", 'SOLDES']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "QUOTE_CHARS",
    "Quoted",
    "find_quotes",
    "has_opening_quote",
    "mask_quotes",
    "quote_text",
    "quoted_texts",
    "strip_quotes",
    "texts_in",
]

# opening → closing
_PAIRS = {
    '"': '"',
    "“": "”",
    "„": "“",
    "«": "»",
    "»": "«",
    "‹": "›",
    "「": "」",
    "『": "』",
    "'": "'",
    "‘": "’",
}
_APOSTROPHE_LIKE = frozenset("'’")
# Pairs that typography spaces inside (French « SOLDES », often with a no-break or narrow no-break
# space; CJK brackets with an ideographic space): a space after the opening mark is still a quote.
_SPACED_INSIDE = frozenset("«‹「『")
_INSIDE_SPACES = frozenset(" \u00a0\u202f\u2009\u3000")
# "rock 'n' roll", "fish ‘n’ chips": an elision of "and", not a quoted text.
_ELISIONS = frozenset({"n"})
QUOTE_CHARS = "".join(sorted(set(_PAIRS) | set(_PAIRS.values())))


@dataclass(frozen=True)
class Quoted:
    """One quoted passage: its text (stripped), and where it is (``start``/``end`` include the quotes)."""

    text: str
    start: int
    end: int
    open: str
    close: str


def _word(char: str) -> bool:
    return char.isalnum()


def _can_open(text: str, i: int) -> bool:
    char = text[i]
    if char not in _PAIRS:
        return False
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if not nxt or (nxt.isspace() and not (char in _SPACED_INSIDE and nxt in _INSIDE_SPACES)):
        return False  # a quote that opens must touch its text (« SOLDES » may be spaced)
    if char in ("'", "‘"):
        if text[i + 1 : i + 3].lower() == "n ":
            return False  # "rock 'n roll": an elision
        return i == 0 or not _word(text[i - 1])
    return True


def _close_at(text: str, i: int, close: str) -> int | None:
    """The index of the quote closing the one opened at ``i``, or None (none on this line)."""
    j = i + 1
    while j < len(text):
        char = text[j]
        if char == "\n":
            return None
        if char == close:
            after = text[j + 1] if j + 1 < len(text) else ""
            if close in _APOSTROPHE_LIKE and after and _word(after) and _word(text[j - 1]):
                j += 1  # "DON'T": an apostrophe inside the quoted text
                continue
            if text[j - 1].isspace() and close in _APOSTROPHE_LIKE:
                j += 1  # a closing quote touches its text
                continue
            return j
        j += 1
    return None


def find_quotes(text: str) -> list[Quoted]:
    """Every quoted passage of ``text``, in order (nested quotes belong to the outer one)."""
    if not text or not any(c in text for c in _PAIRS):
        return []
    found: list[Quoted] = []
    i = 0
    while i < len(text):
        if _can_open(text, i):
            close = _PAIRS[text[i]]
            j = _close_at(text, i, close)
            if j is not None:
                inner = text[i + 1 : j].strip()
                if text[i] in ("'", "‘") and inner in _ELISIONS and text[j + 1 : j + 2] == " ":
                    i = j + 1  # rock 'n' roll
                    continue
                if inner:
                    found.append(Quoted(inner, i, j + 1, text[i], close))
                i = j + 1
                continue
        i += 1
    return found


def quoted_texts(text: str) -> list[str]:
    """The quoted passages' texts, in order."""
    return [q.text for q in find_quotes(text)]


def mask_quotes(text: str, fill: str = "_") -> str:
    """``text`` with every quoted passage's inside replaced by ``fill`` (offsets kept)."""
    out = text
    for quote in find_quotes(text):
        inside = quote.end - quote.start - 2
        out = out[: quote.start + 1] + fill * inside + out[quote.end - 1 :]
    return out


def strip_quotes(text: str) -> str:
    """``text`` without its quoted passages (quotes included)."""
    out, last = [], 0
    for quote in find_quotes(text):
        out.append(text[last : quote.start])
        last = quote.end
    out.append(text[last:])
    return "".join(out)


def has_opening_quote(text: str) -> bool:
    """Whether ``text`` holds a quote mark that opens a quotation (apostrophes do not count)."""
    return any(_can_open(text, i) for i in range(len(text)))


def quote_text(text: str) -> str:
    """An exact text as prompts quote it: in single quotes, or double when it holds one."""
    return f'"{text}"' if "'" in text else f"'{text}'"


_LABEL_BEFORE = re.compile(r"\b(label|labels|labeled|labelled|step \d+|tag)\b")
_SUBTEXT_BEFORE = re.compile(r"\b(subtext|subtitle|tagline|caption|subheading|strapline|small print)\b")
_HEADLINE_BEFORE = re.compile(r"\b(headline|title|heading)\b")


def texts_in(prompt: str) -> list[tuple[str, str]]:
    """The exact texts a free prompt quotes, each with its role: ``(text, role)``.

    The first is the headline and the others subtexts, unless the words just before a quote
    call it a subtext (tagline, caption), a label or a step, as ``compose()`` writes them.
    """
    texts: list[tuple[str, str]] = []
    for quote in find_quotes(prompt):
        before = prompt[max(0, quote.start - 28) : quote.start].lower()
        if _LABEL_BEFORE.search(before):
            role = "label"
        elif _SUBTEXT_BEFORE.search(before):
            role = "subtext"
        elif _HEADLINE_BEFORE.search(before) or not any(r == "headline" for _, r in texts):
            role = "headline"
        else:
            role = "subtext"
        texts.append((quote.text, role))
    return texts
