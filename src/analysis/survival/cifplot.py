"""The competing-risks figure: cumulative incidence of each cause per curve (Aalen-Johansen,
from :func:`analysis.survival.methods.cif_table`) with pointwise confidence bands, Gray's tests
in words, and beneath the axis a KMunicate-style table: still event-free and followed, and the
cumulative number of each cause and of censorings at each time.

Relapse and death without relapse compete: a patient who dies cannot relapse afterwards, so
1 - Kaplan-Meier of relapse (censoring deaths) overstates the chance of relapse. The figure
draws each cause's own cumulative incidence; the two add up to 1 - relapse-free survival.

Computes nothing but the table's counts; times in the fit's ``time_unit``. matplotlib is
imported inside :func:`plot_cif`.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from analysis.style import RC, group_colors
from analysis.survival.km import KMFit, _text
from analysis.survival.plot import default_ticks
from analysis.survival.text import logrank_text

CAUSE_STYLES = ("-", "--", "-.", (0, (1, 1.2)))
"""Line style per cause, in the order of :func:`cause_order` (the event of interest solid,
the competing event dashed)."""


def cause_order(causes, competing_event: str | None) -> list[str]:
    """Causes with the competing one (matched case-insensitively) last."""
    causes = list(dict.fromkeys(causes))
    comp = [c for c in causes if competing_event and c.lower() == str(competing_event).lower()]
    return [c for c in causes if c not in comp] + comp


def cause_label(cause: str, competing_event: str | None) -> str:
    """A cause in words: the competing death is "death without relapse" (a death after a
    relapse is not counted: the first event ends the time)."""
    if competing_event and cause.lower() == str(competing_event).lower() and cause.lower() == "death":
        return "death without relapse"
    return cause


def cif_at_risk(fit: KMFit, ticks, causes) -> pd.DataFrame:
    """The table under the figure: per curve and time, those still event-free and followed
    (time >= t) and the cumulative number of each cause and of censorings up to t."""
    data = fit.data
    lab = fit.row_labels()
    t = data["time"].to_numpy(dtype=float)
    ev = data["event"].to_numpy() == 1
    cause = data["cause"].map(_text).to_numpy(dtype=object) if "cause" in data else np.full(len(data), "")
    rows = []
    for g in fit.groups:
        m = lab == g.label
        for tick in ticks:
            row = {"curve": g.label, "time": float(tick), "n_at_risk": int((t[m] >= tick).sum()),
                   "censored": int((m & ~ev & (t <= tick)).sum())}
            for c in causes:
                row[c] = int((m & ev & (cause == c) & (t <= tick)).sum())
            rows.append(row)
    return pd.DataFrame(rows)


def plot_cif(fit: KMFit, cif: pd.DataFrame, tests: pd.DataFrame | None = None, *,
             competing_event: str | None = "death", ticks=None, comparisons=None,
             title: str | None = None, anchor: str = "anchor stem-cell therapy", show_ci: bool = True):
    """Cumulative incidence of each cause per curve (``cif``: ``cif_estimates.csv``), bands of
    the fit's CI method, Gray's tests (``tests``: ``cif_tests.csv``) in words, and the
    KMunicate-style table of :func:`cif_at_risk`. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    with plt.rc_context(RC):
        unit = fit.time_unit
        labels = [g.label for g in fit.groups]
        colors = group_colors(labels)
        causes = cause_order(cif["cause"].unique() if len(cif) else [], competing_event)
        xmax = max((g.time[-1] for g in fit.groups if len(g.time)), default=1.0) or 1.0
        ticks = default_ticks(fit, xmax) if ticks is None else np.asarray(ticks, dtype=float)
        table = cif_at_risk(fit, ticks, causes)
        rows_per = 2 + len(causes) + 1
        heights = [5.0, 0.19 * rows_per * len(labels) + 0.4, 0.9]
        fig = plt.figure(figsize=(10, sum(heights) + 0.35 * len(labels) * max(1, len(causes)) + 0.6),
                         layout="constrained")
        gs = fig.add_gridspec(3, 1, height_ratios=heights)
        ax = fig.add_subplot(gs[0])
        tab_ax = fig.add_subplot(gs[1], sharex=ax)
        text_ax = fig.add_subplot(gs[2])
        text_ax.axis("off")
        handles = []
        for g in fit.groups:
            color = colors[g.label]
            for k, c in enumerate(causes):
                d = cif[(cif["curve"] == g.label) & (cif["cause"] == c)]
                if not len(d):
                    continue
                x = np.concatenate([[0.0], d["time"]])
                y = np.concatenate([[0.0], d["cif"]])
                (line,) = ax.step(x, y, where="post", color=color, linestyle=CAUSE_STYLES[k % len(CAUSE_STYLES)],
                                  linewidth=2, label=f"{g.label}: {cause_label(c, competing_event)} "
                                                     f"({int(d['n_event'].sum())})")
                handles.append(line)
                if show_ci:
                    lo = np.where(d["cif"] == 0, 0.0, d["ci_lower"])
                    hi = np.where(d["cif"] == 0, 0.0, d["ci_upper"])
                    ax.fill_between(x, np.concatenate([[0.0], lo]), np.concatenate([[0.0], hi]), step="post",
                                    color=color, alpha=0.10, linewidth=0)
        ax.set_ylim(-0.02, 1.02)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_yticklabels([f"{v:.0%}" for v in np.linspace(0, 1, 6)])
        ax.set_ylabel("Cumulative incidence (%)")
        ax.set_xlim(0, xmax * 1.03)
        ax.set_xticks(ticks)
        ax.tick_params(labelbottom=True)
        ax.set_xlabel(f"Time since {anchor} ({unit})")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), fontsize=8.5, borderaxespad=0,
                  title="curve: cause (events)", title_fontsize=8.5, alignment="left")
        fig.suptitle(title or "Cumulative incidence of relapse and of death without relapse (competing risks)",
                     x=0.01, ha="left", fontsize=12)
        _draw_table(tab_ax, table, labels, causes, ticks, colors, competing_event)
        lines = [f"Aalen-Johansen estimate; {fit.conf_level:.0%} pointwise CI, {fit.ci_method} transform "
                 "(infinitesimal-jackknife variance, as R's survfit)."]
        if tests is not None:
            lines += logrank_text(fit, tests, comparisons, test="Gray's test").split("\n")
        if competing_event and not any(c.lower() == str(competing_event).lower() for c in causes):
            lines.append(f"No '{competing_event}' occurs before a relapse in these data: the incidence of "
                         "relapse equals 1 - relapse-free survival here.")
        if any(c.startswith("relapse or death") for c in causes):
            lines.append("'relapse or death (not specified)': the source does not say which (reconstructed "
                         "curves, IPD without a cause); that curve is 1 - relapse-free survival.")
        text_ax.text(0, 1, "\n".join(textwrap.fill(t, 120, subsequent_indent="    ") for t in lines),
                     transform=text_ax.transAxes, va="top", ha="left", fontsize=8.5)
        return fig


def _draw_table(ax, table, labels, causes, ticks, colors, competing_event) -> None:
    rows = []
    for label in labels:
        sub = table[table["curve"] == label].set_index("time")
        rows.append((label, None, colors[label], True))
        rows.append(("Event-free, followed", sub["n_at_risk"], colors[label], False))
        for c in causes:
            rows.append((cause_label(c, competing_event).capitalize(), sub[c], colors[label], False))
        rows.append(("Censored", sub["censored"], colors[label], False))
    n = len(rows)
    for i, (text, values, color, header) in enumerate(rows):
        y = n - 1 - i
        ax.text(-0.02, y, textwrap.shorten(text, 40, placeholder="…"), transform=ax.get_yaxis_transform(),
                ha="right", va="center", fontsize=7.5, color=color if header else "black",
                fontweight="bold" if header else "normal")
        if values is None:
            continue
        for t in ticks:
            if t in values.index:
                ax.text(t, y, f"{int(values.loc[t]):,}", ha="center", va="center", fontsize=7.5)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks([])
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(bottom=False, labelbottom=False)
    ax.set_title("Still event-free and followed at each time; relapses, deaths and censorings up to it (cumulative)",
                 loc="left", fontsize=8)
