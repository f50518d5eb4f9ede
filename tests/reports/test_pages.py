"""The report pages, fragments and CSV exports: session tokens, rendering, numbers, isolation."""
import csv
import dataclasses
import datetime as dt
import io
import re
from decimal import Decimal

import pytest

from commerce.services.upsert import orders_upsert
from reports.models import ClvFit, ReportSettings

from .helpers import FIXTURE_ORDERS, session_token

PAGES = ["metrics", "cohorts", "segments", "loyalty", "predicted"]
RANGE = {"start": "2026-01-01", "end": "2026-03-31", "locale": "en"}


@pytest.fixture
def installed(shop):
    shop.access_token_encrypted = "present"  # installed with a token: no token exchange needed  # noqa: S105 - a marker, not a secret
    shop.save()
    orders_upsert(shop=shop, orders=FIXTURE_ORDERS)
    return shop


def bearer(shop):
    return {"HTTP_AUTHORIZATION": f"Bearer {session_token(shop.domain)}"}


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_with_a_session_token(client, installed, name):
    response = client.get(f"/reports/{name}", {"id_token": session_token(installed.domain),
                                               "shop": installed.domain, **RANGE})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="report-body"' in html and "reports/reports.js" in html
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("name", PAGES)
def test_page_without_token_is_bounced(client, installed, name):
    response = client.get(f"/reports/{name}", {"shop": installed.domain})
    assert response.status_code == 302 and "session-token-bounce" in response["Location"]


@pytest.mark.parametrize("name", PAGES)
def test_fragment_needs_a_session_token(client, installed, name):
    assert client.get(f"/reports/{name}/fragment", RANGE, **bearer(installed)).status_code == 200
    response = client.get(f"/reports/{name}/fragment", RANGE)
    assert response.status_code == 401 and response.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"


def test_metrics_fragment_shows_numbers_definitions_and_movement(client, installed):
    ReportSettings.objects.create(shop=installed, active_window_days=90)
    response = client.get("/reports/metrics/fragment", {**RANGE, "compare": "previous"}, **bearer(installed))
    html = response.content.decode()
    assert "49.44 EUR" in html  # AOV 395.50 / 8
    assert "50.0 %" in html  # repeat purchase rate and retention
    assert "173.03 EUR" in html  # CLV = 49.4375 × 1.75 × 2
    assert "How it is computed" in html and "was" in html
    custom = client.get("/reports/metrics/fragment", {**RANGE, "compare": "custom", "compare_start": "2025-01-01",
                                                       "compare_end": "2025-03-31"}, **bearer(installed))
    assert custom.status_code == 200
    bad = client.get("/reports/metrics/fragment", {**RANGE, "compare": "custom"}, **bearer(installed))
    assert bad.status_code == 400


def test_german_admin_gets_german_numbers(client, installed):
    response = client.get("/reports/metrics/fragment", {**RANGE, "locale": "de"}, **bearer(installed))
    assert "395,50 EUR" in response.content.decode() or "49,44 EUR" in response.content.decode()


def test_segment_customer_list_is_paginated(client, installed):
    response = client.get("/reports/segments/champions/customers", **bearer(installed))
    assert response.status_code == 200
    assert client.get("/reports/segments/vip/customers", **bearer(installed)).status_code == 404
    assert client.get("/reports/segments/champions/customers").status_code == 401


def _csv(response):
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _predictions(shop, count, *, first_id):
    from reports.models import CustomerPrediction

    fit = ClvFit.objects.create(shop=shop, currency="EUR", status=ClvFit.Status.SUCCEEDED)
    CustomerPrediction.objects.bulk_create(
        CustomerPrediction(shop=shop, fit=fit, customer_shopify_id=first_id + i, orders=1 + i % 4,
                           p_alive=0.3 if i % 3 == 0 else 0.9, expected_orders_90=0.1 * i,
                           expected_orders_365=0.4 * i, expected_order_value=Decimal("20.5"),
                           predicted_clv_365=Decimal("8.2") * i, likely_to_lapse=i % 3 == 0)
        for i in range(count))


def test_customer_lists_stream_every_row_of_the_shop(client, installed, other_shop):
    # Every customer of a big shop: sent as the server-side cursor is read (not built whole in memory),
    # every row of this shop in the page's order, none of another shop's.
    _predictions(installed, 25_000, first_id=1_000_000)
    _predictions(other_shop, 5, first_id=9_000_000)
    response = client.get("/reports/export/predictions.csv", **bearer(installed))
    assert response.streaming
    rows = _csv(response)[1:]
    assert len(rows) == 25_000
    assert [int(r[0]) for r in rows[:3]] == [1_024_999, 1_024_998, 1_024_997]  # highest predicted value first
    assert all(int(r[0]) < 9_000_000 for r in rows)
    lapsing = _csv(client.get("/reports/export/lapsing.csv", **bearer(installed)))[1:]
    assert len(lapsing) == len(range(0, 25_000, 3)) and all(r[-1] == "True" for r in lapsing)
    champions = client.get("/reports/export/segment-customers.csv", {"segment": "champions"}, **bearer(installed))
    assert champions.streaming and _csv(champions)[0][0] == "Customer ID"


