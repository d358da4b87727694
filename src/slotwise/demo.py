"""`slotwise demo`: a ready demo organisation, a physiotherapy clinic with a week of bookings.

Everything is created through the application use cases, exactly as an API client would, so the
demo exercises the same rules (roles, schedules, availability, the overlap guard) as real traffic.
Each run makes a new organisation whose slug and owner e-mail carry a random token, so the demo
can run any number of times against one database.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from slotwise.app.bookings import BookingRequest, CustomerDetails
from slotwise.app.catalog import LocationFields, ResourceFields, ServiceFields
from slotwise.app.container import UseCases
from slotwise.domain.booking import Booking
from slotwise.domain.errors import SlotUnavailable
from slotwise.domain.model import (
    DateOverride,
    Price,
    Principal,
    ResourceKind,
    Schedule,
    Service,
    ServiceRequirement,
    WeeklyRule,
)
from slotwise.engine.availability import Slot
from slotwise.engine.zones import local_date, local_midnight, local_to_utc, zone

CLINIC_NAME = "Riverside Physio & Sports Clinic"
CLINIC_ZONE = "Europe/London"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
BOOKINGS_PER_SERVICE = 5
CUSTOMERS = (
    ("Olivia Bennett", "olivia.bennett@example.com"), ("Rahul Mehta", "rahul.mehta@example.org"),
    ("Chloe Davies", "chloe.davies@example.net"), ("Kwame Asante", "kwame.asante@example.com"),
    ("Sophie Laurent", "sophie.laurent@example.org"), ("Liam O'Connor", "liam.oconnor@example.net"),
    ("Hannah Fischer", "hannah.fischer@example.com"), ("Mateo García", "mateo.garcia@example.org"),
    ("Grace Whitfield", "grace.whitfield@example.net"), ("Yusuf Demir", "yusuf.demir@example.com"),
    ("Emily Zhang", "emily.zhang@example.org"), ("Oscar Lindqvist", "oscar.lindqvist@example.net"),
    ("Isla MacLeod", "isla.macleod@example.com"), ("Daniel Novak", "daniel.novak@example.org"),
    ("Amara Okeke", "amara.okeke@example.net"),
)


@dataclass(frozen=True, slots=True)
class DemoClinic:
    """What `create_demo` made: the credentials to print and the objects the URLs name."""

    slug: str
    owner_email: str
    password: str
    session_token: str
    api_key: str
    services: tuple[Service, ...]
    bookings: tuple[Booking, ...]
    week_start: date
    sample_slot: Slot | None


def create_demo(use_cases: UseCases, base_url: str) -> str:
    """Create a new demo clinic and return printable credentials, URLs and `curl` commands.

    The bookings fill the seven local days that start at the first weekday after
    `use_cases.clock.now()` (in the clinic's zone), at starts availability actually offers.
    """
    return render(build_clinic(use_cases), base_url.rstrip("/"))


def build_clinic(use_cases: UseCases) -> DemoClinic:
    """Sign up an owner, set up staff, rooms, equipment and services, and book a week."""
    token = secrets.token_hex(3)
    email = f"owner-{token}@riverside-physio.example.com"
    password = secrets.token_urlsafe(12)
    signed = use_cases.accounts.signup(CLINIC_NAME, f"riverside-physio-{token}", email,
                                       password, CLINIC_ZONE)
    owner = Principal(org_id=signed.org.id, user_id=signed.user.id, role=signed.user.role)
    _, api_key = use_cases.accounts.create_api_key(owner, "demo")
    week_start = first_weekday_after(local_date(use_cases.clock.now(), zone(CLINIC_ZONE)))
    set_up_resources(use_cases, owner, week_start)
    services = set_up_services(use_cases, owner)
    bookings = book_week(use_cases, owner.org_id, services, week_start)
    day_after = week_start + timedelta(days=1)
    offered = use_cases.search(owner.org_id, services[0].id, *local_span(week_start, day_after))
    return DemoClinic(slug=signed.org.slug, owner_email=email, password=password,
                      session_token=signed.token, api_key=api_key, services=services,
                      bookings=bookings, week_start=week_start,
                      sample_slot=offered[0] if offered else None)


def first_weekday_after(day: date) -> date:
    """The first Monday-to-Friday date strictly after `day`."""
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def local_span(first: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants of the clinic's local midnights starting `first` and `end`."""
    tz = zone(CLINIC_ZONE)
    return local_midnight(first, tz), local_midnight(end, tz)


def set_up_resources(use_cases: UseCases, owner: Principal, week_start: date) -> None:
    """Three practitioners, two rooms and an ultrasound unit, each with weekly hours.

    Dr Hart has a lunch break (two windows a day), Tom Okafor works part-time, Priya Natarajan
    works a short day on the third day of the demo week (a date override), and the ultrasound
    unit is blocked for calibration on the second morning.
    """
    catalog = use_cases.catalog
    location = catalog.create_location(
        owner, LocationFields(name="Riverside, 12 Main Street", timezone=CLINIC_ZONE))

    def resource(name: str, kind: ResourceKind, tags: tuple[str, ...],
                 weekly: tuple[WeeklyRule, ...], overrides: tuple[DateOverride, ...] = (),
                 before: int = 0, after: int = 0) -> str:
        created = catalog.create_resource(owner, ResourceFields(
            name=name, kind=kind, location_id=location.id, tags=tags,
            buffer_before_min=before, buffer_after_min=after))
        catalog.put_schedule(owner, Schedule(resource_id=created.id, org_id=owner.org_id,
                                             timezone=None, weekly=weekly, overrides=overrides))
        return created.id

    practitioner = ResourceKind.PRACTITIONER
    resource("Dr Amelia Hart", practitioner, ("physio", "sports"), after=5, weekly=(
        WeeklyRule(WEEKDAYS, "08:30", "12:30"), WeeklyRule(WEEKDAYS, "13:30", "17:30")))
    resource("Tom Okafor", practitioner, ("physio", "acupuncture"), after=10, weekly=(
        WeeklyRule(("mon", "wed", "fri"), "09:00", "14:00"),))
    resource("Priya Natarajan", practitioner, ("physio", "sports", "pediatric"), before=5,
             weekly=(WeeklyRule(("tue", "wed", "thu", "fri", "sat"), "10:00", "18:00"),),
             overrides=(DateOverride(week_start + timedelta(days=2), (("12:00", "16:00"),)),))
    clinic_hours = (WeeklyRule((*WEEKDAYS, "sat"), "08:00", "19:00"),)
    resource("Treatment Room 1", ResourceKind.ROOM, ("treatment",), clinic_hours)
    resource("Rehab Gym", ResourceKind.ROOM, ("gym",), clinic_hours)
    unit = resource("Ultrasound unit", ResourceKind.EQUIPMENT, ("ultrasound",), clinic_hours)
    calibration_day = week_start + timedelta(days=1)
    tz = zone(CLINIC_ZONE)
    catalog.add_block(owner, unit, local_to_utc(calibration_day, 8 * 60, tz),
                      local_to_utc(calibration_day, 10 * 60, tz), "Annual calibration")


def set_up_services(use_cases: UseCases, owner: Principal) -> tuple[Service, ...]:
    """Three services whose requirements, buffers, prices and notice differ."""
    practitioner, room = ResourceKind.PRACTITIONER, ResourceKind.ROOM
    fields = (
        ServiceFields(
            name="Initial assessment", slug="initial-assessment", duration_min=30,
            buffer_after_min=5, price=Price(5500, "GBP"), requirements=(
                ServiceRequirement(practitioner, tags=("physio",)),
                ServiceRequirement(room, tags=("treatment",)))),
        ServiceFields(
            name="Sports rehab session", slug="sports-rehab", duration_min=45, step_min=15,
            buffer_after_min=10, price=Price(6000, "GBP"), requirements=(
                ServiceRequirement(practitioner, tags=("sports",)),
                ServiceRequirement(room, tags=("gym",)))),
        ServiceFields(
            name="Ultrasound therapy", slug="ultrasound-therapy", duration_min=60, step_min=30,
            buffer_before_min=5, buffer_after_min=5, min_notice_min=24 * 60,
            price=Price(6500, "GBP"), requirements=(
                ServiceRequirement(practitioner),
                ServiceRequirement(room, tags=("treatment",)),
                ServiceRequirement(ResourceKind.EQUIPMENT, tags=("ultrasound",)))),
    )
    return tuple(use_cases.catalog.create_service(owner, f) for f in fields)


def book_week(use_cases: UseCases, org_id: str, services: tuple[Service, ...],
              week_start: date) -> tuple[Booking, ...]:
    """Up to BOOKINGS_PER_SERVICE bookings per service over the demo week, spread across it.

    Starts come from the availability search; one taken meanwhile by an earlier demo booking
    (SlotUnavailable) is skipped. The choice is deterministic for a given clock and schedule.
    """
    span = local_span(week_start, week_start + timedelta(days=7))
    customers = iter(CUSTOMERS * len(services))
    booked: list[Booking] = []
    for service in services:
        made = 0
        for slot in spread(use_cases.search(org_id, service.id, *span), BOOKINGS_PER_SERVICE):
            if made == BOOKINGS_PER_SERVICE:
                break
            name, email = next(customers)
            request = BookingRequest(service_id=service.id, start=slot.start,
                                     customer=CustomerDetails(name=name, email=email),
                                     notes="Booked by the slotwise demo")
            try:
                booked.append(use_cases.book(org_id, request).booking)
            except SlotUnavailable:
                continue
            made += 1
    return tuple(booked)


def spread(slots: list[Slot], count: int) -> list[Slot]:
    """Every slot once, reordered so the first `count` are evenly spaced over the list."""
    stride = max(1, len(slots) // max(1, count))
    return [slots[i] for offset in range(stride) for i in range(offset, len(slots), stride)]


def utc_text(instant: datetime) -> str:
    """RFC 3339 in UTC with `Z`, safe to put in a URL query unescaped."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(service: Service) -> str:
    """One line for a service: slug, name, length, what it needs, buffers and price."""
    needs = " + ".join(f"{r.kind.value}[{','.join(r.tags)}]" if r.tags else r.kind.value
                       for r in service.requirements)
    price = f", {service.price.currency} {service.price.amount / 100:.2f}" if service.price else ""
    notice = f", {service.min_notice_min // 60} h notice" if service.min_notice_min else ""
    return (f"{service.slug}: {service.name}, {service.duration_min} min ({needs}), buffers "
            f"{service.buffer_before_min}/{service.buffer_after_min} min{price}{notice}")


def render(clinic: DemoClinic, base_url: str) -> str:
    """The printable report: credentials, what was created, URLs and two ready `curl` calls."""
    first = clinic.services[0]
    start, end = local_span(clinic.week_start, clinic.week_start + timedelta(days=1))
    window = f"start={utc_text(start)}&end={utc_text(end)}"
    availability = f"{base_url}/v1/services/{first.id}/availability?{window}"
    public = f"{base_url}/v1/public/{clinic.slug}"
    slot_start = utc_text(clinic.sample_slot.start if clinic.sample_slot else start)
    body = (f'{{"start": "{slot_start}", "customer": '
            '{"name": "Jamie Rivers", "email": "jamie.rivers@example.com"}}')
    days = sorted({local_date(b.start, zone(CLINIC_ZONE)) for b in clinic.bookings})
    span = f"{days[0]} .. {days[-1]}" if days else "none"
    lines = [
        f"slotwise demo: {CLINIC_NAME} ({CLINIC_ZONE})",
        "",
        f"  owner e-mail:   {clinic.owner_email}",
        f"  password:       {clinic.password}",
        f"  session token:  {clinic.session_token}",
        f"  API key:        {clinic.api_key}",
        f"  org slug:       {clinic.slug}",
        "",
        "  resources:      3 practitioners, 2 rooms, 1 ultrasound unit",
        "  services:",
        *(f"    {describe(s)}" for s in clinic.services),
        f"  bookings:       {len(clinic.bookings)} ({span})",
        "",
        f"  booking page:   {base_url}/{clinic.slug}",
        f"  admin:          {base_url}/admin  (sign in with the owner e-mail and password)",
        f"  API docs:       {base_url}/docs",
        f"  OpenAPI:        {base_url}/openapi.json",
        f"  public:         {public}/services",
        f"  availability:   {availability}",
        "",
        "Availability with the API key:",
        f'  curl -H "Authorization: Bearer {clinic.api_key}" \\',
        f'    "{availability}"',
        "",
        "Book publicly (no auth):",
        f"  curl -X POST {public}/services/{first.slug}/bookings \\",
        "    -H 'Content-Type: application/json' \\",
        f"    -d '{body}'",
    ]
    return "\n".join(lines)
