"""The one error hierarchy of Workbench.

Every error a user can meet is a ``WorkbenchError``; each carries the context a person needs to
fix the problem (which template, which file and line, how many credits short)::

    WorkbenchError
    ├── TemplateError          a template file or name is wrong (file, line, name)
    ├── SpecError              a prompt spec is invalid (field)  — also a ValueError
    │   ├── CapabilityError    the chosen backend/model cannot make this request
    │   └── ExperimentError    a batch experiment file is wrong (file, field)
    ├── BackendError           the image service failed (backend)
    │   ├── NeedsKeyError      no or a bad API key
    │   ├── RateLimitError     429; retry_after seconds
    │   ├── ContentPolicyError the service refused the prompt (reason)
    │   ├── BackendTimeoutError the service did not answer in time
    │   └── ServiceError       5xx, dropped connection, malformed answer
    ├── BudgetError            the wallet cannot pay (needed, available, short)
    ├── InputImageError        an uploaded image is rejected (path)
    ├── FontMissingError       no font for a script of an exact text (script)
    ├── StoreError             the image store (a folder or an fsspec URL) cannot be used (path)
    ├── ExportError            an export would overwrite a file, the run log or the store (path)
    └── LedgerError            the run log cannot be read or written

Messages are whole sentences; the CLI prints them as they are and the widgets show them inline.
"""

from __future__ import annotations

__all__ = [
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
]


class WorkbenchError(Exception):
    """Root of every error Workbench raises on purpose."""


class TemplateError(WorkbenchError):
    """A template file or template name is wrong."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, name: str | None = None
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.name = name


class SpecError(WorkbenchError, ValueError):
    """A prompt spec or request option is invalid."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CapabilityError(SpecError):
    """The chosen backend or model cannot make the request (size, quality, edit, transparency)."""


class ExperimentError(SpecError):
    """A batch experiment file (YAML or CSV) is wrong; ``file`` and ``field`` say where."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.file = file


class BackendError(WorkbenchError):
    """The image backend failed to produce a result."""

    def __init__(self, message: str, *, backend: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.backend = backend
        self.status_code = status_code


class NeedsKeyError(BackendError):
    """The backend needs an API key that is missing or was rejected."""


class RateLimitError(BackendError):
    """The service answered 429; ``retry_after`` is its advice in seconds, when given."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ContentPolicyError(BackendError):
    """The service refused the prompt or image; ``reason`` is the service's own words."""

    def __init__(self, message: str, *, reason: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.reason = reason


class BackendTimeoutError(BackendError):
    """The service did not answer within the timeout."""


class ServiceError(BackendError):
    """A server error, a dropped connection or an answer that could not be read."""


class BudgetError(WorkbenchError):
    """The wallet cannot pay for a run; nothing was sent or charged."""

    def __init__(self, message: str, *, needed: float, available: float) -> None:
        super().__init__(message)
        self.needed = needed
        self.available = available
        self.short = round(needed - available, 2)  # credits have two decimals (workbench.credits)


class InputImageError(WorkbenchError, ValueError):
    """An input image was rejected; it was not written to the store."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class FontMissingError(WorkbenchError):
    """No installed font covers the script of an exact text."""

    def __init__(self, message: str, *, script: str) -> None:
        super().__init__(message)
        self.script = script


class StoreError(WorkbenchError):
    """The image store cannot be opened, reached, read or written (a URL, a bucket, a mount)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ExportError(WorkbenchError):
    """An export was refused: its target exists (without ``force``), is the run log, is in the
    image store, or is not a regular file. Nothing was written."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class LedgerError(WorkbenchError):
    """The run log cannot be read or written."""
