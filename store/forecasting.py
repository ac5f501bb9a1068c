"""Forecasting monthly amounts: an ordinary least-squares linear trend with a 95 % prediction
interval (docs/analytics.md, "Forecasting").

Pure functions, no database: the store hands over one number per month, oldest first, and gets
back the projected months. A perfectly linear history forecasts the line itself with a band of
zero width; noisy histories widen the band, and it widens further the farther ahead we look.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

METHOD = "linear_least_squares"
MIN_MONTHS = 3  # fewer complete months: insufficient history
MAX_MONTHS = 12  # the trailing window the line is fitted to

# Two-sided 95 % quantiles of Student's t for n - 2 degrees of freedom (n = 3..12 months), so the
# band is an honest prediction interval even on the short histories a young project has.
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
         10: 2.228}


@dataclass(frozen=True)
class Projection:
    value: int
    low: int
    high: int


def project_linear(history: list[float], horizon: int) -> list[Projection]:
    """Fit y = a + b*x to `history` (x = 0..n-1) and project x = n..n+horizon-1.

    The band is the prediction interval  y_hat +/- t(0.975, n-2) * s * sqrt(1 + 1/n + (x-x_bar)^2/Sxx),
    with s the residual standard error. Amounts cannot be negative: every figure is clamped at 0
    and rounded to whole cents.
    """
    n = len(history)
    if n < MIN_MONTHS:
        raise ValueError(f"need at least {MIN_MONTHS} months, got {n}")
    xs = range(n)
    x_bar = (n - 1) / 2
    y_bar = sum(history) / n
    sxx = sum((x - x_bar) ** 2 for x in xs)
    slope = sum((x - x_bar) * (y - y_bar) for x, y in zip(xs, history)) / sxx
    intercept = y_bar - slope * x_bar
    residual_ss = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, history))
    std_error = math.sqrt(residual_ss / (n - 2))
    t = T_975[min(n - 2, max(T_975))]
    out = []
    for step in range(horizon):
        x = n + step
        fitted = intercept + slope * x
        spread = t * std_error * math.sqrt(1 + 1 / n + (x - x_bar) ** 2 / sxx)
        out.append(Projection(_cents(fitted), _cents(fitted - spread), _cents(fitted + spread)))
    return out


def _cents(value: float) -> int:
    # Half-cent noise from floating point must not turn an exact line into an off-by-one.
    return max(0, int(math.floor(value + 0.5 + 1e-9)))
