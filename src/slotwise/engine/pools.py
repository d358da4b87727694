"""A service's requirements turned into role pools: which resources may fill each role."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

__all__ = ["Requirement", "ResourceProfile", "RolePool", "role_pools"]


@dataclass(frozen=True, slots=True)
class ResourceProfile:
    """What a requirement can ask of a resource: its kind, tags and capacity."""

    id: str
    kind: str
    tags: frozenset[str] = frozenset()
    capacity: int = 1


@dataclass(frozen=True, slots=True)
class Requirement:
    """``count`` distinct resources of ``kind``, drawn from ``resource_ids`` (None: any of the
    kind), each carrying every tag in ``tags`` and holding at least ``min_capacity``.

    ``collective``: every eligible resource is needed at once (every named one when
    ``resource_ids`` is given), whatever ``count`` says. ``optional``: the role is filled when
    it can be, and a slot is offered without it when it cannot.
    """

    kind: str
    count: int = 1
    resource_ids: tuple[str, ...] | None = None
    tags: frozenset[str] = frozenset()
    min_capacity: int = 1
    optional: bool = False
    collective: bool = False

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"a requirement needs count >= 1, got {self.count}")


@dataclass(frozen=True, slots=True)
class RolePool:
    """A role to fill with ``count`` distinct resources from ``resource_ids`` (in preference
    order, earliest preferred); an ``optional`` role never stands in a slot's way."""

    count: int
    resource_ids: tuple[str, ...]
    optional: bool = False

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"a role needs count >= 1, got {self.count}")


def role_pools(
    requirements: Sequence[Requirement],
    resources: Sequence[ResourceProfile],
    restrict_to: Collection[str] | None = None,
) -> tuple[RolePool, ...]:
    """One pool per requirement, in requirement order. A pool lists the eligible resources in
    the order of ``resources`` (each id once) — pass them in preference order; ``restrict_to``
    (a booking's resource ids), when given, keeps only those ids in every pool. A pool may hold
    fewer than ``count`` ids: the role then cannot be filled, which allocation reports, not
    this function. A collective role's count is the number of resources it names (or, without
    names, of eligible ones) before ``restrict_to`` applies."""
    allowed = None if restrict_to is None else frozenset(restrict_to)
    pools: list[RolePool] = []
    for req in requirements:
        named = None if req.resource_ids is None else frozenset(req.resource_ids)
        eligible: list[str] = []
        seen: set[str] = set()
        for res in resources:
            if (
                res.kind == req.kind
                and (named is None or res.id in named)
                and req.tags <= res.tags
                and res.capacity >= req.min_capacity
                and res.id not in seen
            ):
                seen.add(res.id)
                eligible.append(res.id)
        count = req.count
        if req.collective:
            count = max(1, len(named) if named is not None else len(eligible))
        kept = tuple(r for r in eligible if allowed is None or r in allowed)
        pools.append(RolePool(count=count, resource_ids=kept, optional=req.optional))
    return tuple(pools)
