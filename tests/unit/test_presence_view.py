"""A newcomer's presence view built from the last read plus themselves (``with_member``)
is exactly the view a fresh read of every member would give."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.realtime.presence import Member, group_online, with_member

AGENCIES = st.sampled_from(["NA-IMM", "NA-CUS", "NA-POL", "ZA-BMA"])
USERS = st.sampled_from(["a.duty", "b.duty", "c.coord", "d.senior"])


@st.composite
def members(draw: st.DrawFn) -> Member:
    user = draw(USERS)
    return Member(
        conn_id=draw(st.uuids()).hex,
        user=user,
        name=user.upper(),  # one name per user, as in the hub
        agencies=tuple(draw(st.lists(AGENCIES, max_size=2, unique=True))),
    )


@given(st.lists(members(), max_size=12), members())
def test_the_last_view_plus_the_newcomer_is_the_fresh_view(
    present: list[Member], newcomer: Member
) -> None:
    assert with_member(group_online(present), newcomer) == group_online([*present, newcomer])


def test_a_newcomer_without_an_agency_is_listed_under_the_dash() -> None:
    alone = Member("c1", "a.duty", "A", ())
    assert with_member({}, alone) == group_online([alone])
    assert list(with_member({}, alone)) == ["-"]
