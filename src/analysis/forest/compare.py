"""Forest plot of controlled comparisons (intervention vs control), in the house look of
:mod:`analysis.forest.rates`.

One panel per outcome, each with its own axis, because the side that favours the
intervention depends on the outcome: for a response (higher is better,
:data:`analysis.schemas.HIGHER_IS_BETTER`) a risk ratio above 1 favours the intervention, for
an adverse event or a relapse one below 1 does. Risk and odds ratios are drawn on a log axis
(a halving and a doubling are equally far from 1), risk differences on a linear one; the line
of no effect is drawn at 1 (0). A row per comparison: label with time point, events/N of
both arms, a square (colour = evidence level; area proportional to its weight where the
outcome was pooled, else all the same; hollow and dashed when the figures are approximate)
and the interval, the estimate and interval in figures on the right. A pooled comparison is
a diamond with its prediction interval (red) and a heterogeneity line. Comparisons without
counts are listed with the two proportions and no interval.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.schemas import HIGHER_IS_BETTER, evidence_words
from analysis.style import EVIDENCE_COLORS, OKABE_ITO, clip

MEASURE_LABELS = {"RR": "Risk ratio", "OR": "Odds ratio", "RD": "Risk difference"}
AXIS_LABELS = {"RR": "Risk ratio, intervention / control (log scale)",
               "OR": "Odds ratio, intervention / control (log scale)",
               "RD": "Risk difference, intervention − control"}
ROW_IN = 0.26
PI_COLOR = OKABE_ITO["vermillion"]
LOG_TICKS = (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 1000)
X_LABEL, X_INT, X_CTL, AX_LEFT, AX_RIGHT, X_RIGHT, X_WEIGHT = 0.01, 0.375, 0.455, 0.49, 0.745, 0.925, 0.985


def favours(outcome: str, measure: str = "RR") -> tuple[str, str]:
    """``(left, right)`` labels under the axis: which arm the values on each side of the line
    of no effect favour. Values above 1 (RR, OR) or 0 (RD) mean more events with the
    intervention; that favours it when a higher share is better."""
    better = HIGHER_IS_BETTER.get(outcome)
    if better is None:
        return "fewer events with intervention", "more events with intervention"
    return ("favours control", "favours intervention") if better else ("favours intervention", "favours control")


def _fmt(v: float, measure: str) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    if measure == "RD":
        return f"{v:.2f}".replace("-", "−")
    return f"{v:.0f}" if v >= 100 else f"{v:.2f}" if v >= 0.01 else f"{v:.3f}"


def _interval(est, lo, hi, measure) -> str:
    return f"{_fmt(est, measure)} [{_fmt(lo, measure)}; {_fmt(hi, measure)}]"


def _counts(e, n) -> str:
    return f"{int(e)}/{int(n)}" if pd.notna(e) and pd.notna(n) else "–"


def _limits(values, measure):
    vals = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if measure == "RD":
        m = max(0.1, float(np.max(np.abs(vals))) if len(vals) else 0.1)
        m = min(1.0, math.ceil(m * 10 / 1.05) / 10 + 0.1)
        return -m, m
    vals = vals[vals > 0]
    m = max(math.log10(2.5), float(np.max(np.abs(np.log10(vals)))) if len(vals) else 0.0)
    m = min(3.0, m * 1.08)
    return 10 ** -m, 10 ** m


def _panel_rows(outcome, g, pooled, placement, subgroup_by):
    """The rows of one outcome's panel: (kind, dict)."""
    rows = []
    groups = [("", g)] if not subgroup_by else [(str(k), part) for k, part in g.groupby(g["_group"], sort=True)]
    for name, part in groups:
        if subgroup_by:
            rows.append(("header", {"label": f"{subgroup_by.replace('_', ' ')}: {name}"}))
        p = pooled[(pooled["outcome"] == outcome) & (pooled["subgroup"] == (name or "All studies"))] \
            if len(pooled) else pooled
        p = p.iloc[0] if len(p) else None
        members = set(str(p["comparisons"]).split("; ")) if p is not None else set()
        w = {}
        if p is not None:
            m = part[part["comparison_id"].isin(members)]
            inv = 1 / (m["vi"].astype(float) + float(p["tau2"]))
            w = dict(zip(m["comparison_id"], 100 * inv / inv.sum()))
        for r in part.to_dict("records"):
            rows.append(("study", {**r, "weight": w.get(r["comparison_id"], math.nan)}))
            rows.append(("arms", {"label": _arms_text(r)}))
            why = placement.get(r["comparison_id"], "") if placement else ""
            if p is not None and why and r["comparison_id"] not in members:
                rows.append(("note", {"label": f"not pooled: {why}"}))
        if p is not None:
            rows.append(("pooled", dict(p)))
            rows.append(("pi", dict(p)))
            rows.append(("het", dict(p)))
    return rows


