"""The campaign's numbers, as pure functions: the lift of treatment over holdout (a difference of
two proportions, normal approximation) and the Thompson sampling that picks an email.
docs/campaigns.md explains both in words; tests/test_campaign_stats.py checks them by hand.
"""
from __future__ import annotations

import math
import random
from typing import Iterable

from store.models import STRATEGIES, TONES

ARMS = tuple((strategy, tone) for strategy in STRATEGIES for tone in TONES)
Z95 = 1.959963984540054  # the standard normal's 97.5th percentile
POOL_BELOW_SENDS = 30  # a reason with fewer sends than this borrows the counts of every reason


def rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def lift(treatment_customers: int, treatment_recovered: int, holdout_customers: int,
         holdout_recovered: int) -> dict | None:
    """How much more often treatment customers came back than holdout customers.

    absolute = p_t - p_h; relative = absolute / p_h (null while p_h is 0); the 95% interval is
    absolute +- 1.96 * sqrt(p_t(1-p_t)/n_t + p_h(1-p_h)/n_h); the p-value is two-sided, from
    z = absolute / sqrt(p(1-p)(1/n_t + 1/n_h)) with p the rate of both groups together (1 when
    that spread is 0: nothing tells the groups apart). None while either group is empty."""
    n_t, n_h = treatment_customers, holdout_customers
    if n_t <= 0 or n_h <= 0:
        return None
    p_t, p_h = treatment_recovered / n_t, holdout_recovered / n_h
    absolute = p_t - p_h
    spread = math.sqrt(p_t * (1 - p_t) / n_t + p_h * (1 - p_h) / n_h)
    pooled = (treatment_recovered + holdout_recovered) / (n_t + n_h)
    pooled_spread = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_h))
    p_value = 2 * normal_sf(abs(absolute) / pooled_spread) if pooled_spread > 0 else 1.0
    return {
        "absolute": absolute,
        "relative": absolute / p_h if p_h > 0 else None,
        "ci95_low": absolute - Z95 * spread,
        "ci95_high": absolute + Z95 * spread,
        "p_value": min(1.0, p_value),
    }


def beta_parameters(sent: int, recovered: int) -> tuple[int, int]:
    """Beta(1 + recoveries, 1 + sends - recoveries): a flat prior updated by what happened."""
    recovered = min(recovered, sent)
    return 1 + recovered, 1 + sent - recovered


def posterior_mean(sent: int, recovered: int) -> float:
    alpha, beta = beta_parameters(sent, recovered)
    return alpha / (alpha + beta)


Counts = dict  # (strategy, tone) -> (sent, recovered)


def counts_for_choice(by_reason: dict, reason: str | None) -> Counts:
    """The counts an "auto" step samples from: the reason's own once it has POOL_BELOW_SENDS
    sends, else every reason's together. `by_reason`: reason -> {(strategy, tone): (sent, recovered)}."""
    own = by_reason.get(reason, {})
    if sum(sent for sent, _ in own.values()) >= POOL_BELOW_SENDS:
        return own
    pooled: dict = {}
    for counts in by_reason.values():
        for arm, (sent, recovered) in counts.items():
            total = pooled.get(arm, (0, 0))
            pooled[arm] = (total[0] + sent, total[1] + recovered)
    return pooled


def thompson_choice(counts: Counts, arms: Iterable[tuple[str, str]], rng: random.Random) -> tuple[str, str] | None:
    """One draw from each arm's posterior; the arm with the highest draw. Arms are visited in a
    fixed order, so a seeded `rng` gives the same choices for the same counts."""
    best, best_draw = None, -1.0
    for arm in arms:
        draw = rng.betavariate(*beta_parameters(*counts.get(arm, (0, 0))))
        if draw > best_draw:
            best, best_draw = arm, draw
    return best


def arms_allowed(step_strategy: str, sent_strategies: Iterable[str]) -> list[tuple[str, str]]:
    """The arms a step may choose from: an "auto" step any strategy not yet sent to this customer;
    a step with a fixed strategy the three tones of it."""
    if step_strategy != "auto":
        return [arm for arm in ARMS if arm[0] == step_strategy]
    done = set(sent_strategies)
    return [arm for arm in ARMS if arm[0] not in done]
