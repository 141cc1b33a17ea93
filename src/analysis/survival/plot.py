"""The survival figure: a KMunicate-style Kaplan-Meier plot with at-risk table, medians,
landmarks, the tests and what they compared, median follow-up, Turnbull's curve beside the
best-estimate curve where times are imprecise, and the cohort statements -- "X % at T" as
points with their interval on a survival scale of their own, "up to N years" as ranges --
drawn apart from the curves.

The top room of :mod:`analysis.survival`: it reads fits and tables made by :mod:`.km`,
:mod:`.methods` and :mod:`.statements` (the sentences come from :mod:`.text`) and computes
nothing of its own beyond the axis ticks. Times are in the fit's ``time_unit`` and are printed with it; survival is drawn and
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
from analysis.timing import amount
from analysis.style import OKABE_ITO, RC, TICK_STEPS_SURVIVAL, clip, group_colors
from analysis.survival.km import KMFit, _text, at_risk_table, km_landmarks, km_summary
from analysis.survival.text import (COMPARISON_RULE, ci_text, followup_text, logrank_text,
                                    median_text, turnbull_text)

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


ENDPOINT_MARKERS = {
    "relapse_free": "D", "disease_free": "s", "event_free_survival": "o", "overall_survival": "^",
    "relapse": "v", "progression": "<",
}
"""Marker of a cohort point per outcome (hollow; the key names the endpoint)."""
ENDPOINT_ABBREVIATIONS = {
    "relapse_free": "RFS", "disease_free": "DFS", "event_free_survival": "EFS", "overall_survival": "OS",
    "relapse": "1-relapse", "progression": "1-progression",
}
"""Short endpoint names of the key beneath the cohort points (spelled out in its legend)."""


def plot_km(fit: KMFit, *, landmarks=None, ticks=None, statements: pd.DataFrame | None = None,
            title: str | None = None, anchor: str = "anchor stem-cell therapy",
            show_ci: bool = True, max_censor_ticks: int = 500, at_risk: pd.DataFrame | None = None,
            summary: pd.DataFrame | None = None, logrank_table: pd.DataFrame | None = None,
            comparisons=None, followup: pd.DataFrame | None = None,
            turnbull: pd.DataFrame | None = None, imprecise_curves=(), pooled: bool = False):
    """A Kaplan-Meier figure following the KMunicate recommendations (Morris et al. 2019).

    Step curves with shaded confidence bands (method written on the figure), censor ticks,
    a table of numbers at risk, censored and with the event (cumulative) aligned with the
    time ticks below the axis, median lines where reached (otherwise "median not reached"
    in words), landmark values, the tests naming what they compared (``logrank_table`` from
    :func:`analysis.survival.methods.logrank_table` and its ``comparisons``; default the
    plain test of all groups), median follow-up (``followup``), Turnbull's estimate as a
    dotted step beside each curve it is given for (``turnbull``; ``imprecise_curves`` names
    the curves that needed one), reconstructed curves dashed and labelled, the evidence
    level in the legend, a note when ``pooled`` (curves pooled across studies), and the
    cohort ``statements`` (:func:`analysis.survival.statements.cohort_statements`): points
    ("X % at T") with their interval in a survival panel of their own, numbered and keyed,
    and ranges ("up to N years") in the panel below it. Returns the matplotlib figure.

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
        points = ranges = None
        if statements is not None:
            kind = statements["kind"] if "kind" in statements else pd.Series("range", index=statements.index)
            drawn = statements["drawn"].fillna(True).astype(bool) if "drawn" in statements else True
            points = statements[(kind == "point") & drawn]
            ranges = statements[kind != "point"]
            points = points if len(points) else None
            ranges = ranges if len(ranges) else None
        xmax = axis_max(fit, statements)
        ticks = default_ticks(fit, xmax) if ticks is None else np.asarray(ticks, dtype=float)
        at_risk = at_risk_table(fit, ticks) if at_risk is None else at_risk
        summary = km_summary(fit) if summary is None else summary
        colors = group_colors([g.label for g in groups])
        turnbull = turnbull if turnbull is not None and len(turnbull) else None

        n_table_rows = 4 * len(groups)
        n_pts = 0 if points is None else len(points)
        n_rng = 0 if ranges is None else len(ranges)
        n_land = 0 if landmarks is None else len(landmarks) * len(groups)
        n_fu = 0 if followup is None else len(followup) + 1
        n_lr = 1 if logrank_table is None else max(1, len(logrank_table)) + 1
        n_text = max(4 + len(groups) + n_fu + n_lr + (2 if turnbull is not None else 0), n_land + 1)
        heights = ([5.5] + ([2.0 if n_pts <= 5 else 3.2, 0.125 * (n_pts if n_pts <= 8 else (n_pts + 1) // 2) + 0.25]
                            if n_pts else [])
                   + ([0.45 * n_rng + 0.3] if n_rng else [])
                   + [0.2 * n_table_rows + 0.4, 0.15 * n_text + 0.3])
        fig = plt.figure(figsize=(10, sum(heights) + 0.4 * len(groups) + 0.8), layout="constrained")
        gs = fig.add_gridspec(len(heights), 1, height_ratios=heights)
        ax = fig.add_subplot(gs[0])
        k = 1
        pts_ax = key_ax = rng_ax = None
        if n_pts:
            pts_ax = fig.add_subplot(gs[k], sharex=ax)
            key_ax = fig.add_subplot(gs[k + 1])
            key_ax.axis("off")
            k += 2
        if n_rng:
            rng_ax = fig.add_subplot(gs[k], sharex=ax)
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
            if turnbull is not None and g.label in set(turnbull["curve"]):
                tb = turnbull[turnbull["curve"] == g.label]
                (tl,) = ax.step(np.concatenate([[0.0], tb["time"]]), np.concatenate([[1.0], tb["survival"]]),
                                where="post", color=color, linewidth=6, alpha=0.3, solid_capstyle="butt",
                                zorder=1.5, label=f"{g.label}: Turnbull estimate (imprecise times as "
                                                  "intervals), wide pale line")
                handles.append(tl)
        notes = []
        if any(((g.n_censored > 0).sum() > max_censor_ticks) for g in groups):
            notes.append(f"Censor ticks omitted for groups with more than {max_censor_ticks} censoring times.")
        for g, m in zip(groups, summary["median"]):
            if not np.isnan(m) and g.n < 10:
                notes.append(f"The median of {g.label} rests on {g.n} line(s) or patient(s): it describes them; "
                             "it does not estimate how long remission lasts.")
        if pooled:
            notes.append("Curves pool patients of different studies and sources (pool_curves = True); "
                         "the log-rank test is stratified by study.")

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
                    land_lines.append(f"{r['group']} at {amount(r['time'], unit, '.4g')}: not estimable (no follow-up)")
                    continue
                ax.plot(r["time"], r["survival"], marker="o", markersize=5, color=colors[r["group"]],
                        markeredgecolor="white", zorder=5)
                if r["survival"] == 1:
                    ci = " (no relapse or death yet; CI not defined)"
                elif np.isnan(r["ci_lower"]):
                    ci = ""
                else:
                    ci = f" ({r['ci_lower']:.0%} to {r['ci_upper']:.0%})"
                land_lines.append(f"{r['group']} at {amount(r['time'], unit, '.4g')}: {r['survival']:.0%}{ci}")

        _survival_axis(ax)
        ax.set_xlim(0, xmax * 1.03)
        ax.set_xticks(ticks)
        ax.tick_params(labelbottom=True)
        ax.set_xlabel(f"Time since {anchor} ({unit})")
        ax.set_ylabel("Relapse-free survival (%)")

        if pts_ax is not None:
            _draw_points(pts_ax, key_ax, points, unit)
        if rng_ax is not None:
            _draw_statements(rng_ax, ranges, unit)

        # at-risk table
        _draw_at_risk(tab_ax, fit, at_risk, ticks, colors)

        # legend above the axes; numbers in words below the table
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), fontsize=8.5,
                  borderaxespad=0, title=None)
        title = title or "Relapse-free survival (Kaplan-Meier)"
        if pooled:
            title += " - curves pooled across studies and sources (exploratory)"
        fig.suptitle(title, x=0.01, ha="left", fontsize=12)
        tests = logrank_text(fit, logrank_table, comparisons).split("\n")
        if comparisons is not None and len(groups) > 1 and not pooled and not any(COMPARISON_RULE in t for t in tests):
            # say once which curves are never compared, and why
            tests = [t for t in tests if not t.startswith("Curves of different studies")] + [COMPARISON_RULE]
        fu = (["Median follow-up (reverse Kaplan-Meier):", *("  " + m for m in followup_text(fit, followup))]
              if followup is not None and len(followup) else [])
        tb = turnbull_text(fit, turnbull if turnbull is not None else pd.DataFrame(columns=["curve"]),
                           imprecise_curves)
        left = [ci_text(fit), *tests, "Median relapse-free survival:", *("  " + m for m in med_lines),
                *fu, *tb, *notes]
        right = (["Landmarks: survival (CI)", *("  " + m for m in land_lines)] if land_lines else [])
        text_ax.text(0, 1, "\n".join(textwrap.fill(t, 68, subsequent_indent="    ") for t in left),
                     transform=text_ax.transAxes, va="top", ha="left", fontsize=8.5)
        text_ax.text(0.6, 1, "\n".join(textwrap.fill(t, 55, subsequent_indent="    ") for t in right),
                     transform=text_ax.transAxes, va="top", ha="left", fontsize=8.5)
        return fig


