"""Who may do what with evidence files: pure functions of ``Access`` and ``IncidentFacts``.

- upload: whoever may post on the incident's channel (``can_post_message``);
- list metadata: whoever may read the incident;
- download the original: senior officials serving the crossing point and
  coordinators of the incident's lead agency serving it (the same people who
  review an incident); everyone else will see derivatives (a later slice);
- withdraw: senior officials in jurisdiction, lead-agency coordinators, and the
  uploader while their agency still participates.
"""

from __future__ import annotations

from hub.agencies.access import READER_ROLES, Access, Decision, allow, deny
from hub.incidents import permissions as incident_perms
from hub.incidents.permissions import COORDINATOR, SENIOR, IncidentFacts


def can_upload(access: Access, facts: IncidentFacts, agency_code: str | None = None) -> Decision:
    decision = incident_perms.can_post_message(access, facts, agency_code=agency_code)
    if not decision.allowed:
        return deny("only participating agencies add files to an incident")
    return decision


def can_download_original(access: Access, facts: IncidentFacts) -> Decision:
    seniors = access.grants_at(facts.crossing_point_id, (SENIOR,))
    if seniors:
        return allow(seniors[0])
    leads = [
        g
        for g in access.grants_at(facts.crossing_point_id, (COORDINATOR,))
        if g.agency_id == facts.lead_agency_id
    ]
    if leads:
        return allow(leads[0])
    return deny(
        "only senior officials and coordinators of the lead agency download an original file"
    )


def can_withdraw(access: Access, facts: IncidentFacts, *, uploader_id: int) -> Decision:
    official = can_download_original(access, facts)
    if official.allowed:
        return official
    if access.user_id == uploader_id:
        own = [
            g
            for g in access.grants_at(facts.crossing_point_id, READER_ROLES)
            if g.agency_id in facts.participant_ids
        ]
        if own:
            return allow(own[0])
    return deny(
        "only the uploader, senior officials and coordinators of the lead agency withdraw a file"
    )
