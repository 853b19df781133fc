"""Image work that needs no model: fonts and text layout, finishing, cut-outs, formats, OCR checks."""
