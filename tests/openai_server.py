"""A loopback OpenAI-compatible server for tests and benchmarks: real HTTP on 127.0.0.1.

It serves the Images API (``/v1/images/generations`` as JSON, ``/v1/images/edits`` as multipart)
with base64 images of the requested size and format, token usage, streaming partial images over
server-sent events, configurable latency and injected faults. It is built to grow: routes live in
a table (``OpenAIServer.routes``), so other endpoints (``/v1/files``, ``/v1/batches``) are added by
registering a handler, and ``Faults`` holds everything that makes a response go wrong::

    server = OpenAIServer(faults=Faults(rate_limit=0.2, server_error=0.05, latency=0.05))
    BatchAPI(server)                    # optional: /v1/files and /v1/batches (tests/openai_batch_api.py)
    server.start()                      # a background thread; or `python tests/openai_server.py`
    OpenAI(base_url=server.base_url, api_key="sk-test")
    server.counts["/v1/images/generations"], server.successes["a prompt"]
    server.stop()

Faults are drawn per request: first from ``Faults.script`` (a list of fault names for the next
requests, in order), then at random by the rates, from a seeded generator. Prompts containing one of
``Faults.blocked_words`` are refused as the real service refuses them (400 ``moderation_blocked``).
"""

from __future__ import annotations

import base64
import io
import json
import math
import random
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

__all__ = ["FAULTS", "Faults", "OpenAIServer", "Request", "Response"]

FAULTS = (
    "rate_limit",
    "server_error",
    "drop",
    "slow",
    "policy",
    "malformed",
    "drop_after_work",
    "slow_after_work",
    "truncated",
    "extra_image",
    "wrong_size",
    "echo_key",
)
# Faults that come after the work is done: the image is made (and counted in ``produced``, as the
# real service would bill it), then the answer is lost, late or wrong.
AFTER_WORK = ("drop_after_work", "slow_after_work", "truncated", "extra_image", "wrong_size")
_MIME = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "svg": "image/svg+xml",
}
_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF"}
# What only the 2.5 models (and their snapshots) take, as the client's docs say.
_PLUS_MODELS = ("gpt-image-2.5-sunburst", "gpt-image-2.5-flare")
# Output tokens for a 1024x1024 image per quality (the service's own figures, roughly).
_TOKENS_1MP = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 8320, "max": 16640, "auto": 1056}
POLICY_MESSAGE = (
    "Your request was rejected as a result of our safety system. Your request may contain "
    "content that is not allowed by our safety system."
)


