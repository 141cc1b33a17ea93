"""Response and safety rates: per-study proportions, exact intervals, random-effects pooling.

Rooms (data -> numbers; the figures are in :mod:`analysis.forest`):

* ``vocab``     output columns (``rates.csv``, ``pooled_rates.csv``), method names
* ``study``     per-study proportions and intervals, case-report flags, labels
* ``glmm``      the random-intercept logistic model as lme4 fits it (deviance, PIRLS, Wald Q)
* ``meta``      the one implementation of the models: tau2 (REML, DL, PM), z / Hartung-Knapp
                CI, t / z prediction interval, GLMM, exact count, subgroup Q, leave-one-out,
                2x2 effect sizes (RR, OR, RD); checked against R in ``tests/test_pooling.py``
* ``metafor``   proportions: effect sizes, back-transforms, the dict API (``rma``,
                ``pool_proportions``) over ``meta``
* ``rules``     what may be pooled with what
* ``pool``      pooling per outcome and subgroup (GLMM by default, REML fallback); sensitivity;
                response categories
* ``explore``   test for subgroup differences, leave-one-out
* ``compare``   controlled studies: intervention vs control (RR, OR, RD) and their pools
* ``text``      the same in sentences for the report

Conventions (all proportions are fractions 0-1; ``i2`` is a percentage 0-100 as in metafor):

* **Per-study intervals** come from ``statsmodels.stats.proportion.proportion_confint``:
  ``clopper-pearson`` (exact, statsmodels' ``beta``; equals R ``binom.test``) or ``wilson``
  (score interval without continuity correction; equals R ``prop.test(correct=FALSE)``).
  The normal (Wald) approximation is never used: it collapses to a zero-width interval at 0/n.
* **Rows without counts.** A row with a proportion and a total but no event count (a share
  such as "three out of every four of over 200") gets an *approximate, derived* interval:
  ``events = round(proportion * total)`` out of the coded total; when the total is a lower
  bound ("over 200") its lower bound is used, which gives the widest, most conservative
  interval. The derived count is kept in ``events_used`` and explained in ``note``; the
  coded ``events`` stay empty and the input data are never changed. A row with only a
  proportion, or only a duration, is listed without an interval and ``note`` says why.
* **Case reports** (design ``case_report``; or at most ``case_report_max_n`` patients in a
  case series or a row of unreported design) are flagged ``is_case_report`` and never pooled
  with cohorts (see :func:`is_case_report`).
* **Pooling** (:func:`pool_rates`): by default the **GLMM** of R meta for proportions, a
  random-intercept logistic model fitted by maximum likelihood exactly as
  ``metafor::rma.glmm(measure="PLO")`` (lme4, 7-point adaptive Gauss-Hermite quadrature); it
  uses the counts themselves, so 0/n and n/n studies need no correction. It has no
  inverse-variance study weights (R meta's ``w.random`` is NA), so a GLMM pool's forest rows
  have none. Where it does not converge the pool falls back to REML with the reason in
  ``warning``. Otherwise an inverse-variance model as R metafor (``escalc`` + ``rma.uni`` +
  ``predict``): effect sizes ``PLO`` (logit; 0/n and n/n studies get 1/2 added to events
  and non-events, ``add=1/2, to="only0"``) or ``PFT`` (Freeman-Tukey double arcsine
  ``(asin(sqrt(x/(n+1))) + asin(sqrt((x+1)/(n+1))))/2`` with variance ``1/(4n+2)``, no
  correction), back-transformed with ``plogis`` or metafor's ``transf.ipft.hm`` (at the
  harmonic mean of the study sizes); tau2 by REML, DerSimonian-Laird or Paule-Mandel with
  metafor's stopping rules (see :mod:`analysis.rates.meta`). CI: ``z`` (default) or
  Hartung-Knapp; prediction interval: t with k - 1 df (default, R meta's) or z (metafor's).
  Q is Cochran's Q (the GLMM: metafor's likelihood-ratio test ``QE.LRT``; its Wald test
  ``QE.Wld``, R meta's Q, collapses towards 0 with 0/n or n/n studies) with k - 1 degrees of
  freedom; ``I2 = 100 * tau2 / (tau2 + v_typical)`` and ``H2 = tau2 / v_typical + 1`` with
  ``v_typical = (k - 1) / (sum(w) - sum(w^2) / sum(w))``, ``w = 1/v`` (metafor's definition,
  for every estimator). Every number is checked against R (``tests/r``).
"""

from analysis.rates.compare import (COMPARISON_COLUMNS, POOLED_COMPARISON_COLUMNS, comparison_placement,
                                    comparisons, pool_comparisons)
from analysis.rates.explore import (LEAVE_ONE_OUT_COLUMNS, SUBGROUP_TEST_COLUMNS, leave_one_out_table,
                                    subgroup_tests)
from analysis.rates.metafor import (back_transform, escalc_prop, pool_proportions, rma,
                                    transf_ipft_hm, transf_pft)
from analysis.rates.pool import (PoolingResult, exact_count, fit_pool, group_labels, overall_label,
                                 pool_rates, response_categories, sensitivity_table)
from analysis.rates.rules import eligibility
from analysis.rates.study import is_case_report, proportion_ci, study_label, study_rates
from analysis.rates.text import evidence_summary, methods_text, safety_lines, statement
from analysis.rates.vocab import (CI_METHODS, EFFECT_MEASURES, OVERALL, PI_METHODS, POOL_METHODS,
                                  POOLED_CI, POOLED_COLUMNS, RATES_COLUMNS, RMA_METHODS, TRANSFORMS)
from analysis.schemas import evidence_rank
from analysis.select import apply_filters

__all__ = [
    "COMPARISON_COLUMNS", "POOLED_COMPARISON_COLUMNS", "comparison_placement", "comparisons", "pool_comparisons",
    "LEAVE_ONE_OUT_COLUMNS", "SUBGROUP_TEST_COLUMNS", "leave_one_out_table", "subgroup_tests",
    "CI_METHODS", "EFFECT_MEASURES", "OVERALL", "PI_METHODS", "POOL_METHODS", "POOLED_CI", "POOLED_COLUMNS",
    "RATES_COLUMNS", "RMA_METHODS", "TRANSFORMS",
    "PoolingResult", "apply_filters", "exact_count", "fit_pool", "group_labels", "overall_label", "back_transform",
    "eligibility", "escalc_prop",
    "evidence_rank", "evidence_summary", "methods_text", "is_case_report", "pool_proportions", "pool_rates",
    "proportion_ci", "response_categories", "rma", "safety_lines", "sensitivity_table",
    "statement", "study_label", "study_rates", "transf_ipft_hm", "transf_pft",
]
