"""Filling a service's roles at once with distinct resources: a bipartite matching.

Each role of ``count`` k is k interchangeable *seats*; a resource may take at most one seat.
Seats are filled one by one with augmenting paths (Kuhn's algorithm), so a resource wanted by
two roles is moved to where it is needed instead of being taken greedily by the first role.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from slotwise.engine.pools import RolePool

__all__ = ["fill_roles"]


def fill_roles(
    roles: Sequence[RolePool],
    usable: Collection[str],
    must_include: str | None = None,
    must_include_one_of: Collection[str] | None = None,
) -> tuple[str, ...] | None:
    """A choice of ``count`` distinct resources per role, each from that role's pool and in
    ``usable``, no resource serving two roles — or None when no such choice exists.

    With ``must_include`` the choice contains that id; with ``must_include_one_of`` it contains
    at least one of those ids. The answer lists the ids role by role (in ``roles`` order), each
    role's ids in its pool's preference order. Deterministic: it depends on the order of
    ``roles`` and of their pools only, never on the iteration order of ``usable`` or
    ``must_include_one_of`` (they are only tested for membership); earlier resources in a pool
    are tried first.
    """
    graph = _Graph.build(roles, usable)
    if not graph.fill_every_seat():
        return None
    required: list[str] = [] if must_include is None else [must_include]
    if must_include_one_of is None or (
        must_include is not None and must_include in must_include_one_of
    ):
        return graph.with_forced(required)
    for candidate in graph.resources_in_preference_order():
        if candidate in must_include_one_of:
            answer = graph.with_forced([*required, candidate])
            if answer is not None:
                return answer
    return None


@dataclass(slots=True)
class _Graph:
    roles: Sequence[RolePool]
    seat_role: list[int]  # role index of each seat
    seat_options: list[list[str]]  # usable pool ids per seat, preference order
    holder: list[str | None]  # current resource of each seat
    seat_of: dict[str, int]  # current seat of each matched resource

    @classmethod
    def build(cls, roles: Sequence[RolePool], usable: Collection[str]) -> _Graph:
        seat_role: list[int] = []
        seat_options: list[list[str]] = []
        for index, role in enumerate(roles):
            options = list(dict.fromkeys(r for r in role.resource_ids if r in usable))
            for _ in range(role.count):
                seat_role.append(index)
                seat_options.append(options)
        return cls(roles, seat_role, seat_options, [None] * len(seat_role), {})

    def fill_every_seat(self) -> bool:
        # Kuhn's algorithm: a seat that finds no augmenting path now never will, so the first
        # failure proves that no full matching exists.
        return all(self._augment(seat, set()) for seat in range(len(self.seat_role)))

    def _augment(self, seat: int, visited: set[str]) -> bool:
        for resource in self.seat_options[seat]:
            if resource in visited:
                continue
            visited.add(resource)
            other = self.seat_of.get(resource)
            if other is None or self._augment(other, visited):
                self.holder[seat] = resource
                self.seat_of[resource] = seat
                return True
        return False

    def resources_in_preference_order(self) -> list[str]:
        return list(dict.fromkeys(r for options in self.seat_options for r in options))

    def with_forced(self, forced: Sequence[str]) -> tuple[str, ...] | None:
        """The current full matching changed to contain every id of ``forced`` (or None)."""
        trial = _Graph(
            self.roles, self.seat_role, self.seat_options, list(self.holder), dict(self.seat_of)
        )
        keep = frozenset(forced)
        for resource in forced:
            if resource not in trial.seat_of and not trial._place(resource, keep, set()):
                return None
        return trial._answer()

    def _place(self, resource: str, keep: frozenset[str], visited: set[int]) -> bool:
        # An alternating path from `resource` to a seat whose holder is not forced: every seat
        # stays filled and the holder at the end simply leaves. If a full matching holding
        # all of `keep` exists, such a path exists (the symmetric difference with it has one).
        # Later seats are displaced first: they tend to hold the less preferred resources.
        for seat in reversed(range(len(self.seat_role))):
            if seat in visited or resource not in self.seat_options[seat]:
                continue
            visited.add(seat)
            current = self.holder[seat]
            if current is None or current not in keep or self._place(current, keep, visited):
                if current is not None and self.seat_of.get(current) == seat:
                    del self.seat_of[current]
                self.holder[seat] = resource
                self.seat_of[resource] = seat
                return True
        return False

    def _answer(self) -> tuple[str, ...]:
        chosen: list[str] = []
        for index, role in enumerate(self.roles):
            rank = {r: i for i, r in enumerate(role.resource_ids)}
            ids = [h for seat, h in enumerate(self.holder) if self.seat_role[seat] == index and h]
            chosen.extend(sorted(ids, key=rank.__getitem__))
        return tuple(chosen)