def _arms_text(r, width: int = 92) -> str:
    """The second line of a comparison: which arms (shortened if need be), at which time
    point and on what evidence (never shortened: two time points of one trial must differ)."""
    def arm(v, default):
        return default if v is None or (not isinstance(v, str) and pd.isna(v)) or not str(v).strip() else str(v)

    tail = ""
    v, u = r.get("time_value"), r.get("time_unit")
    if v is not None and pd.notna(v) and isinstance(u, str):
        tail += f", at {float(v):g} {u}"
    tail += f" · {evidence_words(r.get('evidence_level'))}"
    arms = f"{arm(r.get('arm_int'), 'intervention')} vs {arm(r.get('arm_ctl'), 'control')}"
    return clip(arms, max(20, width - len(tail))) + tail


def comparison_forest(table: pd.DataFrame, pooled: pd.DataFrame | None = None, *, placement=None,
                      subgroup_by: str | None = None, min_studies: int = 3, title: str | None = None):
    """One figure: a panel per outcome of the :func:`analysis.rates.comparisons` ``table``,
    with the pooled rows of :func:`analysis.rates.pool_comparisons` (``pooled``) where there
    are any. ``placement`` (optional): :func:`analysis.rates.comparison_placement`, so a row
    left out of its outcome's pool says why."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FixedLocator, NullLocator
    from matplotlib.transforms import blended_transform_factory

    pooled = pooled if pooled is not None else pd.DataFrame(columns=["outcome", "subgroup"])
    measure = str(table["measure"].iloc[0]) if len(table) else "RR"
    title = title or f"Controlled comparisons: {MEASURE_LABELS[measure].lower()}, intervention vs control"
    why = dict(zip(table["comparison_id"], placement["not_pooled_reason"])) if placement is not None else {}
    from analysis.forest.legend import figure_legend
    from analysis.rates import group_labels

    # the labels pool_comparisons used (trimmed, grouped case-insensitively), so diamonds find their rows
    t = table.assign(_group=group_labels(table[subgroup_by]) if subgroup_by and subgroup_by in table.columns else "")
    panels = [(o, _panel_rows(o, g, pooled, why, subgroup_by if subgroup_by in t.columns else None))
              for o, g in t.groupby("outcome", sort=False)]
    values = [v for _, rows in panels for kind, r in rows if kind in ("study", "pooled", "pi")
              for v in ((r.get("estimate"), r.get("ci_lower"), r.get("ci_upper")) if kind != "pi"
                        else (r.get("pi_lower"), r.get("pi_upper")))]
    lo, hi = _limits(values, measure)
    null = 0.0 if measure == "RD" else 1.0
    axis_in, title_in = 0.95, 0.55
    notes = _footnotes(pooled, measure, min_studies)
    notes_in = 0.2 + 0.17 * len(notes) + 0.3
    def drawn(rows):
        return any(kind in ("study", "pooled") and pd.notna(r.get("estimate")) for kind, r in rows)

    heights = [(len(rows) + 2) * ROW_IN + (axis_in if drawn(rows) else 0.1) for _, rows in panels] or [1.0]
    height = title_in + sum(heights) + notes_in
    fig = plt.figure(figsize=(11.0, height))
    fig.text(X_LABEL, 1 - 0.28 / height, title, fontsize=12, fontweight="bold", ha="left", va="center")
    top = height - title_in
    fs = 8.5
    legend = {}
    for (outcome, rows), h in zip(panels, heights):
        n = len(rows) + 2
        ax = fig.add_axes([AX_LEFT, (top - n * ROW_IN) / height, AX_RIGHT - AX_LEFT, n * ROW_IN / height])
        top -= h
        ax.set_ylim(n - 1.5, -1.5)
        ax.set_xscale("linear" if measure == "RD" else "log")
        ax.set_xlim(lo, hi)
        if measure != "RD":
            ticks = [v for v in LOG_TICKS if lo <= v <= hi]
            if len(ticks) > 9:  # a wide axis: powers of ten only
                ticks = [v for v in ticks if math.log10(v) == round(math.log10(v))]
            ax.xaxis.set_major_locator(FixedLocator(ticks))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.tick_params(axis="x", labelsize=fs)
        ax.set_yticks([])
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.set_facecolor("none")
        if drawn(rows):
            ax.plot([null, null], [-0.5, n - 1.5], color=OKABE_ITO["black"], lw=0.8, zorder=1)
            ax.set_xlabel(AXIS_LABELS[measure], fontsize=fs)
            left, right = favours(outcome, measure)
            for text, dx, ha in ((f"← {left}", -6, "right"), (f"{right} →", 6, "left")):
                ax.annotate(text, xy=(null, 0), xycoords=("data", "axes fraction"), xytext=(dx, -30),
                            textcoords="offset points", ha=ha, va="top", fontsize=fs, style="italic", color="0.2")
        else:  # nothing to draw: no axis that suggests a scale
            ax.xaxis.set_visible(False)
            ax.spines["bottom"].set_visible(False)
        tr = blended_transform_factory(fig.transFigure, ax.transData)
        put = dict(transform=tr, fontsize=fs, va="center")
        name = OUTCOME_NAMES.get(outcome, str(outcome).replace("_", " ").capitalize())
        heads = [(X_LABEL, name, "left"), (X_INT, "Intervention", "right"), (X_CTL, "Control", "right"),
                 (X_RIGHT, f"{measure} [95% CI]", "right")]
        if any(kind == "study" and math.isfinite(r["weight"]) for kind, r in rows):
            heads.append((X_WEIGHT, "Weight", "right"))
        for x, text, ha in heads:
            ax.text(x, -1, text, ha=ha, fontweight="bold", **{**put, "fontsize": fs + (1.5 if x == X_LABEL else 0)})
        ax.plot([X_LABEL, X_WEIGHT], [-0.5, -0.5], transform=tr, color=OKABE_ITO["black"], lw=0.6, clip_on=False)
        wmax = max([r["weight"] for kind, r in rows if kind == "study" and math.isfinite(r["weight"])] or [1.0])
        for y, (kind, r) in enumerate(rows):
            if kind == "header":
                ax.text(X_LABEL, y, r["label"], ha="left", fontweight="bold", **put)
            elif kind == "study":
                ax.text(X_LABEL + 0.005, y, clip(str(r["study"]), 52), ha="left", **put)
                ax.text(X_INT, y, _counts(r["events_int"], r["total_int"]), ha="right", **put)
                ax.text(X_CTL, y, _counts(r["events_ctl"], r["total_ctl"]), ha="right", **put)
                color = EVIDENCE_COLORS.get(str(r.get("evidence_level")), OKABE_ITO["grey"])
                if pd.notna(r["estimate"]):
                    legend.setdefault(color, set()).add(evidence_words(r.get("evidence_level")))
                    ax.text(X_RIGHT, y, _interval(r["estimate"], r["ci_lower"], r["ci_upper"], measure),
                            ha="right", **put)
                    if math.isfinite(r["weight"]):
                        ax.text(X_WEIGHT, y, f"{r['weight']:.1f}%", ha="right", **put)
                    cl, ch = max(r["ci_lower"], lo), min(r["ci_upper"], hi)
                    ax.plot([cl, ch], [y, y], color=OKABE_ITO["black"], lw=1.0, ls=(0, (3, 2)) if r["approximate"]
                            else "-", clip_on=False, zorder=2)
                    if r["ci_lower"] < lo:  # the interval runs on beyond the axis
                        ax.plot([lo], [y], marker="<", color=OKABE_ITO["black"], ms=4, clip_on=False)
                    if r["ci_upper"] > hi:
                        ax.plot([hi], [y], marker=">", color=OKABE_ITO["black"], ms=4, clip_on=False)
                    size = 40.0 if not math.isfinite(r["weight"]) else max(12.0, 140.0 * r["weight"] / wmax)
                    ax.scatter([min(max(r["estimate"], lo), hi)], [y], s=size, marker="s",
                               facecolors="white" if r["approximate"] else color,
                               edgecolors=color if r["approximate"] else OKABE_ITO["black"], linewidths=0.6,
                               zorder=3, clip_on=False)
                else:
                    pi_, pc = r.get("proportion_int"), r.get("proportion_ctl")
                    shown = (f"{100 * pi_:.0f}% vs {100 * pc:.0f}% reported"
                             if pd.notna(pi_) and pd.notna(pc) else "no counts")
                    ax.text(X_RIGHT, y, shown, ha="right", color="0.3", **put)
                    ax.text(0.02, y, "no counts in the source: no interval", ha="left", va="center",
                            fontsize=fs - 1, style="italic", color="0.3", transform=ax.get_yaxis_transform())
            elif kind == "pooled":
                label = "Pooled" + (f": {r['subgroup']}" if subgroup_by else "") + f" (k = {int(r['k'])})"
                ax.text(X_LABEL, y, label, ha="left", fontweight="bold", **put)
                ax.text(X_RIGHT, y, _interval(r["estimate"], r["ci_lower"], r["ci_upper"], measure), ha="right",
                        fontweight="bold", **put)
                ax.fill([r["ci_lower"], r["estimate"], r["ci_upper"], r["estimate"]], [y, y - 0.36, y, y + 0.36],
                        facecolor=OKABE_ITO["grey"], edgecolor=OKABE_ITO["black"], lw=0.9, zorder=3)
            elif kind == "pi":
                ax.text(X_LABEL + 0.005, y, "Prediction interval", ha="left", color="0.2", **put)
                ax.text(X_RIGHT, y, f"[{_fmt(r['pi_lower'], measure)}; {_fmt(r['pi_upper'], measure)}]", ha="right",
                        color="0.2", **put)
                ax.fill_between([max(r["pi_lower"], lo), min(r["pi_upper"], hi)], y - 0.14, y + 0.14, color=PI_COLOR,
                                alpha=0.85, zorder=2, lw=0)
            elif kind == "het":
                pval = "p < 0.001" if r["q_p_value"] < 0.001 else f"p = {r['q_p_value']:.3f}"
                ax.text(X_LABEL + 0.005, y, f"Heterogeneity: τ² = {r['tau2']:.3g} ({r['method']}), "
                        f"I² = {r['i2']:.0f}%, Q = {r['q']:.2f} (df = {int(r['k']) - 1}), {pval}", ha="left",
                        fontsize=fs - 0.5, style="italic", color="0.2", transform=tr, va="center")
            elif kind == "arms":
                ax.text(X_LABEL + 0.015, y - 0.12, r["label"], ha="left", fontsize=fs - 1, style="italic",
                        color="0.3", transform=tr, va="center")
            elif kind == "note":
                ax.text(X_LABEL + 0.02, y, r["label"], ha="left", fontsize=fs - 1, style="italic", color="0.3",
                        transform=tr, va="center")
    handles = [Patch(facecolor=c, edgecolor="black", lw=0.5, label=" / ".join(sorted(v))) for c, v in legend.items()]
    if any(kind == "study" and r["approximate"] for _, rows in panels for kind, r in rows):
        handles.append(Line2D([], [], marker="s", ls=(0, (3, 2)), color="black", mfc="white", label="approximate"))
    if len(pooled):
        handles += [Patch(facecolor=OKABE_ITO["grey"], edgecolor="black", label="pooled estimate [CI]"),
                    Patch(facecolor=PI_COLOR, label="prediction interval")]
    if handles:
        figure_legend(fig, handles, loc="upper left", bbox_to_anchor=(X_LABEL, (notes_in - 0.05) / height), ncol=4,
                      fontsize=fs - 0.5, frameon=False, handlelength=1.4)
    for i, note in enumerate(notes):
        fig.text(X_LABEL, (0.05 + 0.17 * (len(notes) - 1 - i)) / height, note, fontsize=fs - 1, color="0.25",
                 ha="left", va="bottom")
    return fig


OUTCOME_NAMES = {
    "response": "Response", "complete_response": "Complete response", "partial_response": "Partial response",
    "relapse_free": "Relapse-free", "disease_free": "Disease-free", "adverse_event": "Adverse events",
    "severe_adverse_event": "Severe adverse events", "treatment_related_death": "Treatment-related deaths",
    "overall_survival": "Overall survival", "event_free_survival": "Event-free survival",
}


def _footnotes(pooled: pd.DataFrame, measure: str, min_studies: int) -> list[str]:
    scale = "Wald, on the log scale" if measure != "RD" else "Wald"
    notes = [f"Squares: {MEASURE_LABELS[measure].lower()} of each intervention arm vs the control arm of its study, "
             f"with its 95% CI ({scale}; 1/2 added to every cell of a table with a zero cell, as metafor).",
             f"Pooled where at least {min_studies} controlled studies qualify (one comparison per study; never "
             "secondary summaries or case reports)." + ("" if len(pooled) else " No outcome has that many: none is pooled.")]
    if len(pooled):
        p = pooled.iloc[0]
        ci = "Hartung-Knapp" if p["pooled_ci"] == "hartung-knapp" else "z"
        notes.append(f"Diamond: random-effects pool ({p['method']}), 95% CI by {ci}; red bar: 95% prediction interval "
                     f"({'t, k − 1 df' if p['pi_method'] == 't' else 'z'}).")
    return notes