@dataclass
class Faults:
    """What goes wrong, and how slowly. Rates are fractions of requests (0..1).

    Attributes:
        latency: seconds every answer waits before it is sent.
        rate_limit: 429 with ``retry-after-ms`` (and ``retry-after`` in seconds when given).
        server_error: 500. drop: the connection is closed without an answer.
        slow: the answer waits ``slow_seconds`` (past a client's timeout).
        policy: 400 ``moderation_blocked``. malformed: 200 with a body that is not JSON.
        drop_after_work: the image is made, then the connection is closed without an answer.
        slow_after_work: the image is made and its answer sent ``slow_seconds`` late.
        truncated: the answer's image is cut in half. extra_image: ``n + 1`` images are answered.
        wrong_size: the image is half the requested width. echo_key: 400 quoting the whole key.
        script: fault names for the next requests, in order (``None`` for a clean answer).
        blocked_words: prompts containing one of them are refused.
        api_key: when set, any other bearer token gets 401.
        headers: sent with every 200 answer (``x-ratelimit-remaining-requests`` and the like).
        paths: the paths faults and latency apply to (None: every route).
        answer_as: ``b64_json`` (the GPT image models' answer) or ``url``: each image is served at
            ``/images/{id}.{format}`` (no key needed, as a signed URL) and the answer holds its URL.
        check_sizes: refuse (400) sizes the requested model cannot make, as the service does:
            the standard three on fixed-size models, free sizes within the limits on the others.
    """

    latency: float = 0.0
    rate_limit: float = 0.0
    server_error: float = 0.0
    drop: float = 0.0
    slow: float = 0.0
    policy: float = 0.0
    malformed: float = 0.0
    drop_after_work: float = 0.0
    slow_after_work: float = 0.0
    truncated: float = 0.0
    extra_image: float = 0.0
    wrong_size: float = 0.0
    echo_key: float = 0.0
    retry_after_ms: float | None = 20
    retry_after: float | None = None
    slow_seconds: float = 2.0
    script: list[str | None] = field(default_factory=list)
    blocked_words: tuple[str, ...] = ("forbidden",)
    api_key: str | None = None
    paths: tuple[str, ...] | None = None
    seed: int = 7
    headers: dict[str, str] = field(default_factory=dict)  # sent with every 200 answer
    answer_as: str = "b64_json"
    check_sizes: bool = True

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        """The fault for the next request, or None."""
        with self._lock:
            if self.script:
                return self.script.pop(0)
            roll = self._random.random()
        for name in FAULTS:
            rate = getattr(self, name)
            if roll < rate:
                return name
            roll -= rate
        return None


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from a route pattern, e.g. /v1/files/{file_id}
    fault: str | None = None  # an after-work fault the handler applies to its answer

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def form(self) -> tuple[dict[str, str], dict[str, list[bytes]]]:
        """Fields and files of a multipart/form-data body (files by field name, in order)."""
        head = f"Content-Type: {self.headers.get('content-type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        fields: dict[str, str] = {}
        files: dict[str, list[bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                files.setdefault(name.removesuffix("[]"), []).append(payload)
            else:
                fields[name] = payload.decode()
        return fields, files


@dataclass
class Response:
    status: int = 200
    body: bytes | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] | None = None  # server-sent events, streamed

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        self.headers.setdefault("content-type", "application/json")
        return json.dumps(self.body).encode()


Handler = Callable[[Request], Response]


class _Drop(Exception):
    """Close the connection without an answer."""


def error_body(message: str, *, kind: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class _Listener(ThreadingHTTPServer):
    """A threading HTTP server with a deep accept queue: socketserver's default backlog of 5
    resets a client that opens more connections at once (a batch with concurrency 32 does)."""

    request_queue_size = 1024


class OpenAIServer:
    """The loopback server. ``routes`` maps (method, path) to a handler ``Request -> Response``.

    Counters (thread-safe): ``counts[path]`` requests received, ``successes[prompt]`` clean image
    answers per prompt, ``faults_sent[name]``; ``inflight``/``max_inflight`` concurrent requests;
    ``produced[(model, size, quality)]`` images made, answered or not (what the service bills).
    """

    def __init__(self, faults: Faults | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.faults = faults or Faults()
        self.routes: dict[tuple[str, str], Handler] = {
            ("POST", "/v1/images/generations"): self.images_generations,
            ("POST", "/v1/images/edits"): self.images_edits,
            ("GET", "/_stats"): self.stats,
            ("GET", "/images/{image_id}"): self.served_image,
            ("POST", "/v1/responses"): self.responses,
        }
        # The Responses API's judge: a rubric containing a key is answered with its (score, reason).
        self.judge_scores: dict[str, tuple[float, str]] = {}
        self.judgements: list[dict[str, Any]] = []  # what each clean /v1/responses answer judged
        self.served: dict[str, bytes] = {}  # images answered as URLs, by id
        self.markups: list[bytes] = []  # the markup of each edit that carried one
        self.counts: Counter[str] = Counter()
        self.successes: Counter[str] = Counter()
        self.faults_sent: Counter[str] = Counter()
        self.produced: Counter[tuple[str, str, str]] = Counter()
        self.requests: list[Request] = []
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        self._images: dict[tuple, bytes] = {}
        self._httpd = _Listener((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAIServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="openai-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until the process ends (a server process of its own)."""
        self._httpd.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.successes.clear()
            self.faults_sent.clear()
            self.produced.clear()
            self.requests.clear()
            self.max_inflight = 0

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- dispatch -----------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        if request.path.startswith("/_") and (request.method, request.path) in self.routes:
            return self.routes[(request.method, request.path)](request)  # the server's own: not counted
        with self._lock:
            self.counts[request.path] += 1
            self.requests.append(request)
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            handler = self.routes.get((request.method, request.path)) or self._match(request)
            if handler is None:
                return Response(
                    404, error_body(f"Unknown path {request.path}.", kind="invalid_request_error")
                )
            denied = self._check_key(request)
            if denied is not None:
                return denied
            if self.faults.paths is not None and request.path not in self.faults.paths:
                return handler(request)
            fault = self.faults.draw()
            if fault is not None:
                with self._lock:
                    self.faults_sent[fault] += 1
                if fault == "echo_key":
                    return self._echo_key(request)
                if fault not in AFTER_WORK:
                    return self._fault(fault)
                request.fault = fault
            if self.faults.latency:
                time.sleep(self.faults.latency)
            response = handler(request)
            if response.status == 200 and self.faults.headers:
                response.headers.update(self.faults.headers)  # e.g. x-ratelimit-remaining-requests
            if fault == "drop_after_work":
                raise _Drop
            if fault == "slow_after_work":
                time.sleep(self.faults.slow_seconds)
            return response
        finally:
            with self._lock:
                self.inflight -= 1

    def _match(self, request: Request) -> Handler | None:
        """A route whose path has ``{name}`` parts (``/v1/batches/{batch_id}``); fills ``request.params``."""
        for (method, pattern), handler in self.routes.items():
            if method != request.method or "{" not in pattern:
                continue
            match = re.fullmatch(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern), request.path)
            if match:
                request.params.update(match.groupdict())
                return handler
        return None

    def _check_key(self, request: Request) -> Response | None:
        expected = self.faults.api_key
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if expected is None or given == expected or request.path.startswith("/images/"):
            return None
        masked = f"{given[:3]}***{given[-4:]}" if len(given) > 8 else "***"
        return Response(
            401,
            error_body(
                f"Incorrect API key provided: {masked}.", kind="invalid_request_error", code="invalid_api_key"
            ),
        )

    @staticmethod
    def _echo_key(request: Request) -> Response:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return Response(  # a 400 whose message the client shows, as services that echo headers do
            400,
            error_body(
                f"Invalid request made with the API key {given} (header authorization).",
                kind="invalid_request_error",
            ),
        )

    def _fault(self, fault: str) -> Response:
        f = self.faults
        if fault == "rate_limit":
            headers = {}
            if f.retry_after_ms is not None:
                headers["retry-after-ms"] = f"{f.retry_after_ms:g}"
            if f.retry_after is not None:
                headers["retry-after"] = f"{f.retry_after:g}"
            return Response(
                429,
                error_body(
                    "Rate limit reached for images per minute. Please try again later.",
                    kind="requests",
                    code="rate_limit_exceeded",
                ),
                headers,
            )
        if fault == "server_error":
            return Response(
                500, error_body("The server had an error while processing your request.", kind="server_error")
            )
        if fault == "drop":
            raise _Drop
        if fault == "slow":
            time.sleep(f.slow_seconds)
            return Response(500, error_body("Too slow.", kind="server_error"))
        if fault == "policy":
            return self._refusal()
        if fault == "malformed":
            return Response(
                200, b'{"created": 1, "data": [{"b64_json": "iVBOR', {"content-type": "application/json"}
            )
        raise ValueError(f"Unknown fault {fault!r}: use one of {', '.join(FAULTS)}.")

    @staticmethod
    def _refusal() -> Response:
        return Response(
            400, error_body(POLICY_MESSAGE, kind="image_generation_user_error", code="moderation_blocked")
        )

    def stats(self, request: Request) -> Response:
        """The counters as JSON, for a client in another process (benchmarks)."""
        with self._lock:
            return Response(
                200,
                {
                    "counts": dict(self.counts),
                    "successes": dict(self.successes),
                    "faults": dict(self.faults_sent),
                    "produced": sum(self.produced.values()),
                    "max_inflight": self.max_inflight,
                },
            )

    # -- the Responses API (a vision judge) ---------------------------------------------------
    def responses(self, request: Request) -> Response:
        """``/v1/responses`` with text and image inputs and a JSON-schema answer, as a vision model
        judging an image answers: ``{"score", "reason"}`` (from ``judge_scores`` by rubric, else
        0.8), with usage tokens (the text at 4 characters a token, the image at 85 + 170 a tile)."""
        body = request.json()
        texts, images = [], []
        for message in body.get("input") or []:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                texts.append(content)
                continue
            for part in content or []:
                if part.get("type") == "input_text":
                    texts.append(str(part.get("text", "")))
                elif part.get("type") == "input_image":
                    images.append(str(part.get("image_url", "")))
        fmt = (body.get("text") or {}).get("format") or {}
        schema = fmt.get("schema") or {}
        if fmt.get("type") != "json_schema" or set(schema.get("required") or ()) != {"score", "reason"}:
            return Response(
                400,
                error_body("This server answers a json_schema format asking for score and reason.",
                           kind="invalid_request_error", param="text.format"),
            )  # fmt: skip
        tokens_in = math.ceil(sum(len(t) for t in texts + [str(body.get("instructions") or "")]) / 4)
        sizes = []
        for url in images:
            try:
                data = base64.b64decode(url.split(",", 1)[1], validate=True)
                with Image.open(io.BytesIO(data)) as picture:
                    picture.load()
                    sizes.append(picture.size)
            except Exception:  # noqa: BLE001 - anything that is not an image is the same refusal
                return Response(
                    400, error_body("Invalid image input.", kind="invalid_request_error", param="input")
                )
            width, height = sizes[-1]
            scale = min(1.0, 768 / min(width, height))
            tokens_in += 85 + 170 * math.ceil(width * scale / 512) * math.ceil(height * scale / 512)
        rubric = " ".join(texts)
        score, reason = 0.8, "meets the rubric, mostly"
        for key, answer in self.judge_scores.items():
            if key in rubric:
                score, reason = answer
                break
        text = json.dumps({"score": score, "reason": reason})
        tokens_out = max(1, math.ceil(len(text) / 4))
        with self._lock:
            self.judgements.append({"model": body.get("model"), "rubric": rubric, "images": sizes})
        return Response(
            200,
            {
                "id": f"resp_{len(self.judgements):06d}",
                "object": "response",
                "created_at": int(time.time()),
                "status": "completed",
                "model": body.get("model"),
                "output": [
                    {
                        "type": "message",
                        "id": f"msg_{len(self.judgements):06d}",
                        "status": "completed",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": text, "annotations": []}],
                    }
                ],
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "usage": {
                    "input_tokens": tokens_in,
                    "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens": tokens_out,
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": tokens_in + tokens_out,
                },
            },
        )

    # -- the Images API -----------------------------------------------------------------------
    def images_generations(self, request: Request) -> Response:
        params = request.json()
        return self._images_answer(params, kind="generate", inputs=[], mask=None, fault=request.fault)

    def images_edits(self, request: Request) -> Response:
        fields, files = request.form()
        params: dict[str, Any] = dict(fields)
        for name in ("n", "partial_images", "output_compression", "frame_count", "frame_duration_ms"):
            if name in params:
                params[name] = int(params[name])
        svg = {k: params.pop(k) for k in list(params) if k.startswith("svg[")}  # svg[model], ...
        if svg:
            params["svg"] = {
                "model": svg.get("svg[model]"),
                **(
                    {"reasoning": {"effort": svg["svg[reasoning][effort]"]}}
                    if "svg[reasoning][effort]" in svg
                    else {}
                ),
            }
        params["stream"] = params.get("stream") == "true"
        inputs = files.get("image", [])
        if not inputs:
            return Response(
                400, error_body("An edit needs an image.", kind="invalid_request_error", param="image")
            )
        mask = (files.get("mask") or [None])[0]
        refused = self._markup_refusal(params, (files.get("markup") or [None])[0], mask)
        if refused is not None:
            return refused
        if mask is not None:
            with Image.open(io.BytesIO(mask)) as m, Image.open(io.BytesIO(inputs[0])) as first:
                if m.size != first.size:
                    return Response(
                        400,
                        error_body(
                            "The mask must be the size of the image.",
                            kind="invalid_request_error",
                            param="mask",
                        ),
                    )
                if "A" not in m.getbands():
                    return Response(
                        400,
                        error_body(
                            "The mask needs an alpha channel.", kind="invalid_request_error", param="mask"
                        ),
                    )
        return self._images_answer(params, kind="edit", inputs=inputs, mask=mask, fault=request.fault)

    def _images_answer(
        self,
        params: dict[str, Any],
        *,
        kind: str,
        inputs: list[bytes],
        mask: bytes | None,
        fault: str | None = None,
    ) -> Response:
        prompt = str(params.get("prompt", ""))
        if any(word in prompt.lower() for word in self.faults.blocked_words):
            with self._lock:
                self.faults_sent["policy"] += 1
            return self._refusal()
        size = params.get("size") or "1024x1024"
        try:
            width, height = (int(v) for v in str(size).split("x"))
        except ValueError:
            return Response(
                400, error_body(f"Invalid size {size!r}.", kind="invalid_request_error", param="size")
            )
        refused = self._size_refusal(str(params.get("model") or ""), width, height)
        if refused is not None:
            return refused
        fmt = params.get("output_format") or "png"
        background = params.get("background") or "auto"
        if background == "transparent" and fmt == "jpeg":
            return Response(
                400,
                error_body(
                    "Transparent backgrounds need png or webp.",
                    kind="invalid_request_error",
                    param="background",
                ),
            )
        quality = params.get("quality") or "auto"
        n = int(params.get("n") or 1)
        refused = self._option_refusal(params, fmt, quality, n)
        if refused is not None:
            return refused
        frames = int(params.get("frame_count") or 9) if fmt == "gif" else 1
        image = self.image(
            width if fault != "wrong_size" else width // 2, height, fmt, background, prompt, frames=frames
        )
        if fault == "truncated":
            image = image[: len(image) // 2]
        answered = n + 1 if fault == "extra_image" else n
        b64 = base64.b64encode(image).decode()
        text_tokens = max(1, math.ceil(len(prompt) / 4))
        image_in = 1024 * len(inputs) + (256 if mask else 0)
        image_out = math.ceil(_TOKENS_1MP.get(quality, 1056) * width * height / (1024 * 1024)) * n
        usage = {
            "input_tokens": text_tokens + image_in,
            "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_in},
            "output_tokens": image_out,
            "output_tokens_details": {"image_tokens": image_out, "text_tokens": 0},
            "total_tokens": text_tokens + image_in + image_out,
        }
        with self._lock:
            self.successes[prompt] += 1
            self.produced[(str(params.get("model") or ""), f"{width}x{height}", quality)] += answered
        common = {
            "background": "transparent" if background == "transparent" else "opaque",
            "output_format": fmt,
            "quality": quality if quality != "auto" else "medium",
            "size": f"{width}x{height}",
        }
        if params.get("stream"):
            prefix = "image_generation" if kind == "generate" else "image_edit"
            partial = self.image(max(16, width // 8), max(16, height // 8), fmt, background, prompt)
            events = []
            for index in range(int(params.get("partial_images") or 0)):
                events.append(
                    (
                        f"{prefix}.partial_image",
                        common
                        | {
                            "type": f"{prefix}.partial_image",
                            "b64_json": base64.b64encode(partial).decode(),
                            "created_at": int(time.time()),
                            "partial_image_index": index,
                        },
                    )
                )
            for _ in range(answered):
                events.append(
                    (
                        f"{prefix}.completed",
                        common
                        | {
                            "type": f"{prefix}.completed",
                            "b64_json": b64,
                            "created_at": int(time.time()),
                            "usage": usage,
                        },
                    )
                )
            return Response(200, events=events, headers={"content-type": "text/event-stream"})
        if self.faults.answer_as == "url":
            data = [{"url": self._serve(image, fmt)} for _ in range(answered)]
        else:
            data = [{"b64_json": b64} for _ in range(answered)]
        body = {"created": int(time.time()), "data": data, "usage": usage} | common
        if fmt == "svg":
            body["svg_usage"] = self.svg_usage(params, prompt)
        return Response(200, body)

    # The SVG author's tokens, as the service bills them apart (``svg_usage``): the default author
    # when the request names none, output tokens (reasoning included) by svg.reasoning.effort.
    SVG_AUTHOR = "gpt-5"
    SVG_TOKENS = {"none": 1500, "minimal": 3000, "low": 6000, "medium": 12000, "high": 24000,
                  "xhigh": 48000, "max": 96000, None: 12000}  # fmt: skip

    def svg_usage(self, params: dict[str, Any], prompt: str) -> dict[str, Any]:
        svg = params.get("svg") or {}
        effort = (svg.get("reasoning") or {}).get("effort")
        out = self.SVG_TOKENS[effort]
        tokens_in = 2000 + max(1, math.ceil(len(prompt) / 4))
        return {
            "model": svg.get("model") or self.SVG_AUTHOR,
            "input_tokens": tokens_in,
            "output_tokens": out,
            "reasoning_tokens": out * 3 // 4,
            "total_tokens": tokens_in + out,
        }

    # -- sizes, and images answered as URLs ----------------------------------------------------
    _STANDARD_SIZE_MODELS = ("gpt-image-1.5", "gpt-image-1-mini", "chatgpt-image-latest", "gpt-image-2.6")
    _RETIRED = ("gpt-image-1", "dall-e-2", "dall-e-3")

    def _size_refusal(self, model: str, width: int, height: int) -> Response | None:
        """The service's own size rules (independent of Workbench's model table, on purpose)."""
        if not self.faults.check_sizes:
            return None
        if model in self._RETIRED:
            return Response(
                404,
                error_body(
                    f"The model `{model}` has been shut down.",
                    kind="invalid_request_error",
                    code="model_not_found",
                ),
            )
        if model.startswith(self._STANDARD_SIZE_MODELS):
            ok = (width, height) in ((1024, 1024), (1536, 1024), (1024, 1536))
        else:
            ok = (
                width % 16 == 0
                and height % 16 == 0
                and max(width, height) <= 3840
                and max(width, height) <= 3 * min(width, height)
                and 655_360 <= width * height <= 8_294_400
            )
        if ok:
            return None
        with self._lock:
            self.faults_sent["bad_size"] += 1
        return Response(
            400,
            error_body(
                f"Invalid size '{width}x{height}' for model {model or 'the default model'}.",
                kind="invalid_request_error",
                param="size",
            ),
        )

    def _markup_refusal(
        self, params: dict[str, Any], markup: bytes | None, mask: bytes | None
    ) -> Response | None:
        """The service's rules for an edit's markup: GPT Image 2.5 only, never with a mask."""
        if markup is None:
            return None
        if mask is not None:
            return Response(
                400,
                error_body(
                    "markup cannot be combined with mask.", kind="invalid_request_error", param="markup"
                ),
            )
        if not str(params.get("model") or "").startswith(_PLUS_MODELS):
            return Response(
                400,
                error_body(
                    f"markup is not supported for model {params.get('model')}.",
                    kind="invalid_request_error",
                    param="markup",
                ),
            )
        with self._lock:
            self.markups.append(markup)
        return None

    def _option_refusal(self, params: dict[str, Any], fmt: str, quality: str, n: int) -> Response | None:
        """The service's rules for qualities, GIF, SVG and complexity (its own, not Workbench's)."""
        model = str(params.get("model") or "")

        def bad(message: str, param: str) -> Response:
            with self._lock:
                self.faults_sent["bad_option"] += 1
            return Response(400, error_body(message, kind="invalid_request_error", param=param))

        plus = model.startswith(_PLUS_MODELS)
        if quality in ("xhigh", "max") and not plus:
            return bad(f"Quality '{quality}' is not supported for model {model}.", "quality")
        if fmt not in ("png", "jpeg", "webp", "gif", "svg"):
            return bad(f"Invalid output_format '{fmt}'.", "output_format")
        if fmt in ("gif", "svg") and not plus:
            return bad(f"output_format '{fmt}' is not available for model {model}.", "output_format")
        if params.get("complexity") not in (None, "low", "medium", "high"):
            return bad(f"Invalid complexity {params.get('complexity')!r}.", "complexity")
        if fmt != "gif" and ("frame_count" in params or "frame_duration_ms" in params):
            return bad("frame_count is only supported with output_format=gif.", "frame_count")
        if fmt == "gif" and not 2 <= int(params.get("frame_count") or 9) <= 16:
            return bad("frame_count must be from 2 through 16.", "frame_count")
        if fmt != "svg" and params.get("svg") is not None:
            return bad("svg requires output_format=svg.", "svg")
        if params.get("svg") is not None and not (params["svg"] or {}).get("model"):
            return bad("Missing required parameter: 'svg.model'.", "svg.model")
        if fmt == "svg" and n != 1:
            return bad("SVG generation requires n=1.", "n")
        if fmt in ("gif", "svg") and (params.get("stream") or params.get("output_compression") is not None):
            return bad(
                f"{fmt.upper()} output does not support streaming or output_compression.", "output_format"
            )
        return None

    def _serve(self, image: bytes, fmt: str) -> str:
        with self._lock:
            image_id = f"img_{len(self.served)}.{fmt}"
            self.served[image_id] = image
        return f"http://127.0.0.1:{self.port}/images/{image_id}"

    def served_image(self, request: Request) -> Response:
        with self._lock:
            image = self.served.get(request.params["image_id"])
        if image is None:
            return Response(404, error_body("No such image.", kind="invalid_request_error"))
        fmt = request.params["image_id"].rsplit(".", 1)[-1]
        return Response(200, image, {"content-type": _MIME.get(fmt, "application/octet-stream")})

    def image(
        self, width: int, height: int, fmt: str, background: str, prompt: str, *, frames: int = 1
    ) -> bytes:
        """An encoded image of exactly this size and format (cached: the bench asks for many): an
        animated GIF of ``frames`` frames, or an SVG document of that size."""
        transparent = background == "transparent"
        key = (width, height, fmt, transparent, hash(prompt) % 7, frames)
        with self._lock:
            cached = self._images.get(key)
        if cached is not None:
            return cached
        colour = (40 + 30 * key[4], 120, 200)
        if fmt == "svg":
            data = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                f'viewBox="0 0 {width} {height}"><rect width="{width}" height="{height}" '
                f'fill="rgb{colour}"/><circle cx="{width // 2}" cy="{height // 2}" '
                f'r="{min(width, height) // 4}" fill="#fff"/></svg>\n'
            ).encode()
            with self._lock:
                self._images[key] = data
            return data
        if fmt == "gif":
            stills = [
                Image.new("RGB", (width, height), (colour[0], colour[1], (colour[2] + 5 * i) % 256))
                for i in range(frames)
            ]
            buffer = io.BytesIO()
            stills[0].save(buffer, "GIF", save_all=True, append_images=stills[1:], duration=200, loop=0)
            data = buffer.getvalue()
            with self._lock:
                self._images[key] = data
            return data
        if transparent:
            image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
            image.paste((*colour, 255), (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
        else:
            image = Image.new("RGB", (width, height), colour)
        buffer = io.BytesIO()
        image.save(buffer, _PIL_FORMAT[fmt], **({"lossless": True} if fmt == "webp" else {}))
        data = buffer.getvalue()
        with self._lock:
            self._images[key] = data
        return data


def _make_handler(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real service: clients reuse connections
        disable_nagle_algorithm = True  # headers and body go out as they are written, no 40 ms stalls

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("content-length") or 0))

        def _handle(self) -> None:
            request = Request(
                self.command,
                self.path.split("?")[0],
                {k.lower(): v for k, v in self.headers.items()},
                self._body(),
            )
            try:
                response = server.dispatch(request)
            except _Drop:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            try:
                if response.events is not None:
                    self._stream(response)
                else:
                    body = response.encoded()
                    self.send_response(response.status)
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _stream(self, response: Response) -> None:
            self.send_response(response.status)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("connection", "close")
            self.end_headers()
            self.close_connection = True
            for name, data in response.events or []:
                self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

        do_POST = _handle
        do_GET = _handle
        do_DELETE = _handle

    return _Handler


def main(argv: list[str] | None = None) -> None:
    """Serve in this process (for benchmarks): ``python tests/openai_server.py [latency] [rate_limit]``.

    Prints the base URL on its first line, then serves until killed.
    """
    args = argv if argv is not None else sys.argv[1:]
    faults = Faults(
        latency=float(args[0]) if args else 0.0, rate_limit=float(args[1]) if len(args) > 1 else 0.0
    )
    server = OpenAIServer(faults)
    print(server.base_url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
