"""The standard SOPs: ``manage.py load_sops`` (idempotent, production-safe), order, agencies.

``load_sops`` is what a deploy runs after ``migrate``; ``seed_demo`` loads the
SOPs through the same code. A changed SOP becomes a new template version and
running operations keep theirs. Every SOP lists its items in due order, and
every item of every SOP finds an agency at some demo crossing point.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from hub.agencies.models import Deployment
from hub.events.models import Event
from hub.operations import services, sops
from hub.operations.models import ChecklistTemplate, Operation, Task, TemplateItem
from hub.operations.selectors import template_publication
from hub.operations.sops import SOPS, load_sops
from hub.operations.template_diff import template_diff
from hub.operations.templates import ItemDraft
from tests.factories import officer
from tests.processes import database_url_for

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "x7G!k2pQ9z#Lm4Vb8Nc1Rt6Yw3Ue5Io0As-Df_Gh+Jk=Lz;Xc,Vb.Nm/Qw"


def template_rows() -> dict[str, Any]:
    return {
        "templates": list(ChecklistTemplate.objects.order_by("id").values()),
        "items": list(TemplateItem.objects.order_by("id").values()),
    }


def load() -> str:
    out = StringIO()
    call_command("load_sops", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_load_sops_twice_gives_the_same_rows() -> None:
    first_output = load()
    first = template_rows()
    assert len(first["templates"]) == len(SOPS)
    assert {(t["code"], t["version"], t["is_current"]) for t in first["templates"]} == {
        (sop.code, 1, True) for sop in SOPS
    }
    assert len(first["items"]) == sum(len(sop.items) for sop in SOPS)
    for sop in SOPS:
        assert f"{sop.code} v1: published" in first_output
    again = load()
    assert template_rows() == first
    for sop in SOPS:
        assert f"{sop.code} v1: unchanged" in again
    assert "0 new versions published" in again


@pytest.mark.django_db
def test_a_changed_sop_is_a_new_version_and_running_operations_keep_theirs(
    demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    load()
    running = services.operation_start(
        actor=officer("na-imm.coord"), crossing_point="WDH", template="tip-screening"
    ).operation
    tasks_before = list(Task.objects.filter(operation=running).order_by("id").values())
    others_before = {t.code: t.pk for t in ChecklistTemplate.objects.exclude(code="tip-screening")}

    tip = SOPS[0]
    assert tip.code == "tip-screening"
    changed_item = dataclasses.replace(tip.items[-1], guidance="Send it within the shift.")
    changed = dataclasses.replace(tip, items=(*tip.items[:-1], changed_item))
    monkeypatch.setattr(sops, "SOPS", (changed, *SOPS[1:]))

    output = load()
    assert "tip-screening v2: published" in output
    assert "1 new versions published" in output
    v1 = ChecklistTemplate.objects.get(code="tip-screening", version=1)
    v2 = ChecklistTemplate.objects.get(code="tip-screening", version=2)
    assert (v1.is_current, v2.is_current) == (False, True)
    assert v2.items.order_by("position").last().guidance == "Send it within the shift."  # type: ignore[union-attr]
    assert v1.items.order_by("position").last().guidance == tip.items[-1].guidance  # type: ignore[union-attr]
    # The other SOPs did not change, so they have no new version.
    assert {
        t.code: t.pk for t in ChecklistTemplate.objects.exclude(code="tip-screening")
    } == others_before
    # The running operation is exactly as it was, still on version 1.
    running.refresh_from_db()
    assert running.template_id == v1.pk
    assert list(Task.objects.filter(operation=running).order_by("id").values()) == tasks_before
    # A new operation starts from version 2; loading again publishes nothing.
    newer = services.operation_start(
        actor=officer("na-imm.coord"), crossing_point="WDH", template="tip-screening"
    ).operation
    assert newer.template_id == v2.pk
    rows = template_rows()
    assert "0 new versions published" in load()
    assert template_rows() == rows
    assert Operation.objects.count() == 2


@pytest.mark.django_db
def test_load_sops_runs_under_production_settings() -> None:
    """Unlike seed_demo, load_sops is for production: it makes no users and no demo data."""
    with override_settings(HUB_ENV="production"):
        output = load()
    assert f"{len(SOPS)} loaded, {len(SOPS)} new versions published" in output
    assert ChecklistTemplate.objects.filter(is_current=True).count() == len(SOPS)
    from hub.accounts.models import User

    assert not User.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_manage_py_load_sops_in_a_production_process() -> None:
    """The real settings module under HUB_ENV=production, as the compose migrate service runs it."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="hub.settings",
        HUB_ENV="production",
        SECRET_KEY=STRONG_KEY,
        DEBUG="false",
        ALLOWED_HOSTS="hub.example.org",
        DATABASE_URL=database_url_for(connection.settings_dict),
    )
    env.pop("REDIS_URL", None)

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", "load_sops"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    first = run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"{len(SOPS)} new versions published" in first.stdout
    rows = template_rows()
    second = run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 new versions published" in second.stdout
    assert template_rows() == rows


