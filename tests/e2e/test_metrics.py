"""A senior official reads the response metrics in the browser (part 3, metrics).

On top of the demo data, two alerts at WDH are issued three days ago to NA-AIR
and NA-CUS: NA-AIR acknowledges them 4 and 12 minutes after the issue, NA-CUS
never (both due long before now: missed). NA-IMM's senior official opens the
metrics from the top bar on the WDH board: the charts are drawn (uPlot canvases of a real
size, with ink on them), and each section's table holds exactly the API's
figures (counts, median, 90th percentile, previous median; on time, late,
missed and rates), fetched with the page's own session. NA-AIR (which the demo
record never has acknowledge) reads "2, 8 min, 12 min": median (240 + 720) // 2
= 480 s, p90 at rank ceil(0.9 × 2) = 2 → 720 s; the CSV says the same. The
7-day period is a link (the URL keeps it). axe-core finds nothing serious, in
English at a laptop's width (var/e2e/metrics.png) and in Urdu at a tablet's
(var/e2e/metrics-ur-tablet.png).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from hub.alerts import services as alerts
from tests.e2e.conftest import LAPTOP, TABLET, Hub
from tests.e2e.officers import assert_accessible, screenshot, sign_in
from tests.factories import officer

DURATION_SECTIONS = ("alert_ack", "first_response", "resolution")
PUNCTUALITY_SECTIONS = ("tasks", "sitreps")
MIN = timedelta(minutes=1)


@contextmanager
def clock(at: datetime) -> Iterator[None]:
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield


def seed_acknowledgements() -> None:
    """Two alerts three days ago: NA-AIR acknowledges after 4 and 12 minutes, NA-CUS never."""
    issued = timezone.now() - timedelta(days=3)
    with clock(issued):
        first, second = (
            alerts.alert_issue(
                actor=officer("na-imm.coord"),
                crossing_point="WDH",
                category="document_fraud",
                severity="high",
                title=title,
                targets=["NA-AIR", "NA-CUS"],
            ).alert
            for title in ("Forged visa foils at the transfer desk", "A second batch of foils")
        )
    for alert, after in ((first, 4 * MIN), (second, 12 * MIN)):
        with clock(issued + after):
            alerts.alert_acknowledge(
                actor=officer("na-air.duty"), alert_id=alert.pk, client_msg_id=uuid.uuid4()
            )


def api_metrics(page: Any, hub: Hub, days: int, point: str = "WDH") -> dict[str, Any]:
    """GET /api/v1/metrics with the page's own session ("" for every point)."""
    where = f"crossing_point={point}&" if point else ""
    response = page.request.get(f"{hub.a.base_url}/api/v1/metrics?{where}days={days}")
    assert response.ok, response.text()
    body: dict[str, Any] = response.json()
    return body


def cell_values(row: Any) -> list[str]:
    return [str(v) for v in row.locator("td").evaluate_all("ts => ts.map(t => t.dataset.value)")]


def figure(value: Any) -> str:
    """How the page keeps a figure in data-value ("" for none)."""
    return "" if value is None else str(value)


def assert_tables_match(page: Any, body: dict[str, Any]) -> int:
    """Each section's table holds the API's rows and figures; returns how many rows."""
    checked = 0
    for section in DURATION_SECTIONS + PUNCTUALITY_SECTIONS:
        rows = body[section]
        panel = page.get_by_test_id(f"section-{section}")
        if not rows:
            expect(panel.get_by_test_id(f"empty-{section}")).to_be_visible()
            continue
        table = panel.get_by_test_id(f"table-{section}")
        expect(table.locator("tbody tr")).to_have_count(len(rows))
        for row in rows:
            tr = table.locator(f'tbody tr[data-key="{row["key"]}"]')
            values = cell_values(tr)
            if section in DURATION_SECTIONS:
                current, previous = row["current"], row["previous"]
                expected = [
                    current["count"],
                    current["median_seconds"],
                    current["p90_seconds"],
                    previous["median_seconds"],
                ]
                assert values[:4] == [figure(v) for v in expected], (section, row["key"])
            else:
                current, previous = row["current"], row["previous"]
                expected = [
                    current["on_time"],
                    current["late"],
                    current["missed"],
                    current["on_time_rate"],
                    previous["on_time_rate"],
                ]
                assert [float(v) if v else None for v in values[:5]] == expected, (
                    section,
                    row["key"],
                )
            checked += 1
    return checked


def assert_charts_drawn(page: Any, body: dict[str, Any]) -> None:
    for section in DURATION_SECTIONS + PUNCTUALITY_SECTIONS:
        if not body[section]:
            continue
        canvas = page.get_by_test_id(f"chart-{section}").locator("canvas")
        expect(canvas).to_have_count(1)
        box = canvas.bounding_box()
        assert box is not None, section
        assert box["width"] > 200, (section, box)
        assert box["height"] > 100, (section, box)
        inked = canvas.evaluate(
            """c => {
              const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
              let n = 0;
              for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
              return n;
            }"""
        )
        assert inked > 500, (section, inked)


