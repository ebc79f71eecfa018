"""The hub, served by Daphne, in a real Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from hub.agencies.demo import DEMO_PASSWORD, seed_reference_data
from tests.processes import DaphneWorker


@pytest.mark.django_db(transaction=True)
def test_landing_page_reports_ready(page: Any, hub_server: DaphneWorker) -> None:
    page.goto(hub_server.base_url + "/")
    status = page.locator("[data-hub-status]")
    status.wait_for()
    page.wait_for_function(
        "document.querySelector('[data-hub-status]').dataset.ready !== undefined"
    )
    assert status.get_attribute("data-ready") == "true"
    assert status.inner_text() == "All systems ready"
    page.wait_for_selector("[data-testid=sign-in]")


@pytest.mark.django_db(transaction=True)
def test_demo_admin_logs_into_the_admin(page: Any, hub_server: DaphneWorker) -> None:
    seed_reference_data()
    page.goto(hub_server.base_url + "/admin/")
    page.fill("#id_username", "na-cgd.admin")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(hub_server.base_url + "/admin/")
    assert "Reference data and records" in page.content()
    page.click("a[href='/admin/agencies/crossingpoint/']")
    assert page.locator("#result_list").inner_text().count("Port of Walvis Bay") == 1
