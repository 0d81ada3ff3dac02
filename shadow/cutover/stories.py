"""One bug, one story: divergence groups arranged as roots with their consequences.

The divergence store links a group to a *root* when it was first recorded
after an open group of the same service that came from a write or shares an
id with it (``shadow.runtime._store``, table ``shadow_group_roots``): a wrong
dequeue is followed by wrong statuses, counts and lists, and a reviewer should
read the dequeue first. :func:`stories` turns a flat list of groups into that
shape for ``shadow divergences list`` and the reports. It only arranges: every
group is still its own group for the gate (a consequence is still a
divergence, and it may be a second bug).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shadow.cutover.evidence import DivergenceGroup

__all__ = ["Story", "stories"]


@dataclass(frozen=True, slots=True)
class Story:
    """A root group and the later groups linked to it, earliest first."""

    root: DivergenceGroup
    consequences: tuple[DivergenceGroup, ...] = ()

    @property
    def groups(self) -> tuple[DivergenceGroup, ...]:
        """The root, then its consequences: the order to show them in."""
        return (self.root, *self.consequences)


def stories(groups: Iterable[DivergenceGroup]) -> list[Story]:
    """Group ``groups`` into stories; roots keep their order in ``groups``.

    A consequence whose root is not among ``groups`` (filtered out by service
    or state) is shown as a root of its own, so no group is ever hidden.
    """
    listed = list(groups)
    present = {group.fingerprint for group in listed}
    children: dict[str, list[DivergenceGroup]] = {}
    for group in listed:
        if group.root is not None and group.root in present and group.root != group.fingerprint:
            children.setdefault(group.root, []).append(group)
    linked = {child.fingerprint for members in children.values() for child in members}
    return [
        Story(
            group,
            tuple(
                sorted(
                    children.get(group.fingerprint, ()),
                    key=lambda child: (child.first_seen, child.fingerprint),
                )
            ),
        )
        for group in listed
        if group.fingerprint not in linked
    ]
