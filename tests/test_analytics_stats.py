"""GET /projects/:slug/stats against the hand-built data set (tests/analytics_dataset.py).

Every expected figure below was counted by hand from the table in analytics_dataset.py.
"""
import datetime as dt

import pytest

from tests import analytics_dataset as data

STRATEGIES = ("discount_offer", "value_reminder", "personal_check_in")
TONES = ("friendly", "professional", "urgent")


def variants_table(rows: dict) -> list:
    """All nine strategy x tone rows; `rows` gives (sent, recovered) of the non-zero ones."""
    table = []
    for strategy in STRATEGIES:
        for tone in TONES:
            sent, won = rows.get((strategy, tone), (0, 0))
            table.append({"strategy": strategy, "tone": tone, "sent": sent, "recovered": won,
                          "recovery_rate": won / sent if sent else 0.0})
    return table


def group(churned, recovered, mrr):
    return {"churned": churned, "recovered": recovered, "recovery_rate": recovered / churned, "mrr_churned_cents": mrr}


# All time (E1..E29). Recovered: E1 E2 E3 E7 E8 E9 E14 E15 E18 E20 E24 E26 E29; saved: E4 E11 E17 E21
# E25; lost: E5 E13 (stored) and E6 E10 E12 E16 (open before the cut-off); open: E19 E22 E23 E27 E28.
# The data set has no failed payments: the payment_recovery block (docs/dunning.md) is all zeros.
NO_PAYMENTS = {"opened": 0, "recovered": 0, "failed": 0, "stopped": 0, "open": 0, "recovery_rate": 0.0,
               "amount_due_cents": {}, "amount_recovered_cents": {}, "recovered_after_step": {}}

ALL_TIME = {
    "payment_recovery": NO_PAYMENTS,
    "churn_events": 29,
    "recovered": 13,
    "lost": 6,
    "saved": 5,
    "open": 5,
    "recovery_rate": 13 / 29,
    "save_rate": 5 / 8,  # 8 cancel-flow submissions, E21's two included
    "cancel_flow_submissions": 8,
    # USD: 5000+3000+2000+1000+1500+2500+4000+3500+1200+800+5000+3000+1000+6000+2000+1500+4500+2200
    #      +3300+1800+900+700; EUR: 4000+6000+2000+2500+3000+5000; GBP: 2000
    "mrr_churned_cents": {"EUR": 22500, "GBP": 2000, "USD": 56400},
    # USD: 5000+2500+2500+4000+4000+3000+6000+3300+1800+700; EUR: 4000+6000+3000
    "mrr_recovered_cents": {"EUR": 13000, "GBP": 0, "USD": 32800},
    "emails_sent": 16,  # V1..V15 and V7a; drafts, edited and failed are not emails
    "currencies": ["EUR", "GBP", "USD"],
    "by_reason": {
        "missing_features": group(3, 2, {"EUR": 4000, "USD": 5200}),
        "not_using": group(4, 0, {"USD": 5500}),
        "other": group(2, 0, {"EUR": 2500, "USD": 900}),
        "payment_failed": group(3, 3, {"EUR": 3000, "USD": 5800}),
        "poor_support": group(1, 0, {"USD": 1200}),
        "switched_competitor": group(2, 1, {"EUR": 6000, "USD": 2000}),
        "technical_issues": group(1, 0, {"USD": 3500}),
        "temporary": group(2, 0, {"EUR": 2000, "GBP": 2000}),
        "too_expensive": group(9, 6, {"EUR": 5000, "USD": 30100}),
        "unspecified": group(2, 1, {"USD": 2200}),
    },
    "by_source": {
        "api": group(7, 1, {"EUR": 4000, "USD": 8100}),
        "custom": group(3, 1, {"EUR": 2500, "USD": 4200}),
        "razorpay": group(3, 2, {"EUR": 3000, "USD": 4500}),
        "stripe": group(11, 9, {"EUR": 11000, "USD": 35100}),
        "widget": group(5, 0, {"EUR": 2000, "GBP": 2000, "USD": 4500}),
    },
    "by_status": {"new": 2, "variants_ready": 1, "contacted": 2, "recovered": 13, "lost": 6, "saved": 5},
    "by_variant": variants_table({
        ("discount_offer", "friendly"): (5, 4),  # V1 V4 V7 V10 V15; E1 E7 E14 E18
        ("discount_offer", "professional"): (1, 1),  # V5; E8
        ("discount_offer", "urgent"): (1, 0),  # V11
        ("value_reminder", "friendly"): (2, 0),  # V6 V7a
        ("value_reminder", "professional"): (2, 2),  # V2 V12; E2 E24
        ("value_reminder", "urgent"): (1, 0),  # V9
        ("personal_check_in", "friendly"): (2, 1),  # V13 V14; E26
        ("personal_check_in", "professional"): (1, 1),  # V8; E15
        ("personal_check_in", "urgent"): (1, 0),  # V3
    }),
}