_UNIT_SHORT = {"days": "d", "weeks": "wk", "months": "mo", "years": "y"}


def _survival_axis(ax) -> None:
    ax.set_ylim(-0.02, 1.04)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_yticklabels([f"{v:.0%}" for v in np.linspace(0, 1, 6)])
    ax.axhline(0.5, color=OKABE_ITO["grey"], linewidth=0.5, zorder=0)
    ax.grid(axis="y", alpha=0.3)


def _label_lifts(ax, t: np.ndarray, v: np.ndarray, gap_pt: float = 8.0) -> np.ndarray:
    """Vertical shifts (points) of the number beside each cohort statement, so that numbers of
    statements at about the same time (within 1.5 % of the axis) and survival never overlap:
    in each such column the highest keeps its place and each next one is moved down to at
    least ``gap_pt`` below the previous number."""
    fig = ax.figure
    height_pt = ax.get_position().height * fig.get_figheight() * 72
    per_unit = height_pt / 1.06  # the survival axis spans -0.02 .. 1.04
    span = max(float(np.nanmax(t)) if len(t) else 1.0, 1e-9)
    lifts = np.zeros(len(t))
    order = np.argsort(t, kind="stable")
    column, anchor = [], None
    for j in [*order, None]:
        if j is not None and anchor is not None and abs(t[j] - anchor) <= 0.015 * span:
            column.append(j)
            continue
        last = None
        for k in sorted(column, key=lambda k: -v[k]):  # highest first
            y = v[k] * per_unit
            if last is not None and y > last - gap_pt:
                y = last - gap_pt
            lifts[k] = y - v[k] * per_unit
            last = y
        column, anchor = ([j], t[j]) if j is not None else ([], None)
    return lifts


