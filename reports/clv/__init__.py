"""Buy-till-you-die models of repeat buying, in NumPy/SciPy (no model library at run time).

- `bgnbd`: BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): how many orders a
  customer will place and the probability that they are still a customer.
- `gamma_gamma`: Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"): the expected value of
  a customer's future orders.

Why our own code: `lifetimes` is unmaintained (last release 2020) and `pymc-marketing` pulls in PyMC and
a compiler toolchain for what is a four-parameter maximum-likelihood fit. The log-likelihoods below are
vectorised and take WEIGHTS: customers with identical inputs are collapsed into one row first
(`collapse`), which is what makes a fit over hundreds of thousands of customers take well under a second.
Validated against the paper's CDNOW parameters in tests/reports/test_clv_models.py.
"""
from __future__ import annotations

import numpy as np


def collapse(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Unique rows of the given equal-length columns, their counts, and the inverse index.

    Returns (unique columns, weights, inverse) such that column[i] == unique_column[inverse[i]].
    """
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    unique, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float), inverse.reshape(-1)
