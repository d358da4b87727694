"""Role pools and filling every role at once with distinct resources."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slotwise.engine.allocation import fill_roles
from slotwise.engine.pools import Requirement, ResourceProfile, RolePool, role_pools
from slotwise.testing.engine_builders import hypothesis_examples, role

RESOURCES = (
    ResourceProfile("ann", "practitioner", frozenset({"massage", "senior"})),
    ResourceProfile("bob", "practitioner", frozenset({"massage"})),
    ResourceProfile("room-1", "room", frozenset({"sauna"}), capacity=2),
    ResourceProfile("room-2", "room", capacity=6),
    ResourceProfile("cat", "practitioner", frozenset({"senior"})),
)


def test_a_pool_holds_every_resource_of_the_kind_in_resource_order():
    (pool,) = role_pools([Requirement("practitioner")], RESOURCES)
    assert pool == RolePool(count=1, resource_ids=("ann", "bob", "cat"))


def test_a_pool_keeps_only_resources_carrying_every_tag():
    (pool,) = role_pools(
        [Requirement("practitioner", tags=frozenset({"massage", "senior"}))], RESOURCES
    )
    assert pool.resource_ids == ("ann",)


def test_explicit_ids_limit_the_pool_but_resource_order_decides_preference():
    (pool,) = role_pools(
        [Requirement("practitioner", count=2, resource_ids=("cat", "ann"))], RESOURCES
    )
    assert pool == RolePool(count=2, resource_ids=("ann", "cat"))


def test_min_capacity_filters_small_rooms():
    (pool,) = role_pools([Requirement("room", min_capacity=4)], RESOURCES)
    assert pool.resource_ids == ("room-2",)


def test_restrict_to_limits_every_pool_to_a_bookings_resources():
    pools = role_pools(
        [Requirement("practitioner"), Requirement("room")], RESOURCES, restrict_to={"bob", "room-2"}
    )
    assert [p.resource_ids for p in pools] == [("bob",), ("room-2",)]


def test_a_pool_may_be_too_small_for_its_count():
    (pool,) = role_pools([Requirement("room", count=3)], RESOURCES)
    assert pool.count == 3
    assert len(pool.resource_ids) == 2
    assert fill_roles([pool], {"room-1", "room-2"}) is None


def test_count_below_one_is_refused():
    with pytest.raises(ValueError, match="count"):
        Requirement("room", count=0)
    with pytest.raises(ValueError, match="count"):
        RolePool(count=0, resource_ids=("a",))


def test_each_role_takes_its_first_usable_resources():
    roles = [role("ann", "bob", "cat", count=2), role("room-1", "room-2")]
    assert fill_roles(roles, {"ann", "bob", "cat", "room-1", "room-2"}) == ("ann", "bob", "room-1")
    assert fill_roles(roles, {"bob", "cat", "room-2"}) == ("bob", "cat", "room-2")


def test_overlapping_pools_are_solved_by_an_augmenting_path():
    # Greedy role by role would give "a" to the first role and leave the second empty.
    roles = [role("a", "b"), role("a")]
    assert fill_roles(roles, {"a", "b"}) == ("b", "a")


def test_a_longer_augmenting_path():
    roles = [role("x", "y"), role("x", "z"), role("x")]
    assert fill_roles(roles, {"x", "y", "z"}) == ("y", "z", "x")


def test_one_resource_cannot_serve_two_roles():
    assert fill_roles([role("a"), role("a")], {"a"}) is None


def test_unusable_resources_are_never_chosen():
    assert fill_roles([role("a", "b")], {"b"}) == ("b",)
    assert fill_roles([role("a", "b")], set()) is None


def test_must_include_forces_a_resource_into_the_answer():
    roles = [role("a", "b"), role("b", "c")]
    assert fill_roles(roles, {"a", "b", "c"}) == ("a", "b")
    assert fill_roles(roles, {"a", "b", "c"}, must_include="c") == ("a", "c")


def test_must_include_may_move_other_resources_between_roles():
    # "m" fits only the first role, whose current holder must move to the second.
    roles = [role("a", "m"), role("b", "a")]
    assert fill_roles(roles, {"a", "b", "m"}, must_include="m") in {("m", "a"), ("m", "b")}


def test_must_include_of_an_unusable_or_unpooled_resource_fails():
    assert fill_roles([role("a", "b")], {"a"}, must_include="b") is None
    assert fill_roles([role("a")], {"a", "z"}, must_include="z") is None


def test_must_include_one_of_needs_at_least_one_of_them():
    roles = [role("a", "b", "c")]
    assert fill_roles(roles, {"a", "b", "c"}, must_include_one_of={"c", "b"}) == ("b",)
    assert fill_roles(roles, {"a", "b", "c"}, must_include_one_of=set()) is None


def test_must_include_and_one_of_together_may_need_a_swap_across_roles():
    roles = [role("m", "s"), role("m", "x")]
    assert fill_roles(roles, {"m", "s", "x"}, must_include="m", must_include_one_of={"s"}) == (
        "s",
        "m",
    )


def test_the_answer_ignores_the_iteration_order_of_usable():
    roles = [role("a", "b", "c", "d", count=2), role("c", "d", "a")]
    first = fill_roles(roles, ["d", "c", "b", "a"], must_include_one_of=["d", "a"])
    second = fill_roles(roles, {"a", "b", "c", "d"}, must_include_one_of=("a", "d"))
    assert first == second == ("a", "b", "c")


def brute_force(roles, usable, must_include, one_of):
    """Every valid choice, by enumeration."""
    per_role = [
        itertools.combinations([r for r in dict.fromkeys(p.resource_ids) if r in usable], p.count)
        for p in roles
    ]
    for combo in itertools.product(*per_role):
        flat = [r for group in combo for r in group]
        if len(set(flat)) != len(flat):
            continue
        if must_include is not None and must_include not in flat:
            continue
        if one_of is not None and not set(flat) & set(one_of):
            continue
        yield flat


NAMES = ["a", "b", "c", "d", "e"]


@st.composite
def matching_problems(draw):
    roles = [
        RolePool(
            count=draw(st.integers(1, 2)),
            resource_ids=tuple(draw(st.lists(st.sampled_from(NAMES), max_size=5, unique=True))),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    usable = draw(st.sets(st.sampled_from(NAMES)))
    must_include = draw(st.none() | st.sampled_from(NAMES))
    one_of = draw(st.none() | st.sets(st.sampled_from(NAMES), max_size=3))
    return roles, usable, must_include, one_of


@settings(max_examples=hypothesis_examples(300), deadline=None)
@given(matching_problems())
def test_fill_roles_finds_a_choice_exactly_when_one_exists(problem):
    roles, usable, must_include, one_of = problem
    got = fill_roles(roles, usable, must_include, one_of)
    exists = next(brute_force(roles, usable, must_include, one_of), None) is not None
    assert (got is not None) == exists
    if got is not None:
        position = 0
        for pool in roles:
            ids = got[position : position + pool.count]
            position += pool.count
            assert set(ids) <= set(pool.resource_ids) & usable
            assert list(ids) == sorted(ids, key=pool.resource_ids.index)
        assert position == len(got)
        assert len(set(got)) == len(got)
        assert must_include is None or must_include in got
        assert one_of is None or set(got) & one_of
