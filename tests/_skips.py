"""Skip a test whose requirement is missing here, but fail it on CI, where nothing may be missing.

CI installs every system dependency (Debian's fonts-noto-core and fonts-noto-cjk, ...), so a test
that skips locally for want of a font must not pass silently there.
"""

from __future__ import annotations

import os

import pytest


def require(condition: object, reason: str) -> None:
    """Skip the calling test unless ``condition`` holds; under ``CI=true`` fail it instead."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: every requirement must be installed)", pytrace=False)
    pytest.skip(reason)
