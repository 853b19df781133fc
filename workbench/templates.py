"""The template library: named prompt snippets and presets, read from YAML folders: the ones shipped
in the package (``workbench/data/prompts/``), then a project's own ``prompts/``, then any given.

A template is a named piece of prompt text of one kind — ``subject``, ``background``,
``lighting`` or ``style`` — that a spec field references as ``@name``. A preset is a partial
:class:`~workbench.spec.PromptSpec` for a common job (a product shot, a poster, a character
series) that :meth:`TemplateLibrary.spec` completes with the user's own fields.

Each YAML file holds one kind::

    kind: background
    templates:
      studio-white:
        text: seamless white studio background with a soft floor shadow
        description: The classic shop-listing backdrop.
        tags: [product, clean]
      dark-concrete: on a dark raw concrete floor      # shorthand: name: text

    kind: preset
    presets:
      ecommerce-product:
        description: One product on a clean surface, ready for a listing.
        spec: {subject: a ceramic mug, background: "@studio-white", aspect: "1:1"}

Folders load in order and a later folder's name replaces an earlier one of the same kind, so a
project's ``prompts/`` (beside its ``outputs/``) and ``--prompts DIR`` add to and override the
package's templates. Subfolders (``experiments/`` holds batch grids) are not read. Every file is
parsed by :mod:`workbench.yamlio`, so a mistake is ``file:line: field: problem``.

Example:
    >>> library = TemplateLibrary.default()
    >>> spec = library.spec("ecommerce-product", subject="a ceramic coffee mug")
    >>> compose(library.resolve(spec))
    'a ceramic coffee mug, on a polished white marble surface, ...'
"""

from __future__ import annotations

import difflib
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from workbench import yamlio
from workbench.errors import SpecError, TemplateError
from workbench.spec import (
    FIELD_KINDS,
    SPEC_FIELDS,
    STRING_FIELDS,
    TEMPLATE_KINDS,
    PromptSpec,
    template_references,
)
from workbench.spec import compose as _compose
from workbench.yamlio import data_path

__all__ = [
    "compose",
    "FIELD_KINDS",
    "KINDS",
    "Preset",
    "Template",
    "TemplateLibrary",
    "default_folder",
    "package_folder",
    "project_folder",
]

KINDS = (*TEMPLATE_KINDS, "preset")
# FIELD_KINDS (from workbench.spec): which kind of template a ``@name`` in each spec field refers to.

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
_REF = re.compile(r"@([A-Za-z0-9][A-Za-z0-9_-]*)(.*)\Z", re.DOTALL)
_SUFFIXES = (".yaml", ".yml")
_TEMPLATE_KEYS = ("text", "description", "tags")
_PRESET_KEYS = ("description", "tags", "spec")
_SPEC_FIELDS = tuple(name for name in SPEC_FIELDS if name != "preset")  # a preset's spec: keys
_STRING_FIELDS = frozenset(STRING_FIELDS)
# A SpecError names a field in its own words; map those back to the key written in the file.
_ERROR_FIELDS = {"text role": "texts", "character name": "character", "character description": "character"}


@dataclass(frozen=True)
class Template:
    """One named snippet of prompt text.

    Attributes:
        kind: ``subject``, ``background``, ``lighting``, ``style`` (or ``preset`` for the summary
            :meth:`TemplateLibrary.get` gives of a preset).
        name: the name a spec refers to as ``@name``.
        text: the prompt text it stands for.
        description: one line for people choosing a template.
        tags: words to filter by.
        file, line: where it is defined.
    """

    kind: str
    name: str
    text: str
    description: str = ""
    tags: tuple[str, ...] = ()
    file: str | None = None
    line: int | None = None

    @property
    def ref(self) -> str:
        """The reference to write in a spec field: ``@name``."""
        return f"@{self.name}"


