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
from workbench.spec import ASPECTS, QUALITIES, Character, PromptSpec, TextItem, compose

__version__ = "0.1.0"

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
    "available_backends",
    "compose",
    "register_backend",
]
