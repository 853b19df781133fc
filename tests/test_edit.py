"""Edits: regions merge into one mask; a model edit goes to the image service as one request and
one run; an instruction that needs no model stays local and free."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ledger_state
from PIL import Image

from workbench import CapabilityError, InputImageError, NeedsKeyError, SpecError, Workbench
from workbench.imaging.masks import build_mask, edited_area
from workbench.instructions import LocalOperation, map_instruction, output_size

EDITS = "/v1/images/edits"
KEY = "wbtest-edit-0000-DO-NOT-LEAK"

RECT = (40, 60, 200, 120)
POLYGON = [(600, 600), (900, 650), (820, 940), (640, 880)]


def _painted(size=(1024, 1024)) -> np.ndarray:
    painted = np.zeros((size[1], size[0]), np.uint8)
    yy, xx = np.ogrid[: size[1], : size[0]]
    painted[(xx - 300) ** 2 + (yy - 700) ** 2 <= 60**2] = 255  # a brush dab
    return painted


def _expected_areas(size=(1024, 1024)) -> list[np.ndarray]:
    rect = np.zeros((size[1], size[0]), bool)
    x, y, w, h = RECT
    rect[y : y + h, x : x + w] = True
    from PIL import ImageDraw

    poly = Image.new("L", size, 0)
    ImageDraw.Draw(poly).polygon(POLYGON, fill=255)
    return [rect, np.asarray(poly) > 0, _painted(size) > 0]


# -- masks ------------------------------------------------------------------------------------
def test_regions_merge_into_one_mask_of_the_image_size():
    png = build_mask([RECT, POLYGON, _painted()], (1024, 1024))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.mode == "RGBA" and image.size == (1024, 1024)
    edited = edited_area(png)
    union = np.zeros_like(edited)
    for area in _expected_areas():
        assert edited[area].all()
        union |= area
    assert (edited == union).all()  # nothing else is edited


def test_region_forms_and_a_painted_rgba_mask():
    as_dict = build_mask(
        [{"x": 10, "y": 10, "w": 20, "h": 20}, {"points": [(50, 50), (90, 50), (70, 90)]}], (100, 100)
    )
    assert edited_area(as_dict)[15, 15] and edited_area(as_dict)[60, 70] and not edited_area(as_dict)[95, 5]
    rgba = Image.new("RGBA", (100, 100), (0, 0, 0, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 10, 10))
    assert edited_area(build_mask(None, (100, 100), mask=rgba))[:10, :10].all()
    assert build_mask(None, (100, 100)) is None
    assert edited_area(build_mask("10,10,5,5", (100, 100)))[12, 12]


def test_bad_regions_are_refused_with_a_sentence():
    with pytest.raises(InputImageError, match="the mask is 50x50 but the image is 100x100".capitalize()):
        build_mask(None, (100, 100), mask=Image.new("L", (50, 50)))
    with pytest.raises(SpecError, match="lies outside the 100x100 image"):
        build_mask([(200, 200, 10, 10)], (100, 100))
    with pytest.raises(SpecError, match="has no area"):
        build_mask([(10, 10, 0, 10)], (100, 100))
    for wrong in ("10,10,100", "10,10,100,100,5"):  # three or five numbers: neither a box nor points
        with pytest.raises(SpecError, match="Cannot read the region"):
            build_mask([wrong], (100, 100))


# -- instructions -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,operation",
    [
        ("Convert to black and white, high contrast", LocalOperation("black_and_white", {"contrast": 0.8})),
        ("Make the overall lighting warmer — golden hour tone", LocalOperation("tone", {"warmth": 0.5})),
        ("make it a bit cooler", LocalOperation("tone", {"warmth": -0.25})),
        (
            "Replace the background with a white studio wall, keep the subject",
            LocalOperation("replace_background", {"background": "#F7F7F5"}),
        ),
        (
            "change the background to a gradient from coral to peach",
            LocalOperation("replace_background", {"background": "#F07F6B", "to": "#F6C4A4"}),
        ),
        ("remove the background", LocalOperation("remove_background", {})),
        ("crop to 3:2", LocalOperation("crop", {"aspect": "3:2"})),
        ("crop it square", LocalOperation("crop", {"aspect": "1:1"})),
        ("upscale to 4K for print", LocalOperation("upscale", {})),
        ('tone {"warmth": 0.3}', LocalOperation("tone", {"warmth": 0.3})),
        ("Change the background to a sunset beach scene, keep the foreground intact", None),
        ("Remove the coffee cup from the left side of the image and fill it naturally", None),
        ("Remove the watermark in the top-right corner", None),
        ("Change the jacket from red to navy blue", None),
    ],
)
def test_instructions_map_to_local_operations_or_to_the_service(text, operation):
    assert map_instruction(text) == operation
    if operation is not None:
        assert map_instruction(operation.describe()) == operation


# Twenty paraphrases, routed as a person means them (local and free unless a model is needed).
PARAPHRASES = [
    ("increase the contrast", LocalOperation("tone", {"contrast": 0.5})),
    ("more contrast, please", LocalOperation("tone", {"contrast": 0.5})),
    ("reduce the contrast", LocalOperation("tone", {"contrast": -0.4})),
    ("white background", LocalOperation("replace_background", {"background": "#FFFFFF"})),
    ("put it on a plain white background", LocalOperation("replace_background", {"background": "#FFFFFF"})),
    (
        "remove the background and put it on white",
        LocalOperation("replace_background", {"background": "#FFFFFF"}),
    ),
    ("make the background transparent", LocalOperation("remove_background", {})),
    ("cut out the product", LocalOperation("remove_background", {})),
    ("sharpen", LocalOperation("sharpen", {})),
    ("make it sharper", LocalOperation("sharpen", {"amount": 0.6})),
    ("rotate 90 degrees", LocalOperation("rotate", {"degrees": -90})),
    ("rotate it 90° counterclockwise", LocalOperation("rotate", {"degrees": 90})),
    ("turn it upside down", LocalOperation("rotate", {"degrees": 180})),
    ("flip horizontally", LocalOperation("flip", {"direction": "horizontal"})),
    ("upscale 2x", LocalOperation("upscale", {"factor": 2.0})),
    ("double the resolution", LocalOperation("upscale", {"factor": 2.0})),
    ("make the colours pop", LocalOperation("tone", {"saturation": 0.4})),
    ("brighten it up a bit", LocalOperation("tone", {"brightness": 0.2})),
    ("warm it up", LocalOperation("tone", {"warmth": 0.5})),
    ("put the sneaker on a rainy city street at night", None),
    # "turn" and "spin" rotate only beside an angle or a direction
    ("turn up the brightness", LocalOperation("tone", {"brightness": 0.4})),
    ("turn down the contrast", LocalOperation("tone", {"contrast": -0.4})),
    ("turn it sepia", LocalOperation("sepia", {"amount": 0.8})),
    ("turn it into a watercolour", None),  # a restyle: the image service
    ("spin the colours", None),  # a hue turn without an angle: asks (see below)
    ("rotate the hue by 30 degrees", LocalOperation("hue_shift", {"degrees": 30})),
    ("turn it 90 degrees to the left", LocalOperation("rotate", {"degrees": 90})),
    ("give it a quarter turn", LocalOperation("rotate", {"degrees": -90})),
    ("turn it sideways", LocalOperation("rotate", {"degrees": -90})),
    ("rotate it 45 degrees", LocalOperation("rotate", {"degrees": -45})),
    # local-sounding instructions that are local
    ("reduce the saturation", LocalOperation("tone", {"saturation": -0.4})),
    ("less saturation", LocalOperation("tone", {"saturation": -0.4})),
    ("lower the saturation", LocalOperation("tone", {"saturation": -0.4})),
    ("tone down the saturation", LocalOperation("tone", {"saturation": -0.4})),
    ("increase the saturation", LocalOperation("tone", {"saturation": 0.4})),
    ("make it a bit less bright", LocalOperation("tone", {"brightness": -0.2})),
    ("tone it down", LocalOperation("tone", {"contrast": -0.2, "saturation": -0.2})),
    ("make it pop more", LocalOperation("tone", {"contrast": 0.3, "saturation": 0.3})),
    ("soften the image", LocalOperation("blur", {"radius": 1.5})),
    ("add a slight blur", LocalOperation("blur", {"radius": 1.5})),
    ("remove noise", LocalOperation("denoise", {"strength": 0.5})),
    ("denoise it", LocalOperation("denoise", {"strength": 0.5})),
    ("add a vignette", LocalOperation("vignette", {"amount": 0.5})),
    ("invert the colours", LocalOperation("invert", {})),
    # sizes: exact factors; "bigger" without an amount is twice each side, "smaller" half
    ("make it twice as big", LocalOperation("upscale", {"factor": 2.0})),
    ("enlarge by 150%", LocalOperation("upscale", {"factor": 1.5})),
    ("make it bigger", LocalOperation("upscale", {"factor": 2.0})),
    ("upscale it", LocalOperation("upscale", {"factor": 2.0})),
    ("make it smaller", LocalOperation("resize", {"factor": 0.5})),
    ("shrink to half size", LocalOperation("resize", {"factor": 0.5})),
    ("resize to 800 px wide", LocalOperation("resize", {"width": 800})),
    ("shrink by 25%", LocalOperation("resize", {"factor": 0.75})),
    ("make it 50% bigger", LocalOperation("upscale", {"factor": 1.5})),
    ("make it 25% smaller", LocalOperation("resize", {"factor": 0.75})),
    ("scale to 50%", LocalOperation("resize", {"factor": 0.5})),
    # a change of file format is no edit: it asks, pointing at export (see below)
    ("convert to jpeg", None),
    ("make it a PNG", None),
    # a vintage look is a restyle: asks, offering sepia (see below)
    ("make it look vintage", None),
    # compound instructions: every step, in order
    ("make it brighter and warmer", LocalOperation("tone", {"brightness": 0.4, "warmth": 0.5})),
    (
        "add more contrast, then crop to square",
        LocalOperation(
            "chain",
            {
                "steps": [
                    {"operation": "tone", "params": {"contrast": 0.5}},
                    {"operation": "crop", "params": {"aspect": "1:1"}},
                ]
            },
        ),
    ),
    (
        "Replace the background with a red and blue gradient",
        LocalOperation("replace_background", {"background": "#D0312D", "to": "#2F6FD6"}),
    ),
    ("make it warm and golden", LocalOperation("tone", {"warmth": 0.5})),  # said twice: done once
    ("make it warmer and remove the coffee cup", None),  # a step needs a model: all to the service
    ("remove the background and put it on a beach", None),  # a beach is imagined, not painted
]


@pytest.mark.parametrize("text,operation", PARAPHRASES, ids=[t for t, _ in PARAPHRASES])
def test_paraphrased_instructions_route_as_a_person_means(text, operation):
    assert map_instruction(text) == operation
    if operation is not None:
        assert map_instruction(operation.describe()) == operation  # the run's prompt reads back


def test_at_least_twenty_paraphrases_are_kept():
    assert len(PARAPHRASES) >= 20


def test_upscale_2x_doubles_each_side_exactly(wb, tmp_path):
    path = tmp_path / "small.png"
    Image.new("RGB", (300, 200), (200, 60, 60)).save(path)
    plan = wb.plan_edit(path, "upscale 2x")
    assert plan.backend == "draft" and plan.estimate.credits == 0
    run = wb.edit(path, "upscale 2x")
    assert run.image().size == (600, 400)


def test_white_background_instruction_gives_white_not_transparency(wb, tmp_path):
    from bench.cutout_set import shaded_shot

    s = shaded_shot("circle", "gradient", 0, size=320, seed=3)
    path = tmp_path / "product.png"
    s.image.save(path)
    run = wb.edit(path, "remove the background and put it on white")
    out = run.image()
    assert run.backend == "draft" and run.credits == 0
    assert out.mode == "RGB" and tuple(np.asarray(out)[3, 3]) == (255, 255, 255)


ASKED = [
    ("blur the background", "a background blur"),
    ("straighten the horizon", "straightening"),
    ("make it look vintage", "a vintage look"),
    ("spin the colours", "a hue shift"),
    ("add film grain", "adding film grain"),
    ("sharpen and straighten the horizon", "straightening"),  # one step of a compound
]


@pytest.mark.parametrize("text,what", ASKED)
def test_an_unknown_local_sounding_edit_asks_instead_of_paying(wb, root, tmp_path, text, what):
    path = tmp_path / "photo.png"
    Image.new("RGB", (256, 256), "grey").save(path)
    before = ledger_state(root)
    with pytest.raises(SpecError, match="cannot do locally") as caught:
        wb.plan_edit(path, text)
    message = str(caught.value)
    assert what in message and "backend='openai'" in message and "--backend" not in message  # Python terms
    assert ledger_state(root) == before


def test_asks_offer_what_is_nearest_locally_not_nonsense():
    from workbench.instructions import local_sounding, unknown_local_error

    sentence = unknown_local_error("make it look vintage", local_sounding("make it look vintage"))
    assert "'make it sepia'" in sentence and "black and white" not in sentence
    sentence = unknown_local_error("spin the colours", local_sounding("spin the colours"))
    assert "'rotate the hue by 30 degrees'" in sentence
    for text in ("make it smaller", "shrink to half size", "add a slight blur", "invert the colours"):
        assert local_sounding(text) is None and map_instruction(text) is not None  # done, not asked


@pytest.mark.parametrize("text,fmt", [("convert to jpeg", "jpeg"), ("make it a PNG", "png")])
def test_a_format_conversion_points_at_export(wb, root, tmp_path, text, fmt):
    path = tmp_path / "photo.png"
    Image.new("RGB", (64, 64), "grey").save(path)
    before = ledger_state(root)
    with pytest.raises(SpecError, match="is a change of file format, not an edit") as caught:
        wb.plan_edit(path, text)
    assert f"wb.export(image, format='{fmt}')" in str(caught.value)
    assert ledger_state(root) == before


def test_a_compound_instruction_runs_every_step(wb, tmp_path):
    path = tmp_path / "photo.png"
    pixels = np.zeros((200, 300, 3), np.uint8)
    pixels[:, :150] = (90, 110, 130)
    pixels[:, 150:] = (150, 140, 120)
    Image.fromarray(pixels).save(path)
    run = wb.edit(path, "add more contrast, then crop to square")
    out = np.asarray(run.image().convert("RGB")).astype(int)
    assert run.backend == "draft" and run.credits == 0 and out.shape == (200, 200, 3)
    left, right = out[100, 10], out[100, 190]
    assert abs(int(right.mean()) - int(left.mean())) > abs(140 - 110)  # contrast is up, too
    warm = np.asarray(wb.edit(path, "make it brighter and warmer").image().convert("RGB")).astype(int)
    before = pixels.astype(int)
    assert warm.mean() > before.mean()  # brighter...
    assert (warm[..., 0] - warm[..., 2]).mean() > (before[..., 0] - before[..., 2]).mean()  # ...and warmer


def test_new_local_operations_do_what_they_say(wb, tmp_path):
    from workbench.imaging.finishing import apply

    rng = np.random.default_rng(4)
    flat = np.full((120, 160, 3), 128, np.uint8)
    noisy = np.clip(flat + rng.normal(0, 20, flat.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(noisy)
    assert np.asarray(apply(image, "denoise")).astype(float).std() < 0.5 * noisy.std()
    assert np.asarray(apply(image, "blur", radius=3)).astype(float).std() < 0.3 * noisy.std()
    vignetted = np.asarray(apply(Image.fromarray(flat), "vignette", amount=0.6)).astype(int)
    assert vignetted[60, 80].mean() == 128 and vignetted[0, 0].mean() < 80
    assert tuple(np.asarray(apply(Image.new("RGB", (4, 4), (10, 200, 30)), "invert"))[0, 0]) == (245, 55, 225)
    green = np.asarray(apply(Image.new("RGB", (4, 4), (220, 30, 30)), "hue_shift", degrees=120))[0, 0]
    assert green[1] > 150 and green[0] < 80 and green[2] < 80
    sepia = np.asarray(apply(Image.new("RGB", (4, 4), (60, 120, 200)), "sepia"))[0, 0].astype(int)
    assert sepia[0] > sepia[1] > sepia[2]  # brown: red over green over blue
    assert apply(image, "resize", width=80).size == (80, 60)
    assert apply(image, "resize", factor=0.5).size == (80, 60)
    assert apply(image, "resize", long_edge=320).size == (320, 240)
    path = tmp_path / "photo.png"
    image.save(path)
    assert wb.edit(path, "make it smaller").image().size == (80, 60)
    assert wb.edit(path, "resize to 100 px wide").image().size == (100, 75)


@pytest.mark.parametrize("degrees", [45, -45, 30, 10, 1, 17.5, -170, 89.9])
def test_a_rotation_dry_run_gives_the_size_the_result_has(wb, tmp_path, degrees):
    from workbench.imaging.finishing import rotate, rotate_size

    for size in ((1024, 1024), (300, 200), (1000, 701), (7, 13)):
        assert rotate(Image.new("RGB", size), degrees=degrees).size == rotate_size(size, degrees)
    path = tmp_path / "photo.png"
    Image.new("RGB", (1024, 1024), "grey").save(path)
    plan = wb.plan_edit(path, "rotate it 45 degrees")
    assert plan.request.size == "1450x1450"
    assert wb.edit(path, "rotate it 45 degrees").image().size == (1450, 1450)


def test_rotate_by_name_turns_the_way_rotate_it_does(wb, tmp_path):
    from workbench.imaging.finishing import apply

    image = Image.new("RGB", (30, 20), "white")
    image.putpixel((0, 0), (255, 0, 0))
    by_name = apply(image, "rotate")
    said = apply(image, map_instruction("rotate it").operation, **map_instruction("rotate it").params)
    assert by_name.tobytes() == said.tobytes() and by_name.getpixel((19, 0)) == (255, 0, 0)  # clockwise


def test_rotate_and_sharpen_run_locally(wb, tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (300, 200), "grey").save(path)
    assert wb.edit(path, "rotate 90 degrees").image().size == (200, 300)
    assert wb.edit(path, "sharpen").image().size == (300, 200)


def test_output_size_predicts_crop_and_upscale():
    assert output_size(LocalOperation("upscale"), (1536, 1024)) == (3840, 2560)
    assert output_size(map_instruction("enlarge by 150%"), (1024, 1024)) == (1536, 1536)  # not 3.75x
    assert output_size(map_instruction("add more contrast, then crop to square"), (300, 200)) == (200, 200)
    assert output_size(map_instruction("make it smaller"), (1536, 1024)) == (768, 512)
    assert output_size(LocalOperation("crop", {"aspect": "1:1"}), (1536, 1024)) == (1024, 1024)
    assert output_size(LocalOperation("tone", {"warmth": 1}), (10, 20)) == (10, 20)


# -- through the image service ----------------------------------------------------------------
@pytest.fixture
def service_wb(root, openai_server, monkeypatch):
    from workbench.backends.openai import RetryPolicy

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    bench = Workbench(
        root,
        backend_options={
            "openai": {
                "base_url": openai_server.base_url,
                "timeout": 10,
                "retry": RetryPolicy(max_retries=1, backoff=0.01),
            }
        },
    )
    bench.wallet.topup(100)
    yield bench
    bench.close()


def test_multi_region_edit_sends_one_mask_with_every_region_and_records_one_run(service_wb, openai_server):
    wb = service_wb
    source = wb.generate("a coffee cup and a croissant on a table", aspect="1:1")
    runs_before = len(wb.runs())
    run = wb.edit(source, "Remove the coffee cup and fill it naturally", regions=[RECT, POLYGON, _painted()])
    assert run.status == "ok" and run.kind == "edit" and run.backend == "openai"
    assert run.parent_id == source.id and run.credits > 0 and run.fingerprint
    assert openai_server.counts == {EDITS: 1}
    fields, files = openai_server.requests[-1].form()
    assert len(files["mask"]) == 1 and len(files["image"]) == 1
    assert fields["prompt"] == "Remove the coffee cup and fill it naturally" and fields["size"] == "1024x1024"
    edited = edited_area(files["mask"][0])
    assert edited.shape == (1024, 1024)
    for area in _expected_areas():
        assert edited[area].all()
    assert files["image"][0] == source.images[0].read_bytes()
    frame = wb.runs()
    assert len(frame) == runs_before + 1
    row = frame.iloc[-1]
    assert row["id"] == run.id and row["parent_id"] == source.id and row["kind"] == "edit"
    again = wb.edit(
        source, "Remove the coffee cup and fill it naturally", regions=[RECT, POLYGON, _painted()]
    )
    assert again.cached and again.credits == 0 and openai_server.counts == {EDITS: 1}


def test_references_travel_as_more_images(service_wb, openai_server, tmp_path):
    wb = service_wb
    hero = wb.generate("Mia, a girl with a red scarf, waving", aspect="2:3")
    path = tmp_path / "reference.png"
    Image.new("RGB", (512, 512), "white").save(path)
    run = wb.edit(hero, "Mia riding a bicycle, same character", references=[path])
    _, files = openai_server.requests[-1].form()
    assert len(files["image"]) == 2 and "mask" not in files
    assert run.parent_id == hero.id and run.size == "1024x1536"


def test_an_upload_of_any_size_is_sent_at_the_nearest_size_the_model_makes(
    service_wb, openai_server, tmp_path
):
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (1000, 700), "grey").save(path)
    run = service_wb.edit(path, "add a red balloon", regions=[(10, 10, 100, 100)])
    fields, files = openai_server.requests[-1].form()
    assert fields["size"] == "1536x1024" and run.size == "1536x1024"
    assert Image.open(io.BytesIO(files["mask"][0])).size == (1000, 700)


def test_a_model_edit_without_a_key_changes_nothing(wb, root):
    source = wb.generate("a red mug")
    before = ledger_state(root)
    with pytest.raises(NeedsKeyError):
        wb.edit(source, "put a ribbon on the mug", regions=[(0, 0, 10, 10)])
    assert ledger_state(root) == before


def test_plan_edit_shows_the_service_request_without_a_key_or_a_row(wb, root):
    source = wb.generate("a red mug", aspect="1:1")
    before = ledger_state(root)
    plan = wb.plan_edit(source, "put a ribbon on the mug", regions=[RECT, POLYGON])
    assert plan.backend == "openai" and plan.request.kind == "edit" and plan.estimate.credits > 0
    assert plan.request.size == source.size and plan.parent_id == source.id
    area = edited_area(plan.request.mask)
    assert area.shape == (1024, 1024) and area[100, 100] and area[700, 750] and not area[0, 0]
    assert ledger_state(root) == before  # nothing sent, nothing logged, nothing charged
    assert wb.plan_edit(source, "make it warmer").backend == "draft"


def test_draft_refuses_an_edit_it_cannot_do_locally(wb):
    source = wb.generate("a red mug")
    with pytest.raises(CapabilityError, match="edits locally only"):
        wb.edit(source, "put a ribbon on the mug", backend="draft")
    with pytest.raises(SpecError, match="not a local finishing operation"):
        wb.finish(source, "put a ribbon on the mug")


# -- local edits with regions -------------------------------------------------------------------
def test_a_local_edit_with_regions_changes_only_the_regions(wb):
    source = wb.generate("a red mug on a white table", aspect="1:1")
    run = wb.edit(source, "convert to black and white", regions=[(0, 0, 512, 1024)])
    assert run.backend == "draft" and run.credits == 0 and run.parent_id == source.id
    before = np.asarray(source.image().convert("RGB")).astype(int)
    after = np.asarray(run.image().convert("RGB")).astype(int)
    left, right = after[:, :512], after[:, 512:]
    assert (left[..., 0] == left[..., 2]).all()
    assert (right == before[:, 512:]).all()


# -- the command line ---------------------------------------------------------------------------


def test_cli_edit_finish_export_and_check_text(root, cli, tmp_path):
    code, out, _ = cli("generate", "a red mug", "--headline", "HELLO WORLD", "--json")
    assert code == 0
    source = json.loads(out)
    image = source["images"][0]
    code, out, _ = cli("edit", image, "make the lighting warmer", "--json")
    warm = json.loads(out)
    assert (
        code == 0
        and warm["backend"] == "draft"
        and warm["credits"] == 0
        and warm["parent_id"] == source["id"]
    )
    code, out, _ = cli(
        "edit", source["id"], "convert to black and white", "--region", "0,0,100,100", "--json"
    )
    assert code == 0 and json.loads(out)["parent_id"] == source["id"]
    code, out, _ = cli("finish", image, "crop", "--aspect", "3:2", "--json")
    assert code == 0 and json.loads(out)["size"] == "1024x683"
    code, out, _ = cli("finish", image, "overlay_text", "--headline", "EXACT", "--label", "WORDS", "--json")
    assert code == 0 and json.loads(out)["credits"] == 0
    code, out, _ = cli("export", image, "--out", str(tmp_path))
    assert code == 0 and "smaller than PNG" in out
    code, out, err = cli("edit", image, "put a ribbon on it", "--region", "0,0,10,10")
    assert code == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    from workbench.imaging.ocr import ocr_available

    if ocr_available():
        code, out, err = cli("check-text", image)
        assert code == 0 and "HELLO WORLD" in out and "mean text accuracy" in err


def test_cli_edit_dry_run_names_the_local_operations_and_advice_is_in_cli_terms(root, cli, wb):
    run = wb.generate("a speckled mug on a walnut table", aspect="1:1")
    before = ledger_state(root)
    code, out, _ = cli("edit", run.id, "make it brighter and warmer", "--dry-run")
    assert code == 0 and 'operation tone {"brightness": 0.4, "warmth": 0.5}' in out
    code, out, _ = cli("edit", run.id, "add more contrast, then crop to square", "--dry-run", "--json")
    assert json.loads(out)["operation"] == 'tone {"contrast": 0.5}, then crop {"aspect": "1:1"}'
    code, out, _ = cli("edit", run.id, "rotate it 45 degrees", "--dry-run")
    assert 'operation rotate {"degrees": -45}' in out and "size     1450x1450" in out
    code, _, err = cli("edit", run.id, "straighten the horizon")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f'`workbench edit {run.id} "straighten the horizon" --backend openai`' in err
    assert "backend='openai'" not in err and "edit()" not in err
    code, _, err = cli("edit", run.id, "convert to jpeg")
    assert code == 1 and f"`workbench export {run.id} --format jpeg`" in err and "wb.export" not in err
    code, _, err = cli("finish", run.id, "make it look vintage")
    assert code == 2 and "--backend openai" in err and "'make it sepia'" in err and "backend='" not in err
    assert ledger_state(root) == before  # asked, nothing run
    code, out, _ = cli("finish", run.id, "add a slight blur", "--json")  # a blur is local now
    assert code == 0 and json.loads(out)["credits"] == 0


def test_cli_refuses_a_bad_upload_in_one_line(root, cli, tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    Workbench(root).close()  # a run log with its welcome credits
    before = ledger_state(root)
    code, _, err = cli("edit", str(path), "make it warmer")
    assert code == 1 and "broken.png is truncated or corrupt" in err
    assert ledger_state(root) == before


# -- the mask painter widget --------------------------------------------------------------------
def test_mask_painter_traits_regions_and_mime_bundle(wb):
    import base64

    from workbench.widgets.mask_painter import MaskPainter

    source = wb.generate("a red mug", aspect="3:2")
    painter = MaskPainter(source, display_size=320)
    assert (painter.width, painter.height) == (1536, 1024)
    assert painter.preview.startswith("data:image/jpeg;base64,")
    assert len(painter.preview) < 60_000  # a thumbnail, not the full image
    assert "export default" in painter._esm and "pointerdown" in painter._esm  # the JS beside the class
    bundle = painter._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    with pytest.raises(Exception, match="Unknown mode 'spray'"):
        painter.mode = "spray"
    assert painter.mask_png() is None
    # What the front end sends: a rectangle, a polygon and a brush stroke painted at image size.
    painter.regions = [
        {"x": 10, "y": 20, "w": 100, "h": 50},
        {"points": [[800, 100], [900, 120], [850, 300]]},
    ]
    strokes = Image.new("RGBA", (1536, 1024), (0, 0, 0, 0))
    strokes.paste((255, 255, 255, 255), (1200, 700, 1300, 800))
    buffer = io.BytesIO()
    strokes.save(buffer, "PNG")
    painter.painted = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    edited = edited_area(painter.mask_png())
    assert edited[30, 50] and edited[150, 850] and edited[750, 1250] and not edited[500, 500]
    run = wb.edit(source, "convert to black and white", regions=painter.regions_for_edit())
    assert run.parent_id == source.id and run.credits == 0
    painter.clear()
    assert painter.regions == [] and painter.mask_png() is None
    assert (MaskPainter(source.images[0]).width, MaskPainter(source.images[0]).height) == (1536, 1024)


def test_mask_painter_paints_on_the_upright_upload_the_edit_uses(wb, tmp_path):
    from workbench.widgets.mask_painter import MaskPainter

    photo = Image.new("RGB", (400, 200), (200, 60, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown rotated 90 degrees
    path = tmp_path / "sideways.jpg"
    photo.save(path, "JPEG", exif=exif)
    painter = MaskPainter(path)
    assert (painter.width, painter.height) == (200, 400)
    painter.regions = [{"x": 10, "y": 300, "w": 100, "h": 50}]  # only fits the upright image
    run = wb.edit(path, "convert to black and white", regions=painter.regions_for_edit())
    assert run.status == "ok" and run.image().size == (200, 400)
    with pytest.raises(InputImageError, match="No image at"):
        MaskPainter(tmp_path / "missing.png")


@pytest.mark.browser
@pytest.mark.slow
def test_mask_painter_in_a_real_browser(wb):
    """The painter's JavaScript in headless Chromium: drag a rectangle, paint a stroke, and the
    synced state becomes one mask with both, in the image's own pixels."""
    import os

    from _skips import require

    from workbench.widgets.mask_painter import HERE, MaskPainter

    chromium = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
    require(Path(chromium).is_file(), f"Chromium is not installed at {chromium} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright for Python is not installed (pip install playwright)")
    source = wb.generate("a red mug", aspect="3:2")
    painter = MaskPainter(source, display_size=600, brush=60)
    script = (
        (HERE / "mask_painter.js")
        .read_text()
        .replace("export default { render };", "window.painter = { render };")
    )
    state = {
        "preview": painter.preview,
        "width": painter.width,
        "height": painter.height,
        "mode": "brush",
        "brush": painter.brush,
        "regions": [],
        "painted": "",
    }
    harness = """
      window.state = STATE; const handlers = {};
      window.model = { get: (k) => window.state[k], save_changes: () => {},
        set: (k, v) => { window.state[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
        on: (e, f) => { (handlers[e] = handlers[e] || []).push(f); } };
      const el = document.createElement("div"); el.style.width = "600px"; document.body.append(el);
      window.painter.render({ model: window.model, el });
    """.replace("STATE", json.dumps(state))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": 800, "height": 700})
            page.set_content("<!doctype html><body style='margin:0'></body>")
            page.add_script_tag(content=script)
            page.add_script_tag(content=harness)
            page.wait_for_function(
                "document.querySelector('img').complete && document.querySelector('img').clientWidth > 0"
            )
            box = page.locator("canvas").bounding_box()
            at = lambda fx, fy: (box["x"] + fx * box["width"], box["y"] + fy * box["height"])  # noqa: E731
            page.get_by_role("button", name="Rectangle").click()
            page.mouse.move(*at(0.1, 0.1))
            page.mouse.down()
            page.mouse.move(*at(0.2, 0.2), steps=4)
            page.mouse.move(*at(0.3, 0.3), steps=4)
            page.mouse.up()
            page.get_by_role("button", name="Brush").click()
            page.mouse.move(*at(0.6, 0.7))
            page.mouse.down()
            page.mouse.move(*at(0.8, 0.7), steps=8)
            page.mouse.up()
            synced = page.evaluate("({regions: window.state.regions, painted: window.state.painted})")
            status = page.locator("span").first.inner_text()
        finally:
            browser.close()
    assert "1536×1024 px · 1 shape" in status
    [rect] = synced["regions"]
    assert abs(rect["x"] - 154) <= 4 and abs(rect["y"] - 102) <= 4 and abs(rect["w"] - 307) <= 6
    painter.regions, painter.painted = synced["regions"], synced["painted"]
    edited = edited_area(painter.mask_png())
    assert edited.shape == (1024, 1536)
    assert edited[200, 300] and edited[717, 1075] and not edited[500, 100]


