"""Benchmark: our BG/NBD + Gamma-Gamma fit against lifetimes on 200,000 customers, same data, same parameters.

    .venv/bin/python bench/clv_fit.py [--customers 200000] [--repeat 3]

No database: the customers are simulated from the BG/NBD story with the CDNOW parameters (r = 0.243,
alpha = 4.414, a = 0.793, b = 2.426; weeks), acquired over the first year of a two-year window, observed in
whole days (what the app feeds the model). Order values per customer follow Gamma-Gamma (p = 6, q = 4,
gamma = 15). Four BG/NBD timings (median of --repeat): ours and lifetimes, each on the raw customers and on
customers collapsed into unique (x, t_x, T) rows with weights (collapsing time included for both), then
Gamma-Gamma for both. Prints the parameters side by side so "the same parameters" can be checked.
lifetimes is optional (pip install lifetimes into the venv): without it only our side runs.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reports.clv import bgnbd, collapse, gamma_gamma  # noqa: E402


def simulate(n: int, seed: int = 2005):
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.243, 1 / 4.414, size=n)
    p = rng.beta(0.793, 2.426, size=n)
    first = rng.random(n) * 52.0
    horizon = 104.0
    x = np.zeros(n)
    last = first.copy()
    t = first.copy()
    alive = np.ones(n, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        t[idx] += rng.exponential(1 / lam[idx])
        ok = t[idx] < horizon
        alive[idx[~ok]] = False
        buyers = idx[ok]
        x[buyers] += 1
        last[buyers] = t[buyers]
        alive[buyers] &= rng.random(buyers.size) >= p[buyers]
    # Whole days, like the app (reports.services._fit_bgnbd): floor keeps t_x <= T.
    t_x = np.floor((last - first) * 7) / 7
    T = np.floor((horizon - first) * 7) / 7
    nu = rng.gamma(4.0, 1 / 15.0, size=n)
    m = np.where(x > 0, rng.gamma(6.0 * np.maximum(x, 1), 1 / (nu * np.maximum(x, 1))), 0.0)
    return x, t_x, T, m


def timed(fn, repeat: int):
    samples, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    x, t_x, T, m = simulate(args.customers)
    print(f"{x.size} customers, {int((x > 0).sum())} with repeat orders, "
          f"{np.unique(np.column_stack([x, t_x, T]), axis=0).shape[0]} unique (x, t_x, T)")

    def ours_raw():
        return bgnbd.fit(x, t_x, T).params

    def ours_collapsed():
        (ux, ut, uT), w, _ = collapse(x, t_x, T)
        return bgnbd.fit(ux, ut, uT, w).params

    rep = x > 0

    def ours_gg():
        return gamma_gamma.fit(x[rep], m[rep])

    rows = [("ours, raw", *timed(ours_raw, args.repeat)), ("ours, collapsed", *timed(ours_collapsed, args.repeat))]
    gg_ours = timed(ours_gg, args.repeat)
    try:
        import warnings

        warnings.filterwarnings("ignore")
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    except ImportError:
        BetaGeoFitter = None  # noqa: N806
        print("lifetimes is not installed: only our side was measured")
    if BetaGeoFitter is not None:
        def lt_raw():
            return BetaGeoFitter().fit(x, t_x, T).params_

        def lt_collapsed():
            (ux, ut, uT), w, _ = collapse(x, t_x, T)
            return BetaGeoFitter().fit(ux, ut, uT, weights=w).params_

        def lt_gg():
            return GammaGammaFitter().fit(x[rep], m[rep]).params_

        rows += [("lifetimes, raw", *timed(lt_raw, args.repeat)),
                 ("lifetimes, collapsed", *timed(lt_collapsed, args.repeat))]
        gg_lt = timed(lt_gg, args.repeat)
    print("\nBG/NBD fit (median seconds; parameters r, alpha, a, b):")
    for label, seconds, params in rows:
        values = params.as_dict().values() if hasattr(params, "as_dict") else params.values
        print(f"  {label:22s} {seconds:7.3f} s   " + "  ".join(f"{v:.4f}" for v in values))
    if BetaGeoFitter is not None:
        timings = {label: seconds for label, seconds, _ in rows}
        print(f"  speed-up raw: {timings['lifetimes, raw'] / timings['ours, raw']:.1f}x, collapsed: "
              f"{timings['lifetimes, collapsed'] / timings['ours, collapsed']:.1f}x, ours collapsed vs "
              f"lifetimes collapsed: {timings['lifetimes, collapsed'] / timings['ours, collapsed']:.1f}x")
    print("\nGamma-Gamma fit (p, q, gamma):")
    print(f"  {'ours':22s} {gg_ours[0]:7.3f} s   " + "  ".join(f"{v:.4f}" for v in gg_ours[1].as_dict().values()))
    if BetaGeoFitter is not None:
        print(f"  {'lifetimes':22s} {gg_lt[0]:7.3f} s   " + "  ".join(f"{v:.4f}" for v in gg_lt[1].values))


if __name__ == "__main__":
    main()
