"""Relapse-free survival: survival data, Kaplan-Meier and competing-risks numbers that agree
with R, the figures.

Rooms, each importing only the ones above it in this list (no cycle, nothing imported back
up):

=================== ==========================================================================
file                open it to change
=================== ==========================================================================
``inputs.py``       the checks of time/event/cause/label arrays and R's ``timefix``
                    (:func:`aeq_times`).
``km.py``           the numbers: Kaplan-Meier (:func:`km_table`, :func:`km_fit`; the one
                    estimator of the package), confidence limits (log-log, log, plain), R's
                    median and quantiles, the estimates / summary / landmark / at-risk
                    tables. numpy, no matplotlib; why numpy and not lifelines is in its
                    docstring.
``summaries.py``    the (stratified) log-rank test (:func:`logrank_stratified`,
                    :func:`logrank`), restricted mean survival time (:func:`rmst`), median
                    follow-up by reverse Kaplan-Meier (:func:`median_followup`).
``competing.py``    Aalen-Johansen cumulative incidence of competing causes
                    (:func:`cumulative_incidence`) and Gray's test (:func:`gray_test`).
``interval.py``     Turnbull's estimate for interval-censored times (:func:`turnbull`).
``reconstruct.py``  individual data rebuilt from published curves (Guyot 2012) and their
                    self-check; refits with ``km.km_table``.
``data.py``         survival data in one layout from coded cases (treatment lines, censoring,
                    exclusions with reasons), individual patient data and reconstructed curves;
                    cohort statements ("disease-free up to 15 years").
``statements.py``  cohort statements: "X % at T" points with exact intervals, "up to N
                    years" ranges (:func:`cohort_statements`).
``methods.py``      the notebook's methods per curve: which curves may be compared
                    (:func:`comparisons`), log-rank and Gray tables, cumulative incidence,
                    RMST, median follow-up and Turnbull tables.
``text.py``         the numbers in words (CI method, tests and what they compared, medians,
                    follow-up, RMST, caveats).
``plot.py``         the KMunicate figure (:func:`plot_km`); tick steps and style from
                    :mod:`analysis.style`.
``cifplot.py``      the competing-risks figure (:func:`plot_cif`) with its KMunicate table.
=================== ==========================================================================

Every number is tested against R (``survival`` 3.5-3, ``cmprsk`` 2.2-11) on fixtures made by
the scripts in ``tests/r/``.

Times are in the requested ``time_unit`` (days, weeks, months, years; a month is 365.25/12 =
30.4375 days, :data:`analysis.timing.TIME_UNITS`); survival is a proportion (0-1).

Notebooks use the package as ``from analysis import survival as sv``: the names below are
re-exported here (``sv.km_fit``, ``sv.plot_km``, ``sv.survival_data``, ...), with the shared
:data:`TIME_UNITS` and the filter dialect (:func:`parse_filters`, :func:`apply_filters`) of
:mod:`analysis.select`.
"""

