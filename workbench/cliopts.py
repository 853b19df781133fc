"""The ``Workbench`` a CLI command works on, made from the global options (``--root``,
``--prompts``, ``--base-url``, ``--database``, ``--store``) kept in the click context. Shared by
``workbench`` and ``workbench batch`` so neither command module imports the other for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click

    from workbench.core import Workbench

__all__ = ["workbench_for"]


def workbench_for(ctx: click.Context, **kwargs: Any) -> Workbench:
    """A Workbench on the context's root, prompt folders, OpenAI base URL, database and store."""
    from workbench.core import Workbench

    options = ctx.obj or {}
    backend_options = {}
    if options.get("base_url"):
        backend_options["openai"] = {"base_url": options["base_url"]}
    kwargs.setdefault("database", options.get("database"))
    kwargs.setdefault("store", options.get("store"))
    return Workbench(
        options.get("root"), prompts=options.get("prompts", ()), backend_options=backend_options, **kwargs
    )