def test_aedit_is_the_async_twin(service_wb, openai_server):
    import asyncio

    wb = service_wb
    source = wb.generate("a red mug", aspect="1:1")

    async def both():
        return await asyncio.gather(
            wb.aedit(source, "make it warmer"),
            wb.aedit(source, "add steam above the mug", regions=[(400, 100, 200, 200)]),
        )

    warm, steam = asyncio.run(both())
    assert (warm.backend, warm.credits, warm.parent_id) == ("draft", 0, source.id)
    assert steam.backend == "openai" and steam.parent_id == source.id and openai_server.counts == {EDITS: 1}


def test_a_service_edit_comes_back_at_the_uploads_aspect(service_wb, openai_server, tmp_path):
    path = tmp_path / "portrait.png"
    Image.new("RGB", (512, 600), "grey").save(path)
    run = service_wb.edit(path, "add a red balloon", regions=[(10, 10, 100, 100)])
    fields, _ = openai_server.requests[-1].form()
    width, height = (int(v) for v in fields["size"].split("x"))
    assert (width, height) != (512, 600)  # the service made its nearest size...
    out = run.image()
    assert abs(out.width / out.height - 512 / 600) < 0.005  # ...and the answer has the upload's aspect


def test_the_drafts_refusal_names_edits_it_can_make_in_words(wb):
    """The refusal listed an old set of operations; it names the phrasings the router maps, each
    of which the draft really makes (so a user can copy one)."""
    from workbench.backends.base import ImageRequest
    from workbench.backends.draft import DraftBackend
    from workbench.errors import CapabilityError
    from workbench.instructions import LOCAL_EDIT_EXAMPLES, map_instruction

    request = ImageRequest(
        prompt="turn the cat into a tiger", width=1024, height=1024, kind="edit", inputs=(b"x",)
    )
    with pytest.raises(CapabilityError) as caught:
        DraftBackend.check(request)
    message = str(caught.value)
    assert "'sepia'" in message and "'add a vignette'" in message and "\n" not in message
    assert all(map_instruction(example) is not None for example in LOCAL_EDIT_EXAMPLES)
