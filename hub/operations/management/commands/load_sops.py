"""``manage.py load_sops``: install or update the standard SOP checklist templates.

Idempotent and safe in production (it creates no users and no demo data): each
SOP in ``hub.operations.sops`` is published as a new template version only when
its content differs from the current version; running operations never change.
A template that an administrator has edited in the browser is never overwritten:
it is left alone, and the output says so. Run it after ``migrate`` on every deploy.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from hub.operations.sops import SopLoaded, load_sops


def describe(entry: SopLoaded) -> str:
    """One line per SOP: what loading it did."""
    template = entry.template
    line = f"{template.code} v{template.version}: "
    if entry.published:
        line += "published"
    elif entry.browser:
        line += "left alone (edited in the browser; load_sops never overwrites that"
        line += ", and the SOP in code differs from it)" if entry.differs else ")"
    else:
        line += "unchanged"
    if entry.recorded:
        line += f"; {entry.recorded} earlier version(s) recorded on {template.stream_name}"
    return line


class Command(BaseCommand):
    help = "Install or update the standard SOP checklist templates (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        loaded = load_sops()
        for entry in loaded:
            self.stdout.write(describe(entry))
        published = sum(1 for entry in loaded if entry.published)
        kept = sum(1 for entry in loaded if entry.browser)
        self.stdout.write(
            self.style.SUCCESS(
                f"SOP checklists: {len(loaded)} loaded, {published} new versions published, "
                f"{kept} left alone as edited in the browser."
            )
        )
