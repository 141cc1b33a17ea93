"""The words of the single-arm forest plots' footnotes (:mod:`analysis.forest`) for the pooling
method a run used: "area ∝ random-effects weight" is true of an inverse-variance pool (REML,
DL, PM), not of the GLMM, which gives the studies no weights (R meta's ``w.random`` is NA) and
whose squares are drawn all the same size; the diamonds' line names the method, the CI and the
prediction-interval rule.
"""

from __future__ import annotations

SQUARES = "(area ∝ random-effects weight within its subgroup; colour = evidence level)"
DIAMONDS = "Diamonds: random-effects pooled proportion with 95% CI; red bar: 95% prediction interval for a new study."
METHOD_WORDS = {"GLMM": "GLMM, random-effects logistic model", "REML": "REML", "DL": "DerSimonian-Laird",
                "PM": "Paule-Mandel"}


def squares_text(methods: set[str]) -> str:
    """What a square's size means when the pools of a figure used ``methods``."""
    weighted = methods & {"REML", "DL", "PM"}
    if "GLMM" in methods and weighted:
        return ("(area ∝ random-effects weight in a REML, DL or PM pool; all the same size in a GLMM pool, which gives "
                "the studies no weights; colour = evidence level)")
    if "GLMM" in methods:
        return "(all the same size: the GLMM gives the studies no weights; colour = evidence level)"
    return SQUARES


def diamonds_text(settings: dict, methods: set[str]) -> str:
    """The pooled rows' method, CI and prediction-interval rule in one line."""
    level = f"{100 * (1 - settings.get('alpha', 0.05)):g}%"
    used = [m for m in ("GLMM", "REML", "DL", "PM") if m in methods] or [settings.get("method", "GLMM")]
    ci = settings.get("pooled_ci", "z")
    ci = ("t, k − 1 df" if "GLMM" in used else "Hartung-Knapp") if ci == "hartung-knapp" else "z"
    pi = "t, k − 1 df" if settings.get("pi_method", "t") == "t" else "z"
    fallback = " (REML where the GLMM did not converge)" if used[0] == "GLMM" and len(used) > 1 else ""
    return (f"Diamonds: pooled proportion ({METHOD_WORDS[used[0]]}{fallback}) with {level} CI ({ci}); red bar: "
            f"{level} prediction interval for a new study ({pi}).")
