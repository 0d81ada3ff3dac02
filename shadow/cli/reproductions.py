"""``shadow divergences export`` and what ``divergences show`` adds: origins, reproductions.

A group found by exploration carries its shrunk call sequence (see
:mod:`shadow.runtime._provenance`); ``show`` prints it and where the group's
divergences came from (traffic, exploration), and ``export`` writes it as a
pytest module that fails while the candidate still diverges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shadow._exceptions import ConfigError
from shadow.cli._settings import cli_settings

__all__ = ["export_command", "group_provenance"]


def group_provenance(store_url: str, fingerprint: str, total: int) -> dict[str, Any]:
    """``{"origins": {origin: count}, "reproduction": {...} | None}`` of one group."""
    # Imported here: `shadow --help` must not load the runtime (SQLAlchemy).
    from shadow.runtime import DivergenceStore  # noqa: PLC0415
    from shadow.runtime._provenance import TRAFFIC, group_origins, load_reproduction  # noqa: PLC0415

    store = DivergenceStore(store_url)
    try:
        others = group_origins(store).get(fingerprint, {})
        reproduction = load_reproduction(store, fingerprint)
    finally:
        store.close()
    origins = {TRAFFIC: max(0, total - sum(others.values())), **others}
    return {
        "origins": {name: count for name, count in origins.items() if count},
        "reproduction": reproduction.to_dict() if reproduction is not None else None,
    }


def export_command(
    ctx: typer.Context,
    fingerprint: Annotated[str, typer.Argument(help="The group's fingerprint.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write the pytest module.")
    ],
) -> None:
    """Write a group's shrunk reproduction as a runnable pytest test."""
    from shadow.cutover import control  # noqa: PLC0415 - keeps `shadow --help` cheap
    from shadow.explore._steps import export_test  # noqa: PLC0415 - idem (pulls the runtime)
    from shadow.runtime import DivergenceStore  # noqa: PLC0415 - idem
    from shadow.runtime._provenance import load_reproduction  # noqa: PLC0415 - idem

    files = cli_settings(ctx)
    settings = control.CutoverSettings.from_files(
        files.config, declared_methods={}, store=files.store
    )
    if settings.store is None:
        raise ConfigError("no divergence store given (--store or SHADOW_STORE_URL)")
    opened = DivergenceStore(settings.store)
    try:
        reproduction = load_reproduction(opened, fingerprint)
    finally:
        opened.close()
    if reproduction is None:
        raise ConfigError(
            f"group {fingerprint!r} has no stored reproduction (only exploration records one)"
        )
    text = export_test(
        fingerprint=reproduction.fingerprint,
        service=reproduction.service,
        method=reproduction.method,
        steps=reproduction.steps,
        target=reproduction.target,
        reproduces_redacted=reproduction.reproduces_redacted,
    )
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {output}: {error.strerror}") from None
    if not files.quiet:
        typer.echo(f"wrote {output} ({len(reproduction.steps)} step(s))", err=True)
