"""The recurrence examples of RFC 5545 §3.8.5.3, expanded by `engine.recurrence.expand`.

Every example is written as the RFC writes it: DTSTART a wall time in America/New_York, the
answer as the RFC lists it, with the EDT/EST label it gives each group. Examples with a finite
answer are compared in full; endless ones ("forever", or no COUNT/UNTIL) on the instances the
RFC lists, which are their first ones.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from slotwise.engine.recurrence import expand

NEW_YORK = "America/New_York"


def on(label: str, year: int, month: int, *days: int, at: str = "09:00") -> list[str]:
    """The RFC's "(1997 9:00 AM EDT) September 2,4" as "1997-09-02 09:00 EDT", ..."""
    return [f"{year}-{month:02d}-{day:02d} {at} {label}" for day in days]


def every(first: int, last: int, step: int = 1) -> range:
    return range(first, last + 1, step)


def dtstart(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%M%S")


def shown(rule: str, start: str, limit: int, exdates: tuple[str, ...] = ()) -> list[str]:
    got = expand(rule, dtstart(start), NEW_YORK, [dtstart(x) for x in exdates], limit=limit)
    tz = ZoneInfo(NEW_YORK)
    return [o.start.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") for o in got.occurrences]


TWENTY_MINUTES = [
    f"1997-09-{day:02d} {hour:02d}:{minute:02d} EDT"
    for day in (2, 3)
    for hour in every(9, 16)
    for minute in (0, 20, 40)
]

FINITE = [
    pytest.param(
        "19970902T090000", "FREQ=DAILY;COUNT=10", on("EDT", 1997, 9, *every(2, 11)),
        id="daily for 10 occurrences",
    ),
    pytest.param(
        "19970902T090000", "FREQ=DAILY;UNTIL=19971224T000000Z",
        on("EDT", 1997, 9, *every(2, 30)) + on("EDT", 1997, 10, *every(1, 25))
        + on("EST", 1997, 10, *every(26, 31)) + on("EST", 1997, 11, *every(1, 30))
        + on("EST", 1997, 12, *every(1, 23)),
        id="daily until December 24, 1997",
    ),
    pytest.param(
        "19970902T090000", "FREQ=DAILY;INTERVAL=10;COUNT=5",
        on("EDT", 1997, 9, 2, 12, 22) + on("EDT", 1997, 10, 2, 12),
        id="every 10 days, 5 occurrences",
    ),
    *(
        pytest.param(
            "19980101T090000", rule,
            on("EST", 1998, 1, *every(1, 31)) + on("EST", 1999, 1, *every(1, 31))
            + on("EST", 2000, 1, *every(1, 31)),
            id=f"every day in January, for 3 years ({rule[5:10].lower()})",
        )
        for rule in (
            "FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA",
            "FREQ=DAILY;UNTIL=20000131T140000Z;BYMONTH=1",
        )
    ),
    pytest.param(
        "19970902T090000", "FREQ=WEEKLY;COUNT=10",
        on("EDT", 1997, 9, 2, 9, 16, 23, 30) + on("EDT", 1997, 10, 7, 14, 21)
        + on("EST", 1997, 10, 28) + on("EST", 1997, 11, 4),
        id="weekly for 10 occurrences",
    ),
    pytest.param(
        "19970902T090000", "FREQ=WEEKLY;UNTIL=19971224T000000Z",
        on("EDT", 1997, 9, 2, 9, 16, 23, 30) + on("EDT", 1997, 10, 7, 14, 21)
        + on("EST", 1997, 10, 28) + on("EST", 1997, 11, 4, 11, 18, 25)
        + on("EST", 1997, 12, 2, 9, 16, 23),
        id="weekly until December 24, 1997",
    ),
    *(
        pytest.param(
            "19970902T090000", rule,
            on("EDT", 1997, 9, 2, 4, 9, 11, 16, 18, 23, 25, 30) + on("EDT", 1997, 10, 2),
            id=f"weekly on Tuesday and Thursday for five weeks ({rule[12:17].lower()})",
        )
        for rule in (
            "FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH",
            "FREQ=WEEKLY;COUNT=10;WKST=SU;BYDAY=TU,TH",
        )
    ),
    pytest.param(
        "19970901T090000",
        "FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR",
        on("EDT", 1997, 9, 1, 3, 5, 15, 17, 19, 29) + on("EDT", 1997, 10, 1, 3, 13, 15, 17)
        + on("EST", 1997, 10, 27, 29, 31) + on("EST", 1997, 11, 10, 12, 14, 24, 26, 28)
        + on("EST", 1997, 12, 8, 10, 12, 22),
        id="every other week on Monday, Wednesday and Friday until December 24, 1997",
    ),
    pytest.param(
        "19970902T090000", "FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH",
        on("EDT", 1997, 9, 2, 4, 16, 18, 30) + on("EDT", 1997, 10, 2, 14, 16),
        id="every other week on Tuesday and Thursday, for 8 occurrences",
    ),
    pytest.param(
        "19970905T090000", "FREQ=MONTHLY;COUNT=10;BYDAY=1FR",
        on("EDT", 1997, 9, 5) + on("EDT", 1997, 10, 3) + on("EST", 1997, 11, 7)
        + on("EST", 1997, 12, 5) + on("EST", 1998, 1, 2) + on("EST", 1998, 2, 6)
        + on("EST", 1998, 3, 6) + on("EST", 1998, 4, 3) + on("EDT", 1998, 5, 1)
        + on("EDT", 1998, 6, 5),
        id="monthly on the first Friday for 10 occurrences",
    ),
    pytest.param(
        "19970905T090000", "FREQ=MONTHLY;UNTIL=19971224T000000Z;BYDAY=1FR",
        on("EDT", 1997, 9, 5) + on("EDT", 1997, 10, 3) + on("EST", 1997, 11, 7)
        + on("EST", 1997, 12, 5),
        id="monthly on the first Friday until December 24, 1997",
    ),
    pytest.param(
        "19970907T090000", "FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU",
        on("EDT", 1997, 9, 7, 28) + on("EST", 1997, 11, 2, 30) + on("EST", 1998, 1, 4, 25)
        + on("EST", 1998, 3, 1, 29) + on("EDT", 1998, 5, 3, 31),
        id="every other month on the first and last Sunday, for 10 occurrences",
    ),
    pytest.param(
        "19970922T090000", "FREQ=MONTHLY;COUNT=6;BYDAY=-2MO",
        on("EDT", 1997, 9, 22) + on("EDT", 1997, 10, 20) + on("EST", 1997, 11, 17)
        + on("EST", 1997, 12, 22) + on("EST", 1998, 1, 19) + on("EST", 1998, 2, 16),
        id="monthly on the second-to-last Monday for 6 months",
    ),
    pytest.param(
        "19970902T090000", "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=2,15",
        on("EDT", 1997, 9, 2, 15) + on("EDT", 1997, 10, 2, 15) + on("EST", 1997, 11, 2, 15)
        + on("EST", 1997, 12, 2, 15) + on("EST", 1998, 1, 2, 15),
        id="monthly on the 2nd and 15th for 10 occurrences",
    ),
    pytest.param(
        "19970930T090000", "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1",
        on("EDT", 1997, 9, 30) + on("EDT", 1997, 10, 1) + on("EST", 1997, 10, 31)
        + on("EST", 1997, 11, 1, 30) + on("EST", 1997, 12, 1, 31) + on("EST", 1998, 1, 1, 31)
        + on("EST", 1998, 2, 1),
        id="monthly on the first and last day for 10 occurrences",
    ),
    pytest.param(
        "19970910T090000", "FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15",
        on("EDT", 1997, 9, *every(10, 15)) + on("EST", 1999, 3, *every(10, 13)),
        id="every 18 months on the 10th thru 15th, for 10 occurrences",
    ),
    pytest.param(
        "19970610T090000", "FREQ=YEARLY;COUNT=10;BYMONTH=6,7",
        [x for year in every(1997, 2001) for x in on("EDT", year, 6, 10) + on("EDT", year, 7, 10)],
        id="yearly in June and July for 10 occurrences",
    ),
    pytest.param(
        "19970310T090000", "FREQ=YEARLY;INTERVAL=2;COUNT=10;BYMONTH=1,2,3",
        on("EST", 1997, 3, 10)
        + [x for year in (1999, 2001, 2003) for m in (1, 2, 3) for x in on("EST", year, m, 10)],
        id="every other year on January, February and March for 10 occurrences",
    ),
    pytest.param(
        "19970101T090000", "FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200",
        on("EST", 1997, 1, 1) + on("EDT", 1997, 4, 10) + on("EDT", 1997, 7, 19)
        + on("EST", 2000, 1, 1) + on("EDT", 2000, 4, 9) + on("EDT", 2000, 7, 18)
        + on("EST", 2003, 1, 1) + on("EDT", 2003, 4, 10) + on("EDT", 2003, 7, 19)
        + on("EST", 2006, 1, 1),
        id="every third year on the 1st, 100th and 200th day for 10 occurrences",
    ),
    pytest.param(
        "19970904T090000", "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
        on("EDT", 1997, 9, 4) + on("EDT", 1997, 10, 7) + on("EST", 1997, 11, 6),
        id="the third Tuesday, Wednesday or Thursday of the month, for 3 months",
    ),
    pytest.param(
        # The RFC lists 15:00 too, but 15:00 EDT is 19:00Z, after UNTIL (17:00Z): UNTIL is an
        # inclusive bound in UTC (§3.3.10), so the series ends at 12:00 EDT (16:00Z).
        "19970902T090000", "FREQ=HOURLY;INTERVAL=3;UNTIL=19970902T170000Z",
        on("EDT", 1997, 9, 2, at="09:00") + on("EDT", 1997, 9, 2, at="12:00"),
        id="every 3 hours from 9:00 AM to 5:00 PM on a specific day",
    ),
    pytest.param(
        "19970902T090000", "FREQ=MINUTELY;INTERVAL=15;COUNT=6",
        [f"1997-09-02 {t} EDT" for t in ("09:00", "09:15", "09:30", "09:45", "10:00", "10:15")],
        id="every 15 minutes for 6 occurrences",
    ),
    pytest.param(
        "19970902T090000", "FREQ=MINUTELY;INTERVAL=90;COUNT=4",
        [f"1997-09-02 {t} EDT" for t in ("09:00", "10:30", "12:00", "13:30")],
        id="every hour and a half for 4 occurrences",
    ),
    pytest.param(
        "19970805T090000", "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO",
        on("EDT", 1997, 8, 5, 10, 19, 24),
        id="WKST=MO",
    ),
    pytest.param(
        "19970805T090000", "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU",
        on("EDT", 1997, 8, 5, 17, 19, 31),
        id="WKST=SU",
    ),
    pytest.param(
        "20070115T090000", "FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5",
        on("EST", 2007, 1, 15, 30) + on("EST", 2007, 2, 15) + on("EDT", 2007, 3, 15, 30),
        id="an invalid date (February 30) is ignored",
    ),
]

ENDLESS = [
    pytest.param(
        "19970902T090000", "FREQ=DAILY;INTERVAL=2",
        on("EDT", 1997, 9, *every(2, 30, 2)) + on("EDT", 1997, 10, *every(2, 24, 2))
        + on("EST", 1997, 10, 26, 28, 30) + on("EST", 1997, 11, *every(1, 29, 2))
        + on("EST", 1997, 12, 1, 3),
        id="every other day - forever",
    ),
    pytest.param(
        "19970902T090000", "FREQ=WEEKLY;INTERVAL=2;WKST=SU",
        on("EDT", 1997, 9, 2, 16, 30) + on("EDT", 1997, 10, 14) + on("EST", 1997, 10, 28)
        + on("EST", 1997, 11, 11, 25) + on("EST", 1997, 12, 9, 23) + on("EST", 1998, 1, 6, 20)
        + on("EST", 1998, 2, 3, 17),
        id="every other week - forever",
    ),
    pytest.param(
        "19970928T090000", "FREQ=MONTHLY;BYMONTHDAY=-3",
        on("EDT", 1997, 9, 28) + on("EST", 1997, 10, 29) + on("EST", 1997, 11, 28)
        + on("EST", 1997, 12, 29) + on("EST", 1998, 1, 29) + on("EST", 1998, 2, 26),
        id="monthly on the third-to-the-last day of the month, forever",
    ),
    pytest.param(
        "19970902T090000", "FREQ=MONTHLY;INTERVAL=2;BYDAY=TU",
        on("EDT", 1997, 9, 2, 9, 16, 23, 30) + on("EST", 1997, 11, 4, 11, 18, 25)
        + on("EST", 1998, 1, 6, 13, 20, 27) + on("EST", 1998, 3, 3, 10, 17, 24, 31),
        id="every Tuesday, every other month",
    ),
    pytest.param(
        "19970519T090000", "FREQ=YEARLY;BYDAY=20MO",
        on("EDT", 1997, 5, 19) + on("EDT", 1998, 5, 18) + on("EDT", 1999, 5, 17),
        id="every 20th Monday of the year, forever",
    ),
    pytest.param(
        "19970512T090000", "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
        on("EDT", 1997, 5, 12) + on("EDT", 1998, 5, 11) + on("EDT", 1999, 5, 17),
        id="Monday of week number 20, forever",
    ),
    pytest.param(
        "19970313T090000", "FREQ=YEARLY;BYMONTH=3;BYDAY=TH",
        on("EST", 1997, 3, 13, 20, 27) + on("EST", 1998, 3, 5, 12, 19, 26)
        + on("EST", 1999, 3, 4, 11, 18, 25),
        id="every Thursday in March, forever",
    ),
    pytest.param(
        "19970605T090000", "FREQ=YEARLY;BYDAY=TH;BYMONTH=6,7,8",
        on("EDT", 1997, 6, 5, 12, 19, 26) + on("EDT", 1997, 7, 3, 10, 17, 24, 31)
        + on("EDT", 1997, 8, 7, 14, 21, 28) + on("EDT", 1998, 6, 4, 11, 18, 25)
        + on("EDT", 1998, 7, 2, 9, 16, 23, 30) + on("EDT", 1998, 8, 6, 13, 20, 27)
        + on("EDT", 1999, 6, 3, 10, 17, 24) + on("EDT", 1999, 7, 1, 8, 15, 22, 29)
        + on("EDT", 1999, 8, 5, 12, 19, 26),
        id="every Thursday, but only during June, July and August, forever",
    ),
    pytest.param(
        "19970913T090000", "FREQ=MONTHLY;BYDAY=SA;BYMONTHDAY=7,8,9,10,11,12,13",
        on("EDT", 1997, 9, 13) + on("EDT", 1997, 10, 11) + on("EST", 1997, 11, 8)
        + on("EST", 1997, 12, 13) + on("EST", 1998, 1, 10) + on("EST", 1998, 2, 7)
        + on("EST", 1998, 3, 7) + on("EDT", 1998, 4, 11) + on("EDT", 1998, 5, 9)
        + on("EDT", 1998, 6, 13),
        id="the first Saturday that follows the first Sunday of the month, forever",
    ),
    pytest.param(
        "19961105T090000", "FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8",
        on("EST", 1996, 11, 5) + on("EST", 2000, 11, 7) + on("EST", 2004, 11, 2),
        id="every 4 years, the first Tuesday after a Monday in November, forever",
    ),
    pytest.param(
        "19970929T090000", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
        on("EDT", 1997, 9, 29) + on("EST", 1997, 10, 30) + on("EST", 1997, 11, 27)
        + on("EST", 1997, 12, 30) + on("EST", 1998, 1, 29) + on("EST", 1998, 2, 26)
        + on("EST", 1998, 3, 30),
        id="the second-to-last weekday of the month",
    ),
    *(
        pytest.param(
            "19970902T090000", rule, TWENTY_MINUTES,
            id=f"every 20 minutes from 9:00 AM to 4:40 PM every day ({rule[5:11].lower()})",
        )
        for rule in (
            "FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40",
            "FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,10,11,12,13,14,15,16",
        )
    ),
]


@pytest.mark.parametrize(("start", "rule", "expected"), FINITE)
def test_a_finite_rfc_example_expands_to_exactly_the_listed_instances(start, rule, expected):
    assert shown(rule, start, limit=500) == expected


@pytest.mark.parametrize(("start", "rule", "expected"), ENDLESS)
def test_an_endless_rfc_example_begins_with_the_listed_instances(start, rule, expected):
    assert shown(rule, start, limit=len(expected)) == expected


def test_every_friday_the_13th_with_its_dtstart_excluded():
    # DTSTART (a Tuesday, 1997-09-02) is also an EXDATE; the rule never generates it anyway.
    expected = (
        on("EST", 1998, 2, 13) + on("EST", 1998, 3, 13) + on("EST", 1998, 11, 13)
        + on("EDT", 1999, 8, 13) + on("EDT", 2000, 10, 13)
    )
    rule = "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13"
    assert shown(rule, "19970902T090000", len(expected), exdates=("19970902T090000",)) == expected
