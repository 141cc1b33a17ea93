"""How far a pool can be trusted: the test for subgroup differences and leave-one-out.

Both read a :class:`~analysis.rates.pool.PoolingResult` and add no pooling rule of their own:
the same rows, method, CI and prediction-interval rule as the pools they examine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.rates.meta import subgroup_q
from analysis.rates.pool import PoolingResult, fit_pool, overall_label

SUBGROUP_TEST_COLUMNS = ["outcome", "q_between", "df", "p_value"]
"""``tables/subgroup_tests.csv`` (the contract); ``subgroups`` and ``note`` follow."""
LEAVE_ONE_OUT_COLUMNS = ["subgroup", "outcome", "left_out", "pooled", "ci_lower", "ci_upper", "tau2"]
"""``tables/leave_one_out.csv`` (the contract); ``k``, ``pi_lower``, ``pi_upper``, ``i2``,
``method`` and ``warning`` follow."""


def subgroup_tests(pooling: PoolingResult) -> pd.DataFrame:
    """Test for subgroup differences per outcome (Q between subgroups, each subgroup with its
    own tau2: R meta's default, = metafor ``rma(yi = est_g, sei = se_g, method = "FE")``).

    Uses each subgroup pool's estimate and standard error on the model scale
    (``pooling.model``; the se the pool's CI used, so the Hartung-Knapp se after
    ``pooled_ci="hartung-knapp"``). The row across subgroups is not a subgroup; an exact
    count (all 0/n or all n/n) has no model and is left out, and ``note`` says so. One row
    per outcome with at least two subgroup pools: ``outcome``, ``q_between``, ``df``
    (subgroups - 1), ``p_value``, then ``subgroups`` (the subgroups compared) and ``note``.
    """
    model = pooling.model if pooling.model is not None else pd.DataFrame(columns=["outcome"])
    by = pooling.settings.get("subgroup_by")
    rows = []
    if by is not None:
        model = model[model["subgroup"] != overall_label(by)]
        for outcome, g in model.groupby("outcome", sort=False):
            fitted = g[np.isfinite(g["se"].astype(float)) & (g["se"].astype(float) > 0)]
            exact = g.loc[~g.index.isin(fitted.index), "subgroup"].tolist()
            if len(fitted) < 2:
                continue
            test = subgroup_q(fitted["estimate"], fitted["se"])
            note = (f"left out (exact count, no model): {', '.join(map(str, exact))}" if exact else "")
            if len(set(fitted["transform"])) > 1:  # e.g. a GLMM fallback beside Freeman-Tukey pools
                note = "; ".join(x for x in (note, "subgroups pooled on different scales: not comparable") if x)
            rows.append({"outcome": outcome, "q_between": test.q, "df": test.df, "p_value": test.p_value,
                         "subgroups": "; ".join(map(str, fitted["subgroup"])), "note": note})
    out = pd.DataFrame(rows, columns=SUBGROUP_TEST_COLUMNS + ["subgroups", "note"])
    out["df"] = out["df"].astype(int)
    return out


def leave_one_out_table(rates: pd.DataFrame, pooling: PoolingResult, min_k: int = 3) -> pd.DataFrame:
    """Every pool of at least ``min_k`` rows refitted without each of its rows in turn
    (metafor's ``leave1out``), with the method the pool used, on the proportion scale.

    A GLMM pool is refitted as a GLMM without the row (there are no weights to drop), falling
    back to REML for a refit that does not converge, as :func:`~analysis.rates.pool.fit_pool`
    does (``warning`` then says so); a pool that fell back to REML is refitted by REML; a refit
    whose remaining rows are all 0/n (or n/n) is the exact total count. Columns:
    :data:`LEAVE_ONE_OUT_COLUMNS` (``left_out`` is the row's label, ``tau2`` on the model
    scale), then ``k`` (rows in the refit), ``pi_lower``, ``pi_upper``, ``i2``, ``method``,
    ``warning``.
    """
    st = pooling.settings
    pooled = pooling.pooled.set_index(["outcome", "subgroup"]) if len(pooling.pooled) else None
    labels = rates["label"] if "label" in rates.columns else rates["study"]
    rows = []
    for (outcome, subgroup), members in pooling.members.items():
        if len(members) < min_k or pooled is None:
            continue
        used = pooled.loc[(outcome, subgroup), "method"]
        method = st.get("method", "GLMM") if used == "GLMM" else used
        transform = "logit" if used == "GLMM" else (st.get("transform") or "logit")
        ev = rates.loc[members, "events_used"].to_numpy(dtype=float)
        tot = rates.loc[members, "total_used"].to_numpy(dtype=float)
        for i, idx in enumerate(members):
            keep = np.arange(len(members)) != i
            if used == "exact count":
                res, got, warning = fit_pool(ev[keep], tot[keep], alpha=st.get("alpha", 0.05))
            else:
                res, got, warning = fit_pool(ev[keep], tot[keep], method, transform, st.get("pooled_ci", "z"),
                                             st.get("pi_method", "t"), st.get("alpha", 0.05))
            rows.append({"subgroup": subgroup, "outcome": outcome, "left_out": str(labels.loc[idx]),
                         "pooled": res["estimate"], "ci_lower": res["ci_lower"], "ci_upper": res["ci_upper"],
                         "tau2": res["tau2"], "k": int(keep.sum()), "pi_lower": res["pi_lower"],
                         "pi_upper": res["pi_upper"], "i2": res["i2"], "method": got, "warning": warning})
    extra = ["k", "pi_lower", "pi_upper", "i2", "method", "warning"]
    out = pd.DataFrame(rows, columns=LEAVE_ONE_OUT_COLUMNS + extra)
    out["k"] = out["k"].astype(int)
    return out
