"""Workbench: a notebook-driven creative workbench for AI image generation.

Build prompts from templates, generate and edit images through the OpenAI Images API or the
offline draft renderer, and keep every run in a run log that pandas reads.

Example:
    >>> from workbench import Workbench
    >>> wb = Workbench()
    >>> run = wb.generate(preset="marketing-poster", texts=["MOVE FORWARD"], aspect="2:3")
    >>> wb.runs()[["status", "credits", "size"]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.version import __version__

# The public names and the modules they live in. They are imported on first use (PEP 562), so
# `import workbench.errors` or `workbench --help` does not pay for pandas, numpy or PIL.
_EXPORTS = {
    "workbench.backends.base": (
        "Backend",
        "ImageRequest",
        "ImageResult",
        "ModelCapabilities",
        "Usage",
        "available_backends",
        "register_backend",
    ),
    "workbench.core": ("Plan", "Run", "Workbench"),
    "workbench.errors": (
        "BackendError",
        "BackendTimeoutError",
        "BudgetError",
        "CapabilityError",
        "ContentPolicyError",
        "ExperimentError",
        "ExportError",
        "FontMissingError",
        "InputImageError",
        "LedgerError",
        "NeedsKeyError",
        "RateLimitError",
        "ServiceError",
        "SpecError",
        "StoreError",
        "TemplateError",
        "WorkbenchError",
    ),
    "workbench.pricing": ("Estimate", "PriceTable"),
    "workbench.spec": ("ASPECTS", "QUALITIES", "Character", "PromptSpec", "TextItem"),
    "workbench.templates": ("compose",),  # resolves @references from the default library
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

if TYPE_CHECKING:
    from workbench.backends.base import (
        Backend,
        ImageRequest,
        ImageResult,
        ModelCapabilities,
        Usage,
        available_backends,
        register_backend,
    )
    from workbench.core import Plan, Run, Workbench
    from workbench.errors import (
        BackendError,
        BackendTimeoutError,
        BudgetError,
        CapabilityError,
        ContentPolicyError,
        ExperimentError,
        ExportError,
        FontMissingError,
        InputImageError,
        LedgerError,
        NeedsKeyError,
        RateLimitError,
        ServiceError,
        SpecError,
        StoreError,
        TemplateError,
        WorkbenchError,
    )
    from workbench.pricing import Estimate, PriceTable
    from workbench.spec import ASPECTS, QUALITIES, Character, PromptSpec, TextItem
    from workbench.templates import compose


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "ASPECTS",
    "Backend",
    "BackendError",
    "BackendTimeoutError",
    "BudgetError",
    "CapabilityError",
    "Character",
    "ContentPolicyError",
    "Estimate",
    "ExperimentError",
    "ExportError",
    "FontMissingError",
    "ImageRequest",
    "ImageResult",
    "InputImageError",
    "LedgerError",
    "ModelCapabilities",
    "NeedsKeyError",
    "Plan",
    "PriceTable",
    "PromptSpec",
    "QUALITIES",
    "RateLimitError",
    "Run",
    "ServiceError",
    "SpecError",
    "StoreError",
    "TemplateError",
    "TextItem",
    "Usage",
    "Workbench",
    "WorkbenchError",
    "__version__",
    "available_backends",
    "compose",
    "register_backend",
]
