"""Gamma-Gamma model of order value (Fader, Hardie & Lee 2005, "RFM and CLV", section 4).

Per customer with x >= 1 repeat orders and average order value m > 0: order values ~ Gamma(p, nu),
nu ~ Gamma(q, gamma) across customers. It assumes value is independent of frequency (check before
trusting it; the admin shows the correlation next to the fit).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from . import dot


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


@dataclass(frozen=True, slots=True)
class _Prepared:
    """The data arranged for fast likelihood evaluations (see _negative_ll_and_gradient)."""

    xu: np.ndarray        # distinct x and the total weight of each
    wu: np.ndarray
    i: np.ndarray         # each row's index into xu
    w: np.ndarray         # per row: weight, weight·x, m·x
    wx: np.ndarray
    mx: np.ndarray
    w_total: float
    sum_wx_log_mx: float  # Σ w·x·(log m + log x): the likelihood's p-linear constant
    sum_w_log_m: float


def _prepare(x: np.ndarray, m: np.ndarray, weights: np.ndarray) -> _Prepared:
    xu, i = np.unique(x, return_inverse=True)
    i = i.reshape(-1)
    wx = weights * x
    return _Prepared(xu, np.bincount(i, weights=weights, minlength=xu.size), i, weights, wx, m * x,
                     float(weights.sum()), dot(wx, np.log(m) + np.log(x)), dot(weights, np.log(m)))


def _negative_ll_and_gradient(log_theta: np.ndarray, d: _Prepared) -> tuple[float, np.ndarray]:
    """−LL and its gradient with respect to log(p, q, gamma).

    The gammaln/digamma terms depend on x alone (few distinct values: evaluated once per value and
    weighted); log m and log x are constants summed once in _prepare. What is left per customer is one
    log and one division: log(gamma + m·x) and its derivative.
    """
    p, q, g = np.exp(log_theta)
    pxu = p * d.xu
    log_gmx = np.log(g + d.mx)
    inv_gmx = 1.0 / (g + d.mx)
    wx_log, w_log = dot(d.wx, log_gmx), dot(d.w, log_gmx)
    ll = (d.wu @ (special.gammaln(pxu + q) - special.gammaln(pxu)) - d.w_total * special.gammaln(q)
          + d.w_total * q * np.log(g) + p * d.sum_wx_log_mx - d.sum_w_log_m - p * wx_log - q * w_log)
    psi = special.digamma(pxu + q)
    d_p = (d.wu * d.xu) @ (psi - special.digamma(pxu)) + d.sum_wx_log_mx - wx_log
    d_q = d.wu @ psi - d.w_total * special.digamma(q) + d.w_total * np.log(g) - w_log
    d_g = d.w_total * q / g - p * dot(d.wx, inv_gmx) - q * dot(d.w, inv_gmx)
    return -float(ll), -np.array([d_p * p, d_q * q, d_g * g])


def fit(x: np.ndarray, m: np.ndarray, weights: np.ndarray | None = None,
        *, initial: tuple[float, float, float] | None = None) -> GammaGammaParams:
    """Maximum-likelihood p, q, gamma over customers with x >= 1 and m > 0 (others must be filtered
    out by the caller: a refunded-to-zero customer has no order value to model). Raises ValueError.

    Identical (x, m) rows may be collapsed with weights (reports.clv.collapse), but real averages of
    cent amounts rarely repeat, and the per-row work is already one log and one division, so the
    service passes rows as they are.
    """
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    weights = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if x.size == 0:
        raise ValueError("no repeat customers to fit order values on")
    if np.any(x < 1) or np.any(m <= 0):
        raise ValueError("Gamma-Gamma needs x >= 1 and m > 0")
    if initial is None:
        # p = q = 1 is scale-free; gamma carries the currency's scale, so start it at the mean value
        # (p·gamma/(q−1) is the mean order value): mean values of hundreds would otherwise take many steps.
        initial = (1.0, 1.0, max(float(np.average(m, weights=weights)), 1e-3))
    # Tolerances tighter than scipy's defaults: they stop ~1e-4 relative short of the optimum, visible
    # in the fourth significant figure when compared with another implementation.
    result = optimize.minimize(_negative_ll_and_gradient, np.log(np.asarray(initial, dtype=float)),
                               args=(_prepare(x, m, weights),), jac=True, method="L-BFGS-B",
                               options={"maxiter": 500, "ftol": 1e-12, "gtol": 1e-7})
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
