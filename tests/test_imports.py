"""Imports stay cheap: low layers never drag the runtime in.

Each check runs in a fresh interpreter, since this test process has long
imported everything.
"""

from __future__ import annotations

import subprocess
import sys


def _modules_after(statement: str) -> set[str]:
    script = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


def test_importing_shadow_loads_neither_the_runtime_nor_sqlalchemy() -> None:
    """``import shadow`` is lazy: names are imported on first use."""
    loaded = _modules_after("import shadow")
    assert "shadow.runtime" not in loaded
    assert "sqlalchemy" not in loaded


def test_a_lazily_imported_name_is_the_real_object() -> None:
    """``shadow.Runtime`` resolves to the runtime's class on first access."""
    loaded = _modules_after(
        "import shadow, shadow.runtime._runtime as r; assert shadow.Runtime is r.Runtime"
    )
    assert "shadow.runtime" in loaded


def test_importing_a_legacy_service_does_not_import_the_runtime() -> None:
    """The reference app's legacy layer needs the contract vocabulary only."""
    loaded = _modules_after("import imagegen.services.legacy.users")
    assert "shadow.runtime" not in loaded
    assert not any(name.startswith("shadow.cutover") for name in loaded)


def test_shadow_help_does_not_import_the_runtime_the_services_or_sqlalchemy() -> None:
    """Building the command line for ``--help`` loads no runtime, services or database code.

    The modules a command calls are bound lazily (they may sit in ``sys.modules``
    unexecuted); what must not be there is what they would pull in.
    """
    loaded = _modules_after("import imagegen.cli")
    assert "shadow.runtime" not in loaded
    assert "sqlalchemy" not in loaded
    assert "pydantic_settings" not in loaded
    assert not any(name.startswith("imagegen.services") for name in loaded)
