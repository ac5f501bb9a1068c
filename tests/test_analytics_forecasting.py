"""GET /projects/:slug/forecasting: least squares on the trailing complete months (at most 12)."""
import datetime as dt

import pytest

from store.analytics_months import add_months, month_label, month_start
from store.models import utcnow
from tests import analytics_dataset as data


def this_month():
    return month_start(utcnow())


def churn_in(project_id, tag, month, mrr, recovered_mrr=None, currency="USD"):
    """A churn on the 3rd of `month`, recovered (if `recovered_mrr`) on the 12th of the same month."""
    churned_at = month + dt.timedelta(days=2, hours=9)
    if recovered_mrr is None:
        return data.insert_event(project_id, tag, churned_at, currency=currency, mrr=mrr, status="lost")
    return data.insert_event(project_id, tag, churned_at, currency=currency, mrr=mrr, status="recovered",
                             recovered_after=dt.timedelta(days=9), recovered_mrr=recovered_mrr)


@pytest.mark.gen_test
async def test_a_linear_history_forecasts_the_line(api):
    token, project = await api.owner("acme")
    current = this_month()
    for i in range(6):  # the six complete months before this one: 10,000 + 1,000 i churned
        churn_in(project["id"], f"L{i}", add_months(current, i - 6), 10000 + 1000 * i, 2000 + 500 * i)
    # This month is not complete: it is not history, however large.
    data.insert_event(project["id"], "NOW", max(current, utcnow() - dt.timedelta(minutes=5)), mrr=10**7)
    response = await api.get("/projects/acme/forecasting?horizon=3", token=token)
    assert response.status == 200, response
    assert response.data == {
        "method": "linear_least_squares",
        "horizon": 3,
        "insufficient_history": False,
        "history": [{"month": month_label(add_months(current, i - 6)),
                     "mrr_churned_cents": {"USD": 10000 + 1000 * i},
                     "mrr_recovered_cents": {"USD": 2000 + 500 * i}} for i in range(6)],
        "forecast": [{"month": month_label(add_months(current, i)),
                      "mrr_churned_cents": {"USD": 16000 + 1000 * i},
                      "mrr_churned_low": {"USD": 16000 + 1000 * i},
                      "mrr_churned_high": {"USD": 16000 + 1000 * i},
                      "mrr_recovered_cents": {"USD": 5000 + 500 * i},
                      "mrr_recovered_low": {"USD": 5000 + 500 * i},
                      "mrr_recovered_high": {"USD": 5000 + 500 * i}} for i in range(3)],
    }


@pytest.mark.gen_test
async def test_a_noisy_history_gets_a_prediction_band(api):
    token, project = await api.owner("acme")
    current = this_month()
    for i, mrr in enumerate([10000, 11000, 11500, 12700]):
        churn_in(project["id"], f"N{i}", add_months(current, i - 4), mrr)
    response = await api.get("/projects/acme/forecasting?horizon=2", key=project["secret_key"])
    assert response.status == 200, response
    forecast = response.data["forecast"]
    # By hand: slope 860, intercept 10010, residuals -10 130 -230 110, s = sqrt(82000 / 2),
    # t(0.975, 2) = 4.303; band = t s sqrt(1 + 1/4 + (x - 1.5)^2 / 5) = 1377.63 at x = 4, 1675.96 at x = 5.
    assert [(f["mrr_churned_cents"]["USD"], f["mrr_churned_low"]["USD"], f["mrr_churned_high"]["USD"])
            for f in forecast] == [(13450, 12072, 14828), (14310, 12634, 15986)]
    # Nothing was recovered: a flat zero line.
    assert [(f["mrr_recovered_cents"], f["mrr_recovered_low"], f["mrr_recovered_high"]) for f in forecast] == \
        [({"USD": 0}, {"USD": 0}, {"USD": 0})] * 2


