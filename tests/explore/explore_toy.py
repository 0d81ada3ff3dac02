"""A tiny contract and target for the exploration engine's own tests (no database).

``Tags`` keeps tags per owner in memory; each side of each example gets its
own copy of a template. The candidate can be told to be wrong for keys with a
``%`` in them (the kind of LIKE-escaping bug exploration's edge strings are for).
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

from shadow import Clock, IdSource, Order, read, write
from shadow.explore import Arg, Target, explore_inputs
from shadow.runtime import SideFactory


class Tag(BaseModel):
    """One stored tag."""

    tag_id: str
    owner: str
    name: str
    secret: str


@explore_inputs(
    tag_id=Arg(pool="tag_id", examples=("never-existed",)),
    owner=Arg(examples=("alice", "bob"), only=True),
    secret=Arg(pool="secret", keep=True),
)
class Tags(ABC):
    """The toy contract."""

    @write(sensitive={"secret"})
    @abstractmethod
    def add(self, owner: str, name: str, secret: str) -> Tag: ...

    @read(sensitive={"secret"})
    @abstractmethod
    def get(self, tag_id: str) -> Tag | None: ...

    @read(order=Order.UNORDERED, key="tag_id", sensitive={"secret"})
    @abstractmethod
    def find(self, owner: str, prefix: str) -> list[Tag]: ...

    @write()
    @abstractmethod
    def remove(self, tag_id: str) -> None: ...


_STORES: dict[str, dict[str, Tag]] = {}
TEMPLATE = {"t-0": Tag(tag_id="t-0", owner="alice", name="first", secret="s3cret")}


class MemoryTags(Tags):
    """Both sides' implementation; ``buggy`` breaks ``find`` for prefixes with ``%``."""

    def __init__(self, store: str, ids: IdSource, buggy: bool) -> None:
        self._tags = _STORES[store]
        self._ids = ids
        self._buggy = buggy

    def add(self, owner: str, name: str, secret: str) -> Tag:
        tag = Tag(tag_id=self._ids.new_id(), owner=owner, name=name, secret=secret)
        self._tags[tag.tag_id] = tag
        return tag

    def get(self, tag_id: str) -> Tag | None:
        return self._tags.get(tag_id)

    def find(self, owner: str, prefix: str) -> list[Tag]:
        if self._buggy and "%" in prefix:
            return list(self._tags.values())  # an unescaped LIKE: % matches everything
        return [t for t in self._tags.values() if t.owner == owner and t.name.startswith(prefix)]

    def remove(self, tag_id: str) -> None:
        self._tags.pop(tag_id, None)


def build(*, ids: IdSource, clock: Clock, store: str, buggy: bool = False) -> dict[str, Any]:
    """The side factory (``tests.explore.explore_toy:build``)."""
    del clock
    return {"tags": MemoryTags(store, ids, buggy)}


class ToyTarget(Target):
    """Fresh copies of :data:`TEMPLATE` for each side of each example."""

    def __init__(self, buggy: bool = False) -> None:
        self.buggy = buggy
        self._numbers = itertools.count()

    @property
    def contracts(self) -> Mapping[str, type]:
        return {"tags": Tags}

    def initial_pools(self) -> Mapping[str, Sequence[Any]]:
        return {"tag_id": ["t-0"], "secret": ["s3cret"]}

    def describe(self) -> Mapping[str, Any]:
        return {"factory": "tests.explore.explore_toy:ToyTarget", "kwargs": {"buggy": self.buggy}}

    @contextmanager
    def sides(self) -> Iterator[tuple[SideFactory, SideFactory]]:
        number = next(self._numbers)
        names = (f"legacy-{number}", f"candidate-{number}")
        for name in names:
            _STORES[name] = dict(TEMPLATE)
        try:
            yield (
                SideFactory("tests.explore.explore_toy:build", {"store": names[0]}),
                SideFactory(
                    "tests.explore.explore_toy:build", {"store": names[1], "buggy": self.buggy}
                ),
            )
        finally:
            for name in names:
                _STORES.pop(name, None)
