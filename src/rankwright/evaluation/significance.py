"""Paired comparison of two systems over the same queries: wins/ties/losses, the mean
difference, a paired t-test (scipy) and a two-sided paired randomisation test."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd


def compared_metrics(metrics: list[str]) -> list[str]:
    """nDCG@10 (else the deepest nDCG cut-off) and MAP: the metrics of the paired tests."""
    ndcg = "ndcg@10" if "ndcg@10" in metrics else next((m for m in reversed(metrics) if m.startswith("ndcg@")), None)
    return [m for m in (ndcg, "map") if m is not None and m in metrics]


def paired_comparison(
    a: pd.DataFrame,
    b: pd.DataFrame,
    metric: str = "ndcg@10",
    *,
    queries: pd.Index | None = None,
    rounds: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """``a`` versus ``b``: per-query metric tables (index query_id) of two systems.
    ``queries`` restricts the comparison (default: the queries both tables have)."""
    from scipy.stats import ttest_rel

    common = a.index.intersection(b.index) if queries is None else queries
    x = a.loc[common, metric].to_numpy(dtype=float)
    y = b.loc[common, metric].to_numpy(dtype=float)
    diff = x - y
    out: dict[str, Any] = {
        "metric": metric,
        "queries": len(diff),
        "mean_a": float(x.mean()) if len(x) else float("nan"),
        "mean_b": float(y.mean()) if len(y) else float("nan"),
        "mean_difference": float(diff.mean()) if len(diff) else float("nan"),
        "wins": int((diff > 1e-12).sum()),
        "ties": int((np.abs(diff) <= 1e-12).sum()),
        "losses": int((diff < -1e-12).sum()),
    }
    if len(diff) < 2 or not np.any(diff):
        return {
            **out,
            "t_test_p": 1.0 if len(diff) else float("nan"),
            "randomisation_p": 1.0 if len(diff) else float("nan"),
        }
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(rounds, len(diff)))
    observed = abs(diff.mean())
    extreme = (np.abs((signs * diff).mean(axis=1)) >= observed - 1e-15).sum()
    with warnings.catch_warnings():  # nearly equal differences: scipy's precision note, not the user's concern
        warnings.simplefilter("ignore", RuntimeWarning)
        out["t_test_p"] = float(ttest_rel(x, y).pvalue)
    out["randomisation_p"] = float((extreme + 1) / (rounds + 1))
    return out


def format_comparison(name_a: str, name_b: str, c: dict[str, Any]) -> str:
    return (
        f"{name_a} vs {name_b} ({c['metric']}, {c['queries']} queries): {c['mean_difference']:+.4f}, "
        f"wins/ties/losses {c['wins']}/{c['ties']}/{c['losses']}, "
        f"paired t-test p {c['t_test_p']:.4f}, randomisation p {c['randomisation_p']:.4f}"
    )
