"""The template library: the templates shipped in the package, a project's own prompts/, resolution
of @references, presets, user folders and the errors a person meets when a file or a name is wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.errors import SpecError, TemplateError
from workbench.lint import lint
from workbench.spec import PromptSpec, TextItem
from workbench.templates import (
    KINDS,
    Template,
    TemplateLibrary,
    compose,
    default_folder,
    package_folder,
    project_folder,
)

BUILTIN = Path(__file__).resolve().parent.parent / "workbench" / "data" / "prompts"
REQUIRED_PRESETS = (
    "ecommerce-product",
    "marketing-poster",
    "character-series",
    "infographic-steps",
    "interior-visualisation",
    "social-media-graphic",
)


@pytest.fixture
def library() -> TemplateLibrary:
    return TemplateLibrary.load(BUILTIN)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the built-in library ---------------------------------------------------------------------


def test_default_is_the_package_data_read_through_importlib_resources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WORKBENCH_PROMPTS", raising=False)
    assert package_folder() == default_folder() == BUILTIN
    assert {p.name for p in BUILTIN.glob("*.yaml")} == {
        "subjects.yaml",
        "backgrounds.yaml",
        "lighting.yaml",
        "styles.yaml",
        "presets.yaml",
    }
    # The test's project (beside its own outputs root) has no prompts/ folder: the package alone.
    assert not project_folder().exists()
    assert TemplateLibrary.default().folders == (BUILTIN,)


def test_a_projects_own_prompts_folder_adds_to_and_overrides_the_package(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WORKBENCH_PROMPTS", raising=False)
    project = root.parent / "prompts"
    assert project_folder() == project and project_folder(root) == project
    write(project, "backgrounds.yaml", "kind: background\ntemplates:\n  marble: on black marble\n")
    write(project, "styles.yaml", "kind: style\ntemplates:\n  house: our house style\n")
    extra = write(tmp_path / "extra", "styles.yaml", "kind: style\ntemplates:\n  house: the extra style\n")
    library = TemplateLibrary.default()
    assert library.folders == (BUILTIN, project)
    assert library.get("background", "marble").text == "on black marble"  # overrides the package
    assert library.get("style", "house").text == "our house style"  # adds to it
    assert "studio-white" in library.names("background")  # the package's others stay
    # --prompts DIR (extra folders) comes last and wins over both.
    library = TemplateLibrary.default(extra=[extra.parent])
    assert library.folders == (BUILTIN, project, extra.parent)
    assert library.get("style", "house").text == "the extra style"
    # Workbench(root) looks beside its own root, whatever the working folder.
    from workbench import Workbench

    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    wb = Workbench(root)
    try:
        assert wb.templates.get("style", "house").text == "our house style"
    finally:
        wb.close()


@pytest.mark.parametrize("kind", ["subject", "background", "lighting", "style"])
def test_every_kind_has_a_good_number_of_described_templates(library: TemplateLibrary, kind: str) -> None:
    templates = library.templates(kind)
    assert 10 <= len(templates) <= 20
    for template in templates:
        assert template.kind == kind
        assert template.text and not template.text.startswith("@")
        assert template.description, f"{kind} '{template.name}' has no description"
        assert template.file and Path(template.file).parent == BUILTIN and template.line


@pytest.mark.parametrize("kind", ["subject", "background", "lighting", "style"])
def test_no_template_text_carries_a_mistake_the_linter_flags(library: TemplateLibrary, kind: str) -> None:
    for template in library.templates(kind):
        # A template alone is short, so "too vague" does not apply; everything else does.
        findings = [f for f in lint(template.text) if f.code != "WB001"]
        assert findings == [], f"{kind} '{template.name}': {findings}"


def test_the_common_jobs_have_presets(library: TemplateLibrary) -> None:
    names = library.names("preset")
    assert set(REQUIRED_PRESETS) <= set(names)
    assert names == sorted(names)
    assert [p.name for p in library.presets()] == names


@pytest.mark.parametrize("name", TemplateLibrary.load(BUILTIN).names("preset"))
def test_every_preset_builds_a_valid_spec_that_composes_and_lints_clean(
    library: TemplateLibrary, name: str
) -> None:
    preset = library.preset(name)
    assert preset.description
    spec = library.spec(name)
    assert isinstance(spec, PromptSpec)
    assert spec.preset == name
    prompt = compose(spec, library)
    assert "@" not in prompt
    assert 80 < len(prompt) < 1000
    assert lint(spec, templates=library) == []
    assert lint(prompt) == []
    # The same spec survives its round trip and composes to the same words.
    assert compose(PromptSpec.from_yaml(spec.to_yaml()), library) == prompt


def test_presets_carry_what_their_job_needs(library: TemplateLibrary) -> None:
    poster = library.spec("marketing-poster")
    assert [t.role for t in poster.texts] == ["headline", "subtext"]
    assert "headline text reading 'MOVE FORWARD'" in compose(poster, library)

    steps = library.spec("infographic-steps")
    assert [t.role for t in steps.texts] == ["label", "label", "label"]
    assert "3 labeled steps in order: step 1 labeled 'Input'" in compose(steps, library)

    series = library.spec("character-series")
    assert series.character is not None and series.character.name == "Mia"
    assert compose(series, library).startswith("[Mia, a girl of about eight")

    assert library.spec("ecommerce-product").quality == "high"
    assert library.spec("social-media-graphic").texts
    assert library.spec("interior-visualisation").subject == "@living-room"


def test_get_summarises_a_preset_as_its_prompt(library: TemplateLibrary) -> None:
    template = library.get("preset", "ecommerce-product")
    assert template.kind == "preset"
    assert template.text == compose(library.spec("ecommerce-product"), library)
    assert template.description == library.preset("ecommerce-product").description


# -- resolution of @references ----------------------------------------------------------------


def test_resolve_replaces_each_reference_by_its_kind(library: TemplateLibrary) -> None:
    spec = PromptSpec(
        subject="@sneaker",
        background="@dark-concrete",
        lighting="@soft-overhead",
        style="@product-photo",
        details="@editorial",
    )
    resolved = library.resolve(spec)
    assert resolved.subject == library.get("subject", "sneaker").text
    assert resolved.background == "on a dark raw concrete floor"
    assert resolved.lighting == library.get("lighting", "soft-overhead").text
    assert resolved.style == library.get("style", "product-photo").text
    assert resolved.details == library.get("style", "editorial").text  # details refer to styles
    assert compose(spec, library) == compose(resolved, library)


def test_resolve_keeps_words_after_the_reference_and_leaves_free_text_alone(library: TemplateLibrary) -> None:
    spec = PromptSpec(subject="a brass desk lamp", background="@studio-white with a faint reflection")
    resolved = library.resolve(spec)
    assert (
        resolved.background
        == "seamless white studio background with a soft floor shadow with a faint reflection"
    )
    assert resolved.subject == "a brass desk lamp"
    plain = PromptSpec(subject="a brass desk lamp", background="on a walnut desk")
    assert library.resolve(plain) is plain


def test_compose_resolves_references_from_the_default_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_PROMPTS", raising=False)
    spec = PromptSpec(
        subject="a white leather sneaker", background="@dark-concrete", lighting="@soft-overhead"
    )
    assert compose(spec) == (
        "a white leather sneaker, on a dark raw concrete floor, soft overhead studio light with a subtle "
        "shadow "
        "underneath, high resolution"
    )


def test_an_unknown_template_names_the_kind_a_close_match_and_how_to_list_them(
    library: TemplateLibrary,
) -> None:
    with pytest.raises(TemplateError) as caught:
        library.resolve(PromptSpec(subject="a mug", background="@studo-white"))
    assert str(caught.value) == (
        "Unknown background template '@studo-white'; did you mean '@studio-white'? "
        "List them with `workbench templates background`."
    )
    assert caught.value.name == "studo-white"


def test_an_unknown_template_without_a_close_match(library: TemplateLibrary) -> None:
    with pytest.raises(
        TemplateError,
        match=r"^Unknown lighting template '@zzzz'; list them with "
        r"`workbench templates lighting`\.$",
    ):
        compose(PromptSpec(subject="a mug", lighting="@zzzz"), library)


def test_a_reference_looks_in_its_own_kind_only(library: TemplateLibrary) -> None:
    # studio-white is a background, not a style.
    with pytest.raises(TemplateError, match="Unknown style template '@studio-white'"):
        library.resolve(PromptSpec(subject="a mug", style="@studio-white"))


def test_a_bare_at_sign_is_explained(library: TemplateLibrary) -> None:
    with pytest.raises(TemplateError, match="The background starts with '@' but names no template"):
        library.resolve(PromptSpec(subject="a mug", background="@ home"))


def test_get_accepts_the_at_sign_and_rejects_unknown_kinds(library: TemplateLibrary) -> None:
    assert library.get("background", "@marble") == library.get("background", "marble")
    assert isinstance(library.get("style", "noir"), Template)
    assert "@marble" in library and "@nothing-like-this" not in library
    with pytest.raises(
        TemplateError, match=r"Unknown template kind 'backgrounds'; did you mean 'background'\?"
    ):
        library.names("backgrounds")
    assert set(KINDS) == {"subject", "background", "lighting", "style", "preset"}


# -- spec() from presets ----------------------------------------------------------------------


def test_spec_merges_your_fields_over_the_preset(library: TemplateLibrary) -> None:
    spec = library.spec(
        "marketing-poster",
        subject="a cyclist at full speed",
        texts=["SUMMER SALE 50% OFF"],
        aspect="4:5",
        lighting=None,
    )
    assert spec.subject == "a cyclist at full speed"
    assert spec.texts == (TextItem("SUMMER SALE 50% OFF"),)  # texts replace, they do not add
    assert spec.aspect == "4:5"
    assert spec.lighting == "@rim-light"  # None keeps the preset's value
    assert spec.background == "@navy-solid"
    assert spec.preset == "marketing-poster"
    assert "headline text reading 'SUMMER SALE 50% OFF'" in compose(spec, library)


def test_spec_without_a_preset(library: TemplateLibrary) -> None:
    spec = library.spec(subject="a teapot", background="@linen")
    assert spec.preset is None and spec.background == "@linen"


def test_spec_checks_names_and_fields_before_any_work(library: TemplateLibrary) -> None:
    with pytest.raises(TemplateError) as caught:
        library.spec("ecomerce-product")
    assert str(caught.value) == (
        "Unknown preset 'ecomerce-product'; did you mean 'ecommerce-product'? "
        "List them with `workbench templates preset`."
    )
    with pytest.raises(TemplateError, match="Unknown background template '@nowhere'"):
        library.spec("ecommerce-product", background="@nowhere")
    with pytest.raises(SpecError, match="Unknown spec field 'colour'"):
        library.spec("ecommerce-product", colour="red")
    with pytest.raises(SpecError, match="Unsupported aspect '7:5'"):
        library.spec("ecommerce-product", aspect="7:5")


# -- user folders -----------------------------------------------------------------------------


def test_a_user_folder_adds_templates_and_overrides_built_in_names(tmp_path: Path) -> None:
    mine = tmp_path / "brand"
    write(
        mine,
        "backgrounds.yaml",
        """\
