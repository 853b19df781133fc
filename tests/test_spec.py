from __future__ import annotations

import pytest

from workbench import Character, PromptSpec, SpecError, TextItem, compose
from workbench.spec import ASPECTS, MAX_PROMPT_CHARS, size_for


def test_compose_order_and_quoting():
    spec = PromptSpec(
        subject="a bold lifestyle poster",
        background="dark navy background",
        lighting="soft studio light",
        style="minimal editorial layout",
        texts=[TextItem("MOVE FORWARD"), TextItem("Shop now", role="subtext")],
        quality="high",
    )
    prompt = compose(spec)
    assert prompt == (
        "a bold lifestyle poster, dark navy background, soft studio light, minimal editorial layout, "
        "headline text reading 'MOVE FORWARD', subtext reading 'Shop now', 4K, ultra detailed"
    )
    positions = [prompt.index(part) for part in ("poster", "navy", "studio", "editorial", "4K")]
    assert positions == sorted(positions)


def test_text_with_apostrophe_uses_double_quotes():
    assert 'headline text reading "IT\'S ON"' in compose(PromptSpec(subject="a poster", texts=["IT'S ON"]))


def test_labels_become_ordered_steps():
    spec = PromptSpec(
        subject="a clean infographic",
        texts=[{"text": t, "role": "label"} for t in ("Input", "Process", "Output")],
    )
    assert (
        "3 labeled steps in order: step 1 labeled 'Input', step 2 labeled 'Process', step 3 labeled 'Output'"
        in compose(spec)
    )


def test_character_description_leads_every_prompt_of_a_series():
    mia = Character("Mia", "a young girl, age 8, curly red hair, yellow raincoat")
    for scene in ("standing in a park", "reading under a tree"):
        prompt = compose(PromptSpec(subject=scene, character=mia))
        assert prompt.startswith("[Mia, a young girl, age 8, curly red hair, yellow raincoat] " + scene)
    alone = compose(PromptSpec(character=mia, background="a city park"))
    assert alone.startswith("[Mia, a young girl, age 8, curly red hair, yellow raincoat], a city park")


@pytest.mark.parametrize("fmt", ["dict", "json", "yaml"])
def test_round_trip(fmt):
    spec = PromptSpec(
        subject="a mug",
        background="walnut table",
        texts=[TextItem("日本語", role="label")],
        aspect="3:2",
        quality="high",
        n=2,
        seed=7,
        character=Character("Rex", "a small green dinosaur"),
        preset="ecommerce-product",
    )
    if fmt == "dict":
        again = PromptSpec.from_dict(spec.to_dict())
    elif fmt == "json":
        again = PromptSpec.from_json(spec.to_json())
    else:
        again = PromptSpec.from_yaml(spec.to_yaml())
    assert again == spec


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"aspect": "7:5"}, "Unsupported aspect '7:5': choose one of 1:1, 2:3, 3:2"),
        ({"quality": "ultra"}, "Unsupported quality 'ultra'"),
        ({"n": 0}, "n must be a whole number from 1 to 10"),
        ({"texts": [{"text": "  "}]}, "An exact text is empty"),
        ({"texts": [{"text": "x", "role": "caption"}]}, "Unsupported text role 'caption'"),
        ({"seed": "abc"}, "The seed must be a whole number"),
    ],
)
def test_invalid_fields_name_the_problem(fields, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(")):
        PromptSpec(subject="a mug", **fields)


def test_unknown_field_in_dict():
    with pytest.raises(SpecError, match="Unknown spec field 'colour'"):
        PromptSpec.from_dict({"subject": "a mug", "colour": "red"})


def test_invalid_yaml_says_where():
    with pytest.raises(SpecError, match=r"^spec:2: the file is not valid YAML"):
        PromptSpec.from_yaml("subject: a mug\n  aspect: [1:1\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("subject: a mug\n  aspect: [1:1\n", "s.yaml:2: the file is not valid YAML"),
        ("subject: a mug\nsubject: a cup\n", "s.yaml:2:"),  # a key written twice
        ("subject: a mug\naspct: '16:9'\n", "s.yaml:2: aspct: unknown spec field. Did you mean 'aspect'?"),
        ("subject: a mug\nquality: ultra\n", "s.yaml:2: quality: Unsupported quality 'ultra'"),
        ("- a mug\n", "s.yaml:1: a spec is a mapping of its fields"),
    ],
)
def test_a_spec_file_is_read_by_the_shared_yaml_reader(tmp_path, cli, text, message):
    """--spec said "not valid YAML at line 2." with no file or field, took a key written twice
    and gave no did-you-mean."""
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        PromptSpec.from_file(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
    code, out, err = cli("generate", "--spec", str(path), "--dry-run")
    assert code == 1 and out == "" and message in err and err.count("\n") == 1


def test_a_spec_file_keeps_an_aspect_as_written(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("subject: a mug\naspect: 16:9\nquality: high\n")  # unquoted 16:9 is base 60 in YAML 1.1
    spec = PromptSpec.from_file(path)
    assert spec.aspect == "16:9" and spec.quality == "high"


def test_empty_and_overlong_prompts():
    with pytest.raises(SpecError, match="The prompt is empty"):
        compose(PromptSpec())
    with pytest.raises(SpecError, match="limit is 32,000"):
        compose(PromptSpec(subject="x" * (MAX_PROMPT_CHARS + 1)))


def test_sizes_match_the_service():
    assert size_for("1:1", "medium") == (1024, 1024)
    assert size_for("2:3", "medium") == (1024, 1536)
    assert size_for("3:2", "medium") == (1536, 1024)
    assert size_for("16:9", "high") == (3840, 2160)
    for aspect in ASPECTS:
        for quality in ("low", "medium", "high"):
            w, h = size_for(aspect, quality)
            assert w % 16 == 0 and h % 16 == 0 and w * h <= 3840 * 2160 and max(w, h) / min(w, h) <= 3
            a, b = map(int, aspect.split(":"))
            assert abs(w / h - a / b) < 0.02, (aspect, w, h)


def test_a_template_reference_needs_a_library_and_workbench_compose_brings_the_default_one():
    from workbench import spec as spec_module
    from workbench.errors import TemplateError

    spec = PromptSpec(subject="a white leather sneaker", background="@dark-concrete")
    with pytest.raises(TemplateError, match="'@dark-concrete' is a template reference"):
        spec_module.compose(spec)  # the spec module reads no template files
    assert "dark raw concrete floor" in compose(spec)  # workbench.compose finds the default library


def test_the_spec_fields_are_written_once():
    import dataclasses

    from workbench.batch import experiments
    from workbench.spec import FIELD_KINDS, SPEC_FIELDS, STRING_FIELDS, TEMPLATE_KINDS
    from workbench.templates import KINDS
    from workbench.widgets import panel

    assert SPEC_FIELDS == tuple(f.name for f in dataclasses.fields(PromptSpec))
    assert tuple(PromptSpec(subject="a mug").to_dict()) == SPEC_FIELDS
    assert FIELD_KINDS == {
        "subject": "subject",
        "background": "background",
        "lighting": "lighting",
        "style": "style",
        "details": "style",
    }
    assert KINDS == (*TEMPLATE_KINDS, "preset") and panel.TEMPLATE_FIELDS == TEMPLATE_KINDS
    assert set(experiments.SPEC_FIELDS) == set(SPEC_FIELDS) - {"character"}
    assert set(STRING_FIELDS) == {
        "subject",
        "background",
        "lighting",
        "style",
        "details",
        "aspect",
        "quality",
    }