#: characters in one line of the cohort statements' key, two columns side by side (6.8 pt
#: on the figure's width): a long study and arm are shortened (to 12 characters at least), and
#: a line still longer is wrapped, so it never runs into the next column
KEY_LINE_CHARS = 78


def _draw_points(ax, key_ax, points: pd.DataFrame, unit: str) -> None:
    """Cohort statements "X % at T" on a survival scale of their own: a hollow marker per
    endpoint (:data:`ENDPOINT_MARKERS`), its exact interval where counts are given, a number
    keyed below (study, arm, endpoint, value, interval, evidence); control arms grey."""
    from matplotlib.lines import Line2D

    key = []
    lifts = _label_lifts(ax, points["time"].astype(float).to_numpy(), points["survival"].astype(float).to_numpy())
    for i, (_, s) in enumerate(points.iterrows(), start=1):
        t, v = float(s["time"]), float(s["survival"])
        control = _text(s.get("arm_role")) == "control"
        color = OKABE_ITO["grey"] if control else OKABE_ITO["black"]
        marker = ENDPOINT_MARKERS.get(_text(s["outcome"]), "o")
        if not np.isnan(s["ci_lower"]):
            ax.plot([t, t], [s["ci_lower"], s["ci_upper"]], color=color, linewidth=1.2, zorder=3)
            ax.plot([t], [s["ci_lower"]], marker="_", color=color, markersize=7, zorder=3)
            ax.plot([t], [s["ci_upper"]], marker="_", color=color, markersize=7, zorder=3)
        ax.plot([t], [v], marker=marker, markersize=6.5, markerfacecolor="white", markeredgecolor=color,
                markeredgewidth=1.3, linestyle="none", zorder=4)
        ax.annotate(str(i), (t, v), xytext=(5, 2 + lifts[i - 1]), textcoords="offset points", fontsize=7,
                    color=color)
        ci = f" [{s['ci_lower']:.0%}-{s['ci_upper']:.0%}]" if not np.isnan(s["ci_lower"]) else " (no CI)"
        when = "about " if _text(s["time_qualifier"]) == "about" else ""
        n = f", n={int(s['total'])}" if not pd.isna(s["total"]) else ""
        tail = (f"{n}): {ENDPOINT_ABBREVIATIONS.get(_text(s['outcome']), s['endpoint'])} {v:.0%} at {when}"
                f"{t:.4g} {_UNIT_SHORT.get(unit, unit)}{ci}")
        role = ", control arm" if control else ""
        free = KEY_LINE_CHARS - len(f"{i}.  (") - len(tail) - len(role)  # for the study and its arm
        study = clip(_text(s["study"]), min(24, max(12, free // 2)), at_word=True)
        arm = clip(_text(s["arm"]), min(26, max(12, free - len(study))), at_word=True)
        key.append(textwrap.fill(f"{i}. {study} ({arm}{role}{tail}", KEY_LINE_CHARS, subsequent_indent="      "))
    _survival_axis(ax)
    ax.set_ylabel("Cohort\nstatements (%)")
    ax.tick_params(labelbottom=False)
    ax.set_title("Cohort statements 'X % at time T' (not curves; exact 95% CI where the source gives counts; "
                 "'no CI': only a share is given)", loc="left", fontsize=8.5)
    seen = list(dict.fromkeys(_text(o) for o in points["outcome"]))
    words = {o: w for o, w in zip(points["outcome"].map(_text), points["endpoint"])}
    handles = [Line2D([], [], marker=ENDPOINT_MARKERS.get(o, "o"), linestyle="none", markerfacecolor="white",
                      markeredgecolor=OKABE_ITO["black"], label=f"{ENDPOINT_ABBREVIATIONS.get(o, o)}: {words[o]}")
               for o in seen]
    ax.legend(handles=handles, fontsize=7.5, loc="lower left", ncol=min(len(handles), 3))
    half = (len(key) + 1) // 2 if len(key) > 8 else len(key)
    for col, lines in enumerate((key[:half], key[half:])):
        key_ax.text(0.5 * col, 1, "\n".join(lines), transform=key_ax.transAxes, va="top", ha="left",
                    fontsize=6.8)


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
        ax.text(0, y + 0.32, f"{s['study']}: {prop}{what} {words} {amount(t, unit)}{size} "
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
