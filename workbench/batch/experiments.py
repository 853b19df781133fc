"""Experiment files: a base spec or preset plus factors, expanded into jobs with stable keys.

An experiment is a YAML file (or a CSV of rows), named by its path or by its name in the project's
``prompts/experiments/`` or among the examples shipped in ``workbench/data/experiments/``::

    name: mug-lighting                  # default: the file's stem
    description: One mug, three lightings, four styles.
    preset: ecommerce-product           # optional; spec fields below go over it
    spec: {subject: a speckled ceramic coffee mug, quality: medium}
    backend: draft                      # optional; `--backend` on the command line wins
    model: null
    grid:                               # cartesian product: 1st factor → rows, 2nd → columns, 3rd → sheets
      lighting: ["@soft-left", "@golden-hour", "@rim-light"]
      style: {photo: "@product-photo", editorial: "@editorial"}   # a mapping gives labels
    zip:                                # lists of one length, paired: one more axis
      subject: [a mug, a teapot]
      background: ["@marble", "@oak-table"]
    rows: products.csv                  # each CSV row is one run (columns are factor names)
    repeats: 5                          # optional: 5 samples (variants) per cell, for intervals
    checks: [palette, contrast]         # optional: the checks every image gets (workbench.checks)
    edit:                               # optional: every job edits an image instead of generating
      input: product.png                # the image to edit (relative to this file)
      mask: product-mask.png            # optional: alpha 0 (or non-zero grey) where to edit
      markup: product-markup.png        # optional, 2.5 models: a transparent PNG drawn over it (no mask)
      references: [logo.png]            # optional: more images the edit may use
      instruction: put it on white marble   # what to change (or vary `instruction` as a factor)

Factor names are spec fields (subject, background, lighting, style, details, aspect, quality, n,
seed, texts, preset), ``headline`` and ``subtext`` (replace the exact texts of that role), and run
options (backend, model, variant, output_format, transparent, complexity, frame_count,
frame_duration_ms, svg_model, svg_effort), and for edits ``input``, ``mask`` and
``instruction`` (one CSV row per photo to edit, say). A CSV's ``label`` column names its rows on the
contact sheet. An edit job's image files are checked as uploads when the file is read (a missing or
unreadable image is one sentence, nothing run); its key hashes their bytes, so a changed photo is a
new job. Grid, zip and rows multiply: every grid cell runs every zip pair and
every row. Errors name the file and the field, e.g. ``mug.yaml: grid.lighting[2]: …``.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import yamlio
from workbench.errors import ExperimentError, SpecError, TemplateError
from workbench.spec import FIELD_KINDS, PromptSpec
from workbench.spec import SPEC_FIELDS as ALL_SPEC_FIELDS
from workbench.yamlio import data_path

if TYPE_CHECKING:
    from workbench.templates import TemplateLibrary

__all__ = [
    "Axis",
    "Experiment",
    "Job",
    "experiment_folder",
    "experiment_folders",
    "find_experiment",
    "load_experiment",
]

SPEC_FIELDS = tuple(name for name in ALL_SPEC_FIELDS if name != "character")  # factors a job can vary
TEXT_ROLES = ("headline", "subtext")
# Run options a job can vary; complexity, frame_count/frame_duration_ms (GIF) and svg_model/
# svg_effort (SVG) go to the models whose table rows list them, checked before the batch starts.
OPTIONS = (
    "backend", "model", "variant", "output_format", "transparent", "complexity", "frame_count",
    "frame_duration_ms", "svg_model", "svg_effort",
)  # fmt: skip
_RUN_OPTIONS = tuple(o for o in OPTIONS if o not in ("backend", "model"))  # also under `options:`
EDIT_FACTORS = ("input", "mask", "instruction")  # an edit job's image, mask and instruction
EDIT_KEYS = ("input", "mask", "markup", "references", "instruction")
FACTOR_NAMES = (*SPEC_FIELDS, *TEXT_ROLES, *OPTIONS, *EDIT_FACTORS)
_TOP_KEYS = (
    "name", "description", "preset", "spec", "backend", "model", "options", "grid", "zip", "rows",
    "repeats", "checks", "edit",
)  # fmt: skip
_MAX_REPEATS = 100
_INTEGERS = ("n", "seed", "variant", "frame_count", "frame_duration_ms")
_MAX_JOBS = 10_000
_LABEL_CHARS = 40


@dataclass(frozen=True)
class Axis:
    """One dimension of the contact sheet: a grid factor, a zip group or the CSV rows."""

    name: str
    factors: tuple[str, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Job:
    """One run of an experiment: a full spec, its run options, and where it sits on the axes.

    ``key`` is stable: it hashes what the job makes (spec and options), so the same experiment
    expands to the same keys every time, whatever the labels.
    """

    key: str
    index: int
    spec: PromptSpec
    backend: str | None
    model: str | None
    options: dict[str, Any]
    factors: dict[str, str]
    coords: tuple[str, ...]
    repeat: int = 0  # which sample of its cell (an experiment's ``repeats``): variant + repeat
    checks: tuple[str, ...] = ()  # the checks its image gets in the batch (workbench.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "index": self.index,
            "spec": self.spec.to_dict(),
            "backend": self.backend,
            "model": self.model,
            "options": self.options,
            "factors": self.factors,
            "coords": list(self.coords),
            **({"repeat": self.repeat} if self.repeat else {}),
            **({"checks": list(self.checks)} if self.checks else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        return cls(
            key=data["key"],
            index=data["index"],
            spec=PromptSpec.from_dict(data["spec"]),
            backend=data.get("backend"),
            model=data.get("model"),
            options=dict(data.get("options") or {}),
            factors=dict(data.get("factors") or {}),
            coords=tuple(data.get("coords") or ()),
            repeat=int(data.get("repeat") or 0),
            checks=tuple(data.get("checks") or ()),
        )


@dataclass
class Experiment:
    """A loaded, validated experiment and its jobs, in order (rows, then columns, then sheets)."""

    name: str
    path: Path | None
    description: str
    axes: list[Axis]
    jobs: list[Job]
    backend: str | None = None
    model: str | None = None
    base: dict[str, Any] = field(default_factory=dict)
    repeats: int = 1  # samples per cell
    checks: tuple[str, ...] = ()  # the checks every image gets

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(axis.labels) for axis in self.axes)

    def __len__(self) -> int:
        return len(self.jobs)

    def __repr__(self) -> str:
        shape = " × ".join(str(n) for n in self.shape) or "1"
        return f"<Experiment {self.name} {shape} = {len(self.jobs)} jobs>"


def experiment_folder() -> Path:
    """The example experiments shipped in the package: ``workbench/data/experiments/``
    (``$WORKBENCH_PROMPTS/experiments/`` in their place when that variable is set)."""
    configured = os.environ.get("WORKBENCH_PROMPTS")
    if configured:
        return Path(configured).expanduser() / "experiments"
    return data_path("experiments")


def experiment_folders(root: str | Path | None = None) -> list[Path]:
    """Where a name is looked up, first match wins: the project's ``prompts/experiments/`` (beside
    the outputs root ``root``, see :func:`workbench.templates.project_folder`), then the
    package's examples."""
    from workbench.templates import project_folder

    return [project_folder(root) / "experiments", experiment_folder()]


