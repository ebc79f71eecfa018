"""``@`` mentions in incident messages: who a message names, and whom that notifies.

A mention is ``@`` followed by an agency code or a username, at the start of the
text or after a character that cannot be part of a word or an address (so
``duty@na-cus.example`` is not one). It ends at the last letter or digit, so
trailing punctuation (``@NA-CUS.``, ``(@na-pol.duty)``) is not part of it.

- ``@NA-CUS`` (any case) names an active agency that participates in the incident;
- ``@na-pol.duty`` names an active officer who can read the incident
  (``hub.incidents.permissions.can_read_incident``). Usernames match exactly,
  or, failing that, case-insensitively when only one user matches.

Anything else (an agency that does not participate, an officer who may not read
the incident, a name that does not exist) is simply not a mention. At most
``MAX_MENTIONS`` distinct names per message are looked up.

Who a mention notifies (``mention_recipients``): the officer named, or, for an
agency, its duty officers and coordinators who can read the incident; never the
author. Callers are the message services, inside their transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import reduce
from operator import or_

from django.db.models import Q

from hub.accounts.models import User
from hub.agencies.access import OPERATIONAL_ROLES
from hub.agencies.models import Agency, Membership
from hub.agencies.selectors import accesses_for
from hub.events.types import Mention
from hub.incidents.permissions import IncidentFacts, can_read_incident

MENTION_RE = re.compile(r"(?<![\w@.+-])@([A-Za-z0-9](?:[A-Za-z0-9._+-]{0,148}[A-Za-z0-9])?)")
MAX_MENTIONS = 20
EXCERPT_LENGTH = 140


def mention_tokens(body: str) -> list[str]:
    """The names after ``@`` in ``body``, first occurrence first, without repeats
    (case-insensitively), at most ``MAX_MENTIONS``."""
    seen: set[str] = set()
    tokens: list[str] = []
    for match in MENTION_RE.finditer(body):
        token = match.group(1)
        folded = token.casefold()
        if folded in seen:
            continue
        seen.add(folded)
        tokens.append(token)
        if len(tokens) == MAX_MENTIONS:
            break
    return tokens


def excerpt(body: str) -> str:
    """What a mention notice shows of the message: its first 140 characters."""
    return body[:EXCERPT_LENGTH]


def _officers(tokens: Sequence[str]) -> dict[str, User]:
    """token -> the active user it names (exact username, else the one case-insensitive match)."""
    if not tokens:
        return {}
    query = reduce(or_, (Q(username__iexact=t) for t in tokens))
    users = list(User.objects.filter(query, is_active=True))
    found: dict[str, User] = {}
    for token in tokens:
        exact = [u for u in users if u.username == token]
        folded = [u for u in users if u.username.casefold() == token.casefold()]
        if exact:
            found[token] = exact[0]
        elif len(folded) == 1:
            found[token] = folded[0]
    return found


def _readers(users: Iterable[User], facts: IncidentFacts) -> set[int]:
    """Ids of the users who can read the incident (two queries for all of them)."""
    accesses = accesses_for(list(users))
    return {uid for uid, access in accesses.items() if can_read_incident(access, facts)}


def resolve_mentions(*, body: str, facts: IncidentFacts) -> list[Mention]:
    """The mentions ``body`` makes on this incident, in the order they first appear."""
    tokens = mention_tokens(body)
    if not tokens:
        return []
    agencies = {
        a.code.upper(): a
        for a in Agency.objects.filter(pk__in=facts.participant_ids, is_active=True)
    }
    rest = [t for t in tokens if t.upper() not in agencies]
    officers = _officers(rest)
    readers = _readers(officers.values(), facts)
    mentions: list[Mention] = []
    seen: set[tuple[str, str]] = set()
    for token in tokens:
        agency = agencies.get(token.upper())
        user = officers.get(token)
        if agency is not None:
            mention = Mention(kind="agency", key=agency.code, name=agency.name)
        elif user is not None and user.pk in readers:
            mention = Mention(kind="officer", key=user.username, name=user.display_name)
        else:
            continue
        if (mention.kind, mention.key) not in seen:
            seen.add((mention.kind, mention.key))
            mentions.append(mention)
    return mentions


def mention_recipients(
    mentions: Iterable[Mention], *, facts: IncidentFacts, author_id: int
) -> list[int]:
    """User ids a mention notice goes to: each officer named, and each duty officer or
    coordinator of each agency named, who can read the incident; never the author."""
    usernames = {m.key for m in mentions if m.kind == "officer"}
    codes = {m.key for m in mentions if m.kind == "agency"}
    candidates: dict[int, User] = {}
    if usernames:
        for user in User.objects.filter(username__in=usernames, is_active=True):
            candidates[user.pk] = user
    if codes:
        staff = Membership.objects.filter(
            agency__code__in=codes,
            agency__is_active=True,
            role__in=OPERATIONAL_ROLES,
            is_active=True,
            user__is_active=True,
        ).select_related("user")
        for membership in staff:
            candidates[membership.user_id] = membership.user
    candidates.pop(author_id, None)
    if not candidates:
        return []
    return sorted(_readers(candidates.values(), facts))