@pytest.mark.django_db
def test_seed_demo_loads_the_sops_as_load_sops_does() -> None:
    call_command("seed_demo", "--quiet-logins", stdout=StringIO())
    rows = template_rows()
    assert {t["code"] for t in rows["templates"]} == {sop.code for sop in SOPS}
    assert "0 new versions published" in load()
    assert template_rows() == rows


def test_every_sop_lists_its_items_in_due_order() -> None:
    for sop in SOPS:
        offsets = [item.due_offset_minutes for item in sop.items]
        assert offsets == sorted(offsets), (sop.code, offsets)


@pytest.mark.django_db
def test_every_sop_item_finds_an_agency_at_some_demo_point(demo: None) -> None:
    """No SOP has a step that no demo agency could ever be given (kind ``other`` included)."""
    deployed: dict[str, set[str]] = {}
    for point, kind in Deployment.objects.filter(is_active=True).values_list(
        "crossing_point__code", "agency__kind"
    ):
        deployed.setdefault(point, set()).add(kind)
    for sop in SOPS:
        kinds = {item.agency_kind for item in sop.items}
        fits = sorted(point for point, there in deployed.items() if kinds <= there)
        assert fits, (sop.code, kinds)


@pytest.mark.django_db
def test_document_fraud_registration_step_is_assigned(demo: None) -> None:
    load_sops()
    operation = services.operation_start(
        actor=officer("za-imm.coord"), crossing_point="JNB", template="document-fraud-check"
    ).operation
    tasks = list(operation.tasks.select_related("assigned_agency").order_by("position"))
    assert [t.assigned_agency.code if t.assigned_agency else None for t in tasks] == [
        "ZA-IMM",
        "ZA-IMM",
        "ZA-POL",
        "ZA-DHA",
        "ZA-IMM",
        "ZA-POL",
    ]
    registration = tasks[3]
    assert registration.agency_kind == "other"
    # The registration authority's duty officer works it.
    services.task_update(
        actor=officer("za-dha.duty"),
        ref=operation.ref,
        task_id=registration.pk,
        status="in_progress",
        note="Asked the population register; reference DHA/2026/0193.",
    )
    registration.refresh_from_db()
    assert registration.status == "in_progress"


# --- beside versions written in the browser -----------------------------------------------


def browser_edit(code: str, title: str) -> ChecklistTemplate:
    """An administrator publishes a new version of ``code`` in the browser (items kept)."""
    base = ChecklistTemplate.objects.get(code=code, is_current=True)
    items = [
        ItemDraft(
            key=i.key,
            position=i.position,
            title=i.title,
            guidance=i.guidance,
            agency_kind=i.agency_kind,
            due_offset_minutes=i.due_offset_minutes,
            requires_note=i.requires_note,
            requires_cosign=i.requires_cosign,
        )
        for i in base.items.order_by("position")
    ]
    return services.template_revise(
        actor=officer("na-imm.admin"),
        code=code,
        base_version=base.version,
        title=title,
        description=base.description,
        items=items,
    ).template


