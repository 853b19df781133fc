"""What an image was meant to be: a ``CheckSpec`` from its prompt spec, its recipe and overrides.

The spec gives the exact texts, the aspect and the colours it names (hex codes and colour names in
its subject, background, style, lighting and details); the image's recipe gives where the draft or
an overlay laid each text and the subject, and the size asked for.

Example:
    >>> target = check_spec(PromptSpec(subject="a mug", background="deep navy (#1B2A4A)"), None)
    >>> target.palette
    (('#1B2A4A', (27, 42, 74)),)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from workbench.checks.base import CheckSpec
from workbench.errors import SpecError
from workbench.spec import PromptSpec, TextItem
from workbench.vocabulary import _HEX_BESIDE, COLOUR_RE, COLOURS, SHADES, hex_rgb, rgb_hex, shade

__all__ = ["check_spec", "palette_of", "parse_colours"]


def palette_of(text: str) -> list[tuple[str, tuple[int, int, int]]]:
    """The colours a text names, with their words: ``[("deep navy", (r, g, b)), ("#FF6600", ...)]``;
    a name with its hex code beside it is the hex code."""
    found: list[tuple[str, tuple[int, int, int]]] = []
    for match in COLOUR_RE.finditer(text):
        if match.group("hex"):
            rgb = hex_rgb(match.group("hex"))
            found.append((rgb_hex(rgb), rgb))
            continue
        if _HEX_BESIDE.match(text, match.end()):
            continue
        rgb = hex_rgb(COLOURS[match.group("name").lower()])
        amount = match.group("shade")
        found.append((match.group(0).lower(), shade(rgb, SHADES[amount.lower()]) if amount else rgb))
    return found


def parse_colours(colours: str | Iterable[Any]) -> tuple[tuple[str, tuple[int, int, int]], ...]:
    """Colours given to a check: ``"#1B2A4A, navy"``, a list of hex codes, names or (r, g, b)."""
    items = colours.split(",") if isinstance(colours, str) else list(colours)
    out: list[tuple[str, tuple[int, int, int]]] = []
    for item in items:
        if isinstance(item, (tuple, list)) and len(item) == 3 and all(isinstance(v, int) for v in item):
            rgb = (int(item[0]), int(item[1]), int(item[2]))
            out.append((rgb_hex(rgb), rgb))
            continue
        text = str(item).strip()
        if not text:
            continue
        named = palette_of(text)
        if not named:
            raise SpecError(
                f"{text!r} is not a colour: give a hex code (#1B2A4A) or a colour name (navy).",
                field="palette",
            )
        out.extend(named)
    return _unique(out)


def _unique(
    colours: Sequence[tuple[str, tuple[int, int, int]]],
) -> tuple[tuple[str, tuple[int, int, int]], ...]:
    seen, out = set(), []
    for label, rgb in colours:
        if rgb not in seen:
            seen.add(rgb)
            out.append((label, rgb))
    return tuple(out)


def _size(value: Any) -> tuple[int, int] | None:
    if not value:
        return None
    if isinstance(value, str) and "x" in value:
        w, h = value.lower().split("x", 1)
        return int(w), int(h)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return int(value[0]), int(value[1])
    return None


def _margins(value: Any) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        values = (float(value),) * 4
    elif isinstance(value, str):
        values = tuple(float(v) for v in value.split(","))
        values = values * 4 if len(values) == 1 else values
    else:
        values = tuple(float(v) for v in value)
    if len(values) != 4 or not all(0 <= v < 0.5 for v in values):
        raise SpecError(
            "Margins are one fraction or four (left, top, right, bottom), each from 0 to under 0.5.",
            field="margins",
        )
    return values  # type: ignore[return-value]


def check_spec(
    spec: PromptSpec | None,
    recipe: Mapping[str, Any] | None,
    *,
    size: tuple[int, int] | None = None,
    texts: Any = None,
    palette: Any = None,
    aspect: str | None = None,
    margins: Any = None,
    rubric: str | None = None,
    context: Any = None,
    run_id: str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> CheckSpec:
    """The ``CheckSpec`` of an image: from its prompt ``spec`` and ``recipe`` (either may be None),
    with any of texts, palette, aspect, size, margins or rubric given instead."""
    recipe = recipe or {}
    layout = recipe.get("layout") or {}
    laid = [dict(t) for t in layout.get("texts") or [] if isinstance(t, dict) and t.get("text")]
    if texts is not None:
        items = [{"text": t.text, "role": t.role} for t in TextItem.coerce_many(texts)]
    else:
        items = [{"text": t.text, "role": t.role} for t in (spec.texts if spec else ())]
    boxed: list[dict[str, Any]] = []
    for item in items:
        where = next(
            (t for t in laid if t["text"] == item["text"] or item["text"] in t["text"].split("\n")), None
        )
        boxed.append({**item, **({"box": where["box"], "lines": where.get("lines", 1)} if where else {})})
    if palette is not None:
        colours = parse_colours(palette)
    elif spec is not None:
        words = " ; ".join(
            getattr(spec, f) for f in ("subject", "background", "style", "lighting", "details")
        )
        colours = _unique(palette_of(words))
    else:
        colours = ()
    subject = layout.get("subject")
    return CheckSpec(
        texts=tuple(boxed),
        palette=colours,
        aspect=aspect or (spec.aspect if spec else None),
        size=_size(size) or _size(recipe.get("size")),
        subject=tuple(float(v) for v in subject) if subject else None,  # type: ignore[arg-type]
        margins=_margins(margins),
        rubric=rubric,
        context=context,
        run_id=run_id,
        options=dict(options or {}),
    )