from analysis.select import apply_filters, parse_filters
from analysis.survival import reconstruct
from analysis.survival.data import (
    CASE_TIERS,
    EVENT_UNSPECIFIED,
    EXCLUDED_COLUMNS,
    SURVIVAL_COLUMNS,
    SURVIVAL_SOURCES,
    assign_curves,
    curve_context,
    survival_data,
    survival_from_cases,
    survival_from_ipd,
    survival_from_reconstructed,
)
from analysis.survival.km import (
    AT_RISK_COLUMNS,
    CI_METHODS,
    GROUP_COLUMNS,
    KM_ESTIMATES_COLUMNS,
    KM_LANDMARK_COLUMNS,
    KM_SUMMARY_COLUMNS,
    NOT_STATED,
    KMFit,
    KMGroup,
    at_risk_table,
    confidence_limits,
    group_labels,
    km_estimates,
    km_fit,
    km_landmarks,
    km_summary,
    km_table,
    r_median,
    r_quantile_time,
    to_time_unit,
)
from analysis.survival.competing import (
    CIF_COLUMNS,
    CONF_TYPES,
    GRAY_COLUMNS,
    cumulative_incidence,
    cumulative_incidence_by,
    gray_test,
)
from analysis.survival.inputs import aeq_times
from analysis.survival.interval import TURNBULL_COLUMNS, turnbull
from analysis.survival.summaries import (
    LOGRANK_COLUMNS,
    RMST,
    Logrank,
    MedianFollowup,
    logrank,
    logrank_stratified,
    median_followup,
    rmst,
    strata_values,
)
from analysis.survival.methods import (
    CIF_ESTIMATE_COLUMNS,
    CIF_TEST_COLUMNS,
    FOLLOWUP_COLUMNS,
    RMST_COLUMNS,
    TURNBULL_TABLE_COLUMNS,
    Comparison,
    cif_table,
    comparisons,
    followup_table,
    gray_table,
    imprecise,
    logrank_table,
    rmst_table,
    turnbull_intervals,
    turnbull_table,
)
from analysis.survival.cifplot import cause_label, cause_order, cif_at_risk, plot_cif
from analysis.survival.plot import ENDPOINT_ABBREVIATIONS, ENDPOINT_MARKERS, axis_max, default_ticks, plot_km
from analysis.survival.text import (
    COMPARISON_RULE,
    ci_text,
    evidence_statement,
    followup_text,
    logrank_text,
    median_text,
    rmst_text,
    turnbull_text,
)
from analysis.survival.statements import STATEMENT_COLUMNS, clopper_pearson, cohort_statements
from analysis.survival.reconstruct import CHECK_COLUMNS, Reconstruction, guyot, reconstruct_curves
from analysis.timing import TIME_UNITS

__all__ = [
    # data.py
    "SURVIVAL_SOURCES", "SURVIVAL_COLUMNS", "EXCLUDED_COLUMNS", "EVENT_UNSPECIFIED", "CASE_TIERS",
    "survival_from_cases", "survival_from_ipd", "survival_from_reconstructed", "survival_data",
    "assign_curves", "curve_context",
    # statements.py
    "STATEMENT_COLUMNS", "cohort_statements", "clopper_pearson",
    # km.py
    "CI_METHODS", "GROUP_COLUMNS", "NOT_STATED", "KMGroup", "KMFit", "group_labels", "km_table",
    "to_time_unit", "km_fit", "confidence_limits", "r_median", "r_quantile_time",
    "KM_ESTIMATES_COLUMNS", "KM_SUMMARY_COLUMNS", "KM_LANDMARK_COLUMNS", "AT_RISK_COLUMNS",
    "km_estimates", "km_summary", "km_landmarks", "at_risk_table",
    # summaries.py, competing.py, interval.py, inputs.py
    "LOGRANK_COLUMNS", "logrank", "logrank_stratified", "Logrank", "rmst", "RMST", "median_followup",
    "MedianFollowup", "strata_values", "CIF_COLUMNS", "GRAY_COLUMNS", "CONF_TYPES", "cumulative_incidence",
    "cumulative_incidence_by", "gray_test", "TURNBULL_COLUMNS", "turnbull", "aeq_times",
    # reconstruct.py
    "reconstruct", "CHECK_COLUMNS", "Reconstruction", "guyot", "reconstruct_curves",
    # methods.py
    "CIF_ESTIMATE_COLUMNS", "CIF_TEST_COLUMNS", "FOLLOWUP_COLUMNS", "RMST_COLUMNS",
    "TURNBULL_TABLE_COLUMNS", "Comparison", "comparisons", "logrank_table", "cif_table", "gray_table",
    "rmst_table", "followup_table", "turnbull_intervals", "turnbull_table", "imprecise",
    # text.py, plot.py
    "logrank_text", "ci_text", "median_text", "evidence_statement", "followup_text", "rmst_text",
    "turnbull_text", "COMPARISON_RULE", "axis_max", "default_ticks", "plot_km", "ENDPOINT_MARKERS", "ENDPOINT_ABBREVIATIONS",
    # cifplot.py
    "plot_cif", "cif_at_risk", "cause_order", "cause_label",
    # shared vocabulary, for notebooks
    "TIME_UNITS", "parse_filters", "apply_filters",
]
