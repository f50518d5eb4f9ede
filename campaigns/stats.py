"""Lift over the control group, with the intervals the campaign page states.

- Conversion: difference of two proportions (treatment - control) with Newcombe's hybrid score interval
  (his method 10, built from the two Wilson score intervals); it behaves at 0 % and with small groups,
  where the Wald interval does not.
- Revenue per recipient: difference of means with Welch's t interval (unequal variances,
  Welch-Satterthwaite degrees of freedom), over every recipient including those who bought nothing.
Both at 95 % by default. Money is computed from Decimal sums; the statistics themselves are floats and
are rounded only when shown.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as scipy_stats

Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Interval | None:
    """(x1/n1 - x2/n2) with Newcombe's hybrid score interval; None when a group is empty."""
    if n1 == 0 or n2 == 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(d, low, high)


@dataclass(frozen=True, slots=True)
class Sample:
    """n values summarised by their sum and sum of squares (what SQL returns)."""

    n: int
    total: float
    total_sq: float

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        if self.n < 2:
            return 0.0
        # max(): the textbook formula can go a hair below zero in floating point.
        return max(0.0, (self.total_sq - self.n * self.mean ** 2) / (self.n - 1))


def welch_difference(a: Sample, b: Sample, confidence: float = 0.95) -> Interval | None:
    """mean(a) - mean(b) with Welch's interval; None when a group has fewer than two values."""
    if a.n < 2 or b.n < 2:
        return None
    va, vb = a.variance / a.n, b.variance / b.n
    d = a.mean - b.mean
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(d, d, d)
    df = (va + vb) ** 2 / ((va ** 2) / (a.n - 1) + (vb ** 2) / (b.n - 1))
    t = float(scipy_stats.t.ppf(0.5 + confidence / 2, df))
    return Interval(d, d - t * se, d + t * se)
