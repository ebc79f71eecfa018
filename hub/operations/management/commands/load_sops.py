"""``manage.py load_sops``: install or update the standard SOP checklist templates.

Idempotent and safe in production (it creates no users and no demo data): each
SOP in ``hub.operations.sops`` is published as a new template version only when
its content differs from the current version; running operations never change.
Run it after ``migrate`` on every deploy.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from hub.operations.sops import load_sops


class Command(BaseCommand):
    help = "Install or update the standard SOP checklist templates (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        loaded = load_sops()
        for entry in loaded:
            template = entry.template
            state = "published" if entry.published else "unchanged"
            self.stdout.write(f"{template.code} v{template.version}: {state}")
        published = sum(1 for entry in loaded if entry.published)
        self.stdout.write(
            self.style.SUCCESS(
                f"SOP checklists: {len(loaded)} loaded, {published} new versions published."
            )
        )
