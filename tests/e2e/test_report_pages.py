"""The retention reports in a real browser, embedded in the development store's admin: after the install
and the first sync on the Celery worker (which also fits the predicted-value model), every report page
loads with a session token, draws its charts, reloads for another range, switches views, lists a
segment's customers, downloads its CSV, and a refit shows its progress. No script error on any page."""
from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from reports.models import ClvFit
from shops.models import Shop

from .conftest import screenshot_path, wait_until
from .test_loyalty_journey import _install

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Every visible chart canvas has a Chart.js chart with data drawn on it.
CHARTS_DRAWN = """() => {
  const canvases = [...document.querySelectorAll('#report-body canvas[data-chart]')]
    .filter((c) => !c.closest('[hidden]'));
  return canvases.length > 0 && canvases.every((c) => {
    const chart = window.Chart && Chart.getChart(c);
    return chart && c.width > 0 && chart.data.datasets.some((d) => d.data.some((v) => v !== null && v !== 0));
  });
}"""


def _open(page, stack, name):
    """Navigate the app's iframe to a report, as the app's navigation does: the page bounces through
    App Bridge for a session token and renders."""
    frame = next(f for f in page.frames if f.url.startswith(stack.app_url))
    # The admin's launch parameters stay (shop, host, embedded); the expired-or-missing token does not.
    query = [(k, v) for k, v in parse_qsl(urlsplit(frame.url).query) if k != "id_token"]
    frame.goto(f"{stack.app_url}/reports/{name}?{urlencode(query)}")
    # (Playwright's own wait: its events are only processed inside its calls, not during a sleep.)
    frame.wait_for_url(re.compile(rf"/reports/{name}\?.*id_token="), timeout=30_000)
    frame.wait_for_selector("#report-body", timeout=30_000)
    return frame


def _download(page, frame, selector):
    with page.expect_download(timeout=30_000) as info:
        frame.click(selector)
    with open(info.value.path(), encoding="utf-8-sig") as fh:
        return list(csv.reader(io.StringIO(fh.read())))


def test_every_report_page_in_the_embedded_admin(stack, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    # (The development store's admin has no favicon: the browser's own request for it is not the app's.)
    page.on("console", lambda msg: errors.append(f"console: {msg.text} at {msg.location}")
            if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico") else None)
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    _install(page, stack)
    shop = wait_until(lambda: Shop.objects.filter(domain=stack.shop.domain, installed_at__isnull=False).first(),
                      what="the installation")
    # The first sync ends by queueing a fit of the predicted-value model; the worker runs it.
    wait_until(lambda: ClvFit.objects.filter(shop=shop, status=ClvFit.Status.SUCCEEDED,
                                             reason=ClvFit.Reason.BACKFILL).exists(),
               timeout=120, what="the fit queued by the first sync")

    # Metrics: numbers with definitions, the second-order chart; a quick range reloads the fragment.
    frame = _open(page, stack, "metrics")
    frame.wait_for_function(CHARTS_DRAWN, timeout=30_000)
    assert frame.text_content("[data-metric] .metric__value").strip()
    # Counts of customers get whole-number ticks only.
    assert frame.evaluate("""() => Chart.getChart(document.querySelector("canvas[data-chart='second-order-chart']"))
                                     .scales.y.ticks.every((t) => Number.isInteger(t.value))""")
    # Retention is a share of the customers at the start: never negative (it was −114 % here once).
    retention = frame.text_content("[data-metric='retention'] .metric__value").strip()
    assert retention == "–" or not retention.startswith(("-", "−")), retention
    frame.click("button[data-days='365']")
    frame.wait_for_function("!document.getElementById('report-body').hasAttribute('aria-busy')")
    frame.wait_for_function(CHARTS_DRAWN, timeout=30_000)
    page.screenshot(path=str(screenshot_path("report-metrics.png")), full_page=True)

    # Cohorts: the heatmap and the retention curves; the revenue view draws its own chart; CSV.
    frame = _open(page, stack, "cohorts")
    frame.wait_for_function(CHARTS_DRAWN, timeout=30_000)
    assert frame.locator("table.heatmap tbody tr").count() > 2
    page.screenshot(path=str(screenshot_path("report-cohorts.png")), full_page=True)
    frame.click("button[data-view='revenue']")
    frame.wait_for_function("document.querySelector(\"[data-view-panel='customers']\").hidden")
    frame.wait_for_function(CHARTS_DRAWN, timeout=30_000)
    rows = _download(page, frame, "[data-view-panel='revenue'] [data-csv]")
    assert rows[0][:2] == ["Cohort", "Customers"] and len(rows) > 2

    # Segments: the RFM chart, one segment's customers loaded into the page, the segments CSV.
    frame = _open(page, stack, "segments")
    frame.wait_for_function(CHARTS_DRAWN, timeout=30_000)
    frame.click("[data-load][data-target='segment-customers']")
    frame.wait_for_selector("#segment-customers table tbody tr", timeout=30_000)
    rows = _download(page, frame, ".card__header [data-csv]")
    assert len(rows) == 12  # header + 11 segments
    page.screenshot(path=str(screenshot_path("report-segments.png")), full_page=True)

    # Loyalty: members against everyone else (a new install has no members yet: all are non-members).
    frame = _open(page, stack, "loyalty")
    frame.wait_for_selector("#report-body table", timeout=30_000)
    page.screenshot(path=str(screenshot_path("report-loyalty.png")), full_page=True)

    # Predicted value: the holdout chart and the customer lists of the fit; a refit shows its progress.
    frame = _open(page, stack, "predicted")
    frame.wait_for_function(CHARTS_DRAWN, timeout=30_000)
    assert frame.locator("table tbody tr").count() > 0
    page.screenshot(path=str(screenshot_path("report-predicted.png")), full_page=True)
    rows = _download(page, frame, "[data-csv*='predictions']")
    assert rows[0][0] == "Customer ID" and len(rows) > 50
    done_before = ClvFit.objects.filter(shop=shop, status=ClvFit.Status.SUCCEEDED).count()
    frame.click("[data-fit-start]")
    wait_until(lambda: ClvFit.objects.filter(shop=shop, status=ClvFit.Status.SUCCEEDED).count() > done_before,
               timeout=120, what="the merchant's refit")
    # The page polls the fit and shows it finished without a reload.
    frame.wait_for_function("document.querySelector('[data-fit-progress]').hidden", timeout=30_000)

    # Acting on the list: "win them back" opens a new campaign send aimed at the customers about to lapse.
    frame.click("[data-win-back]")
    frame.wait_for_url(re.compile(r"/campaigns\?.*id_token="), timeout=30_000)
    assert frame.eval_on_selector("#new-send select[name=segment_key]", "s => s.value") == "predicted_to_lapse"

    assert not errors, errors
