"""Zone names and local wall time -> UTC, with the `compatible` reading of gaps and folds."""

from datetime import date, datetime

import pytest

from slotwise.engine.zones import (
    UnknownZone,
    is_zone,
    local_exists,
    local_midnight,
    local_to_utc,
    zone,
)
from slotwise.testing.engine_builders import at_utc

NEW_YORK = zone("America/New_York")


@pytest.mark.parametrize(
    "name", ["America/New_York", "Europe/Dublin", "Australia/Lord_Howe", "Pacific/Apia", "UTC"]
)
def test_iana_names_are_zones(name):
    assert is_zone(name)
    assert zone(name).key == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "EST5EDT",
        "EST",
        "+05:00",
        "Etc/GMT+5",
        "GMT",
        "Japan",
        "localtime",
        "Mars/Olympus",
        "america/new_york",
        "posix/America/New_York",
    ],
)
def test_anything_but_an_iana_place_or_utc_is_an_unknown_zone(name):
    assert not is_zone(name)
    with pytest.raises(UnknownZone):
        zone(name)


def test_unknown_zone_is_a_value_error():
    assert issubclass(UnknownZone, ValueError)


def test_nine_new_york_is_fourteen_utc_before_spring_forward_and_thirteen_after():
    assert local_to_utc(date(2027, 3, 12), 9 * 60, NEW_YORK) == at_utc("2027-03-12 14:00")
    assert local_to_utc(date(2027, 3, 15), 9 * 60, NEW_YORK) == at_utc("2027-03-15 13:00")


def test_a_wall_time_in_the_spring_gap_moves_forward_by_the_gap():
    # 2027-03-14 02:30 does not exist in New York; compatible reads it as 03:30 EDT.
    assert local_to_utc(date(2027, 3, 14), 2 * 60 + 30, NEW_YORK) == at_utc("2027-03-14 07:30")


def test_a_wall_time_in_the_fall_fold_takes_the_earlier_instant():
    # 2027-11-07 01:30 happens twice in New York; the first is 01:30 EDT = 05:30Z.
    assert local_to_utc(date(2027, 11, 7), 90, NEW_YORK) == at_utc("2027-11-07 05:30")


def test_minute_1440_is_the_next_local_midnight():
    assert local_to_utc(date(2027, 3, 13), 1440, NEW_YORK) == local_midnight(
        date(2027, 3, 14), NEW_YORK
    )
    # The spring-forward day is 23 hours long.
    day = local_to_utc(date(2027, 3, 14), 1440, NEW_YORK) - local_midnight(
        date(2027, 3, 14), NEW_YORK
    )
    assert day.total_seconds() == 23 * 3600


def test_minutes_outside_the_day_are_refused():
    with pytest.raises(ValueError, match=r"0\.\.1440"):
        local_to_utc(date(2027, 1, 1), 1441, NEW_YORK)


def test_lord_howe_moves_its_clocks_by_thirty_minutes():
    lord_howe = zone("Australia/Lord_Howe")
    # 2027-10-03 02:00 -> 02:30 (+10:30 -> +11:00): 02:15 lies in the gap.
    assert not local_exists(datetime(2027, 10, 3, 2, 15), lord_howe)
    assert local_exists(datetime(2027, 10, 3, 2, 30), lord_howe)
    assert local_to_utc(date(2027, 10, 3), 2 * 60 + 15, lord_howe) == at_utc("2027-10-02 15:45")


def test_a_local_midnight_inside_a_gap_is_the_first_instant_of_that_date():
    sao_paulo = zone("America/Sao_Paulo")
    # Brazil's last DST began 2018-11-04 at 00:00, jumping to 01:00 (-03 -> -02).
    assert not local_exists(datetime(2018, 11, 4, 0, 0), sao_paulo)
    assert local_midnight(date(2018, 11, 4), sao_paulo) == at_utc("2018-11-04 03:00")


def test_apia_skipped_the_30th_of_december_2011():
    apia = zone("Pacific/Apia")
    assert not local_exists(datetime(2011, 12, 30, 12, 0), apia)
    assert local_midnight(date(2011, 12, 30), apia) == local_midnight(date(2011, 12, 31), apia)


def test_wall_times_in_a_fold_exist():
    assert local_exists(datetime(2027, 11, 7, 1, 30), NEW_YORK)
    assert not local_exists(datetime(2027, 3, 14, 2, 30), NEW_YORK)
    assert local_exists(datetime(2027, 3, 14, 3, 0), NEW_YORK)


def test_phoenix_has_no_gap_when_denver_has_one():
    assert local_exists(datetime(2027, 3, 14, 2, 30), zone("America/Phoenix"))
    assert not local_exists(datetime(2027, 3, 14, 2, 30), zone("America/Denver"))