# February 1 to March 31 (a date `to` includes its whole day): E8..E17.
FEB_MAR = {
    "payment_recovery": NO_PAYMENTS,
    "churn_events": 10,
    "recovered": 4,  # E8 E9 E14 E15
    "lost": 4,  # E10 E12 E13 E16
    "saved": 2,  # E11 E17
    "open": 0,
    "recovery_rate": 4 / 10,
    "save_rate": 2 / 2,
    "cancel_flow_submissions": 2,
    "mrr_churned_cents": {"EUR": 4500, "USD": 21000},
    "mrr_recovered_cents": {"EUR": 0, "USD": 13500},
    "emails_sent": 6,  # V5 V6 V7a V7 V8 V9
    "currencies": ["EUR", "USD"],
    "by_reason": {
        "missing_features": group(1, 1, {"USD": 3000}),
        "not_using": group(1, 0, {"USD": 1000}),
        "other": group(1, 0, {"EUR": 2500}),
        "payment_failed": group(1, 1, {"USD": 4000}),
        "poor_support": group(1, 0, {"USD": 1200}),
        "technical_issues": group(1, 0, {"USD": 3500}),
        "temporary": group(1, 0, {"EUR": 2000}),
        "too_expensive": group(3, 2, {"USD": 8300}),
    },
    "by_source": {
        "api": group(2, 0, {"USD": 2000}),
        "custom": group(2, 0, {"EUR": 2500, "USD": 3500}),
        "razorpay": group(1, 1, {"USD": 3000}),
        "stripe": group(3, 3, {"USD": 11500}),
        "widget": group(2, 0, {"EUR": 2000, "USD": 1000}),
    },
    "by_status": {"new": 0, "variants_ready": 0, "contacted": 0, "recovered": 4, "lost": 4, "saved": 2},
    "by_variant": variants_table({
        ("discount_offer", "friendly"): (1, 1),  # V7; E14
        ("discount_offer", "professional"): (1, 1),  # V5; E8
        ("value_reminder", "friendly"): (2, 0),  # V6 V7a
        ("value_reminder", "urgent"): (1, 0),  # V9
        ("personal_check_in", "professional"): (1, 1),  # V8; E15
    }),
}


async def build_dataset(api):
    token, project = await api.owner("acme")
    ids = data.build(project["id"])
    other = await api.new_project(token, name="Other", slug="other")
    data.insert_event(other["id"], "X1", dt.datetime(2025, 2, 3), mrr=99999, status="recovered",
                      recovered_after=data.DAY, recovered_mrr=99999)
    data.insert_event(other["id"], "X2", dt.datetime(2025, 5, 3), currency="JPY", mrr=5)
    return token, project, ids


@pytest.mark.gen_test
async def test_stats_match_the_hand_count(api):
    token, project, _ = await build_dataset(api)
    response = await api.get("/projects/acme/stats", token=token)
    assert response.status == 200, response
    assert response.data == ALL_TIME
    # The secret key reads the same figures.
    by_key = await api.get("/projects/acme/stats", key=project["secret_key"])
    assert by_key.status == 200 and by_key.data == ALL_TIME