@dataclass(frozen=True)
class Preset:
    """A partial spec for a common job.

    Attributes:
        name: the preset's name.
        description: one line saying what it is for.
        spec: the preset's fields as a spec (``spec.preset`` is the name); template references
            are kept as written.
        tags: words to filter by.
        file, line: where it is defined.
    """

    name: str
    description: str
    spec: PromptSpec
    tags: tuple[str, ...] = ()
    file: str | None = None
    line: int | None = None
    field_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)


class TemplateLibrary:
    """Templates and presets by kind and name, loaded from YAML folders.

    Build one with :meth:`load` (explicit folders) or :meth:`default` (the package's templates,
    the project's ``prompts/`` and extra folders, cached until a file changes).
    """

    def __init__(
        self,
        templates: Iterable[Template] = (),
        presets: Iterable[Preset] = (),
        *,
        folders: Iterable[str | os.PathLike[str]] = (),
    ) -> None:
        self.folders: tuple[Path, ...] = tuple(Path(f).expanduser() for f in folders)
        self._templates: dict[str, dict[str, Template]] = {kind: {} for kind in TEMPLATE_KINDS}
        self._presets: dict[str, Preset] = {}
        for template in templates:
            _check_kind(template.kind, allow_preset=False)
            self._templates[template.kind][template.name] = template
        for preset in presets:
            self._presets[preset.name] = preset

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def load(cls, *folders: str | os.PathLike[str]) -> TemplateLibrary:
        """Read every ``*.yaml`` file (and ``*.yml``) directly inside each folder, in order.

        A later folder's template or preset replaces an earlier one of the same kind and name;
        within one folder a name may be defined once. Subfolders are skipped.

        Raises:
            TemplateError: a folder is missing, or a file is not valid YAML, has a wrong
                structure, or a preset uses an invalid field or an unknown template. The message
                names the file and line.
        """
        library = cls(folders=folders)
        for folder in library.folders:
            if not folder.is_dir():
                raise TemplateError(f"The template folder {folder} does not exist.", file=str(folder))
            entries: dict[tuple[str, str], Template | Preset] = {}
            paths = sorted(p for p in folder.iterdir() if p.suffix in _SUFFIXES and p.is_file())
            for path in paths:
                for entry in _FileReader(path).read():
                    kind = entry.kind if isinstance(entry, Template) else "preset"
                    earlier = entries.get((kind, entry.name))
                    if earlier is not None:
                        field_path = f"{_entries_key(kind)}.{entry.name}"
                        raise TemplateError(
                            f"{_where(Path(entry.file or ''), entry.line, field_path)}: {kind} "
                            f"'{entry.name}' is already defined in "
                            f"{_where(Path(earlier.file or ''), earlier.line)}.",
                            file=entry.file,
                            line=entry.line,
                            name=entry.name,
                        )
                    entries[kind, entry.name] = entry
            for (kind, name), entry in entries.items():
                if isinstance(entry, Preset):
                    library._presets[name] = entry
                else:
                    library._templates[kind][name] = entry
        library._check_preset_references()
        return library

    @classmethod
    def default(
        cls,
        extra: Iterable[str | os.PathLike[str]] | str | os.PathLike[str] = (),
        *,
        root: str | os.PathLike[str] | None = None,
    ) -> TemplateLibrary:
        """The package's templates, the project's ``prompts/`` and ``extra`` folders, loaded once
        and cached.

        In order (a later one adds to and overrides an earlier one): the templates shipped in the
        package (``workbench/data/prompts/``, or ``$WORKBENCH_PROMPTS`` in their place when set);
        the project's own ``prompts/`` folder beside the outputs root (:func:`project_folder`),
        when there is one; then ``extra``. The cache is kept per folder list and reloads when a
        YAML file in one of the folders is added, removed or changed.
        """
        if isinstance(extra, (str, os.PathLike)):
            extra = (extra,)
        folders = [default_folder()]
        project = project_folder(root)
        if project.is_dir() and not _same_folder(project, folders[0]):
            folders.append(project)
        folders.extend(Path(f).expanduser() for f in extra)
        key = tuple(str(f) for f in folders)
        signature = tuple(_folder_signature(f) for f in folders)
        with _CACHE_LOCK:
            cached = _CACHE.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        library = cls.load(*folders)
        with _CACHE_LOCK:
            _CACHE[key] = (signature, library)
        return library

    @staticmethod
    def clear_cache() -> None:
        """Forget every cached default library."""
        with _CACHE_LOCK:
            _CACHE.clear()

    # -- looking up ----------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        """The sorted names of one kind (``subject``, ``background``, ``lighting``, ``style``,
        ``preset``)."""
        _check_kind(kind)
        if kind == "preset":
            return sorted(self._presets)
        return sorted(self._templates[kind])

    def templates(self, kind: str) -> list[Template]:
        """The templates of one kind, sorted by name (presets summarised as by :meth:`get`)."""
        return [self.get(kind, name) for name in self.names(kind)]

    def get(self, kind: str, name: str) -> Template:
        """The template ``name`` (with or without its ``@``) of ``kind``.

        For ``kind="preset"`` the answer summarises the preset: its text is the prompt the preset
        composes to.

        Raises:
            TemplateError: the kind or the name is unknown; the message suggests a close name.
        """
        _check_kind(kind)
        name = name[1:] if name.startswith("@") else name
        if kind == "preset":
            preset = self.preset(name)
            return Template(
                "preset",
                preset.name,
                self._preset_text(preset),
                preset.description,
                preset.tags,
                preset.file,
                preset.line,
            )
        try:
            return self._templates[kind][name]
        except KeyError:
            raise self._unknown(kind, name) from None

    def presets(self) -> list[Preset]:
        """Every preset, sorted by name."""
        return [self._presets[name] for name in sorted(self._presets)]

    def preset(self, name: str) -> Preset:
        """The preset called ``name``.

        Raises:
            TemplateError: no such preset; the message suggests a close name.
        """
        try:
            return self._presets[name]
        except KeyError:
            raise self._unknown("preset", name) from None

    def __contains__(self, ref: object) -> bool:
        """``"@studio-white" in library`` — is a template of any kind called that?"""
        if not isinstance(ref, str):
            return False
        name = ref[1:] if ref.startswith("@") else ref
        return any(name in by_name for by_name in self._templates.values())

    def __len__(self) -> int:
        return sum(len(by_name) for by_name in self._templates.values()) + len(self._presets)

    def __repr__(self) -> str:
        counts = ", ".join(f"{len(self._templates[k])} {k}" for k in TEMPLATE_KINDS)
        folders = ", ".join(str(f) for f in self.folders) or "no folder"
        return f"<TemplateLibrary {counts}, {len(self._presets)} presets from {folders}>"

    # -- using ---------------------------------------------------------------------------------
    def resolve_field(self, field_name: str, value: str) -> str:
        """Resolve one spec field's value: ``@name`` → the template text of the field's kind.

        Text after the name is kept, so ``"@studio-white with a faint reflection"`` extends the
        template. A value without a leading ``@`` is returned as it is.

        Raises:
            TemplateError: the name is unknown or missing.
        """
        if not value.startswith("@"):
            return value
        kind = FIELD_KINDS[field_name]
        match = _REF.match(value)
        if match is None:
            raise TemplateError(
                f"The {field_name} starts with '@' but names no template; write '@name', e.g. "
                f"'@{next(iter(self.names(kind)), 'my-template')}'.",
                name=value,
            )
        name, rest = match.groups()
        return self.get(kind, name).text + rest

    def resolve(self, spec: PromptSpec) -> PromptSpec:
        """Replace every ``@name`` in subject, background, lighting, style and details by its
        template text.

        ``subject`` refers to subject templates, ``background`` to backgrounds, ``lighting`` to
        lighting and ``style`` to styles; ``details`` refers to style templates.

        Raises:
            TemplateError: a name is unknown, e.g. "Unknown background template '@studo-white';
                did you mean '@studio-white'? List them with `workbench templates background`."
        """
        changes = {}
        for name in FIELD_KINDS:
            value = getattr(spec, name)
            if value.startswith("@"):
                changes[name] = self.resolve_field(name, value)
        return spec.replace(**changes) if changes else spec

    def spec(self, preset: str | None = None, **fields: Any) -> PromptSpec:
        """Build a spec from a preset and your own fields.

        Your fields replace the preset's (``texts`` replaces the preset's texts as a whole); a
        field given as ``None`` keeps the preset's value. Template references stay as written
        (``compose`` resolves them) but are checked now.

        Example:
            >>> library.spec("marketing-poster", texts=["SUMMER SALE 50% OFF"], aspect="4:5")

        Raises:
            TemplateError: the preset or a referenced template is unknown.
            SpecError: a field is unknown or invalid.
        """
        merged: dict[str, Any] = self.preset(preset).spec.to_dict() if preset is not None else {}
        merged.update({key: value for key, value in fields.items() if value is not None})
        if preset is not None:
            merged["preset"] = preset
        spec = PromptSpec.from_dict(merged)
        self.resolve(spec)
        return spec

    # -- internals -----------------------------------------------------------------------------
    def _unknown(self, kind: str, name: str) -> TemplateError:
        names = self._presets if kind == "preset" else self._templates[kind]
        at = "" if kind == "preset" else "@"
        what = "preset" if kind == "preset" else f"{kind} template"
        lowered = {n.lower(): n for n in names}
        close = (
            [lowered[name.lower()]]
            if name.lower() in lowered
            else difflib.get_close_matches(name, names, n=1)
        )
        hint = f"; did you mean '{at}{close[0]}'?" if close else ";"
        listing = (
            f"List them with `workbench templates {kind}`."
            if close
            else f"list them with `workbench templates {kind}`."
        )
        return TemplateError(f"Unknown {what} '{at}{name}'{hint} {listing}", name=name)

    def _preset_text(self, preset: Preset) -> str:
        spec = self.resolve(preset.spec)
        if spec.is_empty:
            spec = spec.replace(subject="(your subject)")
        return _compose(spec, self)

    def _check_preset_references(self) -> None:
        for preset in self._presets.values():
            for name in FIELD_KINDS:
                value = getattr(preset.spec, name)
                if not value.startswith("@"):
                    continue
                try:
                    self.resolve_field(name, value)
                except TemplateError as exc:
                    line = preset.field_lines.get(name, preset.line)
                    message = str(exc)
                    raise TemplateError(
                        f"{_where(Path(preset.file or ''), line, f'presets.{preset.name}.spec.{name}')}: "
                        f"in preset '{preset.name}', "
                        f"{message[0].lower()}{message[1:]}",
                        file=preset.file,
                        line=line,
                        name=exc.name,
                    ) from None


_CACHE: dict[tuple[str, ...], tuple[tuple[Any, ...], TemplateLibrary]] = {}
_CACHE_LOCK = threading.Lock()


def package_folder() -> Path:
    """The templates and presets shipped in the package: ``workbench/data/prompts/``."""
    return data_path("prompts")


def default_folder() -> Path:
    """The first folder of the default library: ``$WORKBENCH_PROMPTS`` when set (it stands in
    for the package's templates), else :func:`package_folder`."""
    configured = os.environ.get("WORKBENCH_PROMPTS")
    if configured:
        return Path(configured).expanduser()
    return package_folder()


def project_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The project folder: the parent of the outputs root ``root``; without one, of the default
    root (``$WORKBENCH_HOME``, else the nearest ``outputs/`` with a README at or above the working
    folder, else the working folder itself — the rule of ``workbench.core.default_root``)."""
    if root is not None:
        return Path(root).expanduser().absolute().parent
    if os.environ.get("WORKBENCH_HOME"):
        return Path(os.environ["WORKBENCH_HOME"]).expanduser().absolute().parent
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "outputs" / "README.md").is_file():
            return folder
    return here


def project_folder(root: str | os.PathLike[str] | None = None) -> Path:
    """The project's own template folder, ``prompts/`` beside the outputs root (it may not
    exist): its templates and presets add to and override the package's."""
    return project_root(root) / "prompts"


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _folder_signature(folder: Path) -> tuple[Any, ...] | None:
    """What changes when a template file is added, removed or edited."""
    try:
        with os.scandir(folder) as entries:
            return tuple(
                sorted(
                    (entry.name, stat.st_mtime_ns, stat.st_size)
                    for entry in entries
                    if entry.name.endswith(_SUFFIXES) and entry.is_file()
                    for stat in (entry.stat(),)
                )
            )
    except OSError:
        return None


