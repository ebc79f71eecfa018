"""Joint operations in the browser: three agencies on one checklist, and the coordinator's board.

A coordinator of NA-IMM starts a trafficking-screening operation at WDH from
the "Start operation" dialog (axe-core checks the open dialog) and, on the
operation page, hands the referral task (immigration's by the SOP, needs a
note and a co-sign) to NA-POL's duty officer. That officer (on the other
worker when two run) starts and completes it with a note and an evidence
reference, and the row reads "done by NA-POL (…), awaiting co-sign from
another agency"; NA-CUS's duty officer then co-signs it. All three see the
progress move to "1 of 8 done" and the co-sign sentence without reloading; the
database holds the same. After a reload the sentence keeps its names, and "who
did what" lists the task's history from the record. The operation page is checked
by axe-core and photographed in Urdu (var/e2e/urdu-operation.png).

On the demo data, a task made overdue and a situation report made late (their
due times moved into the past through the ORM: set-up, not the thing tested)
show on NA-IMM's coordinator's board (the "Overdue tasks" card, "Needs
attention"), which axe-core checks, and in the incident room as "update due",
first upcoming, then late.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from hub.accounts.models import User
from hub.operations.models import Operation, Task
from hub.sitreps.models import SitrepSubject
from tests.e2e.conftest import Hub
from tests.e2e.officers import (
    DEMO_INCIDENT,
    assert_accessible,
    exact,
    mark_document,
    same_document,
    screenshot,
    sign_in,
)

TEMPLATE = "tip-screening"  # 8 tasks; the customs one lets NA-CUS read the operation
TASKS = 8
REFERRAL = "Refer the person to protection services"  # immigration; note and co-sign
NOTE = "Referred to the Windhoek shelter; reference SHL-2026-114."
EVIDENCE = "CASE-WDH-0042"
DEMO_OPERATION = "OP-WDH-2026-0001"  # tip-screening on the demo incident
OVERDUE = "Examine travel documents and check SLTD and national watchlists"  # its task 3, open


def task_row(page: Any, title: str) -> Any:
    return page.locator("li[data-testid=task]", has_text=title)


def progress(page: Any) -> Any:
    return page.get_by_test_id("operation").locator(".progress-line")


@pytest.mark.django_db(transaction=True)
def test_three_agencies_work_one_task_live(browser: Any, hub: Hub, contexts: list[Any]) -> None:
    names = {
        u.username: u.display_name
        for u in User.objects.filter(username__in=["na-pol.duty", "na-cus.duty"])
    }
    coord = sign_in(contexts, browser, hub.a, "na-imm.coord", "/points/WDH/operations")
    expect(coord.get_by_test_id("operation-row").first).to_be_visible()
    coord.get_by_role("button", name="Start operation").click()
    dialog = coord.get_by_role("dialog", name="Start operation")
    expect(dialog).to_be_visible()
    dialog.get_by_label("SOP template").select_option(TEMPLATE)
    expect(dialog.locator("table.start-tasks tbody tr")).to_have_count(TASKS)
    expect(dialog.get_by_label("Lead agency")).to_have_value("NA-IMM")
    # Each task shows the agency it will go to, which the coordinator may change.
    first = dialog.get_by_label("Task 1 goes to", exact=True)
    expect(first).to_have_value("NA-IMM")
    first.select_option("NA-POL")
    assert_accessible(coord, "the start-operation dialog")
    dialog.get_by_role("button", name="Start operation").click()

    expect(coord).to_have_url(re.compile(r"/operations/OP-WDH-\d{4}-\d{4}$"))
    ref = coord.url.rsplit("/", 1)[1]
    assert ref != DEMO_OPERATION
    expect(coord.get_by_test_id("operation").get_by_role("heading", level=1)).to_contain_text(ref)
    expect(coord.locator("li[data-testid=task]")).to_have_count(TASKS)
    expect(progress(coord)).to_contain_text(f"0 of {TASKS} done")

    pol = sign_in(contexts, browser, hub.b, "na-pol.duty", f"/operations/{ref}")
    cus = sign_in(contexts, browser, hub.a, "na-cus.duty", f"/operations/{ref}")
    pages = (coord, pol, cus)
    for page in pages:
        expect(progress(page)).to_contain_text(f"0 of {TASKS} done")
        mark_document(page)
    assert_accessible(coord, "the operation page")

    # The coordinator hands the referral to NA-POL's duty officer.
    row = task_row(coord, REFERRAL)
    expect(row.get_by_test_id("cosign")).to_have_count(0)
    row.get_by_role("button", name="Assign").click()
    row.get_by_label("Agency").select_option("NA-POL")
    row.get_by_label("Officers (usernames)").fill("na-pol.duty")
    row.get_by_role("button", name="Assign").click()
    for page in pages:
        expect(task_row(page, REFERRAL).locator(".task-meta")).to_contain_text("NA-POL")
        expect(task_row(page, REFERRAL).locator(".assignees")).to_have_text("na-pol.duty")

    # NA-POL's officer starts it and completes it with the note; the row then says
    # who did it and that it awaits a co-sign; NA-CUS's officer co-signs it.
    mine = task_row(pol, REFERRAL)
    mine.get_by_role("button", name=exact("Start")).click()
    mine.get_by_role("button", name=exact("Start")).click()  # the form's submit (note optional)
    for page in pages:
        expect(task_row(page, REFERRAL)).to_have_attribute("data-status", "in_progress")
    # NA-POL is the task's agency: it is not offered the co-sign.
    expect(mine.get_by_role("button", name="Co-sign")).to_have_count(0)

    mine.get_by_role("button", name=exact("Complete")).click()
    mine.get_by_label("Note (required for this task)").fill(NOTE)
    mine.get_by_label("Evidence reference").fill(EVIDENCE)
    mine.get_by_role("button", name=exact("Complete")).click()
    awaiting = re.compile(
        rf"^\s*done by NA-POL \({re.escape(names['na-pol.duty'])}, \d{{2}}:\d{{2}}[^)]*\), "
        rf"awaiting co-sign from another agency\s*$"
    )
    for page in pages:
        row = task_row(page, REFERRAL)
        expect(row).to_have_attribute("data-status", "done")
        expect(progress(page)).to_contain_text(f"1 of {TASKS} done")
        expect(row.get_by_test_id("cosign")).to_have_text(awaiting)

    theirs = task_row(cus, REFERRAL)
    theirs.get_by_role("button", name="Co-sign").click()
    theirs.get_by_label("Co-sign note (optional)").fill("Shelter confirmed by phone.")
    theirs.get_by_role("button", name="Co-sign").click()
    sentence = re.compile(
        rf"^\s*done by NA-POL \({re.escape(names['na-pol.duty'])}\), "
        rf"co-signed by NA-CUS \({re.escape(names['na-cus.duty'])}, .+\)\s*$"
    )
    for page in pages:
        row = task_row(page, REFERRAL)
        expect(row.get_by_test_id("cosign")).to_have_text(sentence)
        expect(row).to_contain_text(NOTE)
        expect(row).to_contain_text(EVIDENCE)
        assert same_document(page), f"{page.url} was reloaded"

    # After a reload the sentence keeps its names and agencies, and "who did what"
    # lists the task's history from the record, not only what this page saw.
    cus.reload()
    row = task_row(cus, REFERRAL)
    expect(row.get_by_test_id("cosign")).to_have_text(sentence)
    row.get_by_role("button", name=re.compile(r"^Who did what")).click()
    history = row.locator("ol.task-history li")
    expect(history).to_have_count(4)  # assigned, started, done, co-signed
    expect(history.last).to_contain_text(names["na-cus.duty"])

    operation = Operation.objects.get(ref=ref)
    assert operation.template.code == TEMPLATE
    assert operation.lead_agency.code == "NA-IMM"
    assert operation.started_by.username == "na-imm.coord"
    assert operation.tasks.count() == TASKS
    first_agency = operation.tasks.get(position=1).assigned_agency
    assert first_agency is not None
    assert first_agency.code == "NA-POL"
    task = Task.objects.get(operation=operation, title__startswith=REFERRAL)
    assert Task.objects.filter(pk=task.pk).values(
        "status",
        "assigned_agency__code",
        "note",
        "evidence",
        "completed_by__username",
        "cosigned_by__username",
        "cosigned_agency__code",
    ).get() == {
        "status": "done",
        "assigned_agency__code": "NA-POL",
        "note": NOTE,
        "evidence": EVIDENCE,
        "completed_by__username": "na-pol.duty",
        "cosigned_by__username": "na-cus.duty",
        "cosigned_agency__code": "NA-CUS",
    }
    assert [u.username for u in task.assignees.all()] == ["na-pol.duty"]
    assert task.cosigned_at is not None
    assert task.completed_at is not None
    assert task.completed_at <= task.cosigned_at
    assert Task.objects.filter(operation=operation, status="done").count() == 1

    # The coordinator's page in Urdu (no reload: the switch is live).
    coord.get_by_label("Language").select_option(label="اردو")
    expect(coord.locator("html")).to_have_attribute("dir", "rtl")
    expect(task_row(coord, REFERRAL)).to_have_attribute("data-status", "done")
    screenshot(coord, "urdu-operation")


@pytest.mark.one_officer
@pytest.mark.django_db(transaction=True)
def test_overdue_task_and_late_situation_report_on_the_board(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    # Set-up: one open task of the demo operation is past its due time.
    late = Task.objects.get(operation__ref=DEMO_OPERATION, title=OVERDUE)
    assert late.status == "open"
    late.due_at = timezone.now() - timedelta(minutes=20)
    late.save(update_fields=["due_at"])

    # The demo incident reports every 60 minutes and has just had a report: due, not late.
    page = sign_in(contexts, browser, hub.a, "na-imm.coord", f"/incidents/{DEMO_INCIDENT}")
    due = page.get_by_test_id("sitrep").get_by_test_id("update-due")
    expect(due).to_have_attribute("data-state", "due")
    expect(due).to_contain_text("Update due in")

    # Set-up: its report is now late.
    subject = SitrepSubject.objects.get(incident__ref=DEMO_INCIDENT)
    assert subject.every_minutes == 60
    subject.due_at = timezone.now() - timedelta(minutes=5)
    subject.save(update_fields=["due_at"])

    page.goto(hub.a.base_url + "/points/WDH")
    board = page.get_by_test_id("coordination")
    tasks_card = board.get_by_test_id("coord-card-tasks")
    expect(tasks_card.locator(".count")).not_to_have_text("0")
    assert int(tasks_card.locator(".count").inner_text()) >= 1
    expect(tasks_card).to_contain_text("Overdue tasks")
    attention = board.get_by_test_id("attention")
    expect(attention).to_contain_text(f"{DEMO_OPERATION}: {OVERDUE} (NA-IMM)")
    expect(attention).to_contain_text(f"{DEMO_INCIDENT}: situation report overdue")
    expect(board.get_by_test_id("coord-card-sitreps").locator(".count")).not_to_have_text("0")
    expect(board.get_by_test_id("coverage")).to_be_visible()
    assert_accessible(page, "the coordinator's board")

    tasks_card.click()
    expect(tasks_card).to_have_attribute("aria-pressed", "true")
    expect(board.locator(".coord-grid")).to_contain_text(f"{DEMO_OPERATION}: {OVERDUE}")

    attention.get_by_role("link", name=f"{DEMO_INCIDENT}: situation report overdue").click()
    due = page.get_by_test_id("sitrep").get_by_test_id("update-due")
    expect(due).to_have_attribute("data-state", "late")
    expect(due).to_contain_text("Update due — late by")
