"""Big runs through the OpenAI Batch API: half price, answered within 24 hours.

``submit`` plans the experiment on the openai backend (priced at the Batch API's discount),
refuses when the wallet cannot pay, writes one JSONL line per job to render (``custom_id`` is
the job key), uploads it (``/v1/files``), creates the batch (``/v1/batches``) and records it in
the ``batches`` table. Jobs already made come from the cache at once, as in ``batch run``.

Edit jobs (``edit:`` in the experiment) go to ``/v1/images/edits``: their images are uploaded once
each (``/v1/files``, purpose ``user_data``) and each JSONL body names them as
``images: [{"file_id": ...}]`` and ``mask: {"file_id": ...}``. A batch has one endpoint, so an
experiment mixing generations and edits is refused before the wallet is asked.

``status`` polls the remote batch; ``collect`` downloads the output and error files and turns
each answer into stored images and a ledger row charged to the wallet (dollars at the discount),
each per-request error into a ``failed`` (or ``blocked``) row at 0 credits. Collecting again adds
nothing: jobs that already have a row in the batch are skipped.

Credits are held in escrow at submit (the whole estimate, before anything is uploaded; refused with
the shortfall) and charged at collect against it, image by image, as the provider bills them; what
is left is released, and so is all of it when the batch fails, expires or is cancelled.

Example:
    >>> submitted = submit(wb, load_experiment("product-lighting", backend="openai"))
    >>> status(wb, submitted.batch_id)["status"]
    'in_progress'
    >>> collect(wb, submitted.batch_id).statuses
"""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.backends.base import ImageResult, Usage
from workbench.batch.experiments import Experiment
from workbench.batch.folders import batch_folder
from workbench.batch.runner import (
    BatchResult,
    batch_outcome,
    count_statuses,
    load_batch,
    plan_batch,
    record_batch,
    set_batch_status,
    share_batch_files,
    write_batch_files,
)
from workbench.batch.shard import plan_job
from workbench.credits import format_credits
from workbench.errors import BackendError, ContentPolicyError, ExperimentError, ServiceError

if TYPE_CHECKING:
    from workbench.core import Workbench
    from workbench.runs import Plan

__all__ = ["EDITS_ENDPOINT", "ENDPOINT", "Submitted", "endpoint_of", "cancel", "collect", "status", "submit"]

ENDPOINT = "/v1/images/generations"
EDITS_ENDPOINT = "/v1/images/edits"  # edits, and generations with reference images
# A Batch API line is JSON: an edit's images go as ``images: [{"file_id": ...}]`` (and ``mask:
# {"file_id": ...}``), each distinct image uploaded once through /v1/files with this purpose.
INPUT_PURPOSE = "user_data"
INPUT_EXPIRES_SECONDS = 30 * 86400  # the uploads expire with the batch's own files, not kept forever
_FINISHED = ("completed", "failed", "expired", "cancelled")
_ENDED_WITHOUT_ANSWERS = ("failed", "expired", "cancelled")


@dataclass
class Submitted:
    batch_id: str
    remote_id: str
    input_file: str
    requests: int
    cached: int
    credits: float
    usd: float

    def describe(self) -> str:
        return (
            f"batch {self.batch_id}: {self.requests} requests sent to the OpenAI Batch API as "
            f"{self.remote_id} ({self.cached} from the cache); up to {format_credits(self.credits)} credits, "
            f"${self.usd:.4f} at the batch price. Poll with `workbench batch status {self.batch_id}`, "
            f"then `workbench batch collect {self.batch_id}`."
        )


def _client(wb: Workbench) -> Any:
    return wb.backend("openai").client  # the key and base URL as the backend has them