@pytest.mark.gen_test
async def test_recoveries_count_in_the_month_they_happen_and_currencies_stay_apart(api):
    token, project = await api.owner("acme")
    current = this_month()
    first = add_months(current, -3)
    for i in range(3):
        churn_in(project["id"], f"U{i}", add_months(first, i), 3000)
        churn_in(project["id"], f"E{i}", add_months(first, i), 1000 * (i + 1), currency="EUR")
    # Churned in the first month, won back in the third: it counts in the third month's recoveries.
    data.insert_event(project["id"], "LATE", first + dt.timedelta(days=20), mrr=0, status="recovered",
                      recovered_at=add_months(first, 2) + dt.timedelta(days=1), recovered_mrr=900)
    response = await api.get("/projects/acme/forecasting?horizon=1", token=token)
    assert response.data["history"] == [
        {"month": month_label(add_months(first, i)), "mrr_churned_cents": {"EUR": 1000 * (i + 1), "USD": 3000},
         "mrr_recovered_cents": {"EUR": 0, "USD": 900 if i == 2 else 0}} for i in range(3)]
    assert response.data["forecast"][0]["mrr_churned_cents"] == {"EUR": 4000, "USD": 3000}
    # With `to` the history ends with the last complete month of the range.
    response = await api.get(f"/projects/acme/forecasting?to={add_months(first, 1):%Y-%m-%d}", token=token)
    assert response.data["insufficient_history"] is True
    assert [h["month"] for h in response.data["history"]] == [month_label(first), month_label(add_months(first, 1))]


@pytest.mark.gen_test
async def test_too_little_history_says_so(api):
    token, project = await api.owner("acme")
    current = this_month()
    empty = await api.get("/projects/acme/forecasting", token=token)
    assert empty.status == 200
    assert empty.data == {"method": "linear_least_squares", "horizon": 3, "insufficient_history": True,
                          "history": [], "forecast": []}
    churn_in(project["id"], "A", add_months(current, -2), 5000)
    churn_in(project["id"], "B", add_months(current, -1), 6000)
    data.insert_event(project["id"], "C", max(current, utcnow() - dt.timedelta(minutes=5)), mrr=7000)
    response = await api.get("/projects/acme/forecasting?horizon=12", token=token)
    assert response.data["insufficient_history"] is True
    assert response.data["forecast"] == []
    assert [h["mrr_churned_cents"] for h in response.data["history"]] == [{"USD": 5000}, {"USD": 6000}]
    # A third complete month (the first churn's month counts) is enough.
    churn_in(project["id"], "D", add_months(current, -3), 4000)  # inserted behind the cache
    await api.patch("/projects/acme", {"settings": {"lost_after_days": 90}}, token=token)  # a write: forget the cache
    response = await api.get("/projects/acme/forecasting?horizon=12", token=token)
    assert response.data["insufficient_history"] is False
    assert len(response.data["forecast"]) == 12
    assert response.data["forecast"][0]["mrr_churned_cents"] == {"USD": 7000}


@pytest.mark.gen_test
async def test_only_the_trailing_twelve_months_are_fitted(api):
    token, project = await api.owner("acme")
    current = this_month()
    for i in range(15):  # 15 complete months; the oldest three are far off the line
        churn_in(project["id"], f"T{i}", add_months(current, i - 15), 99999 if i < 3 else 1000 * i)
    response = await api.get("/projects/acme/forecasting?horizon=1", token=token)
    history = response.data["history"]
    assert len(history) == 12 and history[0]["month"] == month_label(add_months(current, -12))
    assert response.data["forecast"][0]["mrr_churned_cents"] == {"USD": 15000}


@pytest.mark.gen_test
async def test_forecasting_refuses_bad_parameters(api):
    token, _ = await api.owner("acme")
    for query in ("horizon=0", "horizon=13", "horizon=two", "from=2025-03-02&to=2025-03-01"):
        response = await api.get(f"/projects/acme/forecasting?{query}", token=token)
        assert response.status == 400, (query, response)
        assert response.error["code"] == "VALIDATION_ERROR"
