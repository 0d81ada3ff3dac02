"""The reference app's ``shadow`` command: generic commands plus ``db``, ``demo``, ``explore``.

The generic cutover commands come from :func:`shadow.cli.build_app` with this
application's defaults (its phase plan and contracts, see
:mod:`imagegen.cutover`); ``shadow db`` manages its databases and
``shadow demo`` drives its traffic through the proxies.
"""

from __future__ import annotations

from imagegen.cli import db, demo, explore
from imagegen.cutover import REFERENCE_PLAN, reference_data_schema, reference_declared_methods
from shadow.cli import AppDefaults, build_app, run

__all__ = ["app", "main"]

app = build_app(
    AppDefaults(
        plan=REFERENCE_PLAN,
        declared_methods=reference_declared_methods,
        data_schema=reference_data_schema,
    )
)
app.add_typer(db.app, name="db")
app.command()(demo.demo)
app.command()(explore.explore)


def main() -> None:
    """Console entry point of ``shadow``."""
    run(app)
