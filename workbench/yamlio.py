"""One YAML reader for every file Workbench reads: templates, presets, experiments, price and
model tables. Every problem in a file is one sentence ``file:line: field: problem``.

:func:`load` parses a file (or text) into a :class:`Document`: the plain Python data (YAML's safe
types), and for every key path the line it was written on, taken from the composed node tree's
marks. A reader walks ``doc.data`` and, when a value is wrong, raises ``doc.error(path, problem)``;
the path is a tuple of keys and list indexes (or the same written as text, ``grid.lighting[2]``),
and the line is the nearest one known for it::

    doc = yamlio.load(path, error=ExperimentError)
    lighting = doc.data["grid"]["lighting"]
    raise doc.error(("grid", "lighting", 2), "unknown lighting template '@nope'.")
    # ExperimentError: mug.yaml:7: grid.lighting[2]: unknown lighting template '@nope'.

A file that is not valid YAML, holds several documents, repeats a key in one mapping or is not
UTF-8 is refused by :func:`load` itself, in the same form. :func:`data_path` finds the data shipped
in the package (``workbench/data/``) through :mod:`importlib.resources`, so it works from a wheel.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from workbench.errors import WorkbenchError

__all__ = ["Document", "Key", "data_path", "field_name", "load", "parse_field", "where"]

Key = str | int
Path_ = tuple[Key, ...]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULL = "tag:yaml.org,2002:null"
_FIELD_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def data_path(*parts: str) -> Path:
    """A file or folder shipped in the package under ``workbench/data/`` (e.g.
    ``data_path("prompts")``, ``data_path("notebooks", "batch.ipynb")``).

    Raises:
        WorkbenchError: the package is not installed as files (a zip import), so its data has no
            path on disk.
    """
    resource = resources.files("workbench").joinpath("data", *parts)
    if not isinstance(resource, Path):
        raise WorkbenchError(
            f"The workbench package's data ({'/'.join(parts)}) is not on the file system; install "
            "the package from its wheel as files, not as a zip."
        )
    return resource


def field_name(path: Iterable[Key]) -> str:
    """A key path as people read it: ``("grid", "lighting", 2)`` → ``grid.lighting[2]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def parse_field(text: str) -> Path_:
    """The key path a field name stands for: ``grid.lighting[2]`` → ``("grid", "lighting", 2)``."""
    return tuple(int(index) if index else name for index, name in _FIELD_PART.findall(text))


def where(file: str | os.PathLike[str] | None, line: int | None = None, field_path: str = "") -> str:
    """The ``file:line: field`` part of a message (each part left out when unknown); a file
    inside the working folder is shown relative to it."""
    parts = []
    if file is not None:
        shown = _shown(Path(file))
        parts.append(f"{shown}:{line}" if line else shown)
    if field_path:
        parts.append(field_path)
    return ": ".join(parts)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def make_error(
    error: type[WorkbenchError] | Callable[..., Exception],
    message: str,
    *,
    file: str | None,
    line: int | None,
    field_path: str | None,
) -> Exception:
    """``error(message, ...)`` given the context keywords its constructor takes (``file``,
    ``line``, ``field``)."""
    offered = {"file": file, "line": line, "field": field_path}
    try:
        parameters = inspect.signature(error).parameters
    except (TypeError, ValueError):
        parameters = {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return error(message, **offered)
    return error(message, **{k: v for k, v in offered.items() if k in parameters})


@dataclass
class Document:
    """A parsed YAML file: its data and the line of every key path.

    Attributes:
        file: the file's path (as given), or the name given for a text.
        data: the document as plain Python (None for an empty file).
        lines: the line (1-based) of every mapping key and list item, by key path; ``()`` is
            the document itself.
        nodes: the composed node of every value, by key path (for readers that want a scalar as
            written, see :meth:`text`).
        error_type: the WorkbenchError subclass :meth:`error` raises.
    """

    file: str | None
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict, repr=False)
    nodes: dict[Path_, Node] = field(default_factory=dict, repr=False)
    error_type: type[WorkbenchError] | Callable[..., Exception] = field(default=WorkbenchError, repr=False)

    def line(self, path: Path_ | str = ()) -> int | None:
        """The line of ``path``, or of its nearest written ancestor (None for an empty file)."""
        key = parse_field(path) if isinstance(path, str) else tuple(path)
        while True:
            if key in self.lines:
                return self.lines[key]
            if not key:
                return None
            key = key[:-1]

    def text(self, path: Path_ | str) -> str | None:
        """A scalar exactly as written (so ``16:9``, ``yes`` and ``1.10`` stay text); None for a
        null or a missing key. A list or mapping there is an error."""
        key = parse_field(path) if isinstance(path, str) else tuple(path)
        node = self.nodes.get(key)
        if node is None or (isinstance(node, ScalarNode) and node.tag == _NULL):
            return None
        if not isinstance(node, ScalarNode):
            raise self.error(key, f"must be text, not {node_type(node)}.")
        return node.value

    def error(self, path: Path_ | str | None, problem: str, *, line: int | None = None) -> Exception:
        """The error to raise for a problem at ``path``: ``file:line: field: problem``."""
        if path is None:
            key: Path_ = ()
        else:
            key = parse_field(path) if isinstance(path, str) else tuple(path)
        shown = path if isinstance(path, str) else field_name(key)
        line = line if line is not None else self.line(key)
        location = where(self.file, line, shown)
        message = f"{location}: {problem}" if location else problem
        return make_error(self.error_type, message, file=self.file, line=line, field_path=shown or None)


