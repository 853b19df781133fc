"""The OpenAI Batch API on the loopback server: ``/v1/files`` and ``/v1/batches``.

``BatchAPI(server)`` registers its routes on an ``OpenAIServer`` and changes nothing else::

    server = OpenAIServer(Faults()).start()
    api = BatchAPI(server, polls_to_complete=2)
    # POST /v1/files (multipart, purpose=batch) → a file id; GET /v1/files/{id}, /v1/files/{id}/content
    # POST /v1/batches {input_file_id, endpoint, completion_window} → a batch in "validating"
    # GET /v1/batches/{id}: each poll moves it on (validating → in_progress → completed); on
    #   completion every line runs through the server's own Images API handler, answers go to
    #   the output file, per-request errors (a refused prompt, a bad size) to the error file.

Lines are JSON ``{"custom_id", "method": "POST", "url": "/v1/images/generations", "body": {...}}``
(the url is the batch's endpoint; an ``/v1/images/edits`` body carries ``images: [{"file_id"}]``
and ``mask: {"file_id"}``, files uploaded with purpose ``user_data``, or ``image_url`` data URLs);
output lines ``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``,
as the real service writes them.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import Counter
from typing import Any

from openai_server import OpenAIServer, Request, Response, error_body

__all__ = ["BatchAPI"]

ENDPOINTS = ("/v1/images/generations", "/v1/images/edits")


class BatchAPI:
    """Files and batches held in memory. ``polls_to_complete``: retrieves before a batch is done;
    ``fail_lines``: line numbers (from 0) whose request fails with a server error."""

    def __init__(
        self, server: OpenAIServer, *, polls_to_complete: int = 1, fail_lines: set[int] = frozenset()
    ) -> None:
        self.server = server
        self.polls_to_complete = polls_to_complete
        self.fail_lines = set(fail_lines)  # 0-based lines answered with a 500, as a flaky service would
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._polls: dict[str, int] = {}
        self.uploads: Counter[str] = Counter()
        self.edit_inputs: list[
            tuple[list[bytes], bytes | None]
        ] = []  # what each edit line carried  # files uploaded other than batch inputs, by purpose
        self._lock = threading.Lock()
        server.routes.update(
            {
                ("POST", "/v1/files"): self.create_file,
                ("GET", "/v1/files/{file_id}"): self.retrieve_file,
                ("GET", "/v1/files/{file_id}/content"): self.file_content,
                ("POST", "/v1/batches"): self.create_batch,
                ("GET", "/v1/batches"): self.list_batches,
                ("GET", "/v1/batches/{batch_id}"): self.retrieve_batch,
                ("POST", "/v1/batches/{batch_id}/cancel"): self.cancel_batch,
            }
        )
        server.batch_api = self  # type: ignore[attr-defined]

    # -- files --------------------------------------------------------------------------------
    def _store(self, data: bytes, *, filename: str, purpose: str) -> dict[str, Any]:
        file_id = f"file-{secrets.token_hex(8)}"
        record = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }
        with self._lock:
            self.files[file_id] = record
            self.contents[file_id] = data
        return record

    def create_file(self, request: Request) -> Response:
        fields, files = request.form()
        purpose = fields.get("purpose")
        if purpose not in ("batch", "user_data", "vision"):
            return Response(
                400,
                error_body(
                    "purpose must be 'batch', 'user_data' or 'vision'.",
                    kind="invalid_request_error",
                    param="purpose",
                ),
            )
        uploads = files.get("file") or []
        if not uploads:
            return Response(
                400, error_body("A file is required.", kind="invalid_request_error", param="file")
            )
        if purpose != "batch":  # an image a batch's edit lines refer to by its file id
            self.uploads[purpose] += 1
            return Response(200, self._store(uploads[0], filename="image", purpose=purpose))
        for number, line in enumerate(uploads[0].splitlines(), 1):
            try:
                item = json.loads(line)
                assert {"custom_id", "method", "url", "body"} <= set(item)
            except (ValueError, AssertionError):
                return Response(
                    400,
                    error_body(
                        f"Line {number} of the file is not a batch request.",
                        kind="invalid_request_error",
                        param="file",
                    ),
                )
        return Response(200, self._store(uploads[0], filename="batch.jsonl", purpose="batch"))

    def retrieve_file(self, request: Request) -> Response:
        record = self.files.get(request.params["file_id"])
        if record is None:
            return Response(404, error_body("No such file.", kind="invalid_request_error"))
        return Response(200, record)

    def file_content(self, request: Request) -> Response:
        data = self.contents.get(request.params["file_id"])
        if data is None:
            return Response(404, error_body("No such file.", kind="invalid_request_error"))
        return Response(200, data, {"content-type": "application/octet-stream"})

    # -- batches ------------------------------------------------------------------------------
    def create_batch(self, request: Request) -> Response:
        params = request.json()
        if params.get("input_file_id") not in self.files:
            return Response(
                400, error_body("No such input file.", kind="invalid_request_error", param="input_file_id")
            )
        if params.get("endpoint") not in ENDPOINTS:
            return Response(
                400,
                error_body(
                    f"Unsupported endpoint {params.get('endpoint')!r}.",
                    kind="invalid_request_error",
                    param="endpoint",
                ),
            )
        if params.get("completion_window") != "24h":
            return Response(
                400,
                error_body(
                    "completion_window must be '24h'.",
                    kind="invalid_request_error",
                    param="completion_window",
                ),
            )
        batch_id = f"batch_{secrets.token_hex(8)}"
        lines = self.contents[params["input_file_id"]].splitlines()
        batch = {
            "id": batch_id,
            "object": "batch",
            "endpoint": params["endpoint"],
            "errors": None,
            "input_file_id": params["input_file_id"],
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(time.time()),
            "in_progress_at": None,
            "completed_at": None,
            "expires_at": int(time.time()) + 86400,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": params.get("metadata") or {},
        }
        with self._lock:
            self.batches[batch_id] = batch
            self._polls[batch_id] = 0
        return Response(200, batch)

    def list_batches(self, request: Request) -> Response:
        """Every batch, newest first (one page: ``has_more`` is false), as the service lists them."""
        with self._lock:
            batches = sorted(self.batches.values(), key=lambda b: b["created_at"], reverse=True)
        return Response(200, {"object": "list", "data": batches, "has_more": False})

    def retrieve_batch(self, request: Request) -> Response:
        batch_id = request.params["batch_id"]
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return Response(404, error_body("No such batch.", kind="invalid_request_error"))
            self._polls[batch_id] += 1
            polls = self._polls[batch_id]
        if batch["status"] == "validating":
            batch["status"], batch["in_progress_at"] = "in_progress", int(time.time())
        if batch["status"] == "in_progress" and polls >= self.polls_to_complete:
            self._complete(batch)
        return Response(200, batch)

    def cancel_batch(self, request: Request) -> Response:
        batch = self.batches.get(request.params["batch_id"])
        if batch is None:
            return Response(404, error_body("No such batch.", kind="invalid_request_error"))
        if batch["status"] in ("validating", "in_progress"):
            batch["status"] = "cancelled"
        return Response(200, batch)

    def _complete(self, batch: dict[str, Any]) -> None:
        outputs, errors = [], []
        for number, line in enumerate(self.contents[batch["input_file_id"]].splitlines()):
            item = json.loads(line)
            answer = (
                Response(
                    500, error_body("The server had an error processing this request.", kind="server_error")
                )
                if number in self.fail_lines
                else self._answer(item, batch["endpoint"])
            )
            body = answer.body if not isinstance(answer.body, bytes) else json.loads(answer.body or b"{}")
            record = {
                "id": f"batch_req_{secrets.token_hex(6)}",
                "custom_id": item["custom_id"],
                "response": {
                    "status_code": answer.status,
                    "request_id": f"req_{secrets.token_hex(6)}",
                    "body": body,
                },
                "error": None,
            }
            (outputs if answer.status == 200 else errors).append(json.dumps(record))
        counts = batch["request_counts"]
        counts["completed"], counts["failed"] = len(outputs), len(errors)
        if outputs:
            batch["output_file_id"] = self._store(
                ("\n".join(outputs) + "\n").encode(), filename="output.jsonl", purpose="batch_output"
            )["id"]
        if errors:
            batch["error_file_id"] = self._store(
                ("\n".join(errors) + "\n").encode(), filename="errors.jsonl", purpose="batch_output"
            )["id"]
        batch["status"], batch["completed_at"] = "completed", int(time.time())

    def _answer(self, item: dict[str, Any], endpoint: str) -> Response:
        if item.get("method") != "POST" or item.get("url") != endpoint:
            return Response(
                400,
                error_body(
                    f"The url {item.get('url')!r} of a batch line is not the batch's endpoint {endpoint!r}.",
                    kind="invalid_request_error",
                    param="url",
                ),
            )
        body = dict(item["body"])
        if endpoint == "/v1/images/generations":
            return self.server._images_answer(body, kind="generate", inputs=[], mask=None)
        # An edit as JSON: images (and the mask) by file id or data URL, as the service takes them.
        try:
            inputs = [self._image_ref(ref) for ref in body.pop("images", None) or []]
            mask = self._image_ref(body.pop("mask")) if body.get("mask") is not None else None
            markup = self._image_ref(body.pop("markup")) if body.get("markup") is not None else None
        except LookupError as exc:
            return Response(400, error_body(str(exc), kind="invalid_request_error", param="images"))
        refused = self.server._markup_refusal(body, markup, mask)
        if refused is not None:
            return refused
        if "image" in body:
            return Response(
                400,
                error_body(
                    "A JSON edit takes `images` (file ids or image URLs), not `image`.",
                    kind="invalid_request_error",
                    param="image",
                ),
            )
        if not inputs:
            return Response(
                400, error_body("An edit needs an image.", kind="invalid_request_error", param="images")
            )
        self.edit_inputs.append((inputs, mask))
        return self.server._images_answer(body, kind="edit", inputs=inputs, mask=mask)

    def _image_ref(self, ref: Any) -> bytes:
        """An image reference of a JSON edit: ``{"file_id": ...}`` or ``{"image_url": "data:..."}``."""
        if isinstance(ref, dict) and ref.get("file_id"):
            data = self.contents.get(ref["file_id"])
            if data is None:
                raise LookupError(f"No such file {ref['file_id']!r}.")
            return data
        if isinstance(ref, dict) and str(ref.get("image_url", "")).startswith("data:"):
            return base64.b64decode(ref["image_url"].split(",", 1)[1])
        raise LookupError(f"An image is {{'file_id': ...}} or {{'image_url': 'data:...'}}, not {ref!r}.")
