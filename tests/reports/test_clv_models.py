"""BG/NBD and Gamma-Gamma against the published CDNOW reference, and the fit task on a simulated shop."""
import csv
import datetime as dt
import importlib.util
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from django.utils import timezone

from commerce.services.upsert import orders_upsert
from reports.clv import bgnbd, collapse, gamma_gamma
from reports.models import ClvFit, CustomerPrediction
from reports.services import clv_fit_request, clv_fit_run

from .helpers import order

DATA = Path(__file__).parent / "data"


def _read(name):
    with open(DATA / name, newline="") as f:
        return list(csv.DictReader(f))


def _cdnow():
    rows = _read("cdnow_customers_summary.csv")
    return (np.array([float(r["frequency"]) for r in rows]), np.array([float(r["recency"]) for r in rows]),
            np.array([float(r["T"]) for r in rows]))


def _sig3(value):
    return float(f"{value:.3g}")


def test_bgnbd_matches_fader_hardie_lee_2005_on_cdnow():
    x, t_x, T = _cdnow()
    assert x.size == 2357
    fitted = bgnbd.fit(x, t_x, T)
    p = fitted.params
    # Fader, Hardie & Lee (2005), Marketing Science 24(2), p. 281: r = 0.243, alpha = 4.414, a = 0.793,
    # b = 2.426 (LL = -9582.4). Three significant figures:
    assert (_sig3(p.r), _sig3(p.alpha), _sig3(p.a), _sig3(p.b)) == (0.243, 4.41, 0.793, 2.43)
    assert round(p.alpha, 3) == 4.414 and round(p.b, 3) == 2.426  # and the paper's three decimals
    assert fitted.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert fitted.converged


def test_collapsed_fit_gives_the_same_parameters():
    x, t_x, T = _cdnow()
    (ux, ut, uT), weights, inverse = collapse(x, t_x, T)
    assert ux.size < x.size and weights.sum() == x.size
    assert np.array_equal(ux[inverse], x) and np.array_equal(uT[inverse], T)
    a, b = bgnbd.fit(x, t_x, T).params, bgnbd.fit(ux, ut, uT, weights).params
    assert a.as_dict() == pytest.approx(b.as_dict(), rel=1e-6)


def test_collapse_equals_numpy_unique_rows():
    rng = np.random.default_rng(3)
    cols = [rng.integers(0, 4, 500).astype(float), rng.integers(0, 3, 500) / 7, rng.integers(0, 5, 500) * 1.5]
    (a, b, c), weights, inverse = collapse(*cols)
    unique, np_inverse, counts = np.unique(np.column_stack(cols), axis=0, return_inverse=True, return_counts=True)
    assert np.array_equal(np.column_stack([a, b, c]), unique)
    assert np.array_equal(weights, counts) and np.array_equal(inverse, np_inverse.reshape(-1))


def test_gamma_gamma_weights_equal_repeated_rows():
    rows = [r for r in _read("cdnow_customers_summary_with_transactions.csv") if int(r["x"]) > 0][:300]
    x = np.array([float(r["x"]) for r in rows])
    m = np.array([float(r["zbar"]) for r in rows])
    repeated = gamma_gamma.fit(np.concatenate([x, x, x[:100]]), np.concatenate([m, m, m[:100]]))
    weighted = gamma_gamma.fit(x, m, np.where(np.arange(x.size) < 100, 3.0, 2.0))
    assert repeated.as_dict() == pytest.approx(weighted.as_dict(), rel=1e-5)


def test_bgnbd_predictions_match_the_paper():
    p = bgnbd.BgNbdParams(0.243, 4.414, 0.793, 2.426)
    # Paper, section 4: a customer with x = 2, t_x = 30.43, T = 38.86 is expected to make 1.226 purchases
    # in the next 39 weeks (the "customer ID 1197" example uses these inputs).
    assert bgnbd.expected_orders(p, 39, np.array([2.0]), np.array([30.43]), np.array([38.86]))[0] == \
        pytest.approx(1.226, abs=0.002)
    # No repeat purchase: alive by construction.
    assert bgnbd.p_alive(p, np.array([0.0]), np.array([0.0]), np.array([38.86]))[0] == 1.0
    # Long silence after frequent buying: probably gone.
    assert bgnbd.p_alive(p, np.array([10.0]), np.array([5.0]), np.array([38.86]))[0] < 0.05


def test_gamma_gamma_matches_the_published_cdnow_fit():
    rows = [r for r in _read("cdnow_customers_summary_with_transactions.csv") if int(r["x"]) > 0]
    x = np.array([float(r["x"]) for r in rows])
    m = np.array([float(r["zbar"]) for r in rows])
    params = gamma_gamma.fit(x, m)
    # Fader, Hardie & Lee (2005), "RFM and CLV": p = 6.25, q = 3.74, gamma = 15.44.
    assert (_sig3(params.p), _sig3(params.q)) == (6.25, 3.74)
    assert params.gamma == pytest.approx(15.44, abs=0.01)


@pytest.mark.skipif(importlib.util.find_spec("lifetimes") is None, reason="lifetimes not installed")
def test_vendored_data_is_the_packages():
    import lifetimes

    shipped = Path(lifetimes.__file__).parent / "datasets"
    for name in ("cdnow_customers_summary.csv", "cdnow_customers_summary_with_transactions.csv"):
        assert (shipped / name).read_bytes() == (DATA / name).read_bytes()


def test_invalid_inputs_are_refused():
    with pytest.raises(ValueError):
        bgnbd.fit(np.array([1.0]), np.array([5.0]), np.array([3.0]))
    with pytest.raises(ValueError):
        gamma_gamma.fit(np.array([0.0]), np.array([10.0]))


