"""Who may do what in joint operations: pure functions of ``Access`` and ``OperationFacts``.

- read ``operation:<REF>``: senior officials serving the crossing point; officers
  of the lead agency or of an agency with a task in it; officers assigned a task;
  readers of its incident;
- start: coordinators serving the crossing point (their agency leads);
- manage (assign, add or remove ad-hoc tasks, close): coordinators of the lead
  agency or of an agency with a task in it, serving the point;
- work a task (status, note, evidence): officers of the task's agency, its
  assignees, or a managing coordinator;
- add evidence files to a task: whoever may work it, if they may also read the
  operation's incident (the files are the incident's: someone who cannot see them
  does not refer to them, nor learn which ids exist there);
- co-sign: an officer serving the point whose agency is *not* the task's agency;
- complete a task with a co-sign (four eyes, two agencies besides the one doing
  it): the co-sign counts only if it came from another officer than the one
  completing, of an agency other than the completing officer's acting agency and
  other than the task's. This holds whether or not the task has an agency (then
  only the completer's agency is excluded). Reassigning a task to another agency
  clears its co-sign, so a co-sign always vouches for the task's current agency.

SOP checklist templates (``template:<CODE>``, and the template routes):

- read (list, one version, the versions, a diff, the stream): every officer who
  holds an active membership, whatever its role (duty officers and senior
  officials follow the procedures, coordinators start operations from them,
  administrators write them), and superusers;
- write (a new template, or a new version of one): holders of an active
  ``admin`` membership, of any agency and wherever they serve, and superusers.
  Why all administrators, and not per agency kind or per crossing point: an SOP
  is the coordination committee's joint procedure. One checklist gives tasks to
  several agency kinds (trafficking screening: immigration, police and customs)
  and is used at every crossing point, so an administrator confined to their own
  agency's items could not write one joint SOP, and no crossing point owns a
  template. Administrators already set up the committee's reference data; the
  officers who run operations (coordinators) do not also rewrite the procedure
  they are held to. What keeps this safe: every version is an attributed event
  (actor and agency) on a hash-chained stream that every officer can read,
  earlier versions are never changed, running operations keep the version they
  started from, and a diff shows exactly what each version changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.agencies.access import READER_ROLES, Access, Decision, Grant, allow, deny
from hub.agencies.models import Role
from hub.incidents.permissions import IncidentFacts, can_read_incident

COORDINATOR = Role.COORDINATOR.value
ADMIN = Role.ADMIN.value

# open → in_progress → done; blocked and not_applicable (with a reason) on the way.
TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "blocked", "not_applicable"}),
    "in_progress": frozenset({"done", "blocked", "not_applicable", "open"}),
    "blocked": frozenset({"in_progress", "not_applicable"}),
    "not_applicable": frozenset({"open"}),
    "done": frozenset({"in_progress"}),
}
NEEDS_REASON = frozenset({"blocked", "not_applicable"})


@dataclass(frozen=True)
class OperationFacts:
    id: int
    ref: str
    crossing_point_id: int
    status: str
    lead_agency_id: int
    agency_ids: frozenset[int]  # the lead agency and every agency with a task
    incident: IncidentFacts | None
    assignee_ids: frozenset[int] = frozenset()  # officers assigned to any task


def _pick(grants: list[Grant], facts: OperationFacts) -> Grant:
    return sorted(grants, key=lambda g: (g.agency_id != facts.lead_agency_id, g.agency_code))[0]


def can_read_operation(access: Access, facts: OperationFacts) -> bool:
    grants = access.grants_at(facts.crossing_point_id, READER_ROLES)
    for grant in grants:
        if grant.role == Role.SENIOR_OFFICIAL or grant.agency_id in facts.agency_ids:
            return True
    if grants and access.user_id in facts.assignee_ids:
        return True
    return facts.incident is not None and can_read_incident(access, facts.incident)


def can_start_operation(
    access: Access, *, crossing_point_id: int, agency_code: str | None = None
) -> Decision:
    grants = access.grants_at(crossing_point_id, (COORDINATOR,))
    if agency_code is not None:
        grants = [g for g in grants if g.agency_code == agency_code]
    if not grants:
        return deny("only coordinators serving this crossing point start joint operations")
    return allow(sorted(grants, key=lambda g: g.agency_code)[0])


def can_manage_operation(access: Access, facts: OperationFacts) -> Decision:
    grants = [
        g
        for g in access.grants_at(facts.crossing_point_id, (COORDINATOR,))
        if g.agency_id in facts.agency_ids
    ]
    if not grants:
        return deny("only coordinators of the agencies in this operation manage it")
    return allow(_pick(grants, facts))


def can_work_task(
    access: Access,
    facts: OperationFacts,
    *,
    task_agency_id: int | None,
    assignee_ids: frozenset[int],
) -> Decision:
    grants = access.grants_at(facts.crossing_point_id, READER_ROLES)
    own = [g for g in grants if task_agency_id is not None and g.agency_id == task_agency_id]
    if own:
        return allow(_pick(own, facts))
    if access.user_id in assignee_ids and grants:
        return allow(_pick(grants, facts))
    managing = can_manage_operation(access, facts)
    if managing:
        return managing
    return deny("only the task's agency, its assignees or a coordinator of the operation work it")


def can_add_task_files(
    access: Access,
    facts: OperationFacts,
    *,
    task_agency_id: int | None,
    assignee_ids: frozenset[int],
) -> Decision:
    """Work the task, and read the incident whose files are referred to. (An operation
    without an incident has no files: the service answers ``attachment_unknown``.)"""
    decision = can_work_task(
        access, facts, task_agency_id=task_agency_id, assignee_ids=assignee_ids
    )
    if not decision or facts.incident is None:
        return decision
    if not can_read_incident(access, facts.incident):
        return deny("only readers of the operation's incident refer to its evidence files")
    return decision


def can_cosign_task(
    access: Access, facts: OperationFacts, *, task_agency_id: int | None
) -> Decision:
    grants = access.grants_at(facts.crossing_point_id, READER_ROLES)
    if not grants:
        return deny("only officers serving this crossing point co-sign")
    others = [g for g in grants if g.agency_id != task_agency_id]
    if not others:
        return Decision(False, "a co-sign must come from an officer of another agency")
    return allow(_pick(others, facts))


@dataclass(frozen=True)
class CosignProblem:
    code: str  # same_agency_cosign or self_cosign (both 403)
    reason: str


def cosign_problem(
    *,
    completer_id: int,
    completer_agency_ids: frozenset[int],
    task_agency_id: int | None,
    cosigned_by_id: int | None,
    cosigned_agency_id: int | None,
) -> CosignProblem | None:
    """Why a co-sign cannot count for this completer, or None when it can (or there is none).

    Checked when a task is completed (``completer_agency_ids``: the agency the
    completer acts for) and when a task that is already done is co-signed (the
    completer's agencies at the point). Pure: the caller loads the facts.
    """
    if cosigned_by_id is None:
        return None
    if cosigned_by_id == completer_id:
        return CosignProblem("self_cosign", "one officer may not both co-sign and complete a task")
    if cosigned_agency_id in completer_agency_ids:
        return CosignProblem(
            "same_agency_cosign",
            "a co-sign must come from an agency other than the completing officer's",
        )
    if task_agency_id is not None and cosigned_agency_id == task_agency_id:
        return CosignProblem(
            "same_agency_cosign", "a co-sign must come from an officer of another agency"
        )
    return None


def task_transition_allowed(from_status: str, to_status: str) -> bool:
    return to_status in TASK_TRANSITIONS.get(from_status, frozenset())


# --- SOP checklist templates ---------------------------------------------------------


def can_read_templates(access: Access, *, is_superuser: bool) -> Decision:
    """Any active membership (any role), or a superuser's account."""
    if not access.is_active:
        return deny("the account is not active")
    if access.grants:
        return allow(sorted(access.grants, key=lambda g: (g.agency_code, g.role))[0])
    if is_superuser:
        return allow()
    return deny("SOP templates are read by officers with a membership")


def can_write_templates(access: Access, *, is_superuser: bool) -> Decision:
    """Administrators (an active admin membership, any agency) and superusers.

    The grant, when there is one, is the administrator's agency the version is
    published for (the first by code); a superuser without one publishes for none.
    """
    if not access.is_active:
        return deny("the account is not active")
    admin_grants = sorted(
        (g for g in access.grants if g.role == ADMIN), key=lambda g: g.agency_code
    )
    if admin_grants:
        return allow(admin_grants[0])
    if is_superuser:
        return allow()
    return deny("only administrators write SOP templates")
