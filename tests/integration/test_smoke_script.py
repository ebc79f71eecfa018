"""tests/smoke/make_run.py reads the login that seed_demo really prints.

The smoke itself (``make run`` end to end) runs in .ci/run; this pins its parser
to seed_demo's actual output, so a change of format fails here first.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from tests.evidence import use_temporary_storage
from tests.smoke.make_run import SmokeFailure, parse_admin_login


@pytest.mark.django_db
def test_the_printed_admin_login_parses_and_signs_in(
    client: Client, settings: Any, tmp_path: Path
) -> None:
    use_temporary_storage(settings, tmp_path / "attachments")  # the demo's evidence files
    out = StringIO()
    call_command("seed_demo", stdout=out)
    login = parse_admin_login(out.getvalue())
    assert login.username.endswith(".admin")
    assert client.login(username=login.username, password=login.password)
    assert client.get("/admin/").status_code == 200


def test_output_without_logins_is_a_failure() -> None:
    with pytest.raises(SmokeFailure, match="no demo administrator login"):
        parse_admin_login("Demo data ready: 60 demo officers\n")