def find_experiment(name: str | Path, *, root: str | Path | None = None) -> Path:
    """A path as given, or a name (with or without ``.yaml``) in the project's
    ``prompts/experiments/`` or among the package's examples."""
    path = Path(name)
    if path.is_file():
        return path
    folders = experiment_folders(root)
    for folder in folders:
        for candidate in (folder / str(name), *(folder / f"{name}{s}" for s in (".yaml", ".yml", ".csv"))):
            if candidate.is_file():
                return candidate
    known = sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.y*ml")})
    hint = f" The experiments you can name are: {', '.join(known)}." if known else ""
    raise ExperimentError(f"No experiment file {name}.{hint}", file=str(name))


def load_experiment(
    source: str | Path,
    *,
    templates: TemplateLibrary | None = None,
    backend: str | None = None,
    model: str | None = None,
    quality: str | None = None,
    root: str | Path | None = None,
) -> Experiment:
    """Read, validate and expand an experiment file (YAML or CSV) into jobs.

    Args:
        source: a path, or the name of a file in the project's ``prompts/experiments/`` or among
            the package's examples.
        templates: the library ``@name`` references and presets come from (default: the project's).
        backend/model/quality: override the experiment's own (a factor of that name still wins).
        root: the outputs root whose project's ``prompts/`` is searched (default: the default root).

    Example:
        >>> experiment = load_experiment("mug-lighting")
        >>> experiment.shape, experiment.jobs[0].factors
        ((3, 4), {'lighting': '@soft-left', 'style': '@product-photo'})

    Raises:
        ExperimentError: the file or one of its fields is wrong; the message names both.
    """
    if templates is None:
        from workbench.templates import TemplateLibrary

        templates = TemplateLibrary.default(root=root)
    path = find_experiment(source, root=root)
    reader = _Reader(path, templates)
    if path.suffix.lower() == ".csv":
        data: dict[str, Any] = {"rows": path.name}
    else:
        data = reader.yaml()
    return reader.expand(data, backend=backend, model=model, quality=quality)


