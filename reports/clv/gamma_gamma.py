"""Gamma-Gamma model of order value (Fader, Hardie & Lee 2005, "RFM and CLV", section 4).

Per customer with x >= 1 repeat orders and average order value m > 0: order values ~ Gamma(p, nu),
nu ~ Gamma(q, gamma) across customers. It assumes value is independent of frequency (check before
trusting it; the admin shows the correlation next to the fit).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float

    def as_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}


def log_likelihood(theta: np.ndarray, x: np.ndarray, m: np.ndarray, weights: np.ndarray | None = None) -> float:
    p, q, g = theta
    px = p * x
    ll = (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(g)
          + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(g + m * x))
    return float(ll.sum() if weights is None else ll @ weights)


def _negative_ll_and_gradient(log_theta, x, m, weights):
    p, q, g = np.exp(log_theta)
    px = p * x
    log_gmx = np.log(g + m * x)
    ll = (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(g)
          + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * log_gmx)
    psi_pxq = special.digamma(px + q)
    d_p = x * (psi_pxq - special.digamma(px) + np.log(m) + np.log(x) - log_gmx)
    d_q = psi_pxq - special.digamma(q) + np.log(g) - log_gmx
    d_g = q / g - (px + q) / (g + m * x)
    grad = np.stack([d_p, d_q, d_g]) @ weights * np.array([p, q, g])
    return -float(ll @ weights), -grad


def fit(x: np.ndarray, m: np.ndarray, weights: np.ndarray | None = None,
        *, initial: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> GammaGammaParams:
    """Maximum-likelihood p, q, gamma over customers with x >= 1 and m > 0 (others must be filtered
    out by the caller: a refunded-to-zero customer has no order value to model). Raises ValueError."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    if weights is None:
        weights = np.ones_like(x)
    if x.size == 0:
        raise ValueError("no repeat customers to fit order values on")
    if np.any(x < 1) or np.any(m <= 0):
        raise ValueError("Gamma-Gamma needs x >= 1 and m > 0")
    # Start gamma at the data's scale: mean values of hundreds would otherwise take many steps.
    start = np.log(np.array([initial[0], initial[1], max(float(np.average(m, weights=weights)), 1.0)]))
    result = optimize.minimize(_negative_ll_and_gradient, start, args=(x, m, np.asarray(weights, dtype=float)),
                               jac=True, method="L-BFGS-B", options={"maxiter": 500})
    if not np.all(np.isfinite(result.x)):
        raise ValueError(f"Gamma-Gamma fit failed: {result.message}")
    p, q, g = np.exp(result.x)
    return GammaGammaParams(float(p), float(q), float(g))


def expected_order_value(params: GammaGammaParams, x: np.ndarray, m: np.ndarray,
                         population_mean_for_new: bool = True) -> np.ndarray:
    """E[order value | x, m] (equation 5); customers with x = 0 get the population mean p*gamma/(q-1)."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    p, q, g = params.p, params.q, params.gamma
    conditional = (p * (g + x * m)) / (p * x + q - 1)
    if population_mean_for_new and q > 1:
        return np.where(x > 0, conditional, p * g / (q - 1))
    return conditional
