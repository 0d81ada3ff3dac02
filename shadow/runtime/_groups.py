"""Group commit: what a mirror side may offer to apply several writes in one transaction.

Why: every mirrored write costs the mirror a transaction of its own. On a
SQLite candidate a third of the mirror worker's samples were its ``COMMIT``
(the WAL write and its fsync); on a server a ``COMMIT`` is a round trip and a
log flush (docs/benchmarks.md, "Mirror headroom"). The authoritative side's
threads overlap those waits; one mirror worker, applying calls in commit
order, pays them one after the other.

A side offers group commit by building (its :class:`SideFactory`'s callable
returning) a mapping that also implements :class:`GroupCommit`. The mirror
worker then applies each run of consecutive writes of a batch (at most the
``group_commit`` setting's number of calls) in one transaction, in one of two
ways, the side's choice (what its :meth:`GroupCommit.group` yields):

* with savepoints (it yields :class:`Savepoints`): each call in a savepoint of
  its own; a call that raises is rolled back to it: one failure, compared and
  published exactly as it would be alone; the others stay and commit;
* optimistic (it yields None): the calls run with no savepoint (each costs a
  ``SAVEPOINT`` and a ``RELEASE``: two round trips on a server). A call that
  raises (rare: a candidate bug, a conflict) ends the group there and rolls
  it back whole; what its calls did is discarded, and each of them, up to and
  including the failing one, runs again alone, in order, exactly as without
  group commit (replaying its own tape from the start: the same ids and
  times), so a failure stays one failure and its neighbours' observations
  are those of their solo runs. Only for a store whose rollback undoes
  everything the calls did: a sequence or ``AUTO_INCREMENT`` counter that a
  rollback does not give back (PostgreSQL, MariaDB) would hand the calls run
  again other ids than alone;
* a write whose authoritative call failed is not grouped (its mirror most
  likely fails too, which would send an optimistic group back): it ends the
  group before it and runs alone, as a read does;
* reads are never grouped: a read ends the group before it (committed), so it
  runs alone as before, on committed state;
* observations of a group go out only after its ``COMMIT``, in order: a worker
  that dies or hangs mid-group has reported none of the group's calls (the
  dispatcher counts the first unanswered call dropped, which marks its
  service dirty, and sends the others again), so no call is ever reported
  matched that was not committed;
* a ``COMMIT`` that fails fails every write of the group that had succeeded:
  each is compared as if the call had raised the commit's error (a write the mirror failed: its
  service goes dirty, as a failed write does alone);
* a group that cannot begin applies its calls one by one, as without it.

The time a group's ``COMMIT`` took is shared out among the writes that
succeeded in it, so the mirror's per-call latencies still include a share of
it. A side that does not offer it (the legacy layer; any side by default)
applies every call in the transactions the call makes, as before.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

__all__ = ["GroupCommit", "Savepoints"]


class Savepoints(Protocol):
    """The open transaction of one group."""

    def savepoint(self) -> AbstractContextManager[None]:
        """One call's scope: released when the block ends, rolled back to when it raises.

        The exception propagates. Every transaction the call begins inside it
        joins the group's transaction instead of committing on its own.
        """
        ...


@runtime_checkable
class GroupCommit(Protocol):
    """A built side (the mapping of its implementations) that can group calls' commits."""

    def group(self) -> AbstractContextManager[Savepoints | None]:
        """A transaction over the side's store: committed when the block ends cleanly
        (a failing ``COMMIT`` raises from the block's end), rolled back when it raises.

        Yields its savepoints, or None for an optimistic group (see the module doc).
        """
        ...
