"""Translate stored schedules, services and resources into the engine's value objects."""

from __future__ import annotations

from collections.abc import Sequence

from slotwise.domain.errors import InvalidInput
from slotwise.domain.model import WEEKDAYS, Resource, Schedule, Service, WeeklyRule
from slotwise.engine import pools, schedule
from slotwise.engine.zones import is_zone


def parse_wall_time(value: str, loc: Sequence[str | int]) -> int:
    """"HH:MM" (24 h, "24:00" allowed) → minute of day."""
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise InvalidInput(f"{value!r} is not a wall time HH:MM", loc)
    hours, minutes = int(parts[0]), int(parts[1])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise InvalidInput(f"{value!r} is not a wall time between 00:00 and 24:00", loc)
    return hours * 60 + minutes


def hours(start: str, end: str, loc: Sequence[str | int]) -> schedule.LocalHours:
    start_min = parse_wall_time(start, (*loc, "start"))
    end_min = parse_wall_time(end, (*loc, "end"))
    if end_min <= start_min:
        raise InvalidInput("end must be after start", (*loc, "end"))
    return schedule.LocalHours(start_min, end_min)


def validate_schedule(spec: Schedule) -> schedule.Schedule:
    """Check a schedule as entered; raises InvalidInput naming the field."""
    if spec.timezone is not None and not is_zone(spec.timezone):
        raise InvalidInput(f"unknown time zone {spec.timezone!r}", ("body", "timezone"))
    return to_engine_schedule(spec, spec.timezone or "UTC")


def _weekly(rules: Sequence[WeeklyRule], field: str) -> tuple[schedule.WeeklyHours, ...]:
    weekly = []
    for i, rule in enumerate(rules):
        loc = ("body", field, i)
        for day in rule.days:
            if day not in WEEKDAYS:
                raise InvalidInput(f"unknown weekday {day!r}", (*loc, "days"))
        weekly.append(schedule.WeeklyHours(
            days=frozenset(WEEKDAYS.index(d) for d in rule.days),
            hours=hours(rule.start, rule.end, loc),
        ))
    return tuple(weekly)


def to_engine_schedule(spec: Schedule, zone: str) -> schedule.Schedule:
    weekly = _weekly(spec.weekly, "weekly")
    breaks = _weekly(spec.breaks, "breaks")
    closed_days = {o.day for o in spec.overrides if o.closed}
    overrides = []
    for i, override in enumerate(spec.overrides):
        loc = ("body", "overrides", i)
        if override.closed and override.hours:
            raise InvalidInput("a date cannot be closed and have hours", (*loc, "closed"))
        if not override.closed and not override.hours:
            raise InvalidInput("give hours, or closed: true", (*loc, "hours"))
        if not override.closed and override.day in closed_days:
            raise InvalidInput("a date cannot be closed and have hours", (*loc, "hours"))
        overrides.append(schedule.DateOverride(
            day=override.day,
            hours=tuple(hours(s, e, (*loc, "hours", j)) for j, (s, e) in enumerate(override.hours)),
        ))
    return schedule.Schedule(zone=zone, weekly=weekly, overrides=tuple(overrides),
                             breaks=breaks)


def schedule_zone(spec: Schedule, resource: Resource) -> str:
    return spec.timezone or resource.timezone


def requirements(service: Service) -> tuple[pools.Requirement, ...]:
    return tuple(
        pools.Requirement(
            kind=r.kind.value, count=r.count, resource_ids=r.resource_ids,
            tags=frozenset(r.tags), min_capacity=r.min_capacity, optional=r.optional,
            collective=r.mode == "all",
        )
        for r in service.requirements
    )


def profile(resource: Resource) -> pools.ResourceProfile:
    return pools.ResourceProfile(id=resource.id, kind=resource.kind.value,
                                 tags=frozenset(resource.tags), capacity=resource.capacity)
