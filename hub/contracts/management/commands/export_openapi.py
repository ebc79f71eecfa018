"""``manage.py export_openapi [--output FILE]``: print (or write) the OpenAPI document.

``python manage.py export_openapi --output docs/openapi.json`` regenerates the
committed copy after any change to an endpoint or a schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from hub.contracts.openapi import openapi_text


class Command(BaseCommand):
    help = "Print the REST API's OpenAPI document as stable JSON (or write it to --output)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="Write the document to FILE (e.g. docs/openapi.json) instead of stdout.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        text = openapi_text()
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
