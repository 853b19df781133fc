"""The vision judge: a rubric in plain words and the image, sent to a vision model through the
OpenAI Responses API (``/v1/responses``), answered as JSON (``{"score": 0-1, "reason": "..."}``
under a strict JSON schema).

A judgement is a run like any other: priced before it is sent (tokens from the rubric and the
image), refused by the wallet when short (nothing sent), recorded in the run log with its
credits, dollars, tokens and tries (kind ``judge``, the judged run as its parent, the answer in
its params), and cached by fingerprint: the same rubric, model and image again is a ``cached``
row at 0 credits. Faults are retried as image requests are (``RetryPolicy``). Offline (no API
key) the judge is unavailable with a sentence and every other check still runs.

Example:
    >>> wb.check(run, ["judge"], rubric="A clean product shot; the mug is the hero; no clutter.")
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import time
from typing import TYPE_CHECKING, Any

from PIL import Image

from workbench.checks.base import CheckResult, CheckSpec
from workbench.credits import round_credits
from workbench.errors import BackendError, WorkbenchError

if TYPE_CHECKING:
    from workbench.core import Workbench

__all__ = [
    "DEFAULT_RUBRIC",
    "JUDGE_MODEL",
    "JUDGE_PRICES",
    "JUDGE_SCHEMA",
    "JUDGE_VERSION",
    "estimate_tokens",
    "judge",
]

JUDGE_MODEL = "gpt-4.1-mini"
JUDGE_VERSION = "judge-1"  # part of the fingerprint: a new prompt or schema is a new judgement
THRESHOLD = 0.7
# Dollars per million tokens (input, output) of the vision models the judge may use.
JUDGE_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-5-mini": (0.25, 2.00),
}
JUDGE_SIDE = 1024  # the image is sent at most this many px a side (PNG)
OUTPUT_TOKENS = 120  # what an answer of a score and a sentence takes, for the estimate
DEFAULT_RUBRIC = (
    "The image meets its brief: the subject is clear and well composed, any text is legible and "
    "spelt as asked, the colours match the brief, nothing is distorted or cut off."
)
JUDGE_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "number", "description": "0 (fails the rubric) to 1 (meets it fully)"},
        "reason": {"type": "string", "description": "one sentence: why this score"},
    },
    "required": ["score", "reason"],
    "additionalProperties": False,
}
_INSTRUCTIONS = (
    "You are a strict art director judging one generated image against a rubric and a brief. "
    "Answer with a score from 0 to 1 and one sentence of reason."
)


def _unavailable(reason: str) -> CheckResult:
    return CheckResult("judge", None, reason, THRESHOLD)


def image_tiles(width: int, height: int) -> int:
    """512-px tiles of an image after it is scaled to fit 2048² and its short side to 768 (as the
    vision models count them)."""
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    return math.ceil(width * scale / 512) * math.ceil(height * scale / 512)


def estimate_tokens(text: str, width: int, height: int) -> tuple[int, int]:
    """(input, output) tokens a judgement is expected to use: the text at ~4 characters a token,
    the image at 85 + 170 per tile, and an answer of ``OUTPUT_TOKENS``."""
    return math.ceil(len(text) / 4) + 85 + 170 * image_tiles(width, height), OUTPUT_TOKENS


def _usd(model: str, tokens_in: int, tokens_out: int) -> float:
    rate_in, rate_out = JUDGE_PRICES.get(model, JUDGE_PRICES[JUDGE_MODEL])
    return (tokens_in * rate_in + tokens_out * rate_out) / 1_000_000


def _credits(wb: Workbench, usd: float) -> float:
    """Credits that follow the dollars, as image credits do (rounded up to the hundredth, at least
    0.01 for anything billed: ``workbench.credits.round_credits``)."""
    if usd <= 0:
        return 0.0
    per_dollar, _anchors = wb.prices.credit_scale()
    return round_credits(usd * per_dollar)


def judgement_estimate(wb: Workbench, width: int, height: int, brief: str = "") -> tuple[float, float]:
    """(credits, dollars) one judgement of a ``width`` x ``height`` image is expected to cost with
    the default rubric and a brief about as long as ``brief``: what a batch plans for each new
    image it will judge. (0, 0) when the judge cannot run (no key): it is then not asked."""
    backend_options = wb.backend_options.get("openai", {})
    if not (backend_options.get("api_key") or os.environ.get("OPENAI_API_KEY")):
        return 0.0, 0.0
    prompt = f"Rubric: {DEFAULT_RUBRIC}\nBrief: {brief}"
    tokens_in, tokens_out = estimate_tokens(prompt + _INSTRUCTIONS, width, height)  # as judge() reserves
    usd = _usd(JUDGE_MODEL, tokens_in, tokens_out)
    return _credits(wb, usd), usd


def _png(image: Image.Image) -> bytes:
    small = image.convert("RGBA" if "A" in image.mode else "RGB")
    if max(small.size) > JUDGE_SIDE:
        small = small.copy()
        small.thumbnail((JUDGE_SIDE, JUDGE_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _brief(spec: CheckSpec) -> str:
    parts = []
    if spec.texts:
        parts.append("exact texts: " + "; ".join(repr(t["text"]) for t in spec.texts))
    if spec.palette:
        parts.append("colours: " + ", ".join(label for label, _rgb in spec.palette))
    if spec.aspect:
        parts.append(f"aspect {spec.aspect}")
    return ". ".join(parts)


def judge(image: Image.Image, spec: CheckSpec) -> CheckResult:
    """Score ``image`` against ``spec.rubric`` (or ``DEFAULT_RUBRIC``) with a vision model."""
    wb = spec.context
    if wb is None:
        return _unavailable("the vision judge needs a Workbench (wb.check) to price and log its run")
    options = dict((spec.options or {}).get("judge") or {})
    backend_options = dict(wb.backend_options.get("openai", {}))
    key = options.get("api_key") or backend_options.get("api_key") or os.environ.get("OPENAI_API_KEY")
    if not key:
        return _unavailable(
            "the vision judge is unavailable offline: it asks the OpenAI service, so set OPENAI_API_KEY "
            "(every other check runs without it)"
        )
    model = str(options.get("model") or JUDGE_MODEL)
    rubric = (spec.rubric or DEFAULT_RUBRIC).strip()
    brief = _brief(spec)
    prompt = f"Rubric: {rubric}" + (f"\nBrief: {brief}" if brief else "")
    data = _png(image)
    fingerprint = hashlib.sha256(
        json.dumps(
            {
                "v": JUDGE_VERSION,
                "model": model,
                "prompt": prompt,
                "image": hashlib.sha256(data).hexdigest(),
                "where": backend_options.get("base_url") or "",
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()
    from workbench.runs import call_claim, call_row

    row = call_row(
        wb,
        parent_id=spec.run_id,  # the judged run: its batch's spend counts this judgement
        kind="judge",
        backend="openai",
        model=model,
        prompt=prompt,
        params=json.dumps({"check": "judge", "version": JUDGE_VERSION}, sort_keys=True),
        width=image.size[0],
        height=image.size[1],
        fingerprint=fingerprint,
    )
    # Held while the judgement is asked: the same judgement at the same moment (two notebooks, a
    # batch's shards) waits for this answer and reads it at 0 credits, instead of paying twice.
    with call_claim(wb, fingerprint, row["id"]):
        done = _judged(wb, row, fingerprint, model, prompt, data, image.size, key, backend_options, options)
    if isinstance(done, CheckResult):
        return done
    answer = json.loads(done["params"])["answer"]
    return CheckResult(
        "judge",
        answer["score"],
        answer["reason"],
        THRESHOLD,
        {"model": model, "cached": False},
        run_id=done["id"],
        credits=done["credits"],
        usd=done["usd"],
    )


def _judged(
    wb: Workbench,
    row: dict[str, Any],
    fingerprint: str,
    model: str,
    prompt: str,
    data: bytes,
    size: tuple[int, int],
    key: str,
    backend_options: dict[str, Any],
    options: dict[str, Any],
) -> dict[str, Any] | CheckResult:
    """The judgement's row once asked (its claim held), or a CheckResult when it was cached or
    its request failed."""
    from workbench.runs import record_cached_call, run_call

    source = wb.ledger.find_ok(fingerprint)
    answer = (json.loads(source.get("params") or "{}") or {}).get("answer") if source else None
    if source is not None and answer:  # the same judgement asked before: 0 credits, nothing sent
        cached = record_cached_call(wb, row | {"credits_estimated": 0, "usd_estimated": 0.0}, source)
        return CheckResult(
            "judge",
            float(answer["score"]),
            answer["reason"],
            THRESHOLD,
            {"model": model, "cached": True},
            run_id=cached["id"],
        )
    tokens_in, tokens_out = estimate_tokens(prompt + _INSTRUCTIONS, *size)
    usd_estimated = _usd(model, tokens_in, tokens_out)
    credits_estimated = _credits(wb, usd_estimated)
    row |= {"credits_estimated": credits_estimated, "usd_estimated": round(usd_estimated, 6)}

    def send() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        answer, usage, tries = _ask(key, backend_options, options, model, prompt, data)
        usd = _usd(model, usage["input_tokens"], usage["output_tokens"])
        values = {
            "credits": min(_credits(wb, usd), credits_estimated),
            "usd": round(usd, 6),
            "tokens_in": usage["input_tokens"],
            "tokens_out": usage["output_tokens"],
            "usage": json.dumps(usage, sort_keys=True),
            "params": json.dumps({**json.loads(row["params"]), "answer": answer}, sort_keys=True),
        }
        return values, tries

    # The run pipeline's own path: refused before anything is sent when the wallet cannot pay
    # (BudgetError: one sentence); the answer's row and its charge in one transaction; a failure a
    # failed row at 0 credits with its reservation released.
    try:
        done = run_call(wb, row, send, what="this judgement")
    except WorkbenchError as exc:
        if getattr(exc, "run_id", None) is None:
            raise  # refused before sending (the wallet): nothing was logged
        return CheckResult("judge", None, f"the judge's request failed: {exc}", THRESHOLD, run_id=exc.run_id)
    return done


def _ask(
    key: str,
    backend_options: dict[str, Any],
    options: dict[str, Any],
    model: str,
    prompt: str,
    data: bytes,
) -> tuple[dict[str, Any], dict[str, int], list[dict[str, Any]]]:
    """Send the judgement, retrying as image requests are; (answer, usage, tries)."""
    import random

    import openai

    from workbench.backends.openai import RetryPolicy, map_error, possibly_billed

    policy = options.get("retry") or backend_options.get("retry") or RetryPolicy()
    client = openai.OpenAI(
        api_key=key,
        base_url=backend_options.get("base_url"),
        max_retries=0,
        timeout=float(options.get("timeout") or backend_options.get("timeout") or 60.0),
    )
    image_url = "data:image/png;base64," + base64.b64encode(data).decode()
    tries: list[dict[str, Any]] = []
    billed_retries = 0
    try:
        for number in range(1, 100):
            from workbench.ledger import utc_now

            started_at = utc_now()
            try:
                response = client.responses.create(
                    model=model,
                    instructions=_INSTRUCTIONS,
                    input=[
                        {
                            "role": "user",
                            "content": [
                                {"type": "input_text", "text": prompt},
                                {"type": "input_image", "image_url": image_url, "detail": "auto"},
                            ],
                        }
                    ],
                    text={
                        "format": {
                            "type": "json_schema",
                            "name": "judgement",
                            "schema": JUDGE_SCHEMA,
                            "strict": True,
                        }
                    },
                )
                answer = _parse(response)
            except Exception as exc:  # noqa: BLE001 - every failure is mapped to one sentence
                error = exc if isinstance(exc, WorkbenchError) else map_error(exc, secrets=(key,))
                billed = possibly_billed(error)
                tries.append(
                    {
                        "number": number,
                        "started_at": started_at,
                        "ended_at": utc_now(),
                        "outcome": type(error).__name__,
                        "http_status": getattr(error, "status_code", None),
                        "request_id": None,
                        "possibly_billed": bool(billed),
                        "usd": 0.0,
                        "error": str(error),
                    }
                )
                delay = policy.delay(number, error, rng=random.Random())
                if billed:
                    billed_retries += 1
                    if billed_retries > policy.max_billed_retries:
                        delay = None
                if delay is None:
                    error.tries = tries  # type: ignore[attr-defined]
                    raise error from None
                time.sleep(delay)
                continue
            usage = getattr(response, "usage", None)
            tokens = {
                "input_tokens": int(getattr(usage, "input_tokens", 0) or 0),
                "output_tokens": int(getattr(usage, "output_tokens", 0) or 0),
            }
            tries.append(
                {
                    "number": number,
                    "started_at": started_at,
                    "ended_at": utc_now(),
                    "outcome": "ok",
                    "http_status": 200,
                    "request_id": getattr(response, "id", None),
                    "possibly_billed": False,
                    "usd": 0.0,
                    "error": None,
                }
            )
            return answer, tokens, tries
        raise BackendError("The judge gave up after 99 tries.", backend="openai")  # pragma: no cover
    finally:
        client.close()


def _parse(response: Any) -> dict[str, Any]:
    """The answer's score (clipped to 0-1) and reason, or a BackendError when it is not one."""
    text = getattr(response, "output_text", None) or ""
    try:
        answer = json.loads(text)
        score = float(answer["score"])
        reason = str(answer["reason"]).strip()
    except (ValueError, KeyError, TypeError):
        raise BackendError(
            f"The judge's answer is not a score and a reason: {text[:120]!r}.", backend="openai"
        ) from None
    if not math.isfinite(score):
        raise BackendError("The judge's score is not a number.", backend="openai")
    return {"score": round(min(1.0, max(0.0, score)), 4), "reason": reason or "(no reason given)"}
