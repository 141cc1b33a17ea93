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
POOL_METHODS = ("REML", "DL", "PM")
TRANSFORMS = ("logit", "freeman-tukey")
OVERALL = "All studies"
EPS = np.finfo(float).eps