def _check_kind(kind: str, *, allow_preset: bool = True) -> None:
    kinds = KINDS if allow_preset else TEMPLATE_KINDS
    if kind not in kinds:
        close = difflib.get_close_matches(str(kind), kinds, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "."
        raise TemplateError(f"Unknown template kind '{kind}'{hint} The kinds are {', '.join(kinds)}.")


def _where(path: Path, line: int | None, field_path: str = "") -> str:
    return yamlio.where(path, line, field_path)


def _entries_key(kind: str) -> str:
    return "presets" if kind == "preset" else "templates"


def _line(node: Node) -> int:
    return node.start_mark.line + 1


Key = tuple[str, ...]


class _FileReader:
    """Reads one template file into Templates or Presets; every error is
    ``file:line: field: problem`` (the file parsed by :mod:`workbench.yamlio`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = str(path)
        self._constructor = SafeConstructor()

    def fail(self, path: Key, node: Node | None, problem: str, *, name: str | None = None) -> NoReturn:
        line = _line(node) if node is not None else None
        raise TemplateError(
            f"{_where(self.path, line, yamlio.field_name(path))}: {problem}",
            file=self.file,
            line=line,
            name=name,
        ) from None

    # -- YAML plumbing -------------------------------------------------------------------------
    def read(self) -> list[Template | Preset]:
        doc = yamlio.load(self.path, error=TemplateError)
        root = doc.nodes.get(())
        if root is None:
            return []  # an empty file or only comments
        top = self.mapping(root, (), "the file")
        return self.read_top(root, top)

    def mapping(self, node: Node, path: Key, what: str) -> dict[str, tuple[Node, Node]]:
        """A mapping node's entries by key text, each with its key and value node (yamlio has
        already refused a key written twice)."""
        if not isinstance(node, MappingNode):
            self.fail(path, node, f"{what} must be a mapping of names to values, not {_node_type(node)}.")
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or not key_node.value.strip():
                self.fail(path, key_node, f"{what} has a key that is not a plain name.")
            entries[key_node.value.strip()] = (key_node, value_node)
        return entries

    def string(self, node: Node, path: Key, what: str, *, name: str | None = None) -> str:
        """The text of a scalar, exactly as written (so ``16:9`` and ``yes`` stay text)."""
        if not isinstance(node, ScalarNode):
            self.fail(path, node, f"{what} must be text, not {_node_type(node)}.", name=name)
        if node.tag == "tag:yaml.org,2002:null":
            return ""
        return " ".join(node.value.split())

    def tags(self, node: Node, path: Key, what: str, name: str) -> tuple[str, ...]:
        if isinstance(node, ScalarNode):
            value = self.string(node, path, what, name=name)
            return (value,) if value else ()
        if not isinstance(node, SequenceNode):
            self.fail(path, node, f"the tags of {what} must be a list of words.", name=name)
        return tuple(
            tag
            for index, item in enumerate(node.value)
            if (tag := self.string(item, (*path, str(index)), f"a tag of {what}", name=name))
        )

    def unknown_key(
        self, key: str, key_node: Node, path: Key, allowed: Iterable[str], what: str, name: str | None
    ) -> NoReturn:
        allowed = tuple(allowed)
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        self.fail(
            (*path, key),
            key_node,
            f"{what} has an unknown key '{key}'{hint} (the keys are {', '.join(allowed)}).",
            name=name,
        )

    # -- structure -----------------------------------------------------------------------------
    def read_top(self, root: Node, top: dict[str, tuple[Node, Node]]) -> list[Template | Preset]:
        if "kind" not in top:
            self.fail(
                (),
                root,
                f"the file has no 'kind'; start it with 'kind: background' (or one of {', '.join(KINDS)}).",
            )
        kind_node = top["kind"][1]
        kind = self.string(kind_node, ("kind",), "the kind")
        if kind not in KINDS:
            close = difflib.get_close_matches(kind, KINDS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            self.fail(
                ("kind",), kind_node, f"unknown kind '{kind}'{hint} (the kinds are {', '.join(KINDS)})."
            )
        entries_key = _entries_key(kind)
        allowed = ("kind", "description", entries_key)
        for key, (key_node, _) in top.items():
            if key not in allowed:
                if key in ("templates", "presets"):
                    self.fail(
                        (key,),
                        key_node,
                        f"a {kind} file lists its entries under '{entries_key}', not '{key}'.",
                    )
                self.unknown_key(key, key_node, (), allowed, "the file", None)
        if "description" in top:
            self.string(top["description"][1], ("description",), "the file's description")
        if entries_key not in top:
            return []
        entries_node = top[entries_key][1]
        if isinstance(entries_node, ScalarNode) and entries_node.tag == "tag:yaml.org,2002:null":
            return []
        entries = self.mapping(entries_node, (entries_key,), f"'{entries_key}'")
        if kind == "preset":
            return [self.read_preset(name, key_node, node) for name, (key_node, node) in entries.items()]
        return [self.read_template(kind, name, key_node, node) for name, (key_node, node) in entries.items()]

    def check_name(self, kind: str, name: str, key_node: Node) -> None:
        if not _NAME.match(name):
            self.fail(
                (_entries_key(kind), name),
                key_node,
                f"the {kind} name '{name}' may use only letters, digits, '-' and '_', starting with a "
                "letter or digit.",
                name=name,
            )

    def read_template(self, kind: str, name: str, key_node: Node, node: Node) -> Template:
        self.check_name(kind, name, key_node)
        path = ("templates", name)
        line = _line(key_node)
        description, tags = "", ()
        if isinstance(node, ScalarNode):
            text = self.string(node, path, f"template '{name}'", name=name)
        elif isinstance(node, MappingNode):
            fields = self.mapping(node, path, f"template '{name}'")
            for key, (field_key, _) in fields.items():
                if key not in _TEMPLATE_KEYS:
                    self.unknown_key(key, field_key, path, _TEMPLATE_KEYS, f"template '{name}'", name)
            text = (
                self.string(fields["text"][1], (*path, "text"), f"the text of template '{name}'", name=name)
                if "text" in fields
                else ""
            )
            if "description" in fields:
                description = self.string(
                    fields["description"][1],
                    (*path, "description"),
                    f"the description of template '{name}'",
                    name=name,
                )
            if "tags" in fields:
                tags = self.tags(fields["tags"][1], (*path, "tags"), f"template '{name}'", name)
        else:
            self.fail(
                path, key_node, f"template '{name}' must be its text or a mapping with a text.", name=name
            )
        if not text:
            self.fail(path, key_node, f"template '{name}' has no text.", name=name)
        if text.startswith("@"):
            self.fail(
                path,
                key_node,
                f"template '{name}' starts with '@'; a template cannot point at another template.",
                name=name,
            )
        return Template(kind, name, text, description, tags, self.file, line)

    def read_preset(self, name: str, key_node: Node, node: Node) -> Preset:
        self.check_name("preset", name, key_node)
        path = ("presets", name)
        line = _line(key_node)
        fields = self.mapping(node, path, f"preset '{name}'")
        for key, (field_key, _) in fields.items():
            if key not in _PRESET_KEYS:
                if key in _SPEC_FIELDS:
                    self.fail(
                        (*path, key),
                        field_key,
                        f"preset '{name}' has '{key}' outside its spec (put spec fields under 'spec').",
                        name=name,
                    )
                self.unknown_key(key, field_key, path, _PRESET_KEYS, f"preset '{name}'", name)
        description = ""
        if "description" in fields:
            description = self.string(
                fields["description"][1],
                (*path, "description"),
                f"the description of preset '{name}'",
                name=name,
            )
        tags = (
            self.tags(fields["tags"][1], (*path, "tags"), f"preset '{name}'", name)
            if "tags" in fields
            else ()
        )
        if "spec" not in fields:
            self.fail(path, key_node, f"preset '{name}' has no spec.", name=name)
        spec_node = fields["spec"][1]
        values, key_nodes = self.read_spec_fields(name, spec_node)
        try:
            spec = PromptSpec(**values, preset=name)
        except SpecError as exc:
            where = _ERROR_FIELDS.get(exc.field or "", exc.field or "")
            message = str(exc)
            self.fail(
                (*path, "spec", where) if where in key_nodes else (*path, "spec"),
                key_nodes.get(where, spec_node),
                f"in preset '{name}', {message[0].lower()}{message[1:]}",
                name=name,
            )
        lines = {key: _line(key_node) for key, key_node in key_nodes.items()}
        return Preset(name, description, spec, tags, self.file, line, lines)

    def read_spec_fields(self, name: str, spec_node: Node) -> tuple[dict[str, Any], dict[str, Node]]:
        path = ("presets", name, "spec")
        spec_fields = self.mapping(spec_node, path, f"the spec of preset '{name}'")
        values: dict[str, Any] = {}
        key_nodes: dict[str, Node] = {}
        for key, (key_node, value_node) in spec_fields.items():
            key_nodes[key] = key_node
            if key not in _SPEC_FIELDS:
                close = difflib.get_close_matches(key, _SPEC_FIELDS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                extra = " (a preset's name is its key)" if key == "preset" else ""
                self.fail(
                    (*path, key),
                    key_node,
                    f"preset '{name}' has an unknown spec field '{key}'{hint}{extra} "
                    f"(the fields are {', '.join(_SPEC_FIELDS)}).",
                    name=name,
                )
            what = f"the {key} of preset '{name}'"
            if key in _STRING_FIELDS:
                values[key] = self.string(value_node, (*path, key), what, name=name)
            elif key == "texts":
                values[key] = self.read_texts(value_node, (*path, key), what, name)
            elif key == "character":
                values[key] = self.read_plain_mapping(value_node, (*path, key), what, name)
            else:  # n and seed: numbers, checked by PromptSpec
                values[key] = self._constructor.construct_object(value_node, deep=True)
        return values, key_nodes

    def read_texts(self, node: Node, path: Key, what: str, name: str) -> list[Any]:
        items = node.value if isinstance(node, SequenceNode) else [node]
        texts: list[Any] = []
        for index, item in enumerate(items):
            item_path = (*path, str(index)) if isinstance(node, SequenceNode) else path
            if isinstance(item, MappingNode):
                texts.append(
                    self.read_plain_mapping(item, item_path, f"an exact text in preset '{name}'", name)
                )
            else:
                texts.append(self.string(item, item_path, f"an exact text in {what}", name=name))
        return texts

    def read_plain_mapping(self, node: Node, path: Key, what: str, name: str) -> dict[str, str]:
        return {
            key: self.string(value_node, (*path, key), f"'{key}' in {what}", name=name)
            for key, (_, value_node) in self.mapping(node, path, what).items()
        }


def _node_type(node: Node) -> str:
    return yamlio.node_type(node)


def compose(spec: PromptSpec, templates: TemplateLibrary | None = None) -> str:
    """Write the prompt for a spec (``workbench.spec.compose``), resolving ``@name`` references
    from ``templates`` or, when none is given, from the default library (the packaged templates,
    the project's ``prompts/`` and ``$WORKBENCH_PROMPTS``)."""
    if templates is None and template_references(spec):
        templates = TemplateLibrary.default()
    return _compose(spec, templates)
