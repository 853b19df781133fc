"""The prompt linter: for each rule, prompts that must trigger it and prompts that must not."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.lint import RULES, Finding, lint
from workbench.spec import PromptSpec, TextItem, compose
from workbench.templates import TemplateLibrary

# Good prompts people copy from the product walkthrough: every one must lint clean.
GOOD_PROMPTS = [
    "A white leather sneaker on dark concrete, soft overhead studio light, subtle shadow underneath, "
    "product photography, 4K",
    "A matte black water bottle on a white marble surface, soft diffused light from the left, minimal "
    "shadow, "
    "studio product photography, 4K",
    "A bold lifestyle poster, dark navy background, large white serif headline text reading 'MOVE FORWARD', "
    "minimal layout, centered composition, 4K",
    "A young girl, age 8, curly red hair, freckles, wearing a yellow raincoat and red boots, standing in a "
    "park, "
    "overcast light, flat storybook illustration style",
    "A clean infographic diagram showing 3 steps in a horizontal flow: Step 1 labeled 'Input', Step 2 "
    "labeled "
    "'Process', Step 3 labeled 'Output'. Each step in a circle. White background, blue and gray color "
    "scheme, "
    "sans-serif labels, minimal design",
    "A modern living room, late afternoon sunlight through large floor-to-ceiling windows, cream sofa, "
    "walnut "
    "coffee table, indoor plants, clean Scandinavian interior design, architectural visualization style, 4K",
    "a ceramic coffee mug on a wooden table, warm side light, lifestyle photography",
    "a product label with the text reading 'COLD BREW COFFEE'",
    "A craft coffee bag label, kraft paper texture, bold dark brown serif font, product name text reading "
    "'MORNING RITUAL', subtext reading 'Single Origin Ethiopia · Medium Roast', minimal design",
    "A vibrant Instagram Story graphic with a gradient background from coral to peach, bold white sans-serif "
    "text reading 'NEW COLLECTION', subtext reading 'Shop Now →', clean and modern minimalist layout",
    "A clean product poster, white background, large black serif Chinese text reading '신제품 출시', "
    "subtext in smaller text reading 'New Arrival', minimal layout, 4K",
    "A matte black stainless steel water bottle on a clean white studio background, soft cinematic lighting "
    "from the left side, subtle natural shadows, high-end commercial product photography style",
    "A lifestyle flat lay of luxury skincare products on a cream linen surface, warm morning sunlight with "
    "soft "
    "palm leaf shadows, bold black serif text reading 'YOUR SKIN, ELEVATED', elegant editorial layout",
    "A modern home office setup with a high-end laptop, a cup of steaming coffee, and a small succulent, "
    "soft "
    "focus background, vibrant colors, clean minimal design, space for text overlay on the right",
    'a neon sign reading "OPEN LATE" on a rain-soaked street at night, cinematic photography',
    "a mountain lake at sunrise, mist over the water, 4K landscape photography",
]


def codes(prompt: str | PromptSpec, **kwargs: object) -> list[str]:
    return [finding.code for finding in lint(prompt, **kwargs)]  # type: ignore[arg-type]


@pytest.mark.parametrize("prompt", GOOD_PROMPTS)
def test_good_prompts_lint_clean(prompt: str) -> None:
    assert lint(prompt) == []


def check(code: str, prompt: str, *, triggers: bool) -> list[Finding]:
    found = [f for f in lint(prompt) if f.code == code]
    if triggers:
        assert found, f"{code} should flag: {prompt!r}"
    else:
        assert not found, f"{code} should not flag {prompt!r}: {found}"
    return found


# -- WB001 too vague --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "a nice product photo",
        "something cool",
        "beautiful image",
        "a cat",
        "a ceramic coffee mug",
        "make me a picture of a car",
        "a really stunning poster",
    ],
)
def test_wb001_flags_vague_prompts(prompt: str) -> None:
    (finding,) = check("WB001", prompt, triggers=True)
    assert "too vague" in finding.message
    assert "surface" in finding.fix and "lighting" in finding.fix and "style" in finding.fix


@pytest.mark.parametrize(
    "prompt",
    [
        "a ceramic coffee mug on a wooden table, warm side light, lifestyle photography",
        "a nice product photo of a walnut cutting board on a marble counter, soft window light",
        "a red sports car on a coastal road",
        "portrait of an old fisherman, golden hour, 85mm photo",
        "a beautiful image of a lighthouse on a rocky cliff at sunset, oil painting style",
    ],
)
def test_wb001_leaves_specific_prompts_alone(prompt: str) -> None:
    check("WB001", prompt, triggers=False)


def test_wb001_names_what_is_missing() -> None:
    (finding,) = lint("a nice product photo")
    assert finding.message == (
        "The prompt is too vague: 'a nice product photo' is generic and it names no setting or lighting."
    )


# -- WB002 contradictory lighting -------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "a lake in bright midday sun under a moody night sky, photo",
        "a street at night, bright midday sun, photo",
        "a vase on a table, soft diffused light and harsh hard light, studio photo",
        "a vase on a table, key light from the left and light from the right, studio photo",
        "golden hour portrait of a man on an overcast day, photo",
        "a beach at sunset in bright midday sun, photo",
        "a dancer on a stage, high-key lighting, dark and moody atmosphere, photo",
        "a barn in a field at sunrise under a starry sky, painting",
    ],
)
def test_wb002_flags_contradictory_lighting(prompt: str) -> None:
    findings = check("WB002", prompt, triggers=True)
    assert all("Pick one" in f.fix or "one direction" in f.fix for f in findings)


@pytest.mark.parametrize(
    "prompt",
    [
        "a child's toy on a wooden floor, soft light from the left, rim light from the right, photo",
        "a man at a midnight blue desk, soft light from the upper left, photo",
        "a city street at dusk, neon lights, cinematic photo",
        "a high-key portrait of a woman with a moody expression, studio light, photo",
        "a car driving in from the left, soft morning light from the right, photo",
        "warm golden hour sunlight low from the side, long soft shadows",
        "soft diffused light from the left, gentle shadow falling to the right",
    ],
)
def test_wb002_allows_one_mood_and_secondary_lights(prompt: str) -> None:
    check("WB002", prompt, triggers=False)


def test_wb002_quotes_both_sides() -> None:
    (finding,) = lint("a lake in bright midday sun under a moody night sky, photo")
    assert finding.message == (
        "The lighting contradicts itself: 'bright midday sun' and 'night' cannot both describe the light."
    )
    assert finding.excerpt == "bright midday sun under a moody night"


# -- WB003 text not quoted --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "literal"),
    [
        ("a shop window with a sign that says SALE, photo", "SALE"),
        ("a poster where the headline says BIG DEALS, bold design", "BIG DEALS"),
        ("a birthday card with the words Happy Birthday, watercolor", "Happy Birthday"),
        (
            "a honey jar with a label saying organic honey on a wooden table, warm light, photo",
            "organic honey",
        ),
        ("a bakery front with a wooden sign reading Fresh Bread, morning light, photo", "Fresh Bread"),
        ("a billboard with text reading BUY NOW above a highway, photo", "BUY NOW"),
        ("a diagram of three steps, step 1 labeled Input, flat design", "Input"),
        ("a book cover titled The Long Road, watercolor illustration", "The Long Road"),
        ("headline text: SUMMER SALE, bold poster design", "SUMMER SALE"),
    ],
)
def test_wb003_flags_text_that_is_not_quoted(prompt: str, literal: str) -> None:
    (finding,) = check("WB003", prompt, triggers=True)
    assert f"'{literal}'" in finding.message
    assert finding.fix.startswith("Put the exact text in quotes:") and f"'{literal}'" in finding.fix


@pytest.mark.parametrize(
    "prompt",
    [
        "a product label with a product name on it, studio photo",
        "a poster with a catchy slogan, bold minimal design, studio light",
    ],
)
def test_wb003_flags_text_that_is_implied_but_never_given(prompt: str) -> None:
    (finding,) = check("WB003", prompt, triggers=True)
    assert "does not give the exact words" in finding.message


@pytest.mark.parametrize(
    "prompt",
    [
        "a shop window with a sign that says 'SALE', photo",
        'a neon sign saying "OPEN LATE", rainy street at night, cinematic photo',
        "a neon sign saying “OPEN LATE”, rainy street at night, cinematic photo",
        "a poster that reads: 'Don't stop', bold typography on a yellow background",
        "a card with the words 'Happy Birthday' in gold foil, watercolor",
        "a woman reading a book in a cafe, warm window light, photo",
        "a woman holding a sign and reading a map in a park, golden hour, photo",
        "a cafe menu board that says the soup of the day, chalkboard style, warm light",
        "3 labeled steps in order: step 1 labeled 'Input', step 2 labeled 'Process'",
        "a dog named Max on a beach, golden hour, photo",
        "a sans-serif label in the corner of a clean layout, 'SALE' in bold, flat design",
    ],
)
def test_wb003_leaves_quoted_text_and_ordinary_reading_alone(prompt: str) -> None:
    check("WB003", prompt, triggers=False)


def test_wb003_suggests_double_quotes_for_an_apostrophe() -> None:
    (finding,) = [
        f for f in lint("a diner sign that says Joe's Diner, night, neon glow, photo") if f.code == "WB003"
    ]
    assert finding.fix == 'Put the exact text in quotes: sign that says "Joe\'s Diner".'


# -- WB004 too many main subjects -------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "a cat, a dog, a car and a rocket on a beach, golden hour, photo",
        "a cat and a dog and a parrot and a goldfish in a living room, photo",
        "a collage of a cat, a dog, a car and a rocket, photo",
        "a poster featuring a cat, a dog, a car and a rocket, bold design",
        "the Eiffel Tower, the Colosseum, the Taj Mahal and the Statue of Liberty at sunset, photo",
    ],
)
def test_wb004_flags_a_crowd_of_heroes(prompt: str) -> None:
    (finding,) = check("WB004", prompt, triggers=True)
    assert finding.severity == "warning"
    assert "4 main subjects" in finding.message
    assert "one main idea" in finding.fix and "follow-up edits" in finding.fix


def test_wb004_gives_three_heroes_an_info() -> None:
    (finding,) = check("WB004", "a cat, a dog and a parrot on a sofa, photo", triggers=True)
    assert finding.severity == "info"


@pytest.mark.parametrize(
    "prompt",
    [
        "a cat and a dog on a sofa, soft window light, photo",
        "a desk with a laptop, a lamp, a notebook, a pen and a plant, soft light, photo",
        "a family portrait of a mother, a father and two children on a beach, golden hour, photo",
        "a white sneaker, a dark concrete floor, a soft overhead light, a product photography style",
        "a black and white dog on a green lawn, midday sun, photo",
        "a knight wearing a helmet, a red cape and a silver sword, oil painting",
    ],
)
def test_wb004_leaves_one_idea_with_props_alone(prompt: str) -> None:
    check("WB004", prompt, triggers=False)


# -- WB005 brand colours ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "a poster in our brand colours, minimal design, studio light",
        "a flyer using our brand colors, clean layout",
        "a web banner in corporate colours, flat vector design",
        "a trade show booth in the company palette, 3D render",
        "an app icon in on-brand colours, flat design",
    ],
)
def test_wb005_flags_brand_colours_without_specifics(prompt: str) -> None:
    (finding,) = check("WB005", prompt, triggers=True)
    assert "deep navy (#1B2A4A) and warm white (#FAF8F5)" in finding.fix


@pytest.mark.parametrize(
    "prompt",
    [
        "a banner in our brand colours, deep navy (#1B2A4A) and warm white (#FAF8F5), flat design",
        "a poster in corporate colours navy and gold, minimal design",
        "a flyer in our brand palette #FF6B35 and #004E89, clean layout",
        "a poster with the headline 'OUR BRAND COLOURS', bold design",
        "a colourful poster of a parrot, flat vector design",
    ],
)
def test_wb005_accepts_named_or_coded_colours(prompt: str) -> None:
    check("WB005", prompt, triggers=False)


# -- WB006 pixel dimensions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "aspect"),
    [
        ("a mountain landscape at sunrise, 1920 x 1080 px, photo", "16:9"),
        ("a cat on a sofa, 1024x1024, photo", "1:1"),
        ("a tall banner, 1080×1920 pixels, flat design", "9:16"),
        ("a logo at 3000 pixels wide, flat vector design on a white background", None),
        ("an icon, 512px, flat design", None),
    ],
)
def test_wb006_flags_pixel_dimensions(prompt: str, aspect: str | None) -> None:
    (finding,) = check("WB006", prompt, triggers=True)
    assert finding.severity == "info"
    assert finding.excerpt and finding.excerpt in finding.fix
    if aspect:
        assert f"aspect '{aspect}'" in finding.fix


@pytest.mark.parametrize(
    "prompt",
    [
        "a 4K photo of a mountain lake at sunrise",
        "an 8K render of a city at night, cinematic",
        "a 24x36 inch poster of a lighthouse, vintage travel poster style",
        "a 3x3 grid of icons, flat design on a white background",
        "a poster with the headline '1920 x 1080', bold design",
        "a 35mm film photo of a street in 1990s Tokyo",
    ],
)
def test_wb006_leaves_resolution_words_and_other_numbers_alone(prompt: str) -> None:
    check("WB006", prompt, triggers=False)


# -- findings ---------------------------------------------------------------------------------

BAD = (
    "a sign that says SALE, a cat, a dog, a car and a rocket, bright midday sun, moody night, brand colours, "
    "1920x1080"
)


def test_findings_are_frozen_sentences_with_a_place() -> None:
    findings = lint(BAD)
    assert {f.code for f in findings} == {"WB002", "WB003", "WB004", "WB005", "WB006"}
    for finding in findings:
        assert finding.code in RULES and finding.title == RULES[finding.code]
        assert finding.message[0].isupper() and finding.message.endswith(".")
        assert finding.fix[0].isupper() and finding.fix.endswith(".")
        assert finding.severity in ("warning", "info")
        assert finding.span is not None and BAD[finding.span[0] : finding.span[1]] == finding.excerpt
        assert str(finding).startswith(finding.code)
    assert [f.span for f in findings] == sorted(f.span for f in findings)  # type: ignore[type-var]
    with pytest.raises(dataclasses.FrozenInstanceError):
        findings[0].code = "WB999"  # type: ignore[misc]


def test_empty_prompts_have_no_findings() -> None:
    assert lint("") == [] and lint("   ") == []
    with pytest.raises(TypeError):
        lint(42)  # type: ignore[arg-type]


# -- specs ------------------------------------------------------------------------------------


@pytest.fixture
def library() -> TemplateLibrary:
    return TemplateLibrary.default()


def test_a_spec_is_linted_as_its_composed_prompt(library: TemplateLibrary) -> None:
    spec = PromptSpec(subject="a mug", details="a sign that says SALE, 1920x1080")
    prompt = compose(spec, library)
    findings = lint(spec, templates=library)
    assert [f.code for f in findings] == ["WB003", "WB006"]
    for finding in findings:
        assert finding.span and prompt[finding.span[0] : finding.span[1]] == finding.excerpt


def test_a_spec_counts_heroes_in_its_subject_only(library: TemplateLibrary) -> None:
    # Fields join with commas; a background and a light are not extra heroes.
    calm = PromptSpec(
        subject="a white sneaker",
        background="a dark concrete floor",
        lighting="a soft top light",
        style="a product photo",
    )
    assert codes(calm, templates=library) == []
    crowded = calm.replace(subject="a cat, a dog, a car and a rocket")
    (finding,) = lint(crowded, templates=library)
    assert finding.code == "WB004" and finding.excerpt == "a cat, a dog, a car and a rocket"
    assert compose(crowded, library)[finding.span[0] : finding.span[1]] == finding.excerpt  # type: ignore[index]


def test_a_spec_texts_are_quoted_by_compose_and_not_flagged(library: TemplateLibrary) -> None:
    spec = library.spec(
        "marketing-poster", texts=[TextItem("SUMMER SALE 50% OFF"), TextItem("Today", "subtext")]
    )
    assert lint(spec, templates=library) == []


def test_an_unknown_template_in_a_spec_is_a_finding_not_an_error(library: TemplateLibrary) -> None:
    spec = PromptSpec(
        subject="a brass desk lamp on a walnut desk",
        background="@studo-white",
        lighting="@soft-left",
        style="@product-photo",
    )
    (finding,) = lint(spec, templates=library)
    assert finding.code == "WB007"
    assert (
        finding.message
        == "The background refers to '@studo-white', which is not a known background template."
    )
    assert finding.fix.startswith("Did you mean '@studio-white'?")
    assert finding.excerpt == "@studo-white"


def test_an_empty_spec_has_no_findings(library: TemplateLibrary) -> None:
    assert lint(PromptSpec(), templates=library) == []


def test_a_spec_with_only_a_subject_is_vague(library: TemplateLibrary) -> None:
    assert codes(PromptSpec(subject="a matte black bottle"), templates=library) == ["WB001"]


# -- one quote parser for the composer, the linter, the renderer and the check ----------------
QUOTED = [
    ("a sale poster, sign reading «SOLDES»", ["SOLDES"]),
    ("a shop window with 「セール」 in red", ["セール"]),
    ("a book cover titled 『夜の街』", ["夜の街"]),
    ("a banner, text reading “GRAND OPENING”", ["GRAND OPENING"]),
    ("a mug printed with ‘IT’S ON’", ["IT’S ON"]),
    ("a poster, headline 'DON'T STOP', subtext \"it's time\"", ["DON'T STOP", "it's time"]),
    ("don't worry, it's the dogs' bowl", []),
    # French spacing inside guillemets (space, no-break space, narrow no-break space) is still a quote
    ("les «\u00a0SOLDES\u00a0» d'été", ["SOLDES"]),
    ("« SOLDES »", ["SOLDES"]),
    ("une affiche «\u202fPROMO\u202f» et ‹ NOUVEAU ›", ["PROMO", "NOUVEAU"]),
    ("a shop window with 「 セール 」", ["セール"]),
    # 'n' is an elision of "and", not the headline
    ("rock 'n' roll poster saying 'LIVE TONIGHT'", ["LIVE TONIGHT"]),
    ("a rock 'n roll poster saying 'LIVE TONIGHT'", ["LIVE TONIGHT"]),
    ("fish ‘n’ chips shop, sign reading ‘OPEN’", ["OPEN"]),
]


@pytest.mark.parametrize(("prompt", "texts"), QUOTED)
def test_one_quote_parser_serves_the_linter_the_composer_and_the_draft(prompt, texts) -> None:
    from workbench.backends.draft import spec_from_prompt
    from workbench.quotes import quoted_texts
    from workbench.spec import compose as compose_spec

    assert quoted_texts(prompt) == texts
    assert [t.text for t in spec_from_prompt(prompt).texts] == texts  # the renderer draws them
    if texts:  # quoted for the linter too: no "put it in quotes" finding for them
        assert not [f for f in lint(prompt) if f.code == "WB003" and any(t in f.message for t in texts)]
        spec = PromptSpec(subject=prompt, texts=[TextItem(texts[0])])
        assert compose_spec(spec).count(texts[0]) == 1  # the composer quotes it once, where it stands


def test_a_free_prompts_quoted_text_becomes_the_specs_exact_text(wb) -> None:
    spec = wb.spec("a running shoe ad, text reading 'MOVE FORWARD', tagline 'Lighter than ever'")
    assert [(t.text, t.role) for t in spec.texts] == [
        ("MOVE FORWARD", "headline"),
        ("Lighter than ever", "subtext"),
    ]
    run = wb.generate("a running shoe ad, text reading 'MOVE FORWARD'")
    assert [t.text for t in run.spec.texts] == ["MOVE FORWARD"]
    assert wb.recipe(run.images[0])["layout"]["texts"][0]["text"] == "MOVE FORWARD"


def test_an_elision_is_not_the_headline_and_spaced_guillemets_are_stripped() -> None:
    from workbench.quotes import find_quotes, texts_in

    assert texts_in("rock 'n' roll poster saying 'LIVE TONIGHT'") == [("LIVE TONIGHT", "headline")]
    [quote] = find_quotes("les «\u00a0SOLDES\u00a0» d'été")
    assert quote.text == "SOLDES" and (quote.open, quote.close) == ("«", "»")
    assert find_quotes("a « b") == [] and find_quotes("« »") == []
