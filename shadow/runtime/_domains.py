"""Conflict domains: several mirror workers, each applying its services' calls in order.

One mirror worker applies every mirrored call one at a time, in the order the
authoritative calls completed; beside an application whose threads overlap
their database work, that one serial worker is what falls behind
(docs/benchmarks.md, "Mirror headroom"). Services that share no tables do not
need to be ordered against each other: a call of one cannot see or change what
a call of the other wrote. The application declares such groups, its *conflict
domains* (``Runtime(domains=...)``: a service's domain holds every service
whose tables it reads or writes); with ``mirror_workers`` above 1 the runtime
runs that many dispatcher and worker pairs (:class:`QueuedExecutor`) and
routes each call by its service's domain. Within a worker, calls keep the
order they were handed off in, so each domain is applied in the authoritative
commit order; each worker keeps its own deadlines, replacement after a crash
or a kill, and drop accounting.

The i-th declared domain goes to worker ``i % mirror_workers`` (declare the
busiest first); a service no domain names goes to the first worker, with
every other such service: undeclared services are assumed to share tables.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence

from shadow._exceptions import ConfigError
from shadow.runtime._executor import QueuedExecutor
from shadow.runtime._observation import Task

__all__ = ["RoutedExecutor", "worker_routes"]


def worker_routes(domains: Sequence[Collection[str]], workers: int) -> tuple[dict[str, int], int]:
    """Each declared service's worker index, and how many workers are worth running.

    Never more workers than domains (a worker with no domain would idle).
    Raises :class:`ConfigError` for a service in two domains or an empty domain.
    """
    routes: dict[str, int] = {}
    count = max(1, min(workers, len(domains)))
    for index, domain in enumerate(domains):
        if isinstance(domain, str):
            raise ConfigError(f"conflict domain {domain!r} must be a collection of service names")
        if not domain:
            raise ConfigError(f"conflict domain {index} names no service")
        for service in domain:
            if service in routes:
                raise ConfigError(f"service {service!r} is in more than one conflict domain")
            routes[service] = index % count
    return routes, count


class RoutedExecutor:
    """Several :class:`QueuedExecutor`, each fed the calls of its conflict domains.

    The queue bounds (``capacity`` calls, ``max_bytes`` bytes) hold over all
    the queues together, as they do for one queue, so read admission
    (:meth:`fill`) and the memory held are what they would be with one
    worker; each queue may hold the whole bound, so one busy domain is never
    refused while the others' queues are empty. A bound is checked before the
    call is added, so the total can pass it by at most one call.
    """

    def __init__(
        self,
        executors: Sequence[QueuedExecutor],
        routes: Mapping[str, int],
        *,
        capacity: int,
        max_bytes: int,
    ) -> None:
        self.executors = tuple(executors)
        self._routes = dict(routes)
        self._capacity = capacity
        self._max_bytes = max_bytes

    def route(self, service: str) -> QueuedExecutor:
        """The executor that applies ``service``'s calls."""
        return self.executors[self._routes.get(service, 0)]

    def submit(self, task: Task) -> bool:
        if self.depth() >= self._capacity or self.queued_bytes() >= self._max_bytes:
            return False
        return self.route(task.plan.service).submit(task)

    def depth(self) -> int:
        return sum(executor.depth() for executor in self.executors)

    def capacity(self) -> int:
        return self._capacity

    def queued_bytes(self) -> int:
        """Estimated bytes of the tasks queued or running, over every queue."""
        return sum(executor.queued_bytes() for executor in self.executors)

    def fill(self) -> float:
        return max(self.depth() / self._capacity, self.queued_bytes() / self._max_bytes)

    def oldest_age(self) -> float:
        return max(executor.oldest_age() for executor in self.executors)

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(
            executor.flush(max(0.0, deadline - time.monotonic())) for executor in self.executors
        )

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every worker started at construction is up (see QueuedExecutor)."""
        deadline = time.monotonic() + timeout
        return all(
            executor.wait_ready(max(0.0, deadline - time.monotonic()))
            for executor in self.executors
        )

    def close(self) -> None:
        # One after the other: while the first drains, the others go on draining too.
        for executor in self.executors:
            executor.close()
