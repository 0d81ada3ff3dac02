"""The modes file the running proxies re-read, and the audit log of every change.

The runtime's settings read a TOML file and pick up changes without a restart;
cutover control writes each service's mode there::

    [services.app_settings]
    mode = "shadow"

(the runtime's ``ShadowSettings``: ``default_mode`` applies to services the
file does not name, a lone ``[shadow]`` table may wrap everything, and
``kill_switch`` forces legacy behaviour without changing the recorded modes).
Writes keep everything else in the file (comments, other keys, other
services) by editing it with tomlkit, and replace the file atomically (write a
temporary file beside it, then ``os.replace``) so a proxy re-reading it never
sees half a file. Environment variables (``SHADOW_SERVICES__<NAME>__MODE``)
override the file in the proxies' processes; the runbook says not to set them
for services under cutover control.

Before a write, the new file is checked with the runtime's own settings
model (:func:`shadow.runtime.validate_settings_text`): a file the running
proxies would reject (an unknown key, a bad value) is refused, because the
proxies would keep their last good settings and the change (an emergency
rollback, say) would silently not take effect. The replaced file keeps the
old one's permission bits and owner, so the application's account can still
read it.

The audit log is JSON lines, one object per change: when, who, why, what moved
from which mode to which, and the gate verdict that allowed it. Its directory
must exist: a typo in ``--audit-log`` is refused, not created.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from shadow._exceptions import ConfigError
from shadow._vocabulary import Mode
from shadow.cutover.plan import PhasePlan
from shadow.runtime import validate_settings_text

__all__ = [
    "append_audit",
    "check_audit_log",
    "kill_switch_on",
    "locked",
    "read_audit",
    "read_modes",
    "write_modes",
]


def _load(path: Path) -> tomlkit.TOMLDocument:
    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except TOMLKitError as error:
        raise ConfigError(f"modes file {path} is not valid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(f"cannot read modes file {path}: {error.strerror}") from None


def _root(document: tomlkit.TOMLDocument) -> dict[str, Any]:
    """The table holding the settings: the document, or its lone ``[shadow]`` table."""
    wrapped = document.get("shadow")
    if isinstance(wrapped, dict) and len(document) == 1:
        return wrapped
    return document


def kill_switch_on(path: Path) -> bool:
    """True when the file sets the global kill switch."""
    return bool(_root(_load(path)).get("kill_switch", False))


def read_modes(path: Path, plan: PhasePlan) -> dict[str, Mode]:
    """Every planned service's mode in the file (``default_mode``, else legacy, when absent)."""
    root = _root(_load(path))
    try:
        default = Mode.parse(str(root.get("default_mode", Mode.LEGACY.value)))
    except ConfigError as error:
        raise ConfigError(f"modes file {path}: default_mode: {error}") from None
    services = root.get("services", {})
    if not isinstance(services, Mapping):
        raise ConfigError(f"modes file {path}: [services] must be a table")
    modes: dict[str, Mode] = {}
    for service in plan.services:
        table = services.get(service, {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"modes file {path}: [services.{service}] must be a table")
        value = table.get("mode", default.value)
        try:
            modes[service] = Mode.parse(str(value))
        except ConfigError as error:
            raise ConfigError(f"modes file {path}: services.{service}: {error}") from None
    return modes


def write_modes(path: Path, changes: Mapping[str, Mode]) -> None:
    """Set the mode of each service in ``changes``, keeping the rest of the file."""
    document = _load(path)
    root = _root(document)
    if "services" not in root:
        root["services"] = tomlkit.table(is_super_table=True)
    services = root["services"]
    if not isinstance(services, dict):  # tomlkit tables are dicts
        raise ConfigError(f"modes file {path}: [services] must be a table")
    for service, mode in changes.items():
        table = services.setdefault(service, tomlkit.table())
        table["mode"] = mode.value
    text = tomlkit.dumps(document)
    try:
        validate_settings_text(text, source=str(path))
    except ConfigError as error:
        raise ConfigError(
            f"refusing to write {path}: the runtime would reject it and keep its old "
            f"modes ({error}); fix the file first"
        ) from None
    _replace(path, text)


def _replace(path: Path, text: str) -> None:
    if not path.parent.is_dir():
        raise ConfigError(f"directory of the modes file does not exist: {path.parent}")
    try:
        previous: os.stat_result | None = path.stat()
    except FileNotFoundError:
        previous = None
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        _keep_access(handle, previous, path)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _keep_access(handle: int, previous: os.stat_result | None, path: Path) -> None:
    """Give the new file the old one's mode and owner (mkstemp makes it 0600, ours)."""
    if previous is None:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)
        return
    if (previous.st_uid, previous.st_gid) != (os.geteuid(), os.getegid()):
        try:
            os.fchown(handle, previous.st_uid, previous.st_gid)
        except PermissionError:
            raise ConfigError(
                f"cannot keep the owner of {path} (uid {previous.st_uid}, gid "
                f"{previous.st_gid}): run this as that user or as root"
            ) from None
    os.fchmod(handle, previous.st_mode & 0o7777)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for changing ``path``.

    Two operators promoting at once would otherwise both read the old modes,
    both pass the gate and both write: one change would silently be lost. The
    lock is taken on the file's directory (the file itself is replaced, so its
    inode cannot carry a lock), which leaves no lock file behind.
    """
    if not path.parent.is_dir():
        raise ConfigError(f"directory of the modes file does not exist: {path.parent}")
    handle = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


def check_audit_log(path: Path) -> None:
    """Refuse an audit log that could not be appended to (before anything is changed)."""
    if path.is_dir():
        raise ConfigError(f"audit log {path} is a directory")
    if not path.parent.is_dir():
        raise ConfigError(
            f"directory of the audit log does not exist: {path.parent} (create it, or fix "
            "--audit-log)"
        )
    target = path if path.exists() else path.parent
    if not os.access(target, os.W_OK):
        raise ConfigError(f"audit log {path} is not writable")


def append_audit(path: Path, *, at: datetime, actor: str, action: str, **fields: Any) -> None:
    """Append one JSON line: ``at``, ``actor``, ``action`` and the given fields."""
    entry = {"at": at.isoformat(), "actor": actor, "action": action, **fields}
    check_audit_log(path)
    # One write call of one line in append mode: concurrent writers do not interleave lines.
    with path.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(entry, sort_keys=True) + "\n")


def read_audit(path: Path) -> list[dict[str, Any]]:
    """Every entry of the audit log, oldest first (empty when there is none)."""
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                raise ConfigError(f"audit log {path} line {number} is not JSON") from None
    return entries
