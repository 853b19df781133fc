"""Credit and dollar prices, read from tables (``workbench/data/prices.yaml``), and estimates.

Credits are the budget unit the wallet holds; dollars are what the provider bills for tokens.
A ``prices.yaml`` in the Workbench root overrides entries of the packaged table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from workbench.backends.base import ImageRequest, Usage
from workbench.errors import SpecError, TemplateError

__all__ = ["Estimate", "PriceTable"]

# A rough count of prompt tokens per character, for estimates only.
_CHARS_PER_TOKEN = 4
# Image input tokens per 1024x1024 input, for estimates only (the service reports the real count).
_IMAGE_IN_TOKENS_1MP = 1024


@dataclass(frozen=True)
class Estimate:
    """What a run is expected to cost, and whether it would be served from the cache."""

    credits: int
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


class PriceTable:
    """Prices per backend, model and quality.

    Example:
        >>> prices = PriceTable.load()
        >>> prices.credits_per_image("openai", "gpt-image-2", "high")
        10
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)

    @classmethod
    def load(cls, root: Path | None = None) -> PriceTable:
        """The packaged table, with ``root/prices.yaml`` merged over it when present."""
        data = yaml.safe_load(resources.files("workbench").joinpath("data/prices.yaml").read_text())
        override = Path(root) / "prices.yaml" if root else None
        if override and override.exists():
            try:
                extra = yaml.safe_load(override.read_text()) or {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                raise TemplateError(
                    f"{override}, line {mark.line + 1 if mark else '?'}: the price table is not valid YAML.",
                    file=str(override),
                    line=mark.line + 1 if mark else None,
                ) from None
            if not isinstance(extra, Mapping):
                raise TemplateError(f"{override}: the price table must be a mapping.", file=str(override))
            data = _merge(data, extra)
        return cls(data)

    def _lookup(self, table: str, backend: str, model: str | None) -> Mapping[str, Any] | None:
        per_backend = self.data.get(table, {}).get(backend)
        if not per_backend:
            return None
        return per_backend.get(model or "*") or per_backend.get("*")

    def credits_per_image(self, backend: str, model: str | None, quality: str) -> int:
        entry = self._lookup("credits", backend, model)
        if entry is None or quality not in entry:
            raise SpecError(
                f"No credit price for {backend} {model or ''} at {quality} quality: add it to prices.yaml.",
                field="quality",
            )
        return int(entry[quality])

    def usd_for_usage(
        self, backend: str, model: str | None, usage: Usage | None, *, batch: bool = False
    ) -> float:
        """Dollars billed for the tokens a call used."""
        rates = self._lookup("usd_per_million_tokens", backend, model)
        if rates is None or usage is None:
            return 0.0
        usd = (
            usage.text_in * rates.get("text_in", 0)
            + usage.image_in * rates.get("image_in", 0)
            + usage.image_out * rates.get("image_out", 0)
            + usage.text_out * rates.get("text_out", 0)
        ) / 1_000_000
        return usd * (self.data.get("batch_discount", 1.0) if batch else 1.0)

    def estimate_usage(self, backend: str, model: str | None, request: ImageRequest) -> Usage | None:
        """Tokens a request is expected to use, from its prompt length, inputs and output size."""
        per_quality = self._lookup("output_tokens_1mp", backend, model)
        if per_quality is None:
            return None
        megapixels = request.width * request.height / (1024 * 1024)
        image_out = math.ceil(per_quality.get(request.quality, 0) * megapixels) * request.n
        return Usage(
            text_in=math.ceil(len(request.prompt) / _CHARS_PER_TOKEN),
            image_in=_IMAGE_IN_TOKENS_1MP * len(request.inputs),
            image_out=image_out,
        )

    def estimate(
        self, backend: str, model: str | None, request: ImageRequest, *, batch: bool = False
    ) -> Estimate:
        credits = self.credits_per_image(backend, model, request.quality) * request.n
        usage = self.estimate_usage(backend, model, request)
        usd = self.usd_for_usage(backend, model, usage, batch=batch)
        return Estimate(
            credits=credits, usd=round(usd, 6), width=request.width, height=request.height, n=request.n
        )