def record() -> tuple[Any, ...]:
    return (template_rows(), list(Event.objects.order_by("id").values_list("id", flat=True)))


def changed_tip() -> sops.Sop:
    tip = SOPS[0]
    assert tip.code == "tip-screening"
    changed_item = dataclasses.replace(tip.items[-1], guidance="Send it within the shift.")
    return dataclasses.replace(tip, items=(*tip.items[:-1], changed_item))


@pytest.mark.django_db
def test_load_sops_never_overwrites_a_version_written_in_the_browser(
    demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    load()
    original_title = SOPS[0].title
    edited = browser_edit("tip-screening", "TIP screening, as the committee agreed in May")
    assert (edited.version, edited.source) == (2, "browser")
    before = record()

    output = load()
    assert (
        "tip-screening v2: left alone (edited in the browser; load_sops never overwrites "
        "that, and the SOP in code differs from it)\n" in output
    )
    assert "vessel-interdiction v1: unchanged" in output
    assert f"{len(SOPS)} loaded, 0 new versions published, 1 left alone" in output
    assert record() == before

    # The browser's version now says what the code says: still the browser's.
    restored = browser_edit("tip-screening", original_title)
    assert restored.version == 3
    before = record()
    output = load()
    assert (
        "tip-screening v3: left alone (edited in the browser; load_sops never overwrites that)\n"
        in output
    )
    assert record() == before

    # The SOP in code changes: the browser's version stays current, no v4.
    monkeypatch.setattr(sops, "SOPS", (changed_tip(), *SOPS[1:]))
    output = load()
    assert "tip-screening v3: left alone" in output
    assert "the SOP in code differs from it" in output
    assert "0 new versions published, 1 left alone" in output
    assert record() == before
    current = ChecklistTemplate.objects.get(code="tip-screening", is_current=True)
    assert (current.version, current.source) == (3, "browser")
    operation = services.operation_start(
        actor=officer("na-imm.coord"), crossing_point="WDH", template="tip-screening"
    ).operation
    assert operation.template_id == restored.pk


@pytest.mark.django_db
def test_a_changed_sop_with_no_browser_version_is_published_with_its_event(
    demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    load()
    # A browser version of another template does not hold this one back.
    browser_edit("vessel-interdiction", "Vessel interdiction (port of Walvis Bay)")
    v1 = ChecklistTemplate.objects.get(code="tip-screening", version=1)
    monkeypatch.setattr(sops, "SOPS", (changed_tip(), *SOPS[1:]))

    output = load()
    assert "tip-screening v2: published" in output
    assert "vessel-interdiction v2: left alone" in output
    assert "1 new versions published, 1 left alone" in output
    v2 = ChecklistTemplate.objects.get(code="tip-screening", version=2)
    assert (v2.source, v2.published_by_id, v2.seq) == ("code", None, 2)
    events = list(Event.objects.filter(stream__name="template:TIP-SCREENING").order_by("seq"))
    assert [(e.kind, e.payload["version"], e.payload["source"], e.actor_id) for e in events] == [
        ("template.published", 1, "code", None),
        ("template.published", 2, "code", None),
    ]
    assert events[1].payload == template_publication(v2).model_dump(mode="json")
    # Items are matched by title across code versions: the same keys, and the diff
    # shows the one guidance that changed.
    assert [i.key for i in v2.items.order_by("position")] == [
        i.key for i in v1.items.order_by("position")
    ]
    diff = template_diff(template_publication(v1), template_publication(v2))
    assert (diff.fields, diff.items_added, diff.items_removed) == ({}, [], [])
    [changed] = diff.items_changed
    assert changed.position == len(SOPS[0].items)
    assert set(changed.changes) == {"guidance"}
    assert changed.changes["guidance"].new == "Send it within the shift."
