"""GET /projects/:slug/cohorts against the hand-built data set (tests/analytics_dataset.py).

Recovery delays (recovered_at - churned_at): E1 5 d, E2 20 d, E3 45 d, E7 100 d, E8 exactly 7 d,
E9 30 d + 1 h, E14 20 d, E15 45 d, E18 5 d, E20 100 d, E24 45 d, E26 20 d, E29 5 d.
"""
import datetime as dt

import pytest

from store.analytics_months import add_months, month_label, month_start
from store.models import utcnow
from tests import analytics_dataset as data


def row(cohort, churned, within, recovered, churned_mrr, recovered_mrr):
    return {"cohort": cohort, "churned": churned,
            "recovered_within": dict(zip(("7", "30", "60", "90"), within)), "recovered": recovered,
            "recovery_rate": recovered / churned if churned else 0.0,
            "mrr_churned_cents": churned_mrr, "mrr_recovered_cents": recovered_mrr}


JANUARY = row("2025-01", 7, (1, 2, 3, 3), 4,  # E1..E7; E1 in 7 d, E2 in 30, E3 in 60, E7 after 90
              {"EUR": 10000, "USD": 12500}, {"EUR": 10000, "USD": 7500})
FEBRUARY = row("2025-02", 6, (1, 1, 2, 2), 2,  # E8..E13; E8 at exactly 7 d, E9 at 30 d + 1 h
               {"EUR": 2000, "USD": 12000}, {"EUR": 0, "USD": 6500})
MARCH = row("2025-03", 4, (0, 1, 2, 2), 2,  # E14..E17
            {"EUR": 2500, "USD": 9000}, {"EUR": 0, "USD": 7000})
APRIL = row("2025-04", 0, (0, 0, 0, 0), 0, {}, {})  # no events: the row is still there
MAY = row("2025-05", 6, (1, 1, 1, 1), 2,  # E18..E23; E20 after 90 d
          {"EUR": 3000, "USD": 16200}, {"EUR": 3000, "USD": 6000})
JUNE = row("2025-06", 6, (1, 2, 3, 3), 3,  # E24..E29; E29 churned 23:59:59 on the 30th
           {"EUR": 5000, "GBP": 2000, "USD": 6700}, {"EUR": 0, "GBP": 0, "USD": 5800})


@pytest.mark.gen_test
async def test_cohorts_match_the_hand_count(api):
    token, project = await api.owner("acme")
    data.build(project["id"])
    response = await api.get("/projects/acme/cohorts?from=2025-01-01&to=2025-06-30", token=token)
    assert response.status == 200, response
    assert response.data == {"cohorts": [JANUARY, FEBRUARY, MARCH, APRIL, MAY, JUNE]}
    # Without `from`: the `months` months that end with the month of `to`.
    response = await api.get("/projects/acme/cohorts?to=2025-06-30&months=6", token=token)
    assert response.data == {"cohorts": [JANUARY, FEBRUARY, MARCH, APRIL, MAY, JUNE]}
    response = await api.get("/projects/acme/cohorts?to=2025-06-11&months=3", key=project["secret_key"])
    # June ends with the 11th: E24 (June 1st) and E25 (GBP, the 10th) only.
    assert response.data == {"cohorts": [APRIL, MAY, row("2025-06", 2, (0, 0, 1, 1), 1, {"GBP": 2000, "USD": 3300},
                                                          {"GBP": 0, "USD": 3300})]}
    # A range inside one month.
    response = await api.get("/projects/acme/cohorts?from=2025-02-02T10:00:00Z&to=2025-02-05T10:00:00Z",
                             token=token)
    assert response.data == {"cohorts": [row("2025-02", 2, (1, 1, 2, 2), 2, {"USD": 6500}, {"USD": 6500})]}
    # One currency.
    response = await api.get("/projects/acme/cohorts?from=2025-05-01&to=2025-06-30&currency=EUR", token=token)
    assert response.data == {"cohorts": [row("2025-05", 1, (0, 0, 0, 0), 1, {"EUR": 3000}, {"EUR": 3000}),
                                         row("2025-06", 1, (0, 0, 0, 0), 0, {"EUR": 5000}, {"EUR": 0})]}


@pytest.mark.gen_test
async def test_cohorts_default_to_the_last_twelve_months(api):
    token, project = await api.owner("acme")
    this_month = month_start(utcnow())
    data.insert_event(project["id"], "N1", max(this_month, utcnow() - dt.timedelta(minutes=5)), mrr=1234)
    data.insert_event(project["id"], "OLD", add_months(this_month, -12), mrr=999)  # 13 months ago: left out
    response = await api.get("/projects/acme/cohorts", token=token)
    assert response.status == 200, response
    rows = response.data["cohorts"]
    assert [r["cohort"] for r in rows] == [month_label(add_months(this_month, i)) for i in range(-11, 1)]
    assert sum(r["churned"] for r in rows) == 1
    assert rows[-1]["churned"] == 1 and rows[-1]["mrr_churned_cents"] == {"USD": 1234}
    assert all(r["churned"] == 0 and r["recovered_within"] == {"7": 0, "30": 0, "60": 0, "90": 0}
               for r in rows[:-1])


@pytest.mark.gen_test
async def test_cohorts_of_an_empty_project_are_empty_rows(api):
    token, _ = await api.owner("empty")
    response = await api.get("/projects/empty/cohorts?months=2&to=2025-02-10", token=token)
    assert response.status == 200, response
    assert response.data == {"cohorts": [row("2025-01", 0, (0, 0, 0, 0), 0, {}, {}),
                                         row("2025-02", 0, (0, 0, 0, 0), 0, {}, {})]}


@pytest.mark.gen_test
async def test_cohorts_refuse_bad_parameters(api):
    token, _ = await api.owner("acme")
    for query in ("from=2025-03-02&to=2025-03-01", "months=0", "months=121", "months=x",
                  "from=2000-01-01&to=2025-01-01"):  # more than 120 months
        response = await api.get(f"/projects/acme/cohorts?{query}", token=token)
        assert response.status == 400, (query, response)
        assert response.error["code"] == "VALIDATION_ERROR"
