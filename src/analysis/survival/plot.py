"""The survival figure and its sentences: a KMunicate-style Kaplan-Meier plot with at-risk
table, medians, landmarks, log-rank and cohort statements, and the same numbers in words for
captions and the notebook text.

The top room of :mod:`analysis.survival`: it reads fits and tables made by :mod:`.km` (and
cohort statements made by :mod:`.data`) and computes nothing of its own beyond the axis
ticks. Times are in the fit's ``time_unit`` and are printed with it; survival is drawn and
written as a percentage. Colours, matplotlib settings (:data:`analysis.style.RC`, applied to
this figure only, with ``plt.rc_context``) and the time-axis steps
(:data:`analysis.style.TICK_STEPS_SURVIVAL`) come from :mod:`analysis.style`. matplotlib is
imported inside :func:`plot_km`, on the first figure, so importing the package stays light.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd

from analysis.schemas import evidence_words
from analysis.style import OKABE_ITO, RC, TICK_STEPS_SURVIVAL, group_colors
from analysis.survival.km import KMFit, _text, at_risk_table, km_landmarks, km_summary
from analysis.survival.summaries import logrank

# --------------------------------------------------------------------------- sentences


def logrank_text(fit: KMFit, table: pd.DataFrame | None = None) -> str:
    """The log-rank result in words, naming the test and the number of groups."""
    k = len(fit.groups)
    if k < 2:
        return "Log-rank test: not done (one group)"
    table = logrank(fit) if table is None else table
    if table.empty:
        return f"Log-rank test, {k} groups: not computable (no relapses or deaths to compare)"
    r = table.iloc[0]
    p = r["p_value"]
    p_text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    return f"Log-rank test, {k} groups: chi-squared = {r['statistic']:.2f}, df = {int(r['df'])}, {p_text}"


def ci_text(fit: KMFit) -> str:
    """The confidence-interval method in words, for figures and captions."""
    words = {"log-log": "log-log", "log": "log", "plain": "plain (linear)"}[fit.ci_method]
    return f"{fit.conf_level:.0%} pointwise CI: {words} transform, Greenwood variance"


def median_text(fit: KMFit, summary: pd.DataFrame | None = None, digits: int = 1) -> list[str]:
    """One sentence per group giving the median and its CI, or saying it is not reached."""
    summary = km_summary(fit) if summary is None else summary
    out = []
    for _, r in summary.iterrows():
        if np.isnan(r["median"]):
            out.append(f"{r['group']}: median not reached ({r['events']} event(s) in {r['n']})")
            continue
        lo = "not reached" if np.isnan(r["median_ci_lower"]) else f"{r['median_ci_lower']:.{digits}f}"
        hi = "not reached" if np.isnan(r["median_ci_upper"]) else f"{r['median_ci_upper']:.{digits}f}"
        out.append(f"{r['group']}: median {r['median']:.{digits}f} {fit.time_unit} "
                   f"({fit.conf_level:.0%} CI {lo} to {hi})")
    return out


def evidence_statement(fit: KMFit, summary: pd.DataFrame | None = None) -> str:
    """Plain-language caveats for the notebook: medians not reached, thin data, case reports."""
    summary = km_summary(fit) if summary is None else summary
    n = int(summary["n"].sum()) if len(summary) else 0
    events = int(summary["events"].sum()) if len(summary) else 0
    parts = [f"{n} treatment line(s) or patient(s) in {len(fit.groups)} group(s), {events} relapse(s) or death(s)."]
    if len(summary) == 0:
        return "No survival data to analyse."
    if summary["median"].isna().all():
        parts.append("No median relapse-free survival is reached in any group: the curves never "
                     "fall to 50%.")
    levels = {lvl for g in fit.groups for lvl in g.evidence_levels}
    if levels & {"case_report", "case_series", "anecdote", "secondary_summary"} or n < 20:
        parts.append("Case reports and small series are selected, mostly favourable, stories: "
                     "they describe what happened to these patients and cannot support inference "
                     "about how often or how long remission lasts.")
    tiny = [g for g, m in zip(fit.groups, summary["median"]) if not np.isnan(m) and g.n < 10]
    for g in tiny:
        parts.append(f"The 'median' of {g.label} rests on {g.n} line(s) or patient(s) and is "
                     "not a meaningful estimate.")
    if any(g.reconstructed for g in fit.groups):
        parts.append("Curves marked 'reconstructed' are rebuilt from published figures "
                     "(Guyot et al. 2012), not observed patient data.")
    return " ".join(parts)


# --------------------------------------------------------------------------- figure


def axis_max(fit: KMFit, statements: pd.DataFrame | None = None) -> float:
    """Right end of the time axis: the longest follow-up or cohort statement (at least 1)."""
    xmax = max((g.time[-1] for g in fit.groups if len(g.time)), default=0.0)
    if statements is not None and len(statements):
        xmax = max(xmax, float(np.nanmax(statements["time"].astype(float))))
    return float(xmax) or 1.0


def default_ticks(fit: KMFit, xmax: float | None = None, n: int = 8) -> np.ndarray:
    """Tick times from 0 to the longest follow-up (or ``xmax``), at most ``n + 1`` of them,
    on steps natural for the unit (months: 3, 6, 12, 24 ...)."""
    if xmax is None:
        xmax = max((g.time[-1] for g in fit.groups if len(g.time)), default=1.0)
    xmax = max(float(xmax), 1e-9)
    steps = TICK_STEPS_SURVIVAL.get(fit.time_unit, (1, 2, 5, 10))
    step = next((s for s in steps if xmax / s <= n), None)
    if step is None:
        step = 10 ** math.ceil(math.log10(xmax / n))
    return np.arange(0, xmax * 1.0001 + step * 1e-9, step, dtype=float)


def plot_km(fit: KMFit, *, landmarks=None, ticks=None, statements: pd.DataFrame | None = None,
            title: str | None = None, anchor: str = "anchor stem-cell therapy",
            show_ci: bool = True, max_censor_ticks: int = 500, at_risk: pd.DataFrame | None = None,
            summary: pd.DataFrame | None = None, logrank_table: pd.DataFrame | None = None):
    """A Kaplan-Meier figure following the KMunicate recommendations (Morris et al. 2019).

    Step curves with shaded confidence bands (method written on the figure), censor ticks,
    a table of numbers at risk, censored and with the event (cumulative) aligned with the
    time ticks below the axis, median lines where reached (otherwise "median not reached"
    in words), landmark values, the log-rank result naming the test and the number of
    groups, reconstructed curves dashed and labelled, the evidence level in the legend,
    and cohort summary statements drawn as annotated ranges in their own panel.
    Returns the matplotlib figure.

    The figure is built with the project's settings (:data:`analysis.style.RC`, in a
    ``plt.rc_context``) and leaves the caller's matplotlib settings as they were. Saving
    reads the settings in force then (dpi, SVG text): call :func:`analysis.style.apply_style`
    once first, as the notebooks do, for the project's files.
    """
    import matplotlib.pyplot as plt  # heavy: loaded with the first figure, not with the package

    with plt.rc_context(RC):  # the project's style for this figure only; the caller's settings stay
        unit = fit.time_unit
        groups = fit.groups
        statements = statements if statements is not None and len(statements) else None
        xmax = axis_max(fit, statements)
        ticks = default_ticks(fit, xmax) if ticks is None else np.asarray(ticks, dtype=float)
        at_risk = at_risk_table(fit, ticks) if at_risk is None else at_risk
        summary = km_summary(fit) if summary is None else summary
        colors = group_colors([g.label for g in groups])

        n_table_rows = 4 * len(groups)
        n_stmt = 0 if statements is None else len(statements)
        n_land = 0 if landmarks is None else len(landmarks) * len(groups)
        n_text = max(4 + len(groups), n_land + 1)
        heights = [5.5] + ([0.45 * n_stmt + 0.3] if n_stmt else []) + [0.2 * n_table_rows + 0.4,
                                                                        0.16 * n_text + 0.2]
        fig = plt.figure(figsize=(10, sum(heights) + 0.4 * len(groups) + 0.8), layout="constrained")
        gs = fig.add_gridspec(len(heights), 1, height_ratios=heights)
        ax = fig.add_subplot(gs[0])
        stmt_ax = fig.add_subplot(gs[1], sharex=ax) if n_stmt else None
        tab_ax = fig.add_subplot(gs[-2], sharex=ax)
        text_ax = fig.add_subplot(gs[-1])
        text_ax.axis("off")

        handles = []
        for g in groups:
            color = colors[g.label]
            style = "--" if g.reconstructed else "-"
            x = np.concatenate([[0.0], g.time])  # the curve starts at (0, 1)
            y = np.concatenate([[1.0], g.survival])
            levels = ", ".join(evidence_words(lvl) for lvl in g.evidence_levels) or "not stated"
            events = f"{g.n_event_total} event" + ("" if g.n_event_total == 1 else "s")
            label = f"{g.label} (n={g.n}, {events}; evidence: {levels})"
            if g.reconstructed:
                label += " [reconstructed from a published curve, dashed]"
            (line,) = ax.step(x, y, where="post", color=color, linestyle=style, linewidth=2, label=label)
            handles.append(line)
            if show_ci and len(g.time):
                lo = np.where((g.survival == 1) & np.isnan(g.ci_lower), 1.0, g.ci_lower)
                hi = np.where((g.survival == 1) & np.isnan(g.ci_upper), 1.0, g.ci_upper)
                ax.fill_between(x, np.concatenate([[1.0], lo]), np.concatenate([[1.0], hi]),
                                step="post", color=color, alpha=0.15, linewidth=0)
            cens = g.n_censored > 0
            if cens.sum() and cens.sum() <= max_censor_ticks:
                ax.plot(g.time[cens], g.survival[cens], linestyle="none", marker="|", markersize=9,
                        markeredgewidth=1.5, color=color)
        notes = []
        if any(((g.n_censored > 0).sum() > max_censor_ticks) for g in groups):
            notes.append(f"Censor ticks omitted for groups with more than {max_censor_ticks} censoring times.")

        # medians
        for _, r in summary.iterrows():
            if not np.isnan(r["median"]):
                ax.plot([0, r["median"], r["median"]], [0.5, 0.5, 0], color=colors[r["group"]],
                        linestyle=":", linewidth=1)
        med_lines = median_text(fit, summary)

        # landmarks
        land_lines = []
        if landmarks is not None and len(landmarks):
            lm = km_landmarks(fit, landmarks)
            for t in sorted(set(lm["time"])):
                if t <= xmax:
                    ax.axvline(t, color=OKABE_ITO["grey"], linewidth=0.8, linestyle=(0, (2, 3)), zorder=0)
            for _, r in lm.iterrows():
                if np.isnan(r["survival"]):
                    land_lines.append(f"{r['group']} at {r['time']:.4g} {unit}: not estimable (no follow-up)")
                    continue
                ax.plot(r["time"], r["survival"], marker="o", markersize=5, color=colors[r["group"]],
                        markeredgecolor="white", zorder=5)
                if r["survival"] == 1:
                    ci = " (no relapse or death yet; CI not defined)"
                elif np.isnan(r["ci_lower"]):
                    ci = ""
                else:
                    ci = f" ({r['ci_lower']:.0%} to {r['ci_upper']:.0%})"
                land_lines.append(f"{r['group']} at {r['time']:.4g} {unit}: {r['survival']:.0%}{ci}")

        # statements with a proportion also go on the survival axis
        if statements is not None:
            prop = statements[statements["proportion"].notna()]
            for _, s in prop.iterrows():
                ax.plot(float(s["time"]), float(s["proportion"]), marker="D", markersize=7,
                        markerfacecolor="white", markeredgecolor=OKABE_ITO["black"], linestyle="none",
                        zorder=6)
                ax.annotate(f"{s['study']} (statement)", (float(s["time"]), float(s["proportion"])),
                            xytext=(6, 4), textcoords="offset points", fontsize=7.5)

        ax.set_ylim(-0.02, 1.04)
        ax.set_xlim(0, xmax * 1.03)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_yticklabels([f"{v:.0%}" for v in np.linspace(0, 1, 6)])
        ax.set_ylabel("Relapse-free survival (%)")
        ax.axhline(0.5, color=OKABE_ITO["grey"], linewidth=0.5, zorder=0)
        ax.set_xticks(ticks)
        ax.tick_params(labelbottom=True)
        ax.set_xlabel(f"Time since {anchor} ({unit})")
        ax.grid(axis="y", alpha=0.3)

        # cohort statements panel
        if stmt_ax is not None:
            _draw_statements(stmt_ax, statements, unit)

        # at-risk table
        _draw_at_risk(tab_ax, fit, at_risk, ticks, colors)

        # legend above the axes; numbers in words below the table
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), fontsize=8.5,
                  borderaxespad=0, title=None)
        fig.suptitle(title or "Relapse-free survival (Kaplan-Meier)", x=0.01, ha="left",
                     fontsize=12)
        left = [ci_text(fit), logrank_text(fit, logrank_table), "Median relapse-free survival:",
                *("  " + m for m in med_lines), *notes]
        right = (["Landmarks: survival (CI)", *("  " + m for m in land_lines)] if land_lines else [])
        text_ax.text(0, 1, "\n".join(textwrap.fill(t, 70, subsequent_indent="    ") for t in left),
                     transform=text_ax.transAxes, va="top", ha="left", fontsize=8.5)
        text_ax.text(0.56, 1, "\n".join(textwrap.fill(t, 60, subsequent_indent="    ") for t in right),
                     transform=text_ax.transAxes, va="top", ha="left", fontsize=8.5)
        return fig


def _draw_statements(ax, statements: pd.DataFrame, unit: str) -> None:
    """Cohort statements without data, one row each: a bar for "up to", an arrow for "at
    least", a hollow diamond for a time point; drawn in black, apart from the curves."""
    n = len(statements)
    for i, (_, s) in enumerate(statements.iterrows()):
        y = n - 1 - i
        t = float(s["time"])
        color = OKABE_ITO["black"]
        q = _text(s["time_qualifier"]) or "at"
        if q == "up_to":
            ax.plot([0, t], [y, y], color=color, linewidth=3, solid_capstyle="butt")
            ax.plot([t], [y], marker="|", markersize=12, color=color)
        elif q == "at_least":
            ax.annotate("", xy=(t * 1.08 + 1e-9, y), xytext=(0, y),
                        arrowprops={"arrowstyle": "-|>", "color": color, "linewidth": 2})
        else:
            ax.plot([t], [y], marker="D", markersize=7, color=color, markerfacecolor="white")
        words = {"up_to": "up to", "at_least": "at least", "about": "about", "at": "at"}[q]
        what = _text(s["outcome"]).replace("_", "-")
        size = ""
        if not pd.isna(s["total"]):
            qual = {"about": "about ", "at_least": "over "}.get(_text(s["total_qualifier"]), "")
            size = f", {qual}{int(s['total'])} patients"
        prop = "" if pd.isna(s["proportion"]) else f"{float(s['proportion']):.0%} "
        ax.text(0, y + 0.32, f"{s['study']}: {prop}{what} {words} {t:.0f} {unit}{size} "
                f"(statement, no curve; {evidence_words(_text(s['evidence_level'])) or 'evidence not stated'})",
                fontsize=7.5, va="bottom", ha="left", clip_on=False)
    ax.set_ylim(-0.5, n - 0.2 + 0.5)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.tick_params(labelbottom=False)
    ax.set_ylabel("Cohort\nstatements", rotation=0, ha="right", va="center", fontsize=8)


def _draw_at_risk(ax, fit: KMFit, at_risk: pd.DataFrame, ticks, colors) -> None:
    rows = []
    for g in fit.groups:
        sub = at_risk[at_risk["group"] == g.label].set_index("time")
        rows.append((g.label, None, colors[g.label], True))
        rows.append(("At risk", sub["n_at_risk"], colors[g.label], False))
        rows.append(("Censored", sub["cum_censored"], colors[g.label], False))
        rows.append(("Events", sub["cum_events"], colors[g.label], False))
    n = len(rows)
    for i, (label, values, color, header) in enumerate(rows):
        y = n - 1 - i
        ax.text(-0.045, y, label, transform=ax.get_yaxis_transform(), ha="right", va="center",
                fontsize=8, color=color if header else "black",
                fontweight="bold" if header else "normal")
        if values is None:
            continue
        for t in ticks:
            if t in values.index:
                ax.text(t, y, f"{int(values.loc[t]):,}", ha="center", va="center", fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks([])
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(bottom=False, labelbottom=False)
    ax.set_title("Numbers at risk; censored and with the event (cumulative) at each time",
                 loc="left", fontsize=8)
