"""Download buttons for a run's full images, sent on request as binary buffers.

An anywidget (``download.js`` beside this file). ``files`` (synced) names each image and its
size; the bytes travel only when a button is clicked, as a message with one binary buffer, so a
saved or papermill-executed notebook never carries the full images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["Downloads"]

HERE = Path(__file__).parent
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


class Downloads(anywidget.AnyWidget):
    """One download button per file.

    Example:
        >>> downloads = Downloads()
        >>> downloads.show(run.images, prefix=f"workbench-{run.id[:8]}")
    """

    _esm = HERE / "download.js"

    files = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._paths: list[Path] = []
        self.on_msg(self._on_message)

    def show(self, paths: list[Path], *, prefix: str = "workbench") -> None:
        """Offer these files for download (an empty list hides every button)."""
        self._paths = [Path(p) for p in paths]
        files = []
        for index, path in enumerate(self._paths):
            try:
                size = path.stat().st_size
            except OSError:
                continue
            files.append({"index": index, "name": f"{prefix}-{index + 1}{path.suffix}", "bytes": size})
        self.files = files

    def payload(self, index: int) -> tuple[dict[str, Any], list[bytes]]:
        """The message and buffer a click is answered with."""
        try:
            path = self._paths[index]
            data = path.read_bytes()
        except (IndexError, OSError) as exc:
            return {"type": "file", "index": index, "error": f"The image cannot be read: {exc}"}, []
        name = next((f["name"] for f in self.files if f["index"] == index), path.name)
        mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
        return {"type": "file", "index": index, "name": name, "mime": mime}, [data]

    def _on_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("type") == "get":
            message, buffers = self.payload(int(content.get("index", 0)))
            self.send(message, buffers)