@pytest.mark.gen_test
async def test_stats_filtered_by_date_range(api):
    token, project, _ = await build_dataset(api)
    response = await api.get("/projects/acme/stats?from=2025-02-01&to=2025-03-31", token=token)
    assert response.status == 200, response
    assert response.data == FEB_MAR
    # The same range given as timestamps.
    response = await api.get("/projects/acme/stats?from=2025-02-01T00:00:00Z&to=2025-03-31T23:59:59Z",
                             token=token)
    assert response.data == FEB_MAR
    # Events on both sides of the boundaries of January-June, one second away, are left out.
    data.insert_event(project["id"], "B1", dt.datetime(2024, 12, 31, 23, 59, 59), mrr=777)
    data.insert_event(project["id"], "B2", dt.datetime(2025, 7, 1, 0, 0, 0), mrr=777)
    response = await api.get("/projects/acme/stats?from=2025-01-01&to=2025-06-30", token=token)
    assert response.data == ALL_TIME
    response = await api.get("/projects/acme/stats?from=2025-06-30T23:59:59Z&to=2025-06-30T23:59:59Z",
                             token=token)
    assert response.data["churn_events"] == 1 and response.data["mrr_churned_cents"] == {"USD": 700}  # E29


@pytest.mark.gen_test
async def test_stats_of_one_currency(api):
    token, _, _ = await build_dataset(api)
    response = await api.get("/projects/acme/stats?currency=eur", token=token)
    assert response.status == 200, response
    stats = response.data
    # E3 E7 E20 recovered, E11 saved, E16 lost, E27 open.
    assert (stats["churn_events"], stats["recovered"], stats["saved"], stats["lost"], stats["open"]) == (6, 3, 1, 1, 1)
    assert stats["mrr_churned_cents"] == {"EUR": 22500}
    assert stats["mrr_recovered_cents"] == {"EUR": 13000}
    assert stats["save_rate"] == 1.0 and stats["cancel_flow_submissions"] == 1  # E11's
    assert stats["emails_sent"] == 2  # V4 V9
    assert stats["currencies"] == ["EUR"]


@pytest.mark.gen_test
async def test_an_empty_project_answers_zeros(api):
    token, _ = await api.owner("empty")
    response = await api.get("/projects/empty/stats", token=token)
    assert response.status == 200, response
    assert response.data == {
        "churn_events": 0, "recovered": 0, "lost": 0, "saved": 0, "open": 0, "recovery_rate": 0.0,
        "save_rate": 0.0, "cancel_flow_submissions": 0, "mrr_churned_cents": {}, "mrr_recovered_cents": {},
        "emails_sent": 0, "currencies": [], "by_reason": {}, "by_source": {},
        "by_status": {"new": 0, "variants_ready": 0, "contacted": 0, "recovered": 0, "lost": 0, "saved": 0},
        "by_variant": variants_table({}), "payment_recovery": NO_PAYMENTS,
    }


@pytest.mark.gen_test
async def test_stats_refuse_bad_ranges_and_strangers(api):
    token, project = await api.owner("acme")
    for query in ("from=2025-03-02&to=2025-03-01", "from=2025-03-01T00:00:01Z&to=2025-03-01T00:00:00Z",
                  "from=yesterday", "to=2025-13-01", "currency=euro"):
        response = await api.get(f"/projects/acme/stats?{query}", token=token)
        assert response.status == 400, (query, response)
        assert response.error["code"] == "VALIDATION_ERROR" and response.error["details"]
    # A user who is not a member, and another project's key, see no such project.
    stranger = await api.signup()
    assert (await api.get("/projects/acme/stats", token=stranger)).status == 404
    _, other = await api.owner("other")
    assert (await api.get("/projects/acme/stats", key=other["secret_key"])).status == 404
    assert (await api.get("/projects/acme/stats")).status == 401
