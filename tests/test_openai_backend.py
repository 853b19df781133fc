"""The openai backend against a loopback OpenAI-compatible server, over real HTTP.

What a user sees: files of the size and format asked for, runs with their tokens and dollars,
a refusal as a `blocked` run, a failure after bounded retries with the wallet untouched, and an API
key that appears nowhere it should not.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ledger_state
from PIL import Image

from workbench import (
    BackendTimeoutError,
    CapabilityError,
    ContentPolicyError,
    NeedsKeyError,
    RateLimitError,
    ServiceError,
    SpecError,
    Usage,
    Workbench,
    WorkbenchError,
)
from workbench.backends.base import ImageRequest, get_backend_class
from workbench.backends.openai import (
    ERROR_MAP,
    MISSING_KEY,
    REJECTED_KEY,
    AdaptiveRateLimiter,
    OpenAIBackend,
    RetryPolicy,
    map_error,
    parse_retry_after,
)
from workbench.pricing import PriceTable

GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
KEY = "wbtest-7c1e9a4f-DO-NOT-LEAK-0b5d"
FAST = RetryPolicy(max_retries=3, backoff=0.01, jitter=0.1)


def _workbench(root: Path, server, **options) -> Workbench:
    settings = {"base_url": server.base_url, "retry": FAST, "timeout": 10} | options
    wb = Workbench(root, backend="openai", backend_options={"openai": settings})
    return wb


@pytest.fixture
def wb(root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    bench = _workbench(root, openai_server)
    bench.wallet.topup(1000)
    yield bench
    bench.close()


def _png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), (200, 10, 10, 0) if mode == "RGBA" else "white").save(buffer, "PNG")
    return buffer.getvalue()


# -- what comes back ---------------------------------------------------------------------------
SIZES = [
    ("1:1", None, (1024, 1024)),
    ("2:3", None, (1024, 1536)),
    ("3:2", None, (1536, 1024)),
    ("16:9", (3840, 2160), (3840, 2160)),
]


@pytest.mark.parametrize(("aspect", "size", "expected"), SIZES, ids=["1:1", "2:3", "3:2", "4K"])
@pytest.mark.parametrize("output_format", ["png", "jpeg", "webp"])
def test_generate_makes_the_size_and_format_asked_for(
    wb, openai_server, aspect, size, expected, output_format
):
    run = wb.generate(
        "a ceramic mug on a walnut table", aspect=aspect, size=size, output_format=output_format
    )
    assert run.status == "ok" and run.backend == "openai" and run.model == "gpt-image-2"
    with run.image() as image:
        assert image.size == expected
        assert image.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[output_format]
    assert openai_server.counts[GENERATIONS] == 1
    sent = json.loads(openai_server.requests[-1].body)
    assert sent["size"] == f"{expected[0]}x{expected[1]}" and sent["model"] == "gpt-image-2"


@pytest.mark.parametrize(("aspect", "size", "expected"), SIZES, ids=["1:1", "2:3", "3:2", "4K"])
def test_edit_with_a_mask_makes_the_size_asked_for(wb, openai_server, aspect, size, expected):
    inputs = (_png(*expected), _png(512, 512))
    run = wb.generate(
        "put a red ribbon on the mug",
        aspect=aspect,
        size=size,
        kind="edit",
        inputs=inputs,
        mask=_png(*expected, mode="RGBA"),
        output_format="webp",
    )
    assert run.status == "ok" and run.kind == "edit"
    with run.image() as image:
        assert image.size == expected and image.format == "WEBP"
    fields, files = openai_server.requests[-1].form()
    assert len(files["image"]) == 2 and len(files["mask"]) == 1
    assert fields["size"] == f"{expected[0]}x{expected[1]}" and fields["model"] == "gpt-image-2"
    assert openai_server.counts == {EDITS: 1}


@pytest.mark.parametrize("output_format", ["png", "webp"])
def test_transparent_backgrounds_come_back_with_alpha(wb, openai_server, output_format):
    run = wb.generate("a sticker of a fox", transparent=True, output_format=output_format)
    with run.image() as image:
        assert image.mode == "RGBA" and image.getchannel("A").getextrema()[0] == 0
    assert json.loads(openai_server.requests[-1].body)["background"] == "transparent"


def test_a_request_the_model_cannot_make_fails_before_sending(wb, openai_server, root):
    before = ledger_state(root)
    with pytest.raises(
        CapabilityError, match=r"'gpt-image-1' was retired on 2026-10-23: use gpt-image-2.5-sunburst"
    ):
        wb.generate("a mug", model="gpt-image-1", quality="high")
    with pytest.raises(
        CapabilityError,
        match=r"'gpt-image-2' cannot make 1000x1000 \(it makes any WxH in "
        r"multiples of 16, ratio up to 3:1, at most 3840 px.*nearest sizes it can make: 1008x1008",
    ):
        wb.generate("a mug", size=(1000, 1000))
    with pytest.raises(CapabilityError, match="cannot make 3840x1024"):
        wb.generate("a mug", size=(3840, 1024))  # wider than 3:1
    with pytest.raises(CapabilityError, match="cannot make 4096x2304"):
        wb.generate("a mug", size=(4096, 2304))
    with pytest.raises(CapabilityError, match="cannot make 16x16 .*at least 655,360"):
        wb.generate("a mug", size=(16, 16))  # within the edges, below the service's pixel minimum
    with pytest.raises(CapabilityError, match=r"'gpt-image-1.5' cannot make 2048x2048 .*1024x1024"):
        wb.generate("a mug", model="gpt-image-1.5", size=(2048, 2048))
    with pytest.raises(CapabilityError, match="has no model 'dall-e-9'.*models.yaml"):
        wb.generate("a mug", model="dall-e-9")
    with pytest.raises(SpecError, match="transparent background needs PNG or WebP"):
        wb.generate("a mug", transparent=True, output_format="jpeg")
    assert ledger_state(root) == before and not openai_server.counts


def test_the_backend_registers_like_any_other():
    assert get_backend_class("openai") is OpenAIBackend
    assert OpenAIBackend.needs_key and OpenAIBackend.key_env == "OPENAI_API_KEY"
    assert OpenAIBackend.default_model == "gpt-image-2"


# -- cost truth --------------------------------------------------------------------------------
def test_a_run_records_its_tokens_and_their_dollars_beside_its_credits(wb, openai_server):
    estimate = wb.estimate("a ceramic mug", quality="high", aspect="3:2")
    run = wb.generate("a ceramic mug", quality="high", aspect="3:2")
    row = wb.runs().iloc[-1]
    usage = Usage(**json.loads(row["usage"]))
    assert usage.text_in > 0 and usage.image_out > 0
    assert row["tokens_in"] == usage.tokens_in and row["tokens_out"] == usage.tokens_out
    usd = PriceTable.load().usd_for_usage("openai", "gpt-image-2", usage)
    assert run.usd == pytest.approx(usd, abs=1e-6) and run.usd > 0
    # Credits follow dollars: high at 2160x1440 is 2.97 MP, so 29.67 credits (10 at 1024x1024).
    assert estimate.size == "2160x1440"
    assert run.credits == run.credits_estimated == 29.67 == estimate.credits
    assert run.usd_estimated == estimate.usd > 0


def test_a_batch_through_429s_and_500s_ends_ok_and_charged_once(root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.faults.rate_limit = 0.20
    openai_server.faults.server_error = 0.05
    openai_server.faults.retry_after_ms = 5
    wb = _workbench(root, openai_server, retry=RetryPolicy(max_retries=12, backoff=0.005), concurrency=8)
    wb.wallet.topup(1000)
    before = wb.wallet.balance

    async def batch():
        return await asyncio.gather(
            *(wb.agenerate("a ceramic mug", variant=i, quality="low") for i in range(100))
        )

    runs = asyncio.run(batch())
    frame = wb.runs()
    assert [r.status for r in runs] == ["ok"] * 100 and len(frame) == 100
    assert (frame["status"] == "ok").all()
    # 100 low images at 0.59 credits: sums of two-decimal credits are exact to the hundredth.
    assert wb.wallet.spent == round(frame["credits"].sum(), 2) == 59 == round(before - wb.wallet.balance, 2)
    assert wb.wallet.reserved == 0
    prices = PriceTable.load()
    per_run = [prices.usd_for_usage("openai", "gpt-image-2", Usage(**json.loads(u))) for u in frame["usage"]]
    assert frame["usd"].sum() == pytest.approx(sum(per_run), abs=1e-5) and frame["usd"].sum() > 0
    faults = openai_server.faults_sent
    assert faults["rate_limit"] > 5 and faults["server_error"] > 0
    assert openai_server.counts[GENERATIONS] == 100 + sum(faults.values())
    assert len(openai_server.successes) == 1 and openai_server.successes[runs[0].prompt] == 100
    wb.close()


# -- faults ------------------------------------------------------------------------------------
def test_a_refused_prompt_is_blocked_costs_nothing_and_is_not_retried(wb, openai_server):
    balance = wb.wallet.balance
    with pytest.raises(ContentPolicyError, match="safety system") as caught:
        wb.generate("a forbidden scene")
    assert "rejected as a result of our safety system" in caught.value.reason
    row = wb.runs().iloc[-1]
    assert row["status"] == "blocked" and row["credits"] == 0 and row["usd"] == 0
    assert row["error"].startswith("Your request was rejected as a result of our safety system")
    assert openai_server.counts[GENERATIONS] == 1
    assert wb.wallet.balance == balance and wb.wallet.reserved == 0


def test_a_timeout_fails_after_the_configured_retries_and_the_wallet_is_back(
    root, openai_server, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.faults.slow = 1.0
    openai_server.faults.slow_seconds = 1.5
    wb = _workbench(root, openai_server, timeout=0.25, retry=RetryPolicy(max_retries=2, backoff=0.01))
    wb.wallet.topup(100)
    balance = wb.wallet.balance
    started = time.perf_counter()
    # A timed-out try may have been done and billed: one retry after it (the default), not max_retries.
    with pytest.raises(BackendTimeoutError, match="did not answer in time. Not retried again"):
        wb.generate("a ceramic mug", quality="high", aspect="2:3", n=1, size=(1024, 1536))
    assert time.perf_counter() - started < 3.0  # 2 tries cut at 0.25 s, not 2 slow answers of 1.5 s
    assert openai_server.counts[GENERATIONS] == 2
    row = wb.runs().iloc[-1]
    assert row["status"] == "failed" and row["credits"] == 0 and "did not answer in time" in row["error"]
    assert row["attempts"] == 2 and row["usd_possibly_billed"] == pytest.approx(2 * row["usd_estimated"])
    assert row["credits_estimated"] == 15  # high at 1024x1536
    assert wb.wallet.balance == balance and wb.wallet.reserved == 0
    wb.close()


def test_the_timeout_is_sized_for_slow_renders():
    backend = OpenAIBackend(api_key=KEY)
    high = ImageRequest("a mug", 1024, 1024, quality="high")
    assert backend.timeout_for(high) >= 300
    assert backend.timeout_for(ImageRequest("a mug", 1024, 1024, quality="low")) < 300
    assert (
        backend.timeout_for(ImageRequest("a mug", 1024, 1024, quality="low", kind="edit", inputs=(b"x",)))
        >= 300
    )
    assert OpenAIBackend(api_key=KEY, timeout=900).timeout_for(high) == 900
    assert backend.params(high)["timeout"].read >= 300
    assert backend.client.max_retries == 0  # one retry policy: ours


def test_server_errors_fail_after_bounded_retries(wb, openai_server):
    openai_server.faults.server_error = 1.0
    with pytest.raises(ServiceError, match=r"failed \(500\).*Gave up after 4 tries"):
        wb.generate("a mug")
    assert openai_server.counts[GENERATIONS] == 4
    assert wb.runs().iloc[-1]["status"] == "failed" and wb.wallet.reserved == 0


@pytest.mark.parametrize("fault", ["drop", "malformed", "server_error", "rate_limit"])
def test_a_passing_fault_is_retried_and_the_run_ends_ok(wb, openai_server, fault):
    # A dropped or unreadable answer may have been billed: retried once (RetryPolicy.max_billed_retries).
    faults = [fault] if fault in ("drop", "malformed") else [fault, fault]
    openai_server.faults.script = list(faults)
    run = wb.generate("a mug")
    assert run.status == "ok" and openai_server.counts[GENERATIONS] == len(faults) + 1
    assert openai_server.successes["a mug, high resolution"] == 1


@pytest.mark.parametrize(("header", "value"), [("retry_after_ms", 300), ("retry_after", 0.3)])
def test_429_waits_as_long_as_the_service_says(wb, openai_server, header, value):
    openai_server.faults.retry_after_ms = None
    setattr(openai_server.faults, header, value)
    openai_server.faults.script = ["rate_limit"]
    started = time.perf_counter()
    assert wb.generate("a mug").status == "ok"
    assert 0.3 <= time.perf_counter() - started < 3.0
    assert openai_server.counts[GENERATIONS] == 2


def test_a_missing_key_is_one_sentence_before_anything_is_reserved(root, openai_server):
    assert "OPENAI_API_KEY" not in os.environ
    with pytest.raises(NeedsKeyError) as caught:
        OpenAIBackend(base_url=openai_server.base_url)
    assert str(caught.value) == MISSING_KEY and "export OPENAI_API_KEY=" in MISSING_KEY
    wb = Workbench(root, backend="openai", backend_options={"openai": {"base_url": openai_server.base_url}})
    before = ledger_state(root)
    with pytest.raises(NeedsKeyError, match="needs an API key: set OPENAI_API_KEY"):
        wb.generate("a mug")
    assert ledger_state(root) == before and not openai_server.counts


def test_a_rejected_key_says_how_to_set_it_and_is_not_retried(root, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "an-old-revoked-key-1234")
    openai_server.faults.api_key = KEY
    wb = _workbench(root, openai_server)
    with pytest.raises(NeedsKeyError) as caught:
        wb.generate("a mug")
    assert str(caught.value) == REJECTED_KEY and "1234" not in str(caught.value)
    assert openai_server.counts[GENERATIONS] == 1
    assert wb.runs().iloc[-1]["status"] == "failed" and wb.wallet.reserved == 0
    wb.close()


def _instance(cls, httpx2):
    """One instance of any openai exception class, whatever its constructor wants."""
    request = httpx2.Request("POST", "http://127.0.0.1/v1/images/generations")
    status = {
        "BadRequestError": 400,
        "AuthenticationError": 401,
        "OAuthError": 401,
        "PermissionDeniedError": 403,
        "NotFoundError": 404,
        "ConflictError": 409,
        "UnprocessableEntityError": 422,
        "RateLimitError": 429,
        "InternalServerError": 500,
        "APIStatusError": 418,
    }.get(cls.__name__, 502)
    response = httpx2.Response(
        status,
        request=request,
        headers={"retry-after-ms": "250"},
        json={"error": {"message": "nope", "code": "x"}},
    )
    body = {"message": "nope", "code": "x"}
    import openai

    if cls.__name__ == "OAuthError":
        return cls(response=response, body=body)
    if issubclass(cls, openai.APIStatusError):
        return cls("nope", response=response, body=body)
    if issubclass(cls, openai.APITimeoutError):
        return cls(request)
    if issubclass(cls, openai.APIConnectionError):
        return cls(request=request)
    if issubclass(cls, openai.APIResponseValidationError):
        return cls(response, body)
    if issubclass(cls, openai.APIError):
        return cls("nope", request, body=body)
    exc = cls.__new__(cls)
    Exception.__init__(exc, "nope")
    return exc


@pytest.mark.slow
def test_every_openai_exception_is_mapped_in_one_place():
    import httpx2
    import openai
    from openai import _exceptions

    classes = {
        obj
        for module in (openai, _exceptions)
        for obj in list(vars(module).values())
        if isinstance(obj, type) and issubclass(obj, openai.OpenAIError)
    }
    assert len(classes) >= 18
    missing = sorted(c.__name__ for c in classes if c not in ERROR_MAP)
    assert not missing, f"openai exceptions without a mapping in ERROR_MAP: {missing}"
    for cls in classes:
        mapped = map_error(_instance(cls, httpx2))
        assert isinstance(mapped, WorkbenchError) and str(mapped), cls
    expect = {
        "RateLimitError": RateLimitError,
        "AuthenticationError": NeedsKeyError,
        "APITimeoutError": BackendTimeoutError,
        "APIConnectionError": ServiceError,
        "InternalServerError": ServiceError,
        "APIResponseValidationError": ServiceError,
    }
    for name, ours in expect.items():
        assert type(map_error(_instance(getattr(openai, name), httpx2))) is ours, name
    assert map_error(_instance(openai.RateLimitError, httpx2)).retry_after == 0.25
    request = httpx2.Request("POST", "http://127.0.0.1/v1/images/generations")
    for code in ("moderation_blocked", "content_policy_violation"):
        refused = openai.BadRequestError(
            "Error code: 400",
            response=httpx2.Response(400, request=request),
            body={"message": "Refused: violence.", "code": code},
        )
        error = map_error(refused)
        assert isinstance(error, ContentPolicyError) and error.reason == "Refused: violence."
    quota = openai.RateLimitError(
        "quota",
        response=httpx2.Response(429, request=request),
        body={"message": "You exceeded your current quota.", "code": "insufficient_quota"},
    )
    assert not RetryPolicy().retryable(map_error(quota))


def test_retry_policy_and_retry_after():
    import random

    policy = RetryPolicy(max_retries=3, backoff=0.5, jitter=0.2)
    rng = random.Random(1)
    assert 2.0 <= policy.delay(1, RateLimitError("429", retry_after=2.0), rng=rng) <= 2.4
    assert [
        round(policy.delay(i, ServiceError("500"), rng=random.Random(0)) / 2 ** (i - 1), 1) for i in (1, 2, 3)
    ] == [0.6] * 3
    assert policy.delay(4, ServiceError("500")) is None
    assert policy.delay(1, ContentPolicyError("no")) is None
    assert policy.delay(1, NeedsKeyError("key")) is None
    assert RetryPolicy(max_retry_after=60).delay(1, RateLimitError("429", retry_after=3600), rng=rng) <= 72
    assert parse_retry_after({"retry-after-ms": "20", "retry-after": "9"}) == 0.02
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert 8 <= parse_retry_after({"retry-after": _http_date(10)}) <= 10
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after({}) is None


def _http_date(seconds_from_now: float) -> str:
    import email.utils

    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


# -- secrets -----------------------------------------------------------------------------------
def test_the_key_appears_nowhere(root, openai_server, monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    openai_server.faults.api_key = KEY
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx2", "httpcore", "workbench"):
        caplog.set_level(logging.DEBUG, logger=name)
    wb = _workbench(root, openai_server, retry=RetryPolicy(max_retries=1, backoff=0.01), timeout=0.3)
    wb.wallet.topup(100)
    errors: list[BaseException] = []
    runs = [
        wb.generate("a mug", partial_images=1, on_partial=lambda i, d: None),
        wb.generate("a mug", kind="edit", inputs=(_png(1024, 1024),), mask=_png(1024, 1024, "RGBA")),
    ]
    openai_server.faults.script = [
        "rate_limit",
        None,
        "server_error",
        "server_error",
        "slow",
        "slow",
        "policy",
        "drop",
        "malformed",
        "malformed",
    ]
    openai_server.faults.slow_seconds = 0.6
    runs.append(wb.generate("a teapot"))
    for prompt in ("a cup", "a jug", "a bowl", "a vase"):
        try:
            wb.generate(prompt)
        except WorkbenchError as exc:
            errors.append(exc)
    monkeypatch.setenv("OPENAI_API_KEY", KEY[::-1])  # a wrong key: 401 from the server
    other = _workbench(root, openai_server)
    try:
        other.generate("a spoon")
    except NeedsKeyError as exc:
        errors.append(exc)
    assert [r.status for r in runs] == ["ok"] * 3 and len(errors) == 5
    assert sorted(wb.runs()["status"].value_counts().items()) == [("blocked", 1), ("failed", 4), ("ok", 3)]
    backend = wb.backend("openai")
    texts = [caplog.text, repr(backend), repr(wb), str(backend.options), repr(vars(backend.retry))]
    texts += [f"{e!s} {e!r} {getattr(e, 'reason', '')}" for e in errors]
    for text in texts:
        assert KEY not in text and KEY[-12:] not in text and KEY[::-1] not in text
    assert "HTTP Request: POST" in caplog.text  # the client's own debug logging was captured
    wb.close()
    other.close()
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".png" for p in files) and any(p.name.startswith("ledger.sqlite") for p in files)
    for path in files:
        data = path.read_bytes()
        assert KEY.encode() not in data and KEY[-12:].encode() not in data, path


# -- throughput --------------------------------------------------------------------------------
def test_the_async_path_holds_the_concurrency_limit(wb, openai_server, monkeypatch, root):
    openai_server.faults.latency = 0.05
    backend = OpenAIBackend(base_url=openai_server.base_url, concurrency=3, retry=FAST)

    async def many():
        return await asyncio.gather(
            *(backend.asend(ImageRequest(f"a mug {i}", 1024, 1024)) for i in range(9))
        )

    started = time.perf_counter()
    results = asyncio.run(many())
    assert len(results) == 9 and 1 < openai_server.max_inflight <= 3
    assert time.perf_counter() - started >= 0.15
    assert asyncio.run(many())  # a second event loop gets its own client and semaphore


def test_the_images_per_minute_limit_spaces_requests(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    backend = OpenAIBackend(
        base_url=openai_server.base_url, images_per_minute=600, retry=FAST
    )  # one per 0.1 s

    async def many():
        return await asyncio.gather(
            *(backend.asend(ImageRequest(f"a mug {i}", 1024, 1024)) for i in range(4))
        )

    started = time.perf_counter()
    asyncio.run(many())
    assert time.perf_counter() - started >= 0.29


def test_the_limiter_slows_down_on_429_and_recovers_slowly():
    now = [100.0]
    limiter = AdaptiveRateLimiter(60, clock=lambda: now[0], recovery=4)
    assert [limiter.reserve() for _ in range(3)] == [0.0, 1.0, 2.0]
    limiter.on_rate_limited(5.0)
    assert limiter.rate == 45 and limiter.slowdowns == 1
    limiter.on_rate_limited(5.0)  # the same burst of 429s slows down once
    assert limiter.rate == 45
    assert limiter.reserve() == pytest.approx(5.0)  # everyone waits out the Retry-After
    limiter.on_success()
    assert limiter.rate == 60  # 45 + 60/4, capped at the ceiling
    free = AdaptiveRateLimiter(None, clock=lambda: now[0], recovery=4)
    for _ in range(20):
        assert free.reserve() == 0.0
        now[0] += 0.1
    free.on_rate_limited(None)
    assert free.rate == pytest.approx(0.75 * 20 / 2.0 * 60)  # 3/4 of the 600 a minute it was sending
    for _ in range(4):
        free.on_success()
    assert free.rate is None  # recovered: no limit again


def test_sync_calls_work_inside_a_running_event_loop(wb):
    async def notebook_cell():
        return wb.generate("a teapot")

    assert asyncio.run(notebook_cell()).status == "ok"


# -- streaming previews ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["generate", "edit"])
def test_partial_images_reach_the_callback(wb, openai_server, kind):
    previews: list[tuple[int, tuple[int, int]]] = []

    def on_partial(index: int, data: bytes) -> None:
        with Image.open(io.BytesIO(data)) as image:
            previews.append((index, image.size))

    extra = {"kind": "edit", "inputs": (_png(1536, 1024),)} if kind == "edit" else {}
    run = wb.generate("a mug", aspect="3:2", partial_images=3, on_partial=on_partial, **extra)
    assert run.status == "ok" and [i for i, _ in previews] == [0, 1, 2]
    with run.image() as image:
        assert image.size == (1536, 1024)
    assert run.tokens_out > 0
    sent = openai_server.requests[-1]
    params = sent.json() if kind == "generate" else sent.form()[0]
    assert str(params["stream"]).lower() == "true" and int(params["partial_images"]) == 3


def test_a_failing_preview_callback_does_not_lose_the_render(wb, openai_server, caplog):
    def broken(index: int, data: bytes) -> None:
        raise RuntimeError("the widget is gone")

    run = wb.generate("a mug", partial_images=2, on_partial=broken)
    assert run.status == "ok" and openai_server.counts[GENERATIONS] == 1
    assert "partial-image callback failed" in caplog.text


def test_a_misspelt_option_is_refused():
    with pytest.raises(SpecError, match="Unknown option.*timout; it takes api_key, base_url, timeout"):
        OpenAIBackend(api_key=KEY, timout=600)


def test_the_backend_repr_shows_where_not_who(openai_server):
    backend = OpenAIBackend(api_key=KEY, base_url="http://user:hunter2@127.0.0.1:9/v1")
    assert repr(backend) == "<OpenAIBackend base_url='http://127.0.0.1:9/v1' concurrency=4>"
    assert "api_key" not in backend.options and KEY not in repr(vars(backend))


def test_partial_images_on_the_async_path(wb):
    previews: list[int] = []

    async def go():
        return await wb.agenerate("a mug", partial_images=2, on_partial=lambda i, d: previews.append(i))

    assert asyncio.run(go()).status == "ok" and previews == [0, 1]


# -- the command line --------------------------------------------------------------------------
WORKBENCH = Path(sys.executable).with_name("workbench")


@pytest.mark.slow
def test_the_cli_generates_through_the_openai_backend(root, openai_server):
    env = os.environ | {"WORKBENCH_HOME": str(root), "OPENAI_API_KEY": KEY}
    result = subprocess.run(
        [
            str(WORKBENCH),
            "--base-url",
            openai_server.base_url,
            "generate",
            "a ceramic mug on a walnut table",
            "--backend",
            "openai",
            "--aspect",
            "2:3",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["status"] == "ok" and run["size"] == "1024x1536" and run["credits"] == 3 and run["usd"] > 0
    with Image.open(run["images"][0]) as image:
        assert image.size == (1024, 1536)
    assert openai_server.counts[GENERATIONS] == 1
    assert KEY not in result.stdout + result.stderr


@pytest.mark.slow
def test_the_cli_without_a_key_prints_one_sentence(root, openai_server):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"} | {"WORKBENCH_HOME": str(root)}
    result = subprocess.run(
        [str(WORKBENCH), "--base-url", openai_server.base_url, "generate", "a mug", "--backend", "openai"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == f"error: {MISSING_KEY}"
    assert not openai_server.counts


def test_close_closes_the_async_clients_on_their_own_loops(wb):
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        run = loop.run_until_complete(wb.agenerate("a mug", quality="low"))
        assert run.status == "ok"
        backend = wb.backend("openai")
        [(client, _)] = backend._async.values()
        assert not client.is_closed()
        wb.close()
        assert client.is_closed() and not backend._async
    finally:
        loop.close()


@pytest.mark.slow  # the CLI's default retries (5, backed off) take ~15 s on a refused port
def test_a_connection_that_never_opened_is_not_possibly_billed(root, monkeypatch, cli):
    """Port 1 refuses: nothing was sent, so nothing may have been billed (it said 'may have
    billed 2 tries' and logged $0.0635)."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    wb = Workbench(
        root,
        backend="openai",
        backend_options={"openai": {"base_url": "http://127.0.0.1:1/v1", "retry": FAST}},
    )
    wb.wallet.topup(100)
    balance = wb.wallet.balance
    with pytest.raises(ServiceError, match=r"could not be reached \(the connection could not be opened\)"):
        wb.generate("a mug")
    row = wb.runs().iloc[-1]
    assert row["status"] == "failed" and row["credits"] == 0
    assert row["usd_possibly_billed"] == 0 and row["usd"] == 0
    assert wb.wallet.balance == balance and wb.wallet.reserved == 0
    wb.close()
    code, out, err = cli("--base-url", "http://127.0.0.1:1/v1", "generate", "a mug", "--backend", "openai")
    assert code == 1 and "may have" not in err and "nothing was sent or billed" in err


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"openai": {"timeout": -1}}, "timeout is a number of seconds above 0, not -1"),
        ({"openai": {"timeout": "fast"}}, "timeout is a number of seconds above 0, not 'fast'"),
        ({"openai": {"concurrency": 0}}, "concurrency is a whole number of requests at once, 1 or more"),
        ({"openai": {"base_url": "not a url"}}, "base_url is an http(s) URL"),
        ({"openai": {"max_retries": 1.5}}, "max_retries is a whole number of retries"),
        ({"openai": {"images_per_minute": float("nan")}}, "images_per_minute is a number"),
        ({"openai": "x"}, "options are a mapping of option names to values"),
    ],
)
def test_backend_option_values_are_checked_when_a_workbench_is_made(root, options, words):
    with pytest.raises(SpecError) as caught:
        Workbench(root, backend="openai", backend_options=options)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert not root.exists()  # nothing written


def test_a_misspelt_backend_name_gets_a_close_match(root):
    with pytest.raises(SpecError, match=r"Unknown backend 'opnai'\. Did you mean 'openai'\?"):
        Workbench(root, backend="opnai")
    assert not root.exists()
