"""Reviewing divergence groups: list, show, accept with a note and an expiry, reopen, fixed.

An accepted group stops blocking the gate until its expiry, is still counted
and still shown in reports. Acceptance always expires: an "accepted forever"
divergence is a decision nobody revisits. Every review is also written to the
audit log (who, when, which group, the note), next to promotions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from shadow._exceptions import ConfigError
from shadow._vocabulary import ReviewStatus
from shadow.cutover.control import CutoverSettings
from shadow.cutover.evidence import DivergenceGroup
from shadow.cutover.modes import append_audit, check_audit_log
from shadow.cutover.store import open_store, to_group

__all__ = ["accept", "list_groups", "mark_fixed", "parse_expiry", "reopen", "show"]


def _store_url(settings: CutoverSettings) -> str:
    if settings.store is None:
        raise ConfigError("no divergence store given (--store or SHADOW_STORE_URL)")
    return settings.store


def parse_expiry(text: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC starting that day) or an ISO datetime (UTC if naive)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"bad expiry {text!r} (expected YYYY-MM-DD or an ISO datetime)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def list_groups(
    settings: CutoverSettings, *, service: str | None = None, state: str | None = None
) -> list[DivergenceGroup]:
    """Divergence groups, most frequent first; ``state`` filters on the shown state.

    ``state`` is open, accepted, expired (accepted past its expiry) or fixed.
    """
    if state is not None and state not in {"open", "accepted", "expired", "fixed"}:
        raise ConfigError(f"unknown state {state!r} (expected open, accepted, expired or fixed)")
    now = settings.clock.now()
    with open_store(_store_url(settings)) as store:
        groups = [to_group(stored) for stored in store.groups(service=service)]
    return [g for g in groups if state is None or g.review_state(now) == state]


def show(settings: CutoverSettings, fingerprint: str) -> DivergenceGroup:
    """One group with its redacted examples; ConfigError for an unknown fingerprint."""
    with open_store(_store_url(settings)) as store:
        stored = store.group(fingerprint)
    if stored is None:
        raise ConfigError(f"no divergence group {fingerprint!r} (see `shadow divergences list`)")
    return to_group(stored)


def accept(
    settings: CutoverSettings, fingerprint: str, *, note: str, expires: datetime, actor: str
) -> DivergenceGroup:
    """Accept a group until ``expires`` with ``note``; it stops blocking the gate till then."""
    if not note.strip():
        raise ConfigError("accepting a divergence needs a --note saying why it is acceptable")
    now = settings.clock.now()
    if expires <= now:
        raise ConfigError(f"expiry {expires.isoformat()} is not in the future")
    show(settings, fingerprint)  # a clear error for an unknown fingerprint
    check_audit_log(settings.audit_log)
    with open_store(_store_url(settings)) as store:
        store.accept(fingerprint, note, expires, now)
    append_audit(
        settings.audit_log,
        at=now,
        actor=actor,
        action="accept",
        fingerprint=fingerprint,
        note=note,
        expires_at=expires.isoformat(),
    )
    return show(settings, fingerprint)


def reopen(settings: CutoverSettings, fingerprint: str, *, actor: str) -> DivergenceGroup:
    """Put a group back to open: it blocks the gate again."""
    group = show(settings, fingerprint)
    if group.status is ReviewStatus.OPEN:
        return group
    now = settings.clock.now()
    check_audit_log(settings.audit_log)
    with open_store(_store_url(settings)) as store:
        store.reopen(fingerprint, now)
    append_audit(settings.audit_log, at=now, actor=actor, action="reopen", fingerprint=fingerprint)
    return show(settings, fingerprint)


def mark_fixed(
    settings: CutoverSettings, fingerprint: str, *, note: str, actor: str
) -> DivergenceGroup:
    """Mark a group fixed (its cause is fixed); the store reopens it if it is seen again."""
    if not note.strip():
        raise ConfigError("marking a divergence fixed needs a --note naming the fix")
    show(settings, fingerprint)
    check_audit_log(settings.audit_log)
    now = settings.clock.now()
    with open_store(_store_url(settings)) as store:
        store.mark_fixed(fingerprint, now, note)
    append_audit(
        settings.audit_log, at=now, actor=actor, action="fixed", fingerprint=fingerprint, note=note
    )
    return show(settings, fingerprint)