def _call(wb: Workbench, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """One call of the client with the backend's retry policy and error map."""
    import time

    from workbench.backends.openai import map_error

    backend = wb.backend("openai")
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - mapped to ours right here
            error = map_error(exc)
            delay = backend.retry.delay(attempt, error)
            if delay is None:
                raise error from None
            time.sleep(delay)


_LIST_LIMIT = 500  # remote batches looked through for ours (newest first): a lost create is recent


def _find_remote(wb: Workbench, client: Any, batch_id: str) -> Any | None:
    """The remote batch whose metadata carries our batch id (a create whose answer was lost), or None."""
    wanted = batch_id[:512]
    for seen, remote in enumerate(_call(wb, client.batches.list, limit=100)):
        if seen >= _LIST_LIMIT:
            break
        if (getattr(remote, "metadata", None) or {}).get("workbench_batch") == wanted:
            return remote
    return None


def _create_batch(wb: Workbench, client: Any, batch_id: str, **params: Any) -> Any:
    """Create the remote batch once. After an error that may have reached the service (a dropped
    connection, a timeout, a 5xx) the service's batches are looked through first and ours, found by
    its metadata, is adopted; a retry happens only when it is not there."""
    import time

    from workbench.backends.openai import map_error

    backend = wb.backend("openai")
    attempt = 0
    while True:
        attempt += 1
        try:
            return client.batches.create(metadata={"workbench_batch": batch_id[:512]}, **params)
        except Exception as exc:  # noqa: BLE001 - mapped to ours right here
            error = map_error(exc)
            found = _find_remote(wb, client, batch_id)
            if found is not None:
                return found
            delay = backend.retry.delay(attempt, error)
            if delay is None:
                raise error from None
            time.sleep(delay)


def _adopt(wb: Workbench, batch_id: str, remote: Any) -> None:
    """Record a remote batch found by its metadata as this batch's (its escrow stays held)."""
    set_batch_status(
        wb,
        batch_id,
        "submitted",
        remote_id=remote.id,
        remote_input_file=getattr(remote, "input_file_id", None),
    )


def line_body(wb: Workbench, plan: Any, file_ids: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON body of one Batch API line: the Images API parameters of a plan's request. An
    edit's images (multipart files when sent directly) become ``images``/``mask`` file references,
    ``file_ids`` mapping each image's sha256 to its uploaded file's id."""
    import hashlib

    params = wb.backend("openai").params(plan.request)
    params.pop("timeout", None)
    params.pop("stream", None)
    params.pop("partial_images", None)
    if "image" in params:
        ids = file_ids or {}
        params["images"] = [
            {"file_id": ids[hashlib.sha256(data).hexdigest()]} for _, data, _ in params.pop("image")
        ]
        for name in ("mask", "markup"):
            if name in params:
                params[name] = {"file_id": ids[hashlib.sha256(params[name][1]).hexdigest()]}
    return params


def endpoint_of(plan: Any) -> str:
    """Where a plan's request goes: the edits endpoint when it carries images, else generations."""
    return EDITS_ENDPOINT if plan.request.inputs else ENDPOINT


def _batch_endpoint(plan: Any) -> str:
    """The one endpoint of a batch's requests (a Batch API batch has one); a batch mixing
    generations and edits is one sentence, before the wallet is asked."""
    kinds: dict[str, int] = {}
    for planned in plan.to_run:
        if not planned.cached:
            endpoint = endpoint_of(planned.plan)
            kinds[endpoint] = kinds.get(endpoint, 0) + 1
    if len(kinds) > 1:
        raise ExperimentError(
            f"A Batch API batch goes to one endpoint, but this one has {kinds[ENDPOINT]} generations and "
            f"{kinds[EDITS_ENDPOINT]} edits (or generations with reference images): submit them as two "
            "experiments.",
            field="edit",
        )
    return next(iter(kinds), ENDPOINT)


def _upload_inputs(wb: Workbench, client: Any, plan: Any) -> dict[str, str]:
    """Upload each distinct image the batch's edits carry (inputs, references, masks) once;
    their file ids by sha256."""
    import hashlib

    from workbench.backends.openai import _mime

    file_ids: dict[str, str] = {}
    for planned in plan.to_run:
        request = planned.plan.request
        if planned.cached or not request.inputs:
            continue
        marks = tuple(m for m in (request.mask, request.markup) if m is not None)
        for data in (*request.inputs, *marks):
            digest = hashlib.sha256(data).hexdigest()
            if digest in file_ids:
                continue
            ext, mime = _mime(data)
            uploaded = _call(
                wb,
                client.files.create,
                file=(f"{digest[:16]}.{ext}", data, mime),
                purpose=INPUT_PURPOSE,
                expires_after={"anchor": "created_at", "seconds": INPUT_EXPIRES_SECONDS},
            )
            file_ids[digest] = uploaded.id
    return file_ids


def submit(wb: Workbench, experiment: Experiment, *, batch_id: str | None = None) -> Submitted:
    """Send an experiment's uncached jobs to the OpenAI Batch API; refuse first if the wallet cannot pay."""
    for job in experiment.jobs:
        if (job.backend or wb.default_backend) != "openai":
            raise ExperimentError(
                f"--via openai-batch runs on the openai backend, but job {job.index + 1} asks for "
                f"{job.backend or wb.default_backend}; pass --backend openai.",
                field="backend",
            )
    # plan_batch refuses a model the Batch API does not offer (or a job it cannot send) first,
    # before the wallet is asked; then nothing is uploaded when the wallet cannot pay.
    plan = plan_batch(wb, experiment, batch_id=batch_id, via="openai-batch")
    plan.check()
    _batch_endpoint(plan)  # one endpoint per batch: refused before the wallet is asked
    client = _client(wb)  # a missing key fails here, before any file is written
    # Escrow: the whole estimate is held before anything is uploaded (refused with the shortfall);
    # collect commits each request's actual credits against it and releases the rest.
    escrow = wb.wallet.reserve(
        plan.credits, None, batch_id=plan.batch_id, lease_seconds=None, what=f"batch {plan.batch_id}"
    )
    try:
        return _send(wb, plan, client)
    except BaseException:
        # The create may have reached the service before the error (or a Ctrl-C): a batch carrying
        # our id is adopted, its escrow kept; only when the service has none is the escrow released.
        try:
            remote = _find_remote(wb, client, plan.batch_id)
        except Exception:  # noqa: BLE001 - cannot tell: keep the escrow, `batch status` looks again
            with contextlib.suppress(Exception):
                set_batch_status(wb, plan.batch_id, "submitting")
            raise
        if remote is not None:
            _adopt(wb, plan.batch_id, remote)
            raise
        wb.wallet.release(escrow, note="the batch was not created")
        with contextlib.suppress(Exception):
            set_batch_status(wb, plan.batch_id, "failed")
        raise


def _send(wb: Workbench, plan: Any, client: Any) -> Submitted:
    """Write the batch's files and JSONL, record it, upload it and create the remote batch."""
    folder = batch_folder(wb, plan.batch_id)
    write_batch_files(folder, plan)
    share_batch_files(wb, folder, plan.batch_id)  # so any root of a team can collect it
    endpoint = _batch_endpoint(plan)
    record_batch(wb, plan, status="submitting", options={"via": "openai-batch"})
    file_ids = _upload_inputs(wb, client, plan)  # an edit's images, each once, before its lines
    lines, cached = [], 0
    for planned in plan.to_run:
        if planned.cached:  # done before, or a repeat of a job of this batch: one answer serves both
            continue
        lines.append(
            json.dumps(
                {
                    "custom_id": planned.job.key,
                    "method": "POST",
                    "url": endpoint,
                    "body": line_body(wb, planned.plan, file_ids),
                },
                ensure_ascii=False,
            )
        )
    for planned in plan.to_run:  # jobs made before: cached rows now, as a local run would log them
        if planned.plan.estimate.cached:
            wb.run_plan(planned.plan, batch_id=plan.batch_id, shard=0)
            cached += 1
    if not lines:
        set_batch_status(wb, plan.batch_id, "collected")
        return Submitted(plan.batch_id, "", "", 0, cached, 0, 0.0)
    payload = ("\n".join(lines) + "\n").encode()
    (folder / "requests.jsonl").write_bytes(payload)
    uploaded = _call(
        wb, client.files.create, file=("requests.jsonl", payload, "application/jsonl"), purpose="batch"
    )
    remote = _create_batch(
        wb, client, plan.batch_id, input_file_id=uploaded.id, endpoint=endpoint, completion_window="24h"
    )
    set_batch_status(wb, plan.batch_id, "submitted", remote_id=remote.id, remote_input_file=uploaded.id)
    return Submitted(plan.batch_id, remote.id, uploaded.id, len(lines), cached, plan.credits, plan.usd)


def _remote(wb: Workbench, batch_id: str) -> dict[str, Any]:
    row = wb.batches.get(batch_id)
    if row is None:
        raise ExperimentError(f"No batch {batch_id} in the run log.", field="batch_id")
    if row["via"] != "openai-batch":
        raise ExperimentError(
            f"Batch {batch_id} ran locally, not through the OpenAI Batch API.", field="batch_id"
        )
    return row


def status(wb: Workbench, batch_id: str) -> dict[str, Any]:
    """The remote batch's status and request counts (and the local record, updated)."""
    row = _remote(wb, batch_id)
    if not row["remote_id"] and row["status"] == "submitting":
        # Killed between the create and its record: the service's batch carrying our id is ours.
        client = _client(wb)
        found = _find_remote(wb, client, batch_id)
        if found is not None:
            _adopt(wb, batch_id, found)
            row = _remote(wb, batch_id)
    if not row["remote_id"]:
        return {"status": row["status"], "total": 0, "completed": 0, "failed": 0}
    remote = _call(wb, _client(wb).batches.retrieve, row["remote_id"])
    counts = remote.request_counts
    info = {
        "status": remote.status,
        "total": getattr(counts, "total", 0),
        "completed": getattr(counts, "completed", 0),
        "failed": getattr(counts, "failed", 0),
        "remote_id": remote.id,
    }
    if row["status"] != "collected":
        set_batch_status(
            wb,
            batch_id,
            remote.status,
            remote_output_file=remote.output_file_id,
            remote_error_file=remote.error_file_id,
        )
    if remote.status in _ENDED_WITHOUT_ANSWERS and not getattr(remote, "output_file_id", None):
        _release_escrow(wb, batch_id, f"the batch {remote.status}")
    return info


def _release_escrow(wb: Workbench, batch_id: str, note: str) -> int:
    """Give back what a batch's escrow still holds (collected, cancelled, expired or failed)."""
    escrow = wb.wallet.escrow(batch_id)
    return wb.wallet.release(escrow, note=note) if escrow is not None else 0


def _result(body: dict[str, Any], model: str) -> ImageResult:
    from workbench.store import sniff_stored_format

    images = [base64.b64decode(item["b64_json"], validate=True) for item in body.get("data") or []]
    if not images:
        raise ServiceError("The Batch API answered without an image.", backend="openai")
    usage = body.get("usage") or {}
    details_in = usage.get("input_tokens_details") or {}
    details_out = usage.get("output_tokens_details") or {}
    text_out = int(details_out.get("text_tokens") or 0)
    svg = body.get("svg_usage") or {}  # SVG output's author, billed apart by its own model
    return ImageResult(
        images=images,
        format=sniff_stored_format(images[0]) or "png",
        model=model,
        usage=Usage(
            text_in=int(details_in.get("text_tokens", usage.get("input_tokens", 0)) or 0),
            image_in=int(details_in.get("image_tokens") or 0),
            image_out=int(details_out.get("image_tokens", (usage.get("output_tokens") or 0) - text_out) or 0),
            text_out=text_out,
            svg_in=int(svg.get("input_tokens") or 0),
            svg_out=int(svg.get("output_tokens") or 0),
            svg_reasoning=int(svg.get("reasoning_tokens") or 0),
            svg_model=svg.get("model") or None,
        ),
        raw={k: body.get(k) for k in ("size", "quality", "background", "output_format") if body.get(k)},
    )


def _error(record: dict[str, Any]) -> BackendError:
    response = record.get("response") or {}
    body = response.get("body") or {}
    error = (body.get("error") if isinstance(body, dict) else None) or record.get("error") or {}
    message = error.get("message") or f"The Batch API answered {response.get('status_code', 'nothing')}."
    if error.get("code") in ("moderation_blocked", "content_policy_violation"):
        return ContentPolicyError(
            f"The openai service refused the prompt: {message}",
            reason=message,
            backend="openai",
            status_code=response.get("status_code"),
        )
    return BackendError(message, backend="openai", status_code=response.get("status_code"))


def _lines(wb: Workbench, file_id: str | None) -> list[dict[str, Any]]:
    if not file_id:
        return []
    content = _call(wb, _client(wb).files.content, file_id)
    text = content.content.decode("utf-8") if hasattr(content, "content") else content.read().decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def collect(wb: Workbench, batch_id: str, *, report: bool = True) -> BatchResult:
    """Turn a finished remote batch into stored images and ledger rows; report the batch.

    Raises:
        ExperimentError: the batch is unknown or not finished yet (the message says its status).
    """
    import time

    started = time.perf_counter()
    _remote(wb, batch_id)
    token = _claim_collect(wb, batch_id)
    try:
        return _collect(wb, batch_id, started=started, report=report)
    finally:
        wb.ledger.claim_release(f"batch:{batch_id}", token)


COLLECT_LEASE_SECONDS = 3600.0  # a collect on another host that cannot be asked holds its batch this long


def _claim_collect(wb: Workbench, batch_id: str) -> str:
    """Claim the batch for this collect (``batch:<id>`` in the claims table), or refuse while another
    collect holds it: two at once would record (and charge) every answer twice. A claim whose owner
    died (this host) or whose lease ran out (another) is taken over."""
    import os
    import secrets
    import socket

    from workbench.wallet import process_alive

    token, host, pid = f"collect-{secrets.token_hex(6)}", socket.gethostname(), os.getpid()
    key = f"batch:{batch_id}"
    holder = wb.ledger.claim(key, token, pid=pid, host=host, lease_seconds=COLLECT_LEASE_SECONDS)
    if holder is None:
        return token
    gone = holder.expired() if holder.host != host else not process_alive(holder.pid)
    if holder.host == host and holder.pid == pid:
        gone = False  # this process collects it now (another thread)
    if gone and wb.ledger.claim_take_over(
        holder, token, pid=pid, host=host, lease_seconds=COLLECT_LEASE_SECONDS
    ):
        return token
    raise ExperimentError(
        f"Batch {batch_id} is being collected by process {holder.pid} on {holder.host}; "
        f"collect it again when that one has finished.",
        field="batch_id",
    )


def _batch_priced(wb: Workbench, plan: Plan) -> Plan:
    """A job's plan with its Batch API estimate (what submit said and reserved), so its row's
    credits_estimated and usd_estimated are the discounted price, not the direct one."""
    import dataclasses

    if plan.estimate.cached:
        return plan
    priced = wb.prices.estimate(plan.backend, plan.model, plan.request, batch=True)
    return dataclasses.replace(
        plan, estimate=dataclasses.replace(plan.estimate, credits=priced.credits, usd=priced.usd)
    )


def _collect(wb: Workbench, batch_id: str, *, started: float, report: bool) -> BatchResult:
    import time

    row = _remote(wb, batch_id)
    if not row["remote_id"] and row["status"] == "submitting":
        status(wb, batch_id)  # a create whose record was lost: adopt the service's batch first
        row = _remote(wb, batch_id)
    first_rowid = wb.batches.mark()
    experiment = load_batch(wb, batch_id)
    plans = {job.key: (job, _batch_priced(wb, plan_job(wb, job, experiment.name))) for job in experiment.jobs}
    recorded = wb.batches.jobs(batch_id)
    escrow = wb.wallet.escrow(batch_id)  # what submit reserved: each answer is paid from it
    if row["remote_id"]:
        info = status(wb, batch_id)
        if info["status"] not in _FINISHED:
            raise ExperimentError(
                f"Batch {batch_id} is {info['status']} ({info['completed']} of {info['total']} "
                f"done); collect it when it has completed.",
                field="batch_id",
            )
        remote = _call(wb, _client(wb).batches.retrieve, row["remote_id"])
        answers = _lines(wb, remote.output_file_id) + _lines(wb, remote.error_file_id)
        for record in answers:
            key = record.get("custom_id")
            if key not in plans or key in recorded:
                continue
            job, plan = plans[key]
            response = record.get("response") or {}
            if response.get("status_code") == 200 and not record.get("error"):
                try:
                    result = _result(response.get("body") or {}, plan.model)
                except (ValueError, KeyError, ServiceError) as exc:
                    wb.record_result(
                        plan,
                        error=ServiceError(f"An unreadable Batch API answer: {exc}", backend="openai"),
                        batch_id=batch_id,
                        shard=0,
                        escrow=escrow,
                    )
                else:
                    wb.record_result(
                        plan, result=result, batch_id=batch_id, shard=0, batch_pricing=True, escrow=escrow
                    )
            else:
                wb.record_result(plan, error=_error(record), batch_id=batch_id, shard=0, escrow=escrow)
            recorded.add(key)
    for key, (job, _) in plans.items():  # repeats of a request, and requests with no answer
        if key in recorded:
            continue
        fresh = plan_job(wb, job, experiment.name)
        if fresh.estimate.cached:
            wb.run_plan(fresh, batch_id=batch_id, shard=0)
        else:
            wb.record_result(
                _batch_priced(wb, fresh),
                error=ServiceError("The Batch API returned no answer for this request.", backend="openai"),
                batch_id=batch_id,
                shard=0,
            )
    set_batch_status(wb, batch_id, "collected")
    _release_escrow(wb, batch_id, "the batch was collected")
    plan = plan_batch(wb, resume=batch_id, via="openai-batch")
    statuses, credits, usd = batch_outcome(wb, plan, first_rowid)
    result = BatchResult(
        batch_id, batch_folder(wb, batch_id), len(plan.jobs), count_statuses(statuses, plan), credits, usd, 0
    )
    if report:
        from workbench.batch.report import write_report

        written = write_report(wb, batch_id)
        result.contact_sheets, result.report = written.contact_sheets, written.html
    result.seconds = time.perf_counter() - started
    return result


CANCEL_WAIT_SECONDS = 60.0  # how long `cancel` waits for the provider to stop the batch


def cancel(wb: Workbench, batch_id: str, *, wait: float = CANCEL_WAIT_SECONDS) -> BatchResult | None:
    """Cancel a Batch API batch at the provider, then collect what it answered before it stopped
    (charged from the escrow) and release the rest of the escrow; None when nothing was sent.

    Raises:
        ExperimentError: the batch is unknown, collected already, or still stopping after ``wait``.
    """
    import time

    row = _remote(wb, batch_id)
    if row["status"] == "collected":
        raise ExperimentError(
            f"Batch {batch_id} was collected already; there is nothing to cancel.", field="batch_id"
        )
    status(wb, batch_id)  # adopts a batch whose create was not recorded
    row = _remote(wb, batch_id)
    if not row["remote_id"]:  # never created at the provider: only the escrow to give back
        set_batch_status(wb, batch_id, "cancelled")
        _release_escrow(wb, batch_id, "the batch was cancelled before it was created")
        return None
    _call(wb, _client(wb).batches.cancel, row["remote_id"])
    deadline = time.monotonic() + wait
    while (info := status(wb, batch_id))["status"] not in _FINISHED:
        if time.monotonic() > deadline:
            raise ExperimentError(
                f"Batch {batch_id} is {info['status']} at the provider; run `workbench batch cancel "
                f"{batch_id}` again once it has stopped.",
                field="batch_id",
            )
        time.sleep(1.0)
    return collect(wb, batch_id)