def test_a_cancelled_download_closes_its_cursor(installed):
    from django.db import connection

    from reports.selectors.periods import report_rows

    _predictions(installed, 30, first_id=1)
    rows = report_rows("SELECT customer_shopify_id FROM reports_customerprediction WHERE shop_id = %(shop)s "
                       "ORDER BY 1", {"shop": installed.pk}, batch=7)
    assert next(rows) == (1,)
    depth = len(connection.savepoint_ids)
    rows.close()  # the client went away after the first rows
    assert len(connection.savepoint_ids) == depth - 1, "its transaction (a savepoint here) ended"
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_cursors")
        assert cur.fetchone()[0] == 0


def test_csv_exports(client, installed):
    rows = _csv(client.get("/reports/export/metrics.csv", {**RANGE, "compare": "none"}, **bearer(installed)))
    assert rows[0][:2] == ["Metric", "Value"]
    aov = next(r for r in rows if r[0] == "Average order value")
    assert aov[1] == "49.4375"  # unrounded in the file
    cohorts = _csv(client.get("/reports/export/cohorts-customers.csv", RANGE, **bearer(installed)))
    assert cohorts[0][:3] == ["Cohort", "Customers", "Month 0"] and cohorts[1][0] == "2026-01"
    segments = _csv(client.get("/reports/export/segments.csv", **bearer(installed)))
    assert len(segments) == 12  # header + 11 segments
    members = _csv(client.get("/reports/export/segment-customers.csv", {"segment": "champions"},
                              **bearer(installed)))
    assert members[0][0] == "Customer ID"
    for table in ("second-order", "cohorts-revenue", "loyalty", "predictions", "lapsing", "holdout"):
        _csv(client.get(f"/reports/export/{table}.csv", RANGE, **bearer(installed)))
    assert client.get("/reports/export/nope.csv", **bearer(installed)).status_code == 404
    assert client.get("/reports/export/metrics.csv", RANGE).status_code == 401


def test_csv_neutralises_formulas(client, installed):
    from commerce.services.upsert import customers_upsert
    from commerce.shapes import CustomerRecord

    now = dt.datetime.now(dt.UTC)
    values = dict(shopify_id=1, first_name="=HYPERLINK(\"http://x\")", last_name="", email="", phone="",
                  email_marketing_state="", sms_marketing_state="", tags=[], birth_date=None,
                  birth_date_known=False, created_at=now, updated_at=now)
    # commerce.shapes is still growing (another helper): pass the fields the record has today.
    names = {f.name for f in dataclasses.fields(CustomerRecord)}
    customers_upsert(shop=installed, records=[CustomerRecord(**{k: v for k, v in values.items() if k in names})])
    rows = []
    for segment in ("champions", "loyal", "potential_loyalists", "new", "promising", "need_attention",
                    "about_to_sleep", "at_risk", "cant_lose", "hibernating", "lost"):
        rows += _csv(client.get("/reports/export/segment-customers.csv", {"segment": segment},
                                **bearer(installed)))[1:]
    named = [r for r in rows if r[0] == "1"]
    assert named and named[0][1].startswith("'=")


def test_other_shop_sees_none_of_it(client, installed, other_shop):
    other_shop.access_token_encrypted = "present"  # noqa: S105 - a marker, not a secret
    other_shop.save()
    rows = _csv(client.get("/reports/export/segments.csv", **bearer(other_shop)))
    assert all(r[1] == "0" for r in rows[1:])
    html = client.get("/reports/metrics/fragment", RANGE, **bearer(other_shop)).content.decode()
    assert "49.44" not in html


def test_clv_fit_can_be_requested_and_polled(client, installed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/reports/predicted/fit", **bearer(installed))
    assert response.status_code == 202 and len(callbacks) == 1
    status = client.get("/reports/predicted/status", **bearer(installed)).json()
    assert status["latest"]["status"] == "queued" and status["current"] is None
    assert ClvFit.objects.for_shop(installed).count() == 1
    assert client.post("/reports/predicted/fit").status_code == 401


def test_settings_are_saved_per_shop(client, installed, other_shop):
    response = client.post("/reports/settings", {"gross_margin": "42.5", "active_window_days": "120"},
                           **bearer(installed))
    assert response.status_code == 200
    saved = ReportSettings.objects.get(shop=installed)
    assert str(saved.gross_margin) == "0.4250" and saved.active_window_days == 120
    assert not ReportSettings.objects.filter(shop=other_shop).exists()
    assert client.post("/reports/settings", {"gross_margin": "150"}, **bearer(installed)).status_code == 400


def test_customers_likely_to_lapse_link_to_a_win_back_send(client, installed):
    html = client.get("/reports/predicted/fragment", **bearer(installed)).content.decode()
    assert "data-win-back" not in html  # nobody to win back yet
    _predictions(installed, 10, first_id=1)
    html = client.get("/reports/predicted/fragment", **bearer(installed)).content.decode()
    link = re.search(r'<a class="btn btn--plain" data-win-back href="([^"]+)"', html)
    assert link, html[:2000]
    href = link.group(1).replace("&amp;", "&")
    assert href.startswith("/campaigns?") and f"shop={installed.domain}" in href
    assert href.endswith("segment=predicted_to_lapse#new-send")
