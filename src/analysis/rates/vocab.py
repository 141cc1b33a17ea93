"""The rates package's vocabulary: output columns, method names, the overall-row label."""

from __future__ import annotations

import numpy as np

#: columns of ``tables/rates.csv``, in order (the output contract); extras follow them
RATES_COLUMNS = [
    "study", "arm", "outcome", "events", "total", "proportion", "ci_lower", "ci_upper",
    "ci_method",
]
#: columns of ``tables/pooled_rates.csv``, in order (the output contract)
POOLED_COLUMNS = [
    "subgroup", "outcome", "k", "total", "pooled", "ci_lower", "ci_upper", "pi_lower",
    "pi_upper", "tau2", "i2", "q", "q_p_value", "method", "transform", "pooled_ci", "pi_method",
    "k_studies", "warning",
]
CI_METHODS = {"clopper-pearson": "beta", "wilson": "wilson"}
#: ``pool_method``: the GLMM (random-intercept logistic model; the default, as R meta for
#: proportions) or an inverse-variance random-effects model with tau2 by REML, DL or PM
POOL_METHODS = ("REML", "DL", "PM", "GLMM")
DEFAULT_POOL_METHOD = "GLMM"
#: the inverse-variance (metafor ``rma``) methods, those with study weights
RMA_METHODS = ("REML", "DL", "PM")
#: ``pooled_ci``: the pooled estimate's CI by the normal quantile, or Hartung-Knapp
POOLED_CI = ("z", "hartung-knapp")
#: ``pi_method``: prediction interval with t (k - 1 df; R meta's default) or z (metafor's)
PI_METHODS = ("t", "z")
#: ``effect_measure`` of a comparison (intervention vs control)
EFFECT_MEASURES = ("RR", "OR", "RD")
TRANSFORMS = ("logit", "freeman-tukey")
OVERALL = "All studies"
EPS = np.finfo(float).eps
