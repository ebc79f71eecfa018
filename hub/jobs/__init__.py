"""Background work: the jobs of one loop (``manage.py run_escalations``).

Each job is a module here that owns one kind of due work (an alert
acknowledgement overdue, an alert past expiry, a task overdue, a situation
report overdue, a checkpoint to sign, a checkpoint a witness has not received, an image
still without its view image and thumbnail).
A job lists what is due at ``now`` from the database and hands
each item to its domain's claim service (``alert_target_escalate``,
``alert_expire``, ``task_escalate``, ``sitrep_remind``), which claims it in a
transaction of its own and writes its event there. Nothing is held in memory
between sweeps, so a restarted loop picks up exactly what was left, and a claim
cannot succeed twice: two loops, or a loop killed in the middle of a claim
(whose transaction then rolls back), fire each item once.

The contract of a job module: a function ``<name>(*, now, on_claimed=None) ->
list[...]`` returning the keys of the items it claimed, which contains failures
per item (``hub.jobs.claims.claim_each``: logged with the item's id, retried on
the next sweep). ``hub.jobs.runner`` runs every job once per sweep; a job that
fails as a whole is logged and does not stop the others.

Dependency direction: jobs are an edge, like commands: they import domain apps,
and no domain app imports them.
"""
