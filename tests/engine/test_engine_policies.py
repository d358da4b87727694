"""Cancellation policies: presets at their boundaries, deposits, rounding, validation with field
paths, precedence, JSON, and properties of refunds against a brute-force oracle."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slotwise.engine.policies import (
    FLEXIBLE,
    MODERATE,
    PRESETS,
    STRICT,
    Deposit,
    Fee,
    Policy,
    PolicyError,
    RefundTier,
    check_deposit,
    check_policy_price,
    custom,
    deposit_from_json,
    deposit_to_json,
    effective_policy,
    no_show_fee_minor,
    policy_from_json,
    policy_to_json,
    quote,
    refund_pct_at,
    strictest,
)

START = datetime(2027, 3, 20, 10, 0, tzinfo=UTC)


def cancel(policy: Policy, before: timedelta, *, price: int = 10_000, paid: int | None = None):
    return quote(policy, price_minor=price, paid_minor=price if paid is None else paid,
                 start=START, now=START - before)


H = timedelta(hours=1)
MIN = timedelta(minutes=1)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("policy", "before", "pct"),
    [
        (FLEXIBLE, 24 * H, 100),
        (FLEXIBLE, 24 * H - S, 0),
        (FLEXIBLE, 23 * H + 59 * MIN, 0),
        (FLEXIBLE, 14 * 24 * H, 100),
        (MODERATE, 5 * 24 * H, 100),
        (MODERATE, 5 * 24 * H - MIN, 50),
        (MODERATE, 24 * H, 50),
        (MODERATE, 23 * H + 59 * MIN, 0),
        (STRICT, 14 * 24 * H, 50),
        (STRICT, 14 * 24 * H - MIN, 0),
        (STRICT, 5 * 24 * H, 0),
        (STRICT, 365 * 24 * H, 50),
    ],
)
def test_presets_refund_from_the_tier_whose_boundary_is_met(policy, before, pct):
    q = cancel(policy, before)
    assert q.refund_pct == pct
    assert q.refund_minor == 10_000 * pct // 100
    assert q.late is (pct == 0)


def test_the_quote_names_the_tier_the_notice_and_the_policy():
    q = cancel(MODERATE, 30 * H)
    assert q.tier == RefundTier(24, 50)
    assert q.hours_before == 30.0
    assert q.reason == "moderate: 30 h before the start, at least 24 h notice: 50 % refund"
    late = cancel(FLEXIBLE, 23 * H + 59 * MIN)
    assert late.tier is None
    assert late.reason == ("flexible: 23 h 59 min before the start, less than 24 h notice: "
                           "no refund")


@pytest.mark.parametrize("before", [timedelta(0), -S, -3 * H])
def test_at_or_after_the_start_nothing_is_refunded_even_with_a_zero_hour_tier(before):
    always = custom([RefundTier(0, 100)])
    q = cancel(always, before)
    assert (q.refund_minor, q.refund_pct, q.late, q.tier) == (0, 0, True, None)
    assert q.hours_before == before.total_seconds() / 3600
    assert "at or after the start" in q.reason
    assert cancel(always, S).refund_pct == 100


def test_a_deposit_only_payment_refunds_a_share_of_the_deposit():
    deposit = Deposit(pct=20)
    paid = deposit.amount_for(12_345)
    assert paid == 2_469  # 20 % of 123.45, floored
    q = cancel(MODERATE, 48 * H, price=12_345, paid=paid)
    assert q.refund_minor == 1_234  # half of 24.69, floored
    assert cancel(MODERATE, 6 * 24 * H, price=12_345, paid=paid).refund_minor == paid


def test_a_fixed_deposit_is_that_amount_and_never_more_than_the_price():
    assert Deposit(amount_minor=2_000).amount_for(5_000) == 2_000
    assert Deposit(amount_minor=2_000).amount_for(1_500) == 1_500
    check_deposit(Deposit(amount_minor=5_000), 5_000)
    with pytest.raises(PolicyError) as err:
        check_deposit(Deposit(amount_minor=5_001), 5_000)
    assert err.value.field_path == "amount_minor"
    check_deposit(Deposit(pct=100), 0)


def test_refunds_are_floored_so_odd_amounts_never_refund_more_than_paid():
    policy = custom([RefundTier(1, 33), RefundTier(2, 67)])
    assert cancel(policy, 1 * H, paid=1).refund_minor == 0
    assert cancel(policy, 2 * H, paid=1).refund_minor == 0
    assert cancel(policy, 2 * H, paid=101).refund_minor == 67
    assert cancel(policy, 1 * H, paid=99_999).refund_minor == 32_999


def test_a_late_cancellation_charges_the_fee_less_what_was_kept():
    policy = custom([RefundTier(24, 100)], late_cancel_fee=Fee(pct=50))
    deposit_only = cancel(policy, 2 * H, price=10_000, paid=2_000)
    assert (deposit_only.refund_minor, deposit_only.fee_minor, deposit_only.charge_minor) == (
        0, 5_000, 3_000)
    assert deposit_only.reason.endswith("; late-cancellation fee 5000")
    paid_in_full = cancel(policy, 2 * H, price=10_000, paid=10_000)
    assert (paid_in_full.fee_minor, paid_in_full.charge_minor) == (5_000, 0)
    unpaid = cancel(policy, 2 * H, price=10_000, paid=0)
    assert unpaid.charge_minor == 5_000
    in_time = cancel(policy, 24 * H, price=10_000, paid=0)
    assert (in_time.late, in_time.fee_minor, in_time.charge_minor) == (False, 0, 0)


def test_a_tier_refunding_nothing_counts_as_late():
    policy = custom([RefundTier(48, 100), RefundTier(2, 0)], late_cancel_fee=Fee(amount_minor=900))
    q = cancel(policy, 3 * H, paid=0)
    assert (q.tier, q.late, q.fee_minor, q.charge_minor) == (RefundTier(2, 0), True, 900, 900)


def test_fixed_fees_are_capped_at_the_price_and_the_no_show_fee_is_on_its_own():
    policy = custom([RefundTier(24, 100)], late_cancel_fee=Fee(amount_minor=3_000),
                    no_show_fee=Fee(pct=75))
    assert cancel(policy, H, price=2_000, paid=0).fee_minor == 2_000
    assert no_show_fee_minor(policy, 999) == 749
    assert no_show_fee_minor(FLEXIBLE, 999) == 0
    assert no_show_fee_minor(custom([], no_show_fee=Fee(amount_minor=500)), 10_000) == 500


def test_no_tiers_means_no_refund_ever():
    q = cancel(custom([]), 1000 * H)
    assert (q.refund_minor, q.late) == (0, True)
    assert q.reason == "custom: 1000 h before the start, no refunds"


def test_tiers_are_kept_most_notice_first_whatever_order_they_came_in():
    policy = custom([RefundTier(24, 50), RefundTier(120, 100), RefundTier(2, 10)])
    assert [t.min_notice_h for t in policy.tiers] == [120, 24, 2]
    assert policy == custom([RefundTier(120, 100), RefundTier(2, 10), RefundTier(24, 50)])


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: RefundTier(-1, 50), "min_notice_h"),
        (lambda: RefundTier(24, 101), "refund_pct"),
        (lambda: RefundTier(24, -1), "refund_pct"),
        (lambda: custom([RefundTier(24, 100), RefundTier(24, 50)]), "tiers[1].min_notice_h"),
        (lambda: custom([RefundTier(48, 50), RefundTier(24, 100)]), "tiers[0].refund_pct"),
        (lambda: Fee(amount_minor=-1), "amount_minor"),
        (lambda: Fee(pct=150), "pct"),
        (lambda: Fee(), ""),
        (lambda: Fee(amount_minor=1, pct=1), ""),
        (lambda: Deposit(pct=-5), "pct"),
        (lambda: Deposit(amount_minor=-5), "amount_minor"),
        (lambda: check_policy_price(custom([], no_show_fee=Fee(amount_minor=501)), 500),
         "no_show_fee.amount_minor"),
        (lambda: check_policy_price(custom([], late_cancel_fee=Fee(amount_minor=501)), 500),
         "late_cancel_fee.amount_minor"),
        (lambda: cancel(FLEXIBLE, H, paid=-1), "paid_minor"),
    ],
)
def test_invalid_policies_fees_and_deposits_are_refused_at_the_bad_field(build, path):
    with pytest.raises(PolicyError) as err:
        build()
    assert err.value.field_path == path
    assert isinstance(err.value, ValueError)


def test_fees_within_the_price_pass_the_price_check():
    check_policy_price(custom([], late_cancel_fee=Fee(amount_minor=500),
                              no_show_fee=Fee(pct=100)), 500)


def test_the_service_policy_wins_then_the_strictest_resource_then_location_then_default():
    house = custom([RefundTier(0, 100)], name="house")
    assert effective_policy(FLEXIBLE, [STRICT], MODERATE, house) is FLEXIBLE
    assert effective_policy(None, [FLEXIBLE, STRICT, None, MODERATE], FLEXIBLE, house) is STRICT
    assert effective_policy(None, [None, None], MODERATE, house) is MODERATE
    assert effective_policy(None, [], None, house) is house
    assert effective_policy(None, [], None) is FLEXIBLE


def test_strictest_ranks_the_presets_and_reads_the_shortest_notice_first():
    assert strictest([FLEXIBLE, MODERATE]) is MODERATE
    assert strictest([MODERATE, STRICT, FLEXIBLE]) is STRICT
    # Neither refunds less everywhere: A refunds nothing under 24 h, B half from 1 h on.
    a = custom([RefundTier(24, 100)], name="a")
    b = custom([RefundTier(48, 100), RefundTier(1, 50)], name="b")
    assert strictest([b, a]) is a


def test_equal_refunds_prefer_the_policy_with_fees_then_the_first_given():
    plain = custom([RefundTier(24, 100)], name="plain")
    late = custom([RefundTier(24, 100)], late_cancel_fee=Fee(pct=10), name="late")
    no_show = custom([RefundTier(24, 100)], no_show_fee=Fee(pct=10), name="no-show")
    assert strictest([plain, no_show, late]) is late
    assert strictest([plain, no_show]) is no_show
    twin = custom([RefundTier(24, 100)], name="twin")
    assert strictest([twin, plain]) is twin


def test_strictest_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no policies"):
        strictest([])


def test_presets_and_custom_policies_read_from_json():
    assert policy_from_json({"preset": "moderate"}) is MODERATE
    assert set(PRESETS) == {"flexible", "moderate", "strict"}
    policy = policy_from_json({
        "tiers": [{"min_notice_h": 2, "refund_pct": 25}, {"min_notice_h": 48, "refund_pct": 100}],
        "late_cancel_fee": {"amount_minor": 1500},
        "no_show_fee": {"pct": 100},
    })
    assert policy == Policy("custom", (RefundTier(48, 100), RefundTier(2, 25)),
                            Fee(amount_minor=1500), Fee(pct=100))


def test_policies_write_the_full_form_and_read_it_back():
    policy = custom([RefundTier(72, 100), RefundTier(6, 40)], name="spa",
                    late_cancel_fee=Fee(pct=30))
    data = policy_to_json(policy)
    assert data == {
        "name": "spa",
        "tiers": [{"min_notice_h": 72, "refund_pct": 100}, {"min_notice_h": 6, "refund_pct": 40}],
        "late_cancel_fee": {"pct": 30},
        "no_show_fee": None,
    }
    assert policy_from_json(data) == policy
    assert policy_to_json(STRICT)["tiers"] == [{"min_notice_h": 336, "refund_pct": 50}]
    assert policy_from_json(policy_to_json(MODERATE)) == MODERATE


def test_deposits_read_and_write_json():
    assert deposit_from_json({"pct": 20}) == Deposit(pct=20)
    assert deposit_to_json(Deposit(amount_minor=2_000)) == {"amount_minor": 2_000}
    with pytest.raises(PolicyError) as err:
        deposit_from_json({"pct": 120})
    assert err.value.field_path == "pct"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ([], ""),
        ({"preset": "lenient"}, "preset"),
        ({"preset": 3}, "preset"),
        ({"preset": "strict", "tiers": []}, "tiers"),
        ({"tiers": "all"}, "tiers"),
        ({}, "tiers"),
        ({"tiers": [], "name": ""}, "name"),
        ({"tiers": [], "colour": "red"}, "colour"),
        ({"tiers": [7]}, "tiers[0]"),
        ({"tiers": [{"min_notice_h": 24}]}, "tiers[0].refund_pct"),
        ({"tiers": [{"min_notice_h": "24", "refund_pct": 1}]}, "tiers[0].min_notice_h"),
        ({"tiers": [{"min_notice_h": 24, "refund_pct": True}]}, "tiers[0].refund_pct"),
        ({"tiers": [{"min_notice_h": 24.5, "refund_pct": 1}]}, "tiers[0].min_notice_h"),
        ({"tiers": [{"min_notice_h": 1, "refund_pct": 1, "x": 1}]}, "tiers[0].x"),
        ({"tiers": [{"min_notice_h": 24, "refund_pct": 200}]}, "tiers[0].refund_pct"),
        ({"tiers": [{"min_notice_h": -24, "refund_pct": 20}]}, "tiers[0].min_notice_h"),
        ({"tiers": [{"min_notice_h": 24, "refund_pct": 20},
                    {"min_notice_h": 24, "refund_pct": 10}]}, "tiers[1].min_notice_h"),
        ({"tiers": [], "late_cancel_fee": {"pct": 101}}, "late_cancel_fee.pct"),
        ({"tiers": [], "late_cancel_fee": {"amount_minor": -1}}, "late_cancel_fee.amount_minor"),
        ({"tiers": [], "no_show_fee": {}}, "no_show_fee"),
        ({"tiers": [], "no_show_fee": {"pct": 1, "amount_minor": 1}}, "no_show_fee"),
        ({"tiers": [], "no_show_fee": {"percent": 1}}, "no_show_fee.percent"),
        ({"tiers": [], "no_show_fee": 5}, "no_show_fee"),
    ],
)
def test_bad_json_is_refused_with_the_path_of_the_bad_field(data, path):
    with pytest.raises(PolicyError) as err:
        policy_from_json(data)
    assert err.value.field_path == path


def test_a_policy_error_carries_its_path_as_parts_and_as_text():
    err = PolicyError(("tiers", 2, "refund_pct"), "too much")
    assert err.loc == ("tiers", 2, "refund_pct")
    assert str(err) == "tiers[2].refund_pct: too much"
    assert err.within("policy").field_path == "policy.tiers[2].refund_pct"


tiers_st = st.dictionaries(st.integers(0, 24 * 30), st.integers(0, 100), max_size=5).map(
    lambda by_h: custom([RefundTier(h, pct) for h, pct in zip(
        sorted(by_h), sorted(by_h.values()), strict=True)])
)
notice_st = st.timedeltas(min_value=timedelta(hours=-48), max_value=timedelta(days=40))


def oracle_pct(policy: Policy, notice: timedelta) -> int:
    """Brute force: the best refund among the tiers whose notice is met, before the start."""
    if notice <= timedelta(0):
        return 0
    return max((t.refund_pct for t in policy.tiers
                if notice.total_seconds() >= t.min_notice_h * 3600), default=0)


@given(tiers_st, notice_st, st.integers(0, 10**9))
def test_refund_matches_the_oracle_and_stays_between_zero_and_paid(policy, notice, paid):
    q = quote(policy, price_minor=paid, paid_minor=paid, start=START, now=START - notice)
    assert q.refund_pct == oracle_pct(policy, notice)
    assert 0 <= q.refund_minor <= paid
    assert q.refund_minor * 100 <= paid * q.refund_pct < (q.refund_minor + 1) * 100


@given(tiers_st, notice_st, notice_st, st.integers(0, 10**9))
def test_more_notice_never_refunds_less(policy, a, b, paid):
    less, more = sorted((a, b))
    refund = [quote(policy, price_minor=paid, paid_minor=paid, start=START,
                    now=START - n).refund_minor for n in (less, more)]
    assert refund[0] <= refund[1]


@given(st.lists(tiers_st, min_size=1, max_size=4))
def test_strictest_never_refunds_more_than_a_policy_refunding_less_everywhere(policies):
    chosen = strictest(policies)
    # Refunds are step functions of the notice that change only at tier boundaries: each
    # boundary and the hour before it (and no notice at all) cover every step exactly.
    hours = {0} | {h for p in policies for t in p.tiers
                   for h in (t.min_notice_h, max(0, t.min_notice_h - 1))}
    notices = [timedelta(hours=h) for h in sorted(hours)] + [S]
    for other in policies:
        if all(refund_pct_at(other, n) <= refund_pct_at(chosen, n) for n in notices):
            assert all(refund_pct_at(other, n) == refund_pct_at(chosen, n) for n in notices)


@given(tiers_st, st.sampled_from([None, Fee(pct=10), Fee(amount_minor=250)]))
def test_json_round_trip(policy, fee):
    policy = custom(policy.tiers, late_cancel_fee=fee, no_show_fee=fee)
    assert policy_from_json(policy_to_json(policy)) == policy
