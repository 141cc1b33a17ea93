"""Response and safety rates: per-study proportions, exact intervals, random-effects pooling.

Rooms (data -> numbers; the figures are in :mod:`analysis.forest`):

* ``vocab``     output columns (``rates.csv``, ``pooled_rates.csv``), method names
* ``study``     per-study proportions and intervals, case-report flags, labels
* ``metafor``   effect sizes, tau2 (REML, DL, PM), random-effects model, back-transforms
* ``pool``      what is pooled with what, per outcome and subgroup; sensitivity; categories
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
* **Pooling** follows R metafor (``escalc`` + ``rma.uni`` + ``predict``) with its defaults:
  effect sizes ``PLO`` (logit; 0/n and n/n studies get 1/2 added to events and non-events,
  ``add=1/2, to="only0"``) or ``PFT`` (Freeman-Tukey double arcsine
  ``(asin(sqrt(x/(n+1))) + asin(sqrt((x+1)/(n+1))))/2`` with variance ``1/(4n+2)``, no
  correction), back-transformed with ``plogis`` or metafor's ``transf.ipft.hm`` (at the
  harmonic mean of the study sizes). tau2 by REML (Fisher scoring from the Hedges start
  value, stopping when the change is below ``threshold=1e-5``, with metafor's check against
  the likelihood at tau2 = 0), DerSimonian-Laird (truncated at 0) or Paule-Mandel (Brent's
  root finder on ``[0, tau2_max]`` with ``tol = eps**0.25``, as R's ``uniroot``). The
  stopping rules are metafor's, so results equal what ``rma()`` prints with its defaults;
  pass smaller ``threshold``/``tol`` for the exact root. CI and prediction interval use the
  normal quantile (metafor ``test="z"``); the prediction interval is
  ``mu +/- z * sqrt(se^2 + tau2)``. Q is the fixed-effect Cochran Q with k - 1 degrees of
  freedom; ``I2 = 100 * tau2 / (tau2 + v_typical)`` and ``H2 = tau2 / v_typical + 1`` with
  ``v_typical = (k - 1) / (sum(w) - sum(w^2) / sum(w))``, ``w = 1/v`` (metafor's definition,
  for every estimator).
* **What statsmodels provides and what it does not.** ``combine_effects`` supplies Cochran's
  Q and the untruncated DerSimonian-Laird moment estimate, which are used here. It has no
  REML estimator, does not truncate DL's tau2 at 0, stops Paule-Mandel on a different rule
  from metafor, computes I2 from Q rather than from tau2, has no prediction interval and no
  Freeman-Tukey transform; those parts are written here and tested against metafor.
"""

from analysis.rates.metafor import (back_transform, escalc_prop, pool_proportions, rma,
                                    transf_ipft_hm, transf_pft)
from analysis.rates.pool import (PoolingResult, exact_count, group_labels, overall_label, pool_rates,
                                 response_categories, sensitivity_table)
from analysis.rates.rules import eligibility
from analysis.rates.study import is_case_report, proportion_ci, study_label, study_rates
from analysis.rates.text import evidence_summary, safety_lines, statement
from analysis.rates.vocab import (CI_METHODS, OVERALL, POOL_METHODS, POOLED_COLUMNS, RATES_COLUMNS,
                                  TRANSFORMS)
from analysis.schemas import evidence_rank
from analysis.select import apply_filters

__all__ = [
    "CI_METHODS", "OVERALL", "POOL_METHODS", "POOLED_COLUMNS", "RATES_COLUMNS", "TRANSFORMS",
    "PoolingResult", "apply_filters", "exact_count", "group_labels", "overall_label", "back_transform", "eligibility", "escalc_prop",
    "evidence_rank", "evidence_summary", "is_case_report", "pool_proportions", "pool_rates",
    "proportion_ci", "response_categories", "rma", "safety_lines", "sensitivity_table",
    "statement", "study_label", "study_rates", "transf_ipft_hm", "transf_pft",
]