def load(
    source: str | os.PathLike[str],
    *,
    text: str | None = None,
    error: type[WorkbenchError] | Callable[..., Exception] = WorkbenchError,
) -> Document:
    """Parse one YAML file (or ``text``, named ``source`` in messages) into a :class:`Document`.

    Raises:
        ``error`` (a WorkbenchError subclass): the file cannot be read, is not UTF-8 or valid YAML,
        holds more than one document, repeats a key, or uses a tag YAML's safe types do not know;
        the message is ``file:line: problem``.
    """
    file = str(source)
    doc = Document(file, None, error_type=error)
    if text is None:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise doc.error(None, "the file is not UTF-8 text.") from None
        except OSError as exc:
            raise doc.error(None, f"the file cannot be read ({exc.strerror or exc}).") from None
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        if isinstance(exc, ComposerError) and "document" in (exc.context or ""):
            raise doc.error(
                None, "the file holds more than one YAML document ('---'); keep one per file.", line=line
            ) from None
        context = ""
        if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            context = f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
        raise doc.error(None, f"the file is not valid YAML: {exc.problem}{context}.", line=line) from None
    except yaml.YAMLError as exc:
        raise doc.error(None, f"the file is not valid YAML: {exc}.") from None
    if root is None:
        return doc
    doc.lines[()] = _line(root)
    doc.data = _Builder(doc).build(root, ())
    return doc


def node_type(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "a single value"


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _Builder:
    """Turns a node tree into plain data, noting each key path's line and node."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.constructor = SafeConstructor()
        self.depth = 0

    def build(self, node: Node, path: Path_) -> Any:
        self.doc.nodes[path] = node
        self.depth += 1
        try:
            if self.depth > 100:
                raise self.doc.error(path, "the file nests too deeply (or an alias refers to itself).")
            if isinstance(node, ScalarNode):
                return self.scalar(node, path)
            if isinstance(node, SequenceNode):
                items = []
                for index, item in enumerate(node.value):
                    self.doc.lines[(*path, index)] = _line(item)
                    items.append(self.build(item, (*path, index)))
                return items
            return self.mapping(node, path)
        finally:
            self.depth -= 1

    def scalar(self, node: ScalarNode, path: Path_) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            raise self.doc.error(path, f"{exc.problem}.", line=_line(node)) from None

    def mapping(self, node: MappingNode, path: Path_) -> dict[Any, Any]:
        try:
            self.constructor.flatten_mapping(node)  # YAML merge keys (<<: *base)
        except ConstructorError as exc:
            raise self.doc.error(path, f"{exc.problem}.", line=_line(node)) from None
        result: dict[Any, Any] = {}
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise self.doc.error(
                    path, "a key must be a plain name, not a list or mapping.", line=_line(key_node)
                )
            key = self.scalar(key_node, path)
            try:
                hash(key)
            except TypeError:
                raise self.doc.error(path, "a key must be a plain name.", line=_line(key_node)) from None
            if key in first:
                raise self.doc.error(
                    (*path, str(key)),
                    f"the key '{key}' appears twice (first on line {first[key]}).",
                    line=_line(key_node),
                )
            first[key] = _line(key_node)
            child = (*path, key if isinstance(key, (str, int)) and not isinstance(key, bool) else str(key))
            self.doc.lines[child] = _line(key_node)
            result[key] = self.build(value_node, child)
        return result