@pytest.mark.one_officer
@pytest.mark.django_db(transaction=True)
def test_the_metrics_page_draws_its_charts_and_its_tables_match_the_api(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    seed_acknowledgements()
    page = sign_in(contexts, browser, hub.a, "na-imm.senior", "/points/WDH")
    page.get_by_role("navigation", name="Main").get_by_test_id("nav-metrics").click()
    expect(page).to_have_url(re.compile(r"/points/WDH/metrics$"))
    metrics = page.get_by_test_id("metrics")
    expect(metrics.get_by_test_id("section-alert_ack")).to_be_visible()
    expect(metrics.get_by_role("heading", level=1)).to_contain_text("Response metrics")

    body = api_metrics(page, hub, 28)
    assert [p["code"] for p in body["crossing_points"]] == ["WDH"]
    [air] = [r for r in body["alert_ack"] if r["key"] == "NA-AIR"]
    [cus] = [r for r in body["alert_ack"] if r["key"] == "NA-CUS"]
    assert air["current"] == {"count": 2, "median_seconds": 480, "p90_seconds": 720}
    assert air["on_time"] == {"on_time": 2, "late": 0, "missed": 0, "on_time_rate": 1.0}
    # The demo record has alerts of its own at WDH; NA-CUS never acknowledged ours.
    assert cus["on_time"]["missed"] >= 2
    air_row = page.get_by_test_id("table-alert_ack").locator('tbody tr[data-key="NA-AIR"]')
    expect(air_row.locator("td").nth(0)).to_have_text("2")
    expect(air_row.locator("td").nth(1)).to_have_text("8 min")
    expect(air_row.locator("td").nth(2)).to_have_text("12 min")
    assert_charts_drawn(page, body)
    assert assert_tables_match(page, body) >= 2
    assert_accessible(page, "the metrics page")
    screenshot(page, "metrics")

    with page.expect_download() as download:
        metrics.get_by_test_id("csv-alert_ack").click()
    assert download.value.suggested_filename == "metrics-WDH-28d-alert_ack.csv"
    text = io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))
    exported = {r["agency"]: r for r in csv.DictReader(text)}
    assert set(exported) == {r["key"] for r in body["alert_ack"]}
    assert exported["NA-AIR"]["count"] == "2"
    assert exported["NA-AIR"]["median_seconds"] == "480"
    assert exported["NA-AIR"]["p90_seconds"] == "720"
    assert exported["NA-CUS"]["missed"] == str(cus["on_time"]["missed"])

    # A shorter period is a link; the page and the API agree on it too.
    metrics.get_by_test_id("period-7").click()
    expect(page).to_have_url(re.compile(r"/points/WDH/metrics\?days=7$"))
    expect(metrics.get_by_test_id("period-7")).to_have_attribute("aria-current", "page")
    week = api_metrics(page, hub, 7)
    assert week["days"] == 7
    expect(metrics.get_by_test_id("metrics-period")).to_contain_text("7 days")
    expect(metrics.get_by_test_id("table-alert_ack").locator("tbody tr")).to_have_count(
        len(week["alert_ack"])
    )
    assert_tables_match(page, week)
    page.reload()
    expect(metrics.get_by_test_id("period-7")).to_have_attribute("aria-current", "page")

    # The address itself opens the page; then in Urdu at a tablet's width.
    page.goto(hub.a.base_url + "/points/WDH/metrics")
    expect(metrics.get_by_test_id("table-alert_ack")).to_be_visible()
    assert_tables_match(page, body)
    page.get_by_label("Language").select_option(label="اردو")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(metrics.get_by_role("heading", level=1)).to_contain_text("ردعمل کے پیمانے")
    page.set_viewport_size(TABLET)
    assert_charts_drawn(page, body)
    assert_tables_match(page, body)
    assert_accessible(page, "the metrics page in Urdu")
    screenshot(page, "metrics-ur-tablet")

    # Across every point the official reads metrics at: the same figures as the API's.
    page.set_viewport_size(LAPTOP)
    page.get_by_label("زبان").select_option(label="English")
    page.goto(hub.a.base_url + "/metrics")
    everywhere = api_metrics(page, hub, 28, point="")
    assert len(everywhere["crossing_points"]) >= 1
    expect(metrics.get_by_role("heading", level=1)).to_have_text(
        "Response metrics: all your crossing points"
    )
    for point in everywhere["crossing_points"]:
        expect(metrics.get_by_test_id("metrics-period")).to_contain_text(point["code"])
    expect(metrics.get_by_test_id("table-alert_ack")).to_be_visible()
    assert_tables_match(page, everywhere)


@pytest.mark.one_officer
@pytest.mark.django_db(transaction=True)
def test_a_duty_officer_is_told_who_reads_metrics(
    browser: Any, hub: Hub, contexts: list[Any]
) -> None:
    page = sign_in(contexts, browser, hub.a, "na-imm.duty", "/points/WDH")
    expect(page.get_by_test_id("nav-metrics")).to_have_count(0)
    page.goto(hub.a.base_url + "/points/WDH/metrics")
    expect(page.get_by_test_id("metrics-forbidden")).to_have_text(
        "Only senior officials and coordinators serving this crossing point read its metrics."
    )
    assert_accessible(page, "the metrics page refused")
