"""Notebook front ends: the prompt panel (ipywidgets), the run gallery and the mask painter
(anywidget, each with its JavaScript beside its class).

Both are thin shells over the ``Workbench`` facade; ``Workbench.panel()`` and
``Workbench.gallery()`` build them. Each also renders a static HTML fallback, so papermill and
nbconvert show the same information without a widget front end.
"""

from __future__ import annotations

from workbench.widgets.gallery import Gallery
from workbench.widgets.mask_painter import MaskPainter
from workbench.widgets.panel import Panel

__all__ = ["Gallery", "MaskPainter", "Panel"]
