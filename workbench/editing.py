"""Edit planning: from a source image and an instruction (or a finishing operation) to a ``Plan``.

The source and references are read as uploads, every region merges into one mask, and the
instruction is routed: one the draft backend can do locally (``workbench.instructions``) is a free
draft edit, anything else goes to the image service at a size its model can make.
``Workbench.edit``/``plan_edit``/``finish`` call these; running the plan is ``workbench.runs``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.backends.base import Backend, ModelCapabilities, get_backend_class
from workbench.errors import SpecError

if TYPE_CHECKING:
    from workbench.core import Workbench
    from workbench.runs import Plan

__all__ = ["edit_size", "plan_edit", "plan_finish", "plan_for_source"]


def plan_edit(
    wb: Workbench,
    image: Any,
    instruction: str,
    *,
    regions: Any,
    mask: Any,
    references: Any,
    backend: str | None,
    max_bytes: int | None,
    **options: Any,
) -> Plan:
    from workbench.imaging.masks import build_mask
    from workbench.imaging.uploads import resolve_source
    from workbench.instructions import map_instruction

    source = resolve_source(image, store_root=wb.root, max_bytes=max_bytes)
    extra = tuple(resolve_source(r, store_root=wb.root, max_bytes=max_bytes).data for r in references)
    mask_png = build_mask(regions, source.size, mask=mask)
    local = map_instruction(instruction) if not extra else None
    if local is None and backend is None and not extra:
        from workbench.instructions import local_sounding, unknown_local_error

        what = local_sounding(instruction)
        if what is not None:  # ask rather than pay for what sounds like a quick local fix
            raise SpecError(unknown_local_error(instruction, what), field="instruction")
    name = backend or ("draft" if local is not None else "openai")
    local = local if name == "draft" else None
    return plan_for_source(wb, source, instruction, local, name, extra, mask_png, **options)


def plan_finish(
    wb: Workbench,
    image: Any,
    operation: str,
    *,
    regions: Any = None,
    mask: Any = None,
    max_bytes: int | None = None,
    **params: Any,
) -> Plan:
    """The plan of a local finishing operation (an operation name with its parameters, or an
    instruction the draft backend can do); see ``Workbench.finish``."""
    from workbench.imaging.finishing import OPERATIONS
    from workbench.imaging.masks import build_mask
    from workbench.imaging.uploads import resolve_source
    from workbench.instructions import LocalOperation, map_instruction

    plan_options = {k: params.pop(k) for k in ("variant", "quality", "output_format") if k in params}
    source = resolve_source(image, store_root=wb.root, max_bytes=max_bytes)
    extra: tuple[bytes, ...] = ()
    if operation in OPERATIONS:
        if operation == "overlay_text" and "texts" in params:
            params["texts"] = _text_params(params["texts"])
        if operation == "replace_background" and _is_image(params.get("background")):
            backdrop = resolve_source(params["background"], store_root=wb.root, max_bytes=max_bytes)
            extra = (backdrop.data,)
            params["background"] = "input:1"
        local = LocalOperation(operation, params)
    else:
        if params:
            raise SpecError(
                f"Parameters go with an operation name, not with an instruction: {operation!r}.",
                field="params",
            )
        local = map_instruction(operation)
        if local is None:
            from workbench.instructions import local_sounding, unknown_local_error

            what = local_sounding(operation)
            if what is not None:  # edit() would ask too: say what it sounds like and what to do
                raise SpecError(unknown_local_error(operation, what), field="operation")
            raise SpecError(
                f"{operation!r} is not a local finishing operation: use edit() to send it to the image "
                f"service, or one of {', '.join(sorted(OPERATIONS))}.",
                field="operation",
            )
    mask_png = build_mask(regions, source.size, mask=mask)
    instruction = local.describe() if operation in OPERATIONS else operation
    return plan_for_source(wb, source, instruction, local, "draft", extra, mask_png, **plan_options)


def plan_for_source(
    wb: Workbench,
    source: Any,
    instruction: str,
    local: Any,
    backend: str,
    extra: tuple[bytes, ...],
    mask_png: bytes | None,
    **options: Any,
) -> Plan:
    from workbench.instructions import output_size

    if local is not None:
        size = output_size(local, source.size)
        params = {
            "operation": local.operation,
            "operation_params": local.params,
            "instruction": instruction,
        }
    else:
        cls = get_backend_class(backend)
        size = options.pop("size", None) or edit_size(
            cls,
            options.get("model"),
            source.size,
            options.get("quality", "medium"),
            caps=wb.models.capabilities(options.get("model")) if cls.uses_model_table else None,
        )
        params = {"instruction": instruction, "references": len(extra)}
        if tuple(size) != tuple(source.size):
            # The service answers at its nearest size: cropped (or padded) back to the upload's aspect.
            params["restore_aspect"] = list(source.size)
    if mask_png is not None:
        params["mask"] = True
    return wb.plan(
        instruction,
        kind="edit",
        backend=backend,
        prompt=instruction,
        size=size,
        inputs=(source.data, *extra),
        mask=mask_png,
        parent_id=source.parent_id,
        params=params,
        **options,
    )


def _is_image(value: Any) -> bool:
    """Whether a replace_background ``background`` is an image (not a colour)."""
    if isinstance(value, (bytes, bytearray, Path)) or hasattr(value, "images"):
        return True
    if isinstance(value, str):
        return Path(value).suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")
    return type(value).__module__.startswith("PIL")


def _text_params(texts: Any) -> list[dict[str, str]]:
    """Exact texts as JSON-able dicts (they are part of the run's prompt and fingerprint)."""
    from workbench.spec import TextItem

    return [{"text": item.text, "role": item.role} for item in TextItem.coerce_many(texts)]


def edit_size(
    cls: type[Backend],
    model: str | None,
    size: tuple[int, int],
    quality: str,
    *,
    caps: ModelCapabilities | None = None,
) -> tuple[int, int]:
    """The source's size when the model can make it, else the model's size nearest its aspect.
    ``caps``: the model's row of the Workbench's own table (a gateway's model), when it has one."""
    from workbench.spec import ASPECT_SIZES

    caps = caps or cls.capabilities(model)
    if caps.supports_size(*size):
        return size
    ratio = size[0] / size[1]
    choices = [high if quality == "high" else medium for medium, high in ASPECT_SIZES.values()]
    if caps.sizes is not None:
        choices = sorted(caps.sizes)
    fitting = [c for c in choices if caps.supports_size(*c)] or choices

    return min(fitting, key=lambda c: abs(math.log(c[0] / c[1] / ratio)))