kind: background
templates:
  marble: on a honed black marble plinth     # replaces the built-in marble
  brand-wall:
    text: flat wall painted deep navy (#1B2A4A)
    tags: brand
""",
    )
    write(
        mine,
        "presets.yaml",
        """\
kind: preset
presets:
  brand-shot:
    description: Our product on our wall.
    spec:
      subject: a ceramic mug
      background: "@brand-wall"
      lighting: "@soft-left"     # from the built-in folder
      aspect: 16:9               # unquoted on purpose: stays the text 16:9
""",
    )
    library = TemplateLibrary.default(extra=[mine])
    assert library.folders == (BUILTIN, mine)
    assert library.get("background", "marble").text == "on a honed black marble plinth"
    assert library.get("background", "marble").file == str(mine / "backgrounds.yaml")
    assert library.get("background", "brand-wall").tags == ("brand",)
    assert "on a honed black marble plinth" in compose(library.spec("ecommerce-product"), library)
    brand = library.spec("brand-shot")
    assert brand.aspect == "16:9"
    assert compose(brand, library).startswith(
        "a ceramic mug, flat wall painted deep navy (#1B2A4A), soft diffused"
    )
    # The built-in library is untouched.
    assert (
        TemplateLibrary.load(BUILTIN)
        .get("background", "marble")
        .text.startswith("on a polished white marble")
    )


def test_subfolders_and_other_files_are_not_templates(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    write(folder, "styles.yml", "kind: style\ntemplates:\n  chalk: chalk drawing on a blackboard\n")
    write(folder / "experiments", "grid.yaml", "factors: {lighting: [a, b]}\n")
    write(folder, "README.md", "# not yaml\n")
    write(folder, "empty.yaml", "# nothing here yet\n")
    library = TemplateLibrary.load(folder)
    assert library.names("style") == ["chalk"]
    assert len(library) == 1


def test_the_default_library_is_cached_and_reloads_when_a_file_changes(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    path = write(mine, "lighting.yaml", "kind: lighting\ntemplates:\n  lamp: a single desk lamp\n")
    first = TemplateLibrary.default(extra=[mine])
    assert TemplateLibrary.default(extra=[mine]) is first
    path.write_text("kind: lighting\ntemplates:\n  lamp: two warm desk lamps glowing\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = TemplateLibrary.default(extra=[mine])
    assert second is not first
    assert second.get("lighting", "lamp").text == "two warm desk lamps glowing"


def test_workbench_prompts_replaces_the_built_in_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write(
        tmp_path / "team", "subjects.yaml", "kind: subject\ntemplates:\n  kettle: a copper kettle\n"
    ).parent
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(folder))
    library = TemplateLibrary.default()
    assert library.names("subject") == ["kettle"]
    assert library.names("preset") == []


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="The template folder .*nowhere does not exist"):
        TemplateLibrary.load(tmp_path / "nowhere")


# -- bad files --------------------------------------------------------------------------------


def load_error(tmp_path: Path, name: str, text: str) -> TemplateError:
    path = write(tmp_path / "bad", name, text)
    with pytest.raises(TemplateError) as caught:
        TemplateLibrary.load(path.parent)
    error = caught.value
    assert error.file == str(path)
    # file:line: field: problem, the line from the YAML node marks.
    assert str(error).startswith(f"{path}:{error.line}: ")
    assert str(error).endswith((".", "?", ")."))
    return error


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        "styles.yaml",
        """\
kind: style
templates:
  noir: black-and-white film noir
  sketch: [pencil sketch, loose lines
  watercolour: loose watercolour
""",
    )
    assert error.line in (4, 5)
    assert "not valid YAML" in str(error)


def test_a_template_without_text(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        "styles.yaml",
        """\
kind: style
templates:
  editorial: minimalist editorial photography
  noir:
    description: Moody monochrome.
    tags: [photo]
""",
    )
    assert str(error) == f"{tmp_path / 'bad' / 'styles.yaml'}:4: templates.noir: template 'noir' has no text."
    assert (error.line, error.name) == (4, "noir")


def test_an_empty_template_text(tmp_path: Path) -> None:
    error = load_error(tmp_path, "styles.yaml", "kind: style\ntemplates:\n  noir:\n")
    assert error.line == 3 and str(error).endswith("template 'noir' has no text.")


def test_an_unknown_key_in_a_template(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        "styles.yaml",
        """\
kind: style
templates:
  noir:
    text: black-and-white film noir
    tag: [photo]
""",
    )
    assert error.line == 5
    assert "template 'noir' has an unknown key 'tag'; did you mean 'tags'?" in str(error)


def test_an_unknown_top_level_key(tmp_path: Path) -> None:
    error = load_error(tmp_path, "styles.yaml", "kind: style\ntemplate:\n  noir: film noir\n")
    assert error.line == 2
    assert "the file has an unknown key 'template'; did you mean 'templates'?" in str(error)


def test_a_file_without_a_kind_or_with_a_wrong_kind(tmp_path: Path) -> None:
    error = load_error(tmp_path, "styles.yaml", "templates:\n  noir: film noir\n")
    assert error.line == 1 and "the file has no 'kind'" in str(error)
    error = load_error(tmp_path, "styles.yaml", "kind: styles\ntemplates:\n  noir: film noir\n")
    assert error.line == 1 and "unknown kind 'styles'; did you mean 'style'?" in str(error)


def test_a_name_twice_in_one_file_or_one_folder(tmp_path: Path) -> None:
    error = load_error(tmp_path, "styles.yaml", "kind: style\ntemplates:\n  noir: a\n  pop: b\n  noir: c\n")
    assert error.line == 5 and "templates.noir: the key 'noir' appears twice (first on line 3)" in str(error)
    (tmp_path / "bad" / "styles.yaml").unlink()
    write(tmp_path / "bad", "a.yaml", "kind: style\ntemplates:\n  noir: film noir\n")
    path = write(tmp_path / "bad", "b.yaml", "kind: style\ntemplates:\n\n  noir: other noir\n")
    with pytest.raises(TemplateError) as caught:
        TemplateLibrary.load(tmp_path / "bad")
    assert caught.value.file == str(path) and caught.value.line == 4
    assert "style 'noir' is already defined in" in str(caught.value)


def test_an_unknown_field_in_a_preset_spec(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        "presets.yaml",
        """\
kind: preset
presets:
  poster:
    description: A poster.
    spec:
      subject: a runner
      backgroud: dark navy
""",
    )
    assert error.line == 7 and error.name == "poster"
    assert "preset 'poster' has an unknown spec field 'backgroud'; did you mean 'background'?" in str(error)


def test_an_invalid_value_in_a_preset_spec_points_at_its_line(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        "presets.yaml",
        """\
kind: preset
presets:
  poster:
    spec:
      subject: a runner
      aspect: "16:10"
""",
    )
    assert error.line == 6
    assert "in preset 'poster', unsupported aspect '16:10': choose one of 1:1" in str(error)
    error = load_error(
        tmp_path,
        "presets.yaml",
        """\
kind: preset
presets:
  poster:
    spec:
      subject: a runner
      texts:
        - {text: SALE, role: banner}
""",
    )
    assert error.line == 6 and "unsupported text role 'banner'" in str(error)


def test_a_preset_referring_to_an_unknown_template(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        "presets.yaml",
        """\
kind: preset
presets:
  poster:
    spec:
      subject: a runner
      lighting: "@golden-hour"
      background: "@studo-white"
""",
    )
    assert error.line == 7
    assert "in preset 'poster', unknown background template '@studo-white'" in str(error)


def test_spec_fields_outside_spec_and_a_preset_without_spec(tmp_path: Path) -> None:
    error = load_error(tmp_path, "presets.yaml", "kind: preset\npresets:\n  poster:\n    subject: a runner\n")
    assert error.line == 4 and "preset 'poster' has 'subject' outside its spec" in str(error)
    error = load_error(tmp_path, "presets.yaml", "kind: preset\npresets:\n  poster:\n    description: x\n")
    assert error.line == 3 and "preset 'poster' has no spec." in str(error)


def test_a_template_name_with_spaces_is_refused(tmp_path: Path) -> None:
    error = load_error(tmp_path, "styles.yaml", "kind: style\ntemplates:\n  film noir: black and white\n")
    assert error.line == 3 and "the style name 'film noir' may use only letters" in str(error)
