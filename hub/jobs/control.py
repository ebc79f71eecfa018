"""Test-only control of ``run_escalations``: a clock and a gate, through files.

``manage.py run_escalations --test-control DIR`` (refused unless
``HUB_ENV=test``) lets a test drive the real loop in a subprocess:

- ``DIR/now`` holds the loop's clock as an ISO 8601 date and time; every sweep
  reads it (and counts itself in ``DIR/sweeps``);
- every claim, inside its transaction and after its event is written, writes
  ``DIR/claimed-<n>`` (the n-th claim, holding the item's key such as
  ``alert-target:12`` or ``sitrep:3``) and waits for ``DIR/go-<n>`` or ``DIR/go-all``, so a test
  can let claims commit one by one and kill the process while claim n is open.

Files are written whole (to a temporary name, then renamed), so a reader never
sees half of one.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def write_file(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


class FileControl:
    def __init__(self, directory: Path, *, wait_timeout: float = 120.0) -> None:
        self.directory = directory
        self.wait_timeout = wait_timeout
        self.claims = 0
        self.sweeps = 0

    def now(self) -> datetime:
        raw = (self.directory / "now").read_text().strip()
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            raise ImproperlyConfigured(f"{self.directory / 'now'} needs a time zone offset")
        self.sweeps += 1
        write_file(self.directory / "sweeps", str(self.sweeps))
        return moment

    def claimed(self, key: str) -> None:
        self.claims += 1
        n = self.claims
        write_file(self.directory / f"claimed-{n}", key)
        deadline = time.monotonic() + self.wait_timeout
        while not ((self.directory / f"go-{n}").exists() or (self.directory / "go-all").exists()):
            if time.monotonic() > deadline:
                # Roll this claim back rather than hang forever if the test went away.
                raise TimeoutError(f"no go-{n} in {self.directory}")
            time.sleep(0.01)
