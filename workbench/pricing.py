"""Credit and dollar prices, read from tables (``workbench/data/prices.yaml``), and estimates.

Dollars are what the provider bills for tokens; credits are the budget unit the wallet holds, and
they follow dollars: the table's ``credit_anchor`` (medium at 1024x1024 = 2 credits, high = 10, on
the reference model) fixes what a credit is worth at each quality, and every other model, size and
quality costs its estimated dollars (image, text and input images) in those credits, rounded
up to the hundredth of a credit (``round_credits``: a $0.004 image is 0.28 credits, not 1). So a
credit budget bounds dollars, at 4K as at 1024x1024, every row of the table costs its quality's
dollars per credit, and Batch API runs cost their discount in credits too. A flat ``credits``
entry (the free draft renderer) replaces the derivation for its backend and model.

Credits are floats of at most two decimals everywhere (``workbench.credits``: ``round_credits``
for a price, ``credits_value`` for a sum or a difference, ``format_credits`` for how they read).

A ``prices.yaml`` in the Workbench root overrides entries of the packaged table. Every number of
both is checked when they are read: a table that would give negative, NaN or text credits or
dollars, or credits finer than a hundredth, is refused with one sentence naming the file and the
key, before any run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from workbench.backends.base import ImageRequest, Usage
from workbench.credits import CREDIT_STEP, credits_value, format_credits, in_hundredths, round_credits
from workbench.errors import SpecError

__all__ = ["CREDIT_STEP", "Estimate", "PriceTable", "credits_value", "format_credits", "round_credits"]

# A rough count of prompt tokens per character, for estimates only.
_CHARS_PER_TOKEN = 4
# Image input tokens per 1024x1024 input, for estimates only (the service reports the real count).
_IMAGE_IN_TOKENS_1MP = 1024
_ONE_MP = 1024 * 1024
_TOKEN_KINDS = ("text_in", "image_in", "image_out", "text_out")
_SECTIONS = (
    "usd_per_million_tokens",
    "output_tokens_1mp",
    "svg_author",
    "credits",
    "credit_anchor",
    "batch_discount",
)
_SVG_TOKEN_KINDS = ("text_in", "text_out")


@dataclass(frozen=True)
class Estimate:
    """What a run is expected to cost, and whether it would be served from the cache."""

    credits: float
    usd: float
    cached: bool = False
    fingerprint: str = ""
    width: int = 0
    height: int = 0
    n: int = 1

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# -- checking a table ------------------------------------------------------------------------
Key = tuple[Any, ...]


def _refuse(doc: Any, key: Key, value: Any, problem: str) -> Exception:
    """``file:line: credits.openai.*.low: -2 is not a number of credits (0 or more).``"""
    return doc.error(key, f"{value!r} {problem}.")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


MAX_AMOUNT = 1e6
"""The most a price table's dollar figure may be (per image, per million tokens): past it the
estimates overflow (``image_out: 1.0e+306`` loaded, then crashed ``--dry-run``)."""
MAX_TABLE_CREDITS = 10**9  # as much as a wallet holds (workbench.wallet.MAX_CREDITS)


def _check_amount(doc: Any, key: Key, value: Any, unit: str) -> None:
    if not _is_number(value) or value < 0:
        raise _refuse(doc, key, value, f"is not a price: {unit} are finite numbers of 0 or more")
    if value > MAX_AMOUNT:
        raise _refuse(doc, key, value, f"is not a price: {unit} are at most {MAX_AMOUNT:,.0f}")


def _check_credits(doc: Any, key: Key, value: Any, *, least: float = 0) -> None:
    least_text = format_credits(least)
    if not _is_number(value) or value < least:
        raise _refuse(doc, key, value, f"is not a number of credits ({least_text} or more)")
    if value > MAX_TABLE_CREDITS:
        raise _refuse(doc, key, value, f"is more credits than a wallet holds ({MAX_TABLE_CREDITS:,})")
    if not in_hundredths(value):
        raise _refuse(doc, key, value, "is finer than a hundredth of a credit (credits have two decimals)")


def _mapping(doc: Any, key: Key, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _refuse(doc, key, value, "should be a mapping")
    return value


def check_table(doc: Any) -> dict[str, Any]:
    """Every number of one price table file (a ``yamlio.Document``), checked; the first wrong one
    raises ``TemplateError`` naming the file, line and key
    (``prices.yaml:3: credits.openai.*.low: 0.405 is finer than a hundredth of a credit``)."""
    if doc.data is None:
        return {}
    table = _mapping(doc, (), doc.data)
    for section in table:
        if section not in _SECTIONS:
            raise _refuse(
                doc, (section,), section, f"is not a section of a price table ({', '.join(_SECTIONS)})"
            )
    for section, unit in (("usd_per_million_tokens", "dollars"), ("output_tokens_1mp", "tokens")):
        for backend, models in _mapping(doc, (section,), table.get(section, {})).items():
            for model, entry in _mapping(doc, (section, backend), models).items():
                for kind, value in _mapping(doc, (section, backend, model), entry).items():
                    key = (section, backend, model, kind)
                    if section == "usd_per_million_tokens" and kind not in _TOKEN_KINDS:
                        raise _refuse(doc, key, kind, f"is not one of {', '.join(_TOKEN_KINDS)}")
                    _check_amount(doc, key, value, unit)
    for backend, models in _mapping(doc, ("credits",), table.get("credits", {})).items():
        for model, entry in _mapping(doc, ("credits", backend), models).items():
            for quality, value in _mapping(doc, ("credits", backend, model), entry).items():
                _check_credits(doc, ("credits", backend, model, quality), value)
    if "credit_anchor" in table:
        anchor = _mapping(doc, ("credit_anchor",), table["credit_anchor"])
        credits = _mapping(doc, ("credit_anchor", "credits"), anchor.get("credits", {}))
        for quality, value in credits.items():
            _check_credits(doc, ("credit_anchor", "credits", quality), value, least=CREDIT_STEP)
        if "size" in anchor:
            from workbench.models import parse_size

            try:
                parse_size(anchor["size"])
            except SpecError:
                raise _refuse(
                    doc, ("credit_anchor", "size"), anchor["size"], "is not a size WIDTHxHEIGHT"
                ) from None
    _check_svg_author(doc, table)
    if "batch_discount" in table:
        value = table["batch_discount"]
        if not _is_number(value) or not 0 < value <= 1:
            raise _refuse(doc, ("batch_discount",), value, "is not a fraction above 0 and at most 1")
    return dict(table)


def _check_svg_author(doc: Any, table: Mapping[str, Any]) -> None:
    """``svg_author.<backend>``: ``usd_per_million_tokens`` per author model (text_in, text_out),
    ``input_tokens`` a request and ``output_tokens`` per svg_effort (and ``default``)."""
    for backend, entry in _mapping(doc, ("svg_author",), table.get("svg_author", {})).items():
        entry = _mapping(doc, ("svg_author", backend), entry)
        for key in entry:
            if key not in ("usd_per_million_tokens", "input_tokens", "output_tokens"):
                raise _refuse(
                    doc,
                    ("svg_author", backend, key),
                    key,
                    "is not one of usd_per_million_tokens, input_tokens, output_tokens",
                )
        rates = _mapping(
            doc, ("svg_author", backend, "usd_per_million_tokens"), entry.get("usd_per_million_tokens", {})
        )
        for model, kinds in rates.items():
            where = ("svg_author", backend, "usd_per_million_tokens", model)
            for kind, value in _mapping(doc, where, kinds).items():
                if kind not in _SVG_TOKEN_KINDS:
                    raise _refuse(doc, (*where, kind), kind, f"is not one of {', '.join(_SVG_TOKEN_KINDS)}")
                _check_amount(doc, (*where, kind), value, "dollars")
        if "input_tokens" in entry:
            _check_amount(doc, ("svg_author", backend, "input_tokens"), entry["input_tokens"], "tokens")
        where = ("svg_author", backend, "output_tokens")
        for effort, value in _mapping(doc, where, entry.get("output_tokens", {})).items():
            _check_amount(doc, (*where, effort), value, "tokens")


def _check_no_free_service(doc: Any, merged: Mapping[str, Any]) -> None:
    """A flat 0-credit price for a backend the service bills in dollars would make paid runs free
    (minting money): refused, naming the file and the key."""
    credits = (doc.data or {}).get("credits") or {}
    billed = merged.get("usd_per_million_tokens") or {}
    for backend, models in credits.items():
        if backend not in billed:
            continue
        for model, entry in models.items():
            for quality, value in entry.items():
                if value == 0:
                    raise _refuse(
                        doc,
                        ("credits", backend, model, quality),
                        value,
                        f"credits would make paid {backend} runs free (the service bills them in "
                        "dollars); give it 0.01 or more, or leave credits to follow dollars",
                    )


def _read(path: Path | str, text: str | None = None) -> Any:
    from workbench.models import read_yaml

    return read_yaml(path, text)


class PriceTable:
    """Prices per backend, model, size and quality.

    Example:
        >>> prices = PriceTable.load()
        >>> prices.credits_per_image("openai", "gpt-image-2", "high")
        10.0
        >>> prices.credits_per_image("openai", "gpt-image-2", "high", width=3840, height=2160)
        79.11
        >>> prices.credits_per_image("openai", "gpt-image-2", "low")
        0.59
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)
        self._rates: dict[str, float] | None = None

    @classmethod
    def load(cls, root: Path | None = None) -> PriceTable:
        """The packaged table, with ``root/prices.yaml`` merged over it when present; both checked."""
        packaged = "workbench/data/prices.yaml"
        text = resources.files("workbench").joinpath("data/prices.yaml").read_text()
        doc = _read(packaged, text)
        data = check_table(doc)
        override = Path(root) / "prices.yaml" if root else None
        if override and override.exists():
            extra = _read(override)
            data = _merge(data, check_table(extra))
            _check_no_free_service(extra, data)
            if isinstance(extra.data, Mapping) and "credit_anchor" in extra.data:
                doc = extra  # the anchor's problems are that file's
        table = cls(data)
        try:
            table.credit_rates()  # an anchor without a dollar price: refused now, at its line
        except SpecError as exc:
            anchor = data.get("credit_anchor") or {}
            backend, model = anchor.get("backend", "openai"), anchor.get("model")
            failing = [q for q in anchor.get("credits") or {} if not table.image_usd(backend, model, q)]
            where = ("credit_anchor", "credits", failing[0]) if failing else ("credit_anchor",)
            raise doc.error(where, str(exc)) from None
        return table

    # -- lookups ------------------------------------------------------------------------------
    def _lookup(self, table: str, backend: str, model: str | None) -> Mapping[str, Any] | None:
        per_backend = self.data.get(table, {}).get(backend)
        if not per_backend:
            return None
        return per_backend.get(model or "*") or per_backend.get("*")

    @property
    def batch_discount(self) -> float:
        return float(self.data.get("batch_discount", 1.0))

    def image_usd(
        self,
        backend: str,
        model: str | None,
        quality: str,
        *,
        width: int = 1024,
        height: int = 1024,
        batch: bool = False,
    ) -> float | None:
        """Estimated dollars of one output image (its image tokens), or None when the table has no
        token price for this backend and model."""
        rates = self._lookup("usd_per_million_tokens", backend, model)
        per_quality = self._lookup("output_tokens_1mp", backend, model)
        if rates is None or per_quality is None or quality not in per_quality:
            return None
        tokens = math.ceil(per_quality[quality] * width * height / _ONE_MP)
        usd = tokens * rates.get("image_out", 0) / 1_000_000
        return usd * (self.batch_discount if batch else 1.0)

    def credit_rates(self) -> dict[str, float]:
        """Credits per dollar for each quality (cached): an anchored quality's own rate (its
        promised credits over its anchor image's dollars: medium 2 / $0.0317 = 63.1, high
        10 / $0.1248 = 80.1), and for a quality without an anchor (low) the geometric mean of
        the anchored rates (71.1), which puts its dollars per credit in the middle of theirs."""
        if self._rates is not None:
            return self._rates
        from workbench.models import parse_size

        anchor = self.data.get("credit_anchor") or {}
        backend, model = anchor.get("backend", "openai"), anchor.get("model")
        width, height = parse_size(anchor.get("size", "1024x1024"))
        rates: dict[str, float] = {}
        for quality, credits in (anchor.get("credits") or {}).items():
            usd = self.image_usd(backend, model, quality, width=width, height=height)
            if not usd:
                raise SpecError(
                    f"The credit anchor ({backend} {model} {quality}) has no dollar price: "
                    "add its tokens and rates to prices.yaml.",
                    field="credit_anchor",
                )
            rates[quality] = credits / usd
        if not rates:
            raise SpecError(
                "The price table has no credit_anchor: credits cannot follow dollars.", field="credits"
            )
        self._rates = rates
        return rates

    def credit_rate(self, quality: str | None = None) -> float:
        """Credits per dollar at one quality; other billed work (no quality) uses the middle rate."""
        rates = self.credit_rates()
        if quality in rates:
            return rates[quality]
        return math.exp(sum(math.log(rate) for rate in rates.values()) / len(rates))

    def credit_scale(self) -> tuple[float, dict[str, float]]:
        """The middle credits per dollar (for billed work without a quality, like the judge) and
        the anchor image's dollars per anchored quality."""
        rates = self.credit_rates()
        anchor = self.data["credit_anchor"]["credits"]
        return self.credit_rate(), {quality: anchor[quality] / rate for quality, rate in rates.items()}

    @staticmethod
    def round_credits(exact: float) -> float:
        """Exact credits as a price (``workbench.pricing.round_credits``)."""
        return round_credits(exact)

    def _input_usd(self, backend: str, model: str | None, request: ImageRequest | None) -> float:
        """Dollars of a request's text and input images (billed once per request)."""
        if request is None:
            return 0.0
        rates = self._lookup("usd_per_million_tokens", backend, model)
        if rates is None:
            return 0.0
        text_in = math.ceil(len(request.prompt) / _CHARS_PER_TOKEN)
        image_in = _IMAGE_IN_TOKENS_1MP * len(request.inputs)
        return (text_in * rates.get("text_in", 0) + image_in * rates.get("image_in", 0)) / 1_000_000

    def exact_credits(
        self,
        backend: str,
        model: str | None,
        quality: str,
        *,
        width: int = 1024,
        height: int = 1024,
        request: ImageRequest | None = None,
    ) -> float:
        """Credits of one image before rounding: its estimated dollars (the image, and with a
        request its share of the text and input images) at its quality's credits per dollar."""
        usd = self.image_usd(backend, model, quality, width=width, height=height)
        if usd is None:
            raise SpecError(
                f"No price for {backend} {model or ''} at {quality} quality: add its tokens and rates "
                "to prices.yaml.",
                field="quality",
            )
        if request is not None:
            usd += self._input_usd(backend, model, request) / max(1, request.n)
            usd += self.svg_usd(backend, request) / max(1, request.n)
        if usd == 0:
            return 0.0
        return usd * self.credit_rate(quality)

    def credits_per_image(
        self,
        backend: str,
        model: str | None,
        quality: str,
        *,
        width: int = 1024,
        height: int = 1024,
        batch: bool = False,
        request: ImageRequest | None = None,
    ) -> float:
        """Credits one image costs: a flat ``credits`` entry, else its estimated dollars in
        credits (at the Batch API's discount for batch runs), see ``round_credits``."""
        entry = self._lookup("credits", backend, model)
        if entry is not None:
            if quality not in entry:
                raise SpecError(
                    f"No credit price for {backend} {model or ''} at {quality} quality: "
                    "add it to prices.yaml.",
                    field="quality",
                )
            return credits_value(entry[quality])
        exact = self.exact_credits(backend, model, quality, width=width, height=height, request=request)
        if batch:
            exact *= self.batch_discount
        return round_credits(exact)

    def usd_for_usage(
        self, backend: str, model: str | None, usage: Usage | None, *, batch: bool = False
    ) -> float:
        """Dollars billed for the tokens a call used."""
        rates = self._lookup("usd_per_million_tokens", backend, model)
        if usage is None:
            return 0.0
        usd = 0.0
        if rates is not None:
            usd = (
                usage.text_in * rates.get("text_in", 0)
                + usage.image_in * rates.get("image_in", 0)
                + usage.image_out * rates.get("image_out", 0)
                + usage.text_out * rates.get("text_out", 0)
            ) / 1_000_000
        if usage.svg_in or usage.svg_out:
            usd += self._svg_usd(backend, usage.svg_model, usage.svg_in, usage.svg_out)
        return usd * (self.batch_discount if batch else 1.0)

    # -- the SVG author ---------------------------------------------------------------------
    def svg_rates(self, backend: str, svg_model: str | None) -> Mapping[str, float]:
        """Dollars per million tokens of the model that authors SVG output: its own entry, else
        the default author's (``*``), else the dearest author rate the table knows, so a price
        that cannot be known is never taken as free."""
        author = (self.data.get("svg_author") or {}).get(backend) or {}
        rates = author.get("usd_per_million_tokens") or {}
        entry = rates.get(svg_model or "*") or rates.get("*")
        if entry:
            return entry
        known = [
            kinds
            for per_backend in (self.data.get("svg_author") or {}).values()
            for kinds in ((per_backend or {}).get("usd_per_million_tokens") or {}).values()
        ]
        if not known:
            raise SpecError(
                f"No price for the {backend} SVG author {svg_model or ''}: add svg_author rates to "
                "prices.yaml.",
                field="svg_model",
            )
        return {kind: max(k.get(kind, 0) for k in known) for kind in _SVG_TOKEN_KINDS}

    def _svg_usd(self, backend: str, svg_model: str | None, tokens_in: int, tokens_out: int) -> float:
        rates = self.svg_rates(backend, svg_model)
        return (tokens_in * rates.get("text_in", 0) + tokens_out * rates.get("text_out", 0)) / 1_000_000

    def svg_tokens(self, backend: str, request: ImageRequest | None) -> tuple[int, int]:
        """Tokens the SVG author is expected to use for a request (in, out), by its svg_effort
        (``default`` when it has none); (0, 0) when the request is not for SVG output."""
        if request is None or request.output_format != "svg":
            return 0, 0
        author = (self.data.get("svg_author") or {}).get(backend) or {}
        per_effort = author.get("output_tokens") or {}
        out = per_effort.get(request.svg_effort or "default", per_effort.get("default", 0))
        text_in = math.ceil(len(request.prompt) / _CHARS_PER_TOKEN)
        return math.ceil(author.get("input_tokens", 0)) + text_in, math.ceil(out)

    def svg_usd(self, backend: str, request: ImageRequest | None) -> float:
        """Estimated dollars of a request's SVG author (0 when it is not for SVG output)."""
        tokens_in, tokens_out = self.svg_tokens(backend, request)
        if not tokens_in and not tokens_out:
            return 0.0
        return self._svg_usd(backend, request.svg_model if request else None, tokens_in, tokens_out)

    def estimate_usage(self, backend: str, model: str | None, request: ImageRequest) -> Usage | None:
        """Tokens a request is expected to use, from its prompt length, inputs and output size."""
        per_quality = self._lookup("output_tokens_1mp", backend, model)
        if per_quality is None:
            return None
        megapixels = request.width * request.height / _ONE_MP
        image_out = math.ceil(per_quality.get(request.quality, 0) * megapixels) * request.n
        svg_in, svg_out = self.svg_tokens(backend, request)
        return Usage(
            text_in=math.ceil(len(request.prompt) / _CHARS_PER_TOKEN),
            image_in=_IMAGE_IN_TOKENS_1MP * len(request.inputs),
            image_out=image_out,
            svg_in=svg_in,
            svg_out=svg_out,
            svg_model=request.svg_model if svg_in or svg_out else None,
        )

    def credits_for(
        self, backend: str, model: str | None, request: ImageRequest, *, batch: bool = False
    ) -> float:
        """Credits per image of a request: its model, size and quality, and its share of the
        request's text and input images (reference and edit images are billed too)."""
        return self.credits_per_image(
            backend,
            model,
            request.quality,
            width=request.width,
            height=request.height,
            batch=batch,
            request=request,
        )

    def estimate(
        self, backend: str, model: str | None, request: ImageRequest, *, batch: bool = False
    ) -> Estimate:
        credits = credits_value(self.credits_for(backend, model, request, batch=batch) * request.n)
        usage = self.estimate_usage(backend, model, request)
        usd = self.usd_for_usage(backend, model, usage, batch=batch)
        return Estimate(
            credits=credits, usd=round(usd, 6), width=request.width, height=request.height, n=request.n
        )