def _simulated_shop(shop, customers=400, seed=7):
    """Customers acquired over the first year of two, buying per BG/NBD with the CDNOW parameters."""
    rng = np.random.default_rng(seed)
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(days=730)
    records, n = [], 0
    for c in range(1, customers + 1):
        lam, p = rng.gamma(0.243, 1 / 4.414), rng.beta(0.793, 2.426)
        t = rng.random() * 52.0  # weeks
        value = rng.gamma(6.0, 10.0)
        while t < 104.0:
            n += 1
            when = start + dt.timedelta(weeks=t)
            records.append(order(n, c, when, f"{max(rng.gamma(6.0, value / 6.0), 1):.2f}"))
            if rng.random() < p:
                break
            t += rng.exponential(1 / lam)
    orders_upsert(shop=shop, orders=records)
    return n


def test_fit_task_on_a_shop(shop, other_shop, django_capture_on_commit_callbacks):
    _simulated_shop(shop)
    with django_capture_on_commit_callbacks() as callbacks:
        fit = clv_fit_request(shop, reason=ClvFit.Reason.BACKFILL)
        again = clv_fit_request(shop, reason=ClvFit.Reason.MERCHANT)
    assert again.pk == fit.pk  # joins the queued fit
    assert len(callbacks) == 1
    done = clv_fit_run(fit_id=fit.pk)
    assert done.status == ClvFit.Status.SUCCEEDED and done.progress == 100
    # Parameter recovery: a 400-customer sample lands near the parameters it was drawn from.
    params = done.bgnbd_params
    assert 0.1 < params["r"] < 0.6 and 1 < params["alpha"] < 12 and 0.2 < params["a"] < 3
    # Holdout check: fitted on the calibration period, predicted orders close to what happened.
    holdout = done.holdout
    assert holdout["holdout_days"] == 182 and holdout["by_repeat_orders"]
    assert abs(holdout["predicted_orders"] - holdout["actual_orders"]) <= 0.35 * holdout["actual_orders"]
    predictions = CustomerPrediction.objects.for_shop(shop)
    assert predictions.count() == done.customers > 0
    assert not CustomerPrediction.objects.for_shop(other_shop).exists()
    one = predictions.order_by("-predicted_clv_365").first()
    # Both amounts are rounded to 3 decimals separately, so the product may differ in the last digit.
    assert abs(one.predicted_clv_365 - Decimal(one.expected_orders_365) * one.expected_order_value) < Decimal("0.01")
    lapsing = predictions.filter(likely_to_lapse=True)
    assert all(p.orders >= 2 and p.p_alive < 0.5 for p in lapsing)
    # Run twice (task redelivered): the finished fit is left alone.
    assert clv_fit_run(fit_id=fit.pk).finished_at == done.finished_at


def test_fit_with_too_few_customers_fails_visibly(shop):
    orders_upsert(shop=shop, orders=[order(1, 1, dt.datetime(2025, 1, 1, tzinfo=dt.UTC), "10.00")])
    fit = ClvFit.objects.create(shop=shop, currency="EUR")
    from reports.tasks import clv_fit

    assert clv_fit(fit.pk) == ClvFit.Status.FAILED
    fit.refresh_from_db()
    assert fit.status == ClvFit.Status.FAILED and "at least 50 customers" in fit.error


def test_a_stale_fit_is_sent_again_by_the_next_request(shop, django_capture_on_commit_callbacks, monkeypatch):
    # A fit whose task was lost (broker restarted, worker killed) must not block every later fit.
    sent = []
    monkeypatch.setattr("reports.tasks.enqueue_clv_fit", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        fit = clv_fit_request(shop, reason=ClvFit.Reason.BACKFILL)
    with django_capture_on_commit_callbacks(execute=True):
        assert clv_fit_request(shop).pk == fit.pk
    assert sent == [fit.pk], "a fresh queued fit is joined, its task not sent twice"
    ClvFit.objects.filter(pk=fit.pk).update(created_at=timezone.now() - dt.timedelta(minutes=20))
    with django_capture_on_commit_callbacks(execute=True):
        assert clv_fit_request(shop).pk == fit.pk
    assert sent == [fit.pk, fit.pk]
    ClvFit.objects.filter(pk=fit.pk).update(status=ClvFit.Status.RUNNING,
                                            started_at=timezone.now() - dt.timedelta(minutes=20))
    with django_capture_on_commit_callbacks(execute=True):
        clv_fit_request(shop, reason=ClvFit.Reason.MERCHANT)
    assert sent == [fit.pk, fit.pk, fit.pk]
    assert ClvFit.objects.filter(shop=shop).count() == 1


def test_a_fit_running_on_another_worker_is_left_to_it(shop):
    _simulated_shop(shop)
    fit = ClvFit.objects.create(shop=shop, currency="EUR")
    started = timezone.now() - dt.timedelta(minutes=2)
    ClvFit.objects.filter(pk=fit.pk).update(status=ClvFit.Status.RUNNING, started_at=started, progress=55)
    # A second message for it (sent again, redelivered) while it runs: nothing done twice.
    again = clv_fit_run(fit_id=fit.pk)
    assert (again.status, again.progress, again.started_at) == (ClvFit.Status.RUNNING, 55, started)
    assert not CustomerPrediction.objects.for_shop(shop).exists()
    # Its worker died: once stale, the next message runs it to the end.
    ClvFit.objects.filter(pk=fit.pk).update(started_at=timezone.now() - dt.timedelta(minutes=20))
    assert clv_fit_run(fit_id=fit.pk).status == ClvFit.Status.SUCCEEDED
    assert CustomerPrediction.objects.for_shop(shop).exists()