class _Reader:
    def __init__(self, path: Path, templates: TemplateLibrary) -> None:
        self.path = path
        self.templates = templates
        self.doc: yamlio.Document | None = None
        self._csv_file: Path | None = None
        self._csv_lines: dict[int, int] = {}

    def fail(
        self, field_name: str | None, problem: str, *, file: Path | None = None, line: int | None = None
    ) -> ExperimentError:
        """``file:line: field: problem``; the line comes from the YAML file's marks unless given."""
        if self._csv_file is not None and field_name and field_name.startswith("rows") and file is None:
            # A cell of the CSV: name the CSV file and the line of its row (the header is line 1).
            path = yamlio.parse_field(field_name)
            file = self._csv_file
            line = self._csv_lines.get(path[1], 1) if len(path) > 1 and isinstance(path[1], int) else 1
        if line is None and file is None and self.doc is not None and field_name:
            line = self.doc.line(self._key_path(field_name))
        location = yamlio.where(file or self.path, line, field_name or "")
        return ExperimentError(f"{location}: {problem}", file=str(file or self.path), field=field_name)

    def _key_path(self, field_name: str) -> tuple[yamlio.Key, ...]:
        """Where a field name was written: ``grid.lighting[2]`` as it is; a spec field named by
        a SpecError (``aspect``) where the file varies it or sets it."""
        path = yamlio.parse_field(field_name)
        if self.doc is not None and len(path) == 1 and path not in self.doc.lines:
            for section in ("grid", "zip", "spec"):
                if (section, path[0]) in self.doc.lines:
                    return (section, path[0])
        return path

    def yaml(self) -> dict[str, Any]:
        self.doc = yamlio.load(self.path, error=ExperimentError)
        data = self.doc.data
        if not isinstance(data, Mapping):
            raise self.fail(
                None,
                "an experiment must be a mapping with a spec or preset and factors.",
                line=self.doc.line(),
            )
        unknown = [k for k in data if k not in _TOP_KEYS]
        if unknown:
            raise self.fail(str(unknown[0]), f"unknown key; the keys are {', '.join(_TOP_KEYS)}.")
        return dict(data)

    # -- factors ------------------------------------------------------------------------------
    def factor_values(self, where: str, name: Any, raw: Any) -> list[tuple[str, Any]]:
        """(label, value) pairs of one factor; a mapping gives labels, a list labels itself."""
        if not isinstance(name, str) or name not in FACTOR_NAMES:
            raise self.fail(f"{where}.{name}", f"unknown factor; use one of {', '.join(FACTOR_NAMES)}.")
        if isinstance(raw, Mapping):
            pairs = [(str(label), value) for label, value in raw.items()]
        elif isinstance(raw, Sequence) and not isinstance(raw, str):
            pairs = [(_label(value), value) for value in raw]
        else:
            raise self.fail(f"{where}.{name}", "give a list of values (or a mapping of label: value).")
        if not pairs:
            raise self.fail(f"{where}.{name}", "the list of values is empty.")
        checked = [
            (label, self.value(f"{where}.{name}[{i}]", name, value)) for i, (label, value) in enumerate(pairs)
        ]
        labels = [label for label, _ in checked]
        if len(set(labels)) != len(labels):
            twice = next(label for label in labels if labels.count(label) > 1)
            raise self.fail(f"{where}.{name}", f"the label {twice!r} appears twice.")
        return checked

    def value(self, where: str, name: str, value: Any) -> Any:
        """One factor value, converted (CSV cells are text) and checked before any run."""
        if isinstance(value, str):
            value = value.strip()
        if name in _INTEGERS:
            if value in ("", None) and name in ("seed", "frame_count", "frame_duration_ms"):
                return None
            try:
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                value = int(value)
            except (TypeError, ValueError):
                raise self.fail(where, f"{name} must be a whole number, not {value!r}.") from None
        elif name == "transparent":
            if isinstance(value, str):
                lowered = value.lower()
                if lowered not in ("true", "false", "yes", "no", "1", "0", ""):
                    raise self.fail(where, f"transparent must be true or false, not {value!r}.")
                value = lowered in ("true", "yes", "1")
            elif not isinstance(value, bool):
                raise self.fail(where, f"transparent must be true or false, not {value!r}.")
        elif name == "texts":
            if isinstance(value, str):
                value = [value]
        elif name in ("input", "mask"):
            return self.image_file(where, value)
        elif name == "instruction":
            if not isinstance(value, str) or not value.strip():
                raise self.fail(
                    where, "an instruction is the change to make, in words, e.g. 'put it on marble'."
                )
        elif value is not None and not isinstance(value, str):
            if name in ("aspect",) and isinstance(value, (int, float)):
                raise self.fail(where, f'write the aspect in quotes, e.g. "3:2", not {value!r}.')
            value = str(value)
        if name in FIELD_KINDS and isinstance(value, str):
            try:
                self.templates.resolve_field(name, value)
            except TemplateError as exc:
                raise self.fail(where, str(exc)) from None
        if name == "preset" and value:
            try:
                self.templates.preset(value)
            except TemplateError as exc:
                raise self.fail(where, str(exc)) from None
        return value

    def image_file(self, where: str, value: Any) -> str:
        """An edit's image (relative to the experiment file), checked as an upload now: a missing,
        too large or unreadable image is one sentence before any job runs. Its absolute path."""
        from workbench.errors import WorkbenchError
        from workbench.imaging.uploads import resolve_source

        if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
            raise self.fail(where, f"give the path of an image file, not {value!r}.")
        path = Path(str(value).strip()).expanduser()
        if not path.is_absolute():
            path = self.path.parent / path
        if not path.is_file():
            raise self.fail(where, f"no image file {path}.")
        try:
            resolve_source(path)
        except WorkbenchError as exc:
            raise self.fail(where, str(exc)) from None
        return str(path.resolve())

    def edit(self, raw: Any) -> dict[str, Any]:
        """The ``edit:`` block: the image, mask, references and instruction every job starts from."""
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise self.fail("edit", f"give a mapping of {', '.join(EDIT_KEYS)}.")
        unknown = [k for k in raw if k not in EDIT_KEYS]
        if unknown:
            raise self.fail(f"edit.{unknown[0]}", f"unknown key; an edit takes {', '.join(EDIT_KEYS)}.")
        edit: dict[str, Any] = {}
        for key in ("input", "mask", "markup", "instruction"):
            if raw.get(key) is not None:
                kind = "mask" if key == "markup" else key  # an image file, like the mask
                edit[key] = self.value(f"edit.{key}", kind, raw[key])
        references = raw.get("references")
        if references is not None:
            if isinstance(references, str):
                references = [references]
            if not isinstance(references, Sequence):
                raise self.fail("edit.references", "give a list of image files.")
            edit["references"] = [
                self.image_file(f"edit.references[{i}]", v) for i, v in enumerate(references)
            ]
        return edit

    def rows(self, raw: Any) -> tuple[Axis, list[dict[str, tuple[str, Any]]]]:
        """The CSV (or inline list of mappings) of rows: each row one run."""
        if isinstance(raw, str):
            csv_path = (self.path.parent / raw) if not Path(raw).is_absolute() else Path(raw)
            if not csv_path.is_file():
                raise self.fail("rows", f"no CSV file {csv_path}.")
            text = csv_path.read_text(encoding="utf-8-sig")
            reader = csv.DictReader(io.StringIO(text))
            records, self._csv_lines = [], {}
            for number, record in enumerate(reader, 1):
                records.append(record)
                self._csv_lines[number] = reader.line_num
            self._csv_file = where_file = csv_path
        elif isinstance(raw, Sequence) and all(isinstance(r, Mapping) for r in raw):
            records = [dict(r) for r in raw]
            where_file = None
        else:
            raise self.fail("rows", "give a CSV file name or a list of mappings.")
        if not records:
            raise self.fail("rows", "there are no rows.")
        prefix = "rows"
        if where_file is not None:
            unknown = [c for c in records[0] if c not in FACTOR_NAMES and c != "label"]
            if unknown or None in records[0]:
                column = unknown[0] if unknown else "?"
                raise self.fail(
                    f"{prefix}.{column}",
                    f"unknown column; use label and factor names: {', '.join(FACTOR_NAMES)}.",
                )
        # Every factor any row names (inline rows need not all name the same ones), in first-seen order.
        factors = list(
            dict.fromkeys(c for record in records for c in record if c != "label" and c is not None)
        )
        result, labels = [], []
        for number, record in enumerate(records, 1):
            if any(c not in FACTOR_NAMES and c != "label" for c in record):
                column = next(c for c in record if c not in FACTOR_NAMES and c != "label")
                raise self.fail(
                    f"{prefix}[{number}].{column}", f"unknown factor; use one of {', '.join(FACTOR_NAMES)}."
                )
            if None in record.values() and where_file is not None:
                raise self.fail(f"{prefix}[{number}]", "the row has fewer cells than the header.")
            cells = {name: record.get(name) for name in factors}
            row = {
                name: (_label(value), self.value(f"{prefix}[{number}].{name}", name, value))
                for name, value in cells.items()
                if value not in (None, "")
            }
            label = str(record.get("label") or "").strip() or _label(next(iter(cells.values()), number))
            if label in labels:
                label = f"{label} ({number})"
            labels.append(label)
            result.append(row)
        return Axis("row", tuple(factors), tuple(labels)), result

    # -- expansion ----------------------------------------------------------------------------
    def expand(
        self, data: dict[str, Any], *, backend: str | None, model: str | None, quality: str | None
    ) -> Experiment:
        name = data.get("name") or self.path.stem
        if not isinstance(name, str):
            raise self.fail("name", "the name must be text.")
        preset = data.get("preset")
        if preset is not None:
            preset = self.value("preset", "preset", preset)
        base = data.get("spec") or {}
        if not isinstance(base, Mapping):
            raise self.fail("spec", "the spec must be a mapping of spec fields.")
        base = dict(base)
        for key, value in base.items():
            if key not in (*SPEC_FIELDS, "character") or key == "preset":
                allowed = ", ".join(f for f in (*SPEC_FIELDS, "character") if f != "preset")
                raise self.fail(f"spec.{key}", f"unknown spec field; use {allowed} (and preset: at the top).")
            if key != "texts" and key != "character":
                base[key] = self.value(f"spec.{key}", key, value)
        if quality is not None:
            base["quality"] = quality
        options = dict(data.get("options") or {})
        for key, value in options.items():
            if key not in _RUN_OPTIONS:
                raise self.fail(f"options.{key}", f"unknown option; use {', '.join(_RUN_OPTIONS)}.")
            options[key] = self.value(f"options.{key}", key, value)
        default_backend = backend or data.get("backend")
        default_model = model or data.get("model")
        for key, value in (("backend", default_backend), ("model", default_model)):
            if value is not None and not isinstance(value, str):
                raise self.fail(key, f"the {key} must be text.")

        axes: list[Axis] = []
        groups: list[list[tuple[tuple[str, ...], dict[str, tuple[str, Any]]]]] = []
        seen: dict[str, str] = {}

        def claim(factor: str, where: str) -> None:
            if factor in seen:
                raise self.fail(
                    where, f"{factor} is already a factor in {seen[factor]}; vary it in one place."
                )
            seen[factor] = where

        # Axes follow the order of grid, zip and rows in the file: the first makes the sheet's rows.
        for section in [key for key in data if key in ("grid", "zip", "rows")]:
            if section == "grid":
                grid = data.get("grid")
                if grid is not None:
                    if not isinstance(grid, Mapping) or not grid:
                        raise self.fail("grid", "give a mapping of factor: [values].")
                    for factor, raw in grid.items():
                        claim(str(factor), f"grid.{factor}")
                        pairs = self.factor_values("grid", factor, raw)
                        axes.append(Axis(str(factor), (str(factor),), tuple(label for label, _ in pairs)))
                        groups.append([((label,), {factor: (label, value)}) for label, value in pairs])
            elif section == "zip":
                zipped = data.get("zip")
                if zipped is not None:
                    if not isinstance(zipped, Mapping) or not zipped:
                        raise self.fail("zip", "give a mapping of factor: [values], all lists of one length.")
                    columns = {}
                    for factor, raw in zipped.items():
                        claim(str(factor), f"zip.{factor}")
                        columns[str(factor)] = self.factor_values("zip", factor, raw)
                    lengths = {factor: len(pairs) for factor, pairs in columns.items()}
                    if len(set(lengths.values())) > 1:
                        first, *rest = lengths.items()
                        other = next(item for item in rest if item[1] != first[1])
                        raise self.fail(
                            f"zip.{other[0]}",
                            f"has {other[1]} values but zip.{first[0]} has {first[1]}; "
                            "zipped lists pair up one by one, so they need one length.",
                        )
                    count = next(iter(lengths.values()))
                    labels = tuple(" · ".join(columns[f][i][0] for f in columns) for i in range(count))
                    axes.append(Axis(" · ".join(columns), tuple(columns), labels))
                    groups.append([((labels[i],), {f: columns[f][i] for f in columns}) for i in range(count)])
            else:
                if data.get("rows") is not None:
                    axis, rows = self.rows(data["rows"])
                    for factor in axis.factors:
                        claim(factor, "rows")
                    axes.append(axis)
                    groups.append([((axis.labels[i],), row) for i, row in enumerate(rows)])
        if not groups:
            groups.append([((), {})])  # no factors: one job, the base spec

        total = 1
        for group in groups:
            total *= len(group)
        if total > _MAX_JOBS:
            raise self.fail(
                "grid", f"expands to {total:,} jobs; the limit is {_MAX_JOBS:,}: split the experiment."
            )

        repeats = self.repeats(data.get("repeats"))
        checks = self.checks(data.get("checks"))
        self.edit_base = self.edit(data.get("edit"))
        jobs: list[Job] = []
        keys: set[str] = set()
        for index, combo in enumerate(itertools.product(*groups)):
            coords = tuple(label for part in combo for label in part[0])
            chosen: dict[str, tuple[str, Any]] = {}
            for _, values in combo:
                chosen.update(values)
            job = self.job(index, coords, chosen, preset, base, options, default_backend, default_model)
            key, number = job.key, 2
            while key in keys:
                key, number = f"{job.key}-{number}", number + 1
            keys.add(key)
            jobs.append(
                Job(key, job.index, job.spec, job.backend, job.model, job.options, job.factors, coords)
            )
        if repeats > 1:  # K samples per cell: the same spec at K variants (a new sample each)
            jobs = [
                Job(
                    job.key if r == 0 else f"{job.key}-r{r}",
                    job.index * repeats + r,
                    job.spec,
                    job.backend,
                    job.model,
                    {**job.options, "variant": int(job.options.get("variant") or 0) + r},
                    job.factors,
                    job.coords,
                    repeat=r,
                )
                for job in jobs
                for r in range(repeats)
            ]
        if checks:
            jobs = [dataclasses.replace(job, checks=checks) for job in jobs]
        return Experiment(
            name=name,
            path=self.path,
            description=str(data.get("description") or ""),
            axes=axes,
            jobs=jobs,
            backend=default_backend,
            model=default_model,
            base=base,
            repeats=repeats,
            checks=checks,
        )

    def repeats(self, raw: Any) -> int:
        """``repeats: K``: samples per cell (1 to ``_MAX_REPEATS``)."""
        if raw is None:
            return 1
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= _MAX_REPEATS:
            raise self.fail("repeats", f"repeats is a whole number from 1 to {_MAX_REPEATS}, not {raw!r}.")
        return raw

    def checks(self, raw: Any) -> tuple[str, ...]:
        """``checks: [palette, contrast]`` (or one string with commas): names of registered checks."""
        if raw is None:
            return ()
        from workbench.checks import check_names

        if not isinstance(raw, (str, list, tuple)):
            raise self.fail("checks", "give a list of check names, e.g. [palette, contrast].")
        try:
            return tuple(check_names(raw if isinstance(raw, str) else [str(v) for v in raw]))
        except SpecError as exc:
            raise self.fail("checks", str(exc)) from None

    def job(
        self,
        index: int,
        coords: tuple[str, ...],
        chosen: dict[str, tuple[str, Any]],
        preset: str | None,
        base: dict[str, Any],
        options: dict[str, Any],
        backend: str | None,
        model: str | None,
    ) -> Job:
        fields = dict(base)
        run_options = dict(options)
        job_preset = preset
        edit = dict(getattr(self, "edit_base", {}))
        for factor, (_, value) in chosen.items():
            if factor == "preset":
                job_preset = value or None
            elif factor in OPTIONS:
                run_options[factor] = value
            elif factor in EDIT_FACTORS:
                edit[factor] = value
            elif factor not in TEXT_ROLES:
                fields[factor] = value
        job_backend = run_options.pop("backend", backend)
        job_model = run_options.pop("model", model)
        roles = {factor: value for factor, (_, value) in chosen.items() if factor in TEXT_ROLES}
        where = "/".join(coords) or "spec"
        digests: dict[str, Any] = {}
        if edit:
            missing = "input" if "input" not in edit else "instruction" if "instruction" not in edit else None
            if missing is not None:
                raise self.fail(
                    "edit" if "edit" in (self.doc.data if self.doc else {}) else missing,
                    f"job {index + 1} ({where}): an edit job needs an {missing}"
                    f"{' image' if missing == 'input' else ''} (in edit: or as a factor).",
                )
            run_options["edit"] = edit
            if "subject" not in fields and job_preset is None:
                fields["subject"] = edit["instruction"]  # the spec an edit run is logged with
            # The key hashes what the images hold, not where they are: a changed photo is a new job.
            digests = {
                k: _digest(v)
                if k in ("input", "mask", "markup")
                else [_digest(r) for r in v]
                if k == "references"
                else v
                for k, v in edit.items()
            }
        try:
            if roles:
                fields["texts"] = self._texts(job_preset, fields, roles)
            spec = self.templates.spec(job_preset, **fields)
        except (SpecError, TemplateError) as exc:
            field_name = getattr(exc, "field", None) or "spec"
            raise self.fail(field_name, f"job {index + 1} ({where}): {exc}") from None
        payload = {
            "spec": spec.to_dict(),
            "backend": job_backend,
            "model": job_model,
            "options": {**run_options, **({"edit": digests} if digests else {})},
        }
        key = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]
        factors = {factor: label for factor, (label, _) in chosen.items()}
        return Job(key, index, spec, job_backend, job_model, run_options, factors, coords)

    def _texts(
        self, preset: str | None, fields: dict[str, Any], roles: dict[str, Any]
    ) -> list[dict[str, str]]:
        if "texts" in fields:
            texts = PromptSpec(subject="x", texts=fields["texts"]).texts
        elif preset is not None:
            texts = self.templates.preset(preset).spec.texts
        else:
            texts = ()
        kept = [{"text": t.text, "role": t.role} for t in texts if t.role not in roles]
        added = [{"text": value, "role": role} for role, value in roles.items() if value]
        return added + kept


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def plan_edit_job(wb: Any, job: Job, edit: Mapping[str, Any], **options: Any) -> Any:
    """The plan of an edit job (``edit:`` in its experiment): its image, mask and references
    through ``Workbench.plan_edit``, at the job's quality and model, priced like any edit."""
    params = dict(options.pop("params", None) or {})
    for key in ("input", "mask", "markup"):  # a batch is planned again to resume or collect it
        if edit.get(key) and not Path(edit[key]).is_file():
            raise ExperimentError(
                f"Job {job.index + 1}'s {key} image {edit[key]} is no longer there: put it back (the "
                "job is planned from it again to run, resume or collect it).",
                field=f"edit.{key}",
            )
    mask = Path(edit["mask"]).read_bytes() if edit.get("mask") else None
    plan = wb.plan_edit(
        edit["input"],
        edit["instruction"],
        mask=mask,
        references=tuple(edit.get("references") or ()),
        **({"markup": Path(edit["markup"]).read_bytes()} if edit.get("markup") else {}),
        backend=job.backend,
        model=job.model,
        quality=job.spec.quality,
        **options,
    )
    return dataclasses.replace(plan, params={**plan.params, **params})


def _label(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if isinstance(value, (list, tuple)):
        text = " / ".join(str(v) for v in value)
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"
