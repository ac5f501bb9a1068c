"""The campaign's numbers against hand computations: the lift of treatment over holdout, the Beta
posteriors, pooling by reason, Thompson sampling and the stable holdout split."""
from __future__ import annotations

import hashlib
import random

import pytest

from store.campaign_settings import customer_key, effective_campaign, group_for, matches, split_position
from store.campaign_stats import (ARMS, arms_allowed, beta_parameters, counts_for_choice, lift, posterior_mean,
                                  thompson_choice)


def test_lift_matches_a_hand_computation():
    # Treatment: 50 of 200 came back (25%); holdout: 5 of 50 (10%).
    # absolute = 0.25 - 0.10 = 0.15; relative = 0.15 / 0.10 = 1.5
    # spread = sqrt(0.25*0.75/200 + 0.10*0.90/50) = sqrt(0.0009375 + 0.0018) = sqrt(0.0027375) = 0.0523211
    # interval = 0.15 -+ 1.959964 * 0.0523211 = 0.15 -+ 0.1025475 = [0.0474525, 0.2525475]
    # pooled rate = 55/250 = 0.22; pooled spread = sqrt(0.22*0.78*(1/200 + 1/50)) = sqrt(0.00429) = 0.0654981
    # z = 0.15 / 0.0654981 = 2.2901; two-sided p = 2 * (1 - 0.98899) = 0.0220 (normal table)
    result = lift(200, 50, 50, 5)
    assert result["absolute"] == pytest.approx(0.15)
    assert result["relative"] == pytest.approx(1.5)
    assert result["ci95_low"] == pytest.approx(0.0474525, abs=1e-6)
    assert result["ci95_high"] == pytest.approx(0.2525475, abs=1e-6)
    assert result["p_value"] == pytest.approx(0.0220, abs=1e-4)


def test_lift_is_null_while_a_group_is_empty_and_edge_cases_stay_finite():
    assert lift(0, 0, 10, 1) is None
    assert lift(10, 1, 0, 0) is None
    nobody_back = lift(30, 0, 10, 0)
    assert nobody_back["absolute"] == 0 and nobody_back["relative"] is None  # no holdout rate to divide by
    assert nobody_back["p_value"] == 1.0 and nobody_back["ci95_low"] == nobody_back["ci95_high"] == 0
    # Treatment did worse: a negative lift, not hidden. spread = sqrt(.1*.9/100 + .2*.8/100) = 0.05,
    # interval -0.1 -+ 0.098 = [-0.198, -0.002]; pooled 0.15, z = 0.1/sqrt(.1275*.02) = 1.9803, p = 0.0477.
    worse = lift(100, 10, 100, 20)
    assert worse["absolute"] == pytest.approx(-0.10) and worse["relative"] == pytest.approx(-0.5)
    assert worse["ci95_low"] == pytest.approx(-0.1979982, abs=1e-6)
    assert worse["ci95_high"] == pytest.approx(-0.0020018, abs=1e-6)
    assert worse["p_value"] == pytest.approx(0.0477, abs=1e-4)


def test_posterior_is_beta_of_one_plus_recoveries_and_one_plus_failures():
    assert beta_parameters(0, 0) == (1, 1)
    assert beta_parameters(10, 3) == (4, 8)
    assert posterior_mean(10, 3) == pytest.approx(4 / 12)
    assert posterior_mean(0, 0) == 0.5


def test_a_reason_uses_its_own_counts_from_thirty_sends_and_all_reasons_before():
    few = {("discount_offer", "friendly"): (29, 10)}
    other = {("discount_offer", "friendly"): (100, 1), ("value_reminder", "urgent"): (5, 2)}
    pooled = counts_for_choice({"too_expensive": few, "not_using": other}, "too_expensive")
    assert pooled == {("discount_offer", "friendly"): (129, 11), ("value_reminder", "urgent"): (5, 2)}
    enough = {("discount_offer", "friendly"): (20, 10), ("value_reminder", "urgent"): (10, 0)}
    assert counts_for_choice({"too_expensive": enough, "not_using": other}, "too_expensive") == enough
    assert counts_for_choice({}, "too_expensive") == {}


def test_thompson_sampling_prefers_the_arm_that_recovers_and_is_repeatable_with_a_seed():
    counts = {arm: (200, 10) for arm in ARMS}
    counts[("value_reminder", "friendly")] = (200, 100)
    rng = random.Random(7)
    picks = [thompson_choice(counts, ARMS, rng) for _ in range(200)]
    assert picks.count(("value_reminder", "friendly")) == 200
    # With no data every arm is Beta(1, 1): each gets picked.
    rng = random.Random(7)
    assert {thompson_choice({}, ARMS, rng) for _ in range(400)} == set(ARMS)
    first = [thompson_choice({}, ARMS, random.Random(42)) for _ in range(3)]
    assert first == [thompson_choice({}, ARMS, random.Random(42)) for _ in range(3)]


def test_a_strategy_already_sent_is_not_chosen_again_and_a_fixed_step_keeps_its_strategy():
    allowed = arms_allowed("auto", ["value_reminder"])
    assert {strategy for strategy, _ in allowed} == {"discount_offer", "personal_check_in"} and len(allowed) == 6
    assert arms_allowed("auto", ["value_reminder", "discount_offer", "personal_check_in"]) == []
    assert arms_allowed("discount_offer", ["discount_offer"]) == [
        ("discount_offer", "friendly"), ("discount_offer", "professional"), ("discount_offer", "urgent")]


def test_the_split_is_sha256_of_project_and_customer_and_stable():
    digest = hashlib.sha256(b"prj_1\x00id:cus_42").digest()
    assert split_position("prj_1", "id:cus_42") == int.from_bytes(digest[:8], "big") / 2**64 * 100
    assert customer_key("cus_42", "Ada@Example.com") == "id:cus_42"
    assert customer_key(None, "Ada@Example.com") == "email:ada@example.com"
    assert customer_key(None, None) is None
    positions = [split_position("prj_1", f"email:c{i}@example.com") for i in range(4000)]
    assert all(0 <= p < 100 for p in positions)
    share = sum(p < 10 for p in positions) / len(positions)
    assert 0.085 < share < 0.115, share  # about holdout_percent of customers
    assert group_for("prj_1", "id:cus_42", 0) == "treatment"
    assert group_for("prj_1", "id:cus_42", 100) == "holdout"


def test_which_churns_match_the_campaign_settings():
    campaign = effective_campaign({"enabled": True, "reasons": ["too_expensive"], "min_mrr_cents": 1000})
    assert matches(campaign, "too_expensive", 1000)
    assert not matches(campaign, "too_expensive", 999)
    assert not matches(campaign, "not_using", 5000)
    assert not matches(effective_campaign(None), "too_expensive", 5000), "off by default"
    assert matches(effective_campaign({"enabled": True}), None, None), "every reason and any MRR by default"
