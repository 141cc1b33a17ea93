"""Forest plots of response and safety rates, drawn with matplotlib in the style of R meta's ``forest``.

One row per study arm: short citation, evidence level, events/N, a square (area
proportional to its random-effects weight; colour = evidence level; hollow and dashed when
the figures are approximate) with its confidence interval, and on the right the proportion
with its interval and the weight. Subgroups get a header, a diamond, a prediction-interval
bar and a heterogeneity line; an ``All studies`` diamond follows when it was pooled. Case
reports and rows without numbers are listed in their own sections and never pooled. The
axis is the proportion of patients in percent (0-100 %).

Large tables are split into pages (:func:`forest_pages`) of ``rows_per_page`` rows each.
Colours come from :mod:`analysis.style`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.forest.notes import DIAMONDS, diamonds_text, squares_text
from analysis.schemas import evidence_words
from analysis.style import EVIDENCE_COLORS, OKABE_ITO, STATUS_COLORS, clip
from analysis.timing import amount

ROW_HEIGHT_IN = 0.24
APPROX_MARK = "≈"
DERIVED_MARK = "†"
OUTCOME_LABELS = {
    "response": "Response",
    "complete_response": "Complete response",
    "partial_response": "Partial response",
    "relapse_free": "Relapse-free",
    "disease_free": "Disease-free",
    "disease_activity_reduced": "Disease activity reduced",
    "severe_adverse_event": "Severe adverse events",
    "adverse_event": "Adverse events",
    "treatment_related_death": "Treatment-related deaths",
}
CI_LABELS = {"clopper-pearson": "Clopper–Pearson (exact)", "wilson": "Wilson score"}
METHOD_LABELS = {"REML": "REML", "DL": "DerSimonian-Laird", "PM": "Paule-Mandel"}
POOLED_COLOR = OKABE_ITO["black"]
PI_COLOR = OKABE_ITO["vermillion"]


@dataclass
class Row:
    kind: str  # section, header, study, nocount, definition, pooled, pi, het, note, blank
    label: str = ""
    evidence: str = ""
    counts: str = ""
    right: str = ""
    weight: str = ""
    est: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    size: float = math.nan  # weight in percent, NaN = not pooled
    color: str = OKABE_ITO["grey"]
    approximate: bool = False
    note: str = ""  # why a row has no interval


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


FIGURE_SPACE = "\u2007"  # as wide as a digit: pads numbers so decimals line up


def _num(x: float) -> str:
    return f"{100 * x:.1f}".rjust(4, FIGURE_SPACE)


def _interval_text(est, lo, hi) -> str:
    return f"{_num(est)}% [{_num(lo)}; {_num(hi)}]"


def _int(v) -> str:
    return str(int(round(float(v))))


def counts_text(r) -> str:
    """``events/N`` as shown in a forest plot, with the coded qualifiers.

    ``≥`` marks a total that is a lower bound ("over 200"), ``~`` an approximate one and
    ``≈ … †`` an event count derived from a reported proportion.
    """
    tq = r.get("total_qualifier")
    mark = {"at_least": "≥", "about": "~"}.get(tq if isinstance(tq, str) else "", "")
    if pd.notna(r.get("events")) and pd.notna(r.get("total")):
        return f"{_int(r['events'])}/{mark}{_int(r['total'])}"
    if r.get("derived") and pd.notna(r.get("events_used")):
        return f"{APPROX_MARK}{_int(r['events_used'])}/{mark}{_int(r['total_used'])}{DERIVED_MARK}"
    if pd.notna(r.get("total")):
        return f"?/{mark}{_int(r['total'])}"
    if pd.notna(r.get("events")):
        return f"{_int(r['events'])}/?"
    return "–"


evidence_text = evidence_words


def _study_rows(r: dict, weight: float, show_definition: bool = False) -> list[Row]:
    level = r.get("evidence_level")
    color = EVIDENCE_COLORS.get(str(level), OKABE_ITO["grey"])
    label = (APPROX_MARK + " " if r["approximate"] else "") + str(r.get("label") or r.get("study"))
    row = Row("study" if r["has_interval"] else "nocount", label=label,
              evidence=evidence_text(level), counts=counts_text(r), color=color,
              approximate=bool(r["approximate"]), size=weight)
    if r["has_interval"]:
        row.est, row.lo, row.hi = r["proportion"], r["ci_lower"], r["ci_upper"]
        row.right = _interval_text(row.est, row.lo, row.hi)
        row.weight = f"{weight:.1f}%".rjust(5, FIGURE_SPACE) if not math.isnan(weight) else "–"
    else:
        row.est = r["proportion"] if pd.notna(r["proportion"]) else math.nan
        note = str(r.get("note") or "")
        row.note = note.split("no interval: ")[-1] if "no interval: " in note else "no interval"
        row.right = f"{_pct(row.est)} reported" if not math.isnan(row.est) else ""
    rows = [row]
    definition = r.get("definition")
    if show_definition and isinstance(definition, str) and definition.strip():
        text = f"“{definition.strip()}”"
        when = time_text(r)
        if when:
            text += f", {when}"
        if r["has_interval"] and r.get("events_used") == 0:
            n = _int(r["total_used"])
            n = f"at least {n}" if r.get("total_qualifier") == "at_least" else n
            text += f": none among {n} patients (upper 95% limit {_pct(r['ci_upper'])})"
        rows.append(Row("definition", label=text))
    reason = r.get("not_pooled_reason")
    if isinstance(reason, str) and reason.startswith("same "):  # left out of its subgroup's pool: say why
        rows.append(Row("definition", label="not pooled: " + reason))
    return rows


def time_text(r) -> str:
    """The row's time point in words ("at least 4 years"), or ""."""
    v, unit = r.get("time_value"), r.get("time_unit")
    if v is None or pd.isna(v) or not isinstance(unit, str):
        return ""
    q = r.get("time_qualifier")
    q = {"at": "at", "up_to": "up to", "at_least": "at least", "about": "about"}.get(q, "") \
        if isinstance(q, str) else ""
    return f"{q} {amount(v, unit)}".strip()


def _pooled_rows(p, label: str, overall: bool = False) -> list[Row]:
    method = METHOD_LABELS.get(p["method"], p["method"])
    rows = [Row("pooled", label=label, counts=f"N = {int(p['total'])}",
                right=_interval_text(p["pooled"], p["ci_lower"], p["ci_upper"]),
                weight="" if overall or p["method"] == "exact count" else "100%",
                est=p["pooled"], lo=p["ci_lower"], hi=p["ci_upper"], color=POOLED_COLOR)]
    if p["method"] == "exact count":  # all-zero (or all-n) set: no model, say why
        rows.append(Row("note", label=f"Total count with its exact interval, k = {int(p['k'])}: "
                        "every study has 0 events, so no random-effects estimate is shown"
                        if p["pooled"] == 0 else
                        f"Total count with its exact interval, k = {int(p['k'])}: every study has events "
                        "in all patients, so no random-effects estimate is shown"))
        return rows
    rows.append(Row("pi", label="Prediction interval",
                    right=f"[{100 * p['pi_lower']:.1f}; {100 * p['pi_upper']:.1f}]",
                    lo=p["pi_lower"], hi=p["pi_upper"], color=PI_COLOR))
    pval = "p < 0.001" if p["q_p_value"] < 0.001 else f"p = {p['q_p_value']:.3f}"
    rows.append(Row("het", label=(
        f"Heterogeneity: τ² = {p['tau2']:.3g} ({method}, {p['transform']} scale), "
        f"I² = {p['i2']:.0f}%, Q = {p['q']:.2f} (df = {int(p['k']) - 1}), {pval}; k = {int(p['k'])}")))
    return rows


def forest_rows(rates: pd.DataFrame, pooling=None, *, outcomes=None,
                subgroup_by: str | None = None, show_definition: bool = False) -> list[Row]:
    """The rows of a forest plot, in order (see :func:`forest_plot`)."""
    from analysis.rates import OVERALL, eligibility, group_labels, overall_label
    from analysis.rates.rules import REASON_CONTROL, REASON_SUMMARY

    if pooling is not None and subgroup_by is None:
        subgroup_by = pooling.settings.get("subgroup_by")
    across = overall_label(subgroup_by)
    weights = pooling.weights if pooling is not None else pd.Series(dtype=float)
    pooled = pooling.pooled if pooling is not None else pd.DataFrame()
    status = pooling.status if pooling is not None else pd.DataFrame()
    if outcomes is None:
        outcomes = list(pd.unique(rates["outcome"].dropna()))
    elif isinstance(outcomes, str):
        outcomes = [outcomes]
    rows: list[Row] = []
    records = rates.to_dict("index")
    # rows are selected by position in plain arrays (pandas selections of the wide rates table
    # per outcome and subgroup cost more than building the rows)
    index = rates.index
    outcome_all = rates["outcome"].to_numpy(dtype=object, na_value=None)
    why = eligibility(rates).to_numpy(dtype=object)
    control_all = why == REASON_CONTROL
    summary_all = why == REASON_SUMMARY
    case_all = rates["is_case_report"].to_numpy(dtype=bool) & ~control_all & ~summary_all
    has_all = rates["has_interval"].to_numpy(dtype=bool)
    apart = control_all | summary_all
    keys_all = (group_labels(rates[subgroup_by]).to_numpy(dtype=object)
                if subgroup_by is not None and subgroup_by in rates.columns else None)
    for outcome in outcomes:
        sel = np.flatnonzero(outcome_all == outcome)
        if not len(sel):
            continue
        if rows:
            rows.append(Row("blank"))
        rows.append(Row("section", label=OUTCOME_LABELS.get(outcome, str(outcome).replace("_", " ").capitalize())))
        cohort = sel[~case_all[sel] & has_all[sel] & ~apart[sel]]
        if keys_all is not None:
            keys = keys_all[cohort]
            groups = [(str(g), cohort[keys == g]) for g in sorted(set(keys))]
        else:
            groups = [(OVERALL, cohort)]
        for g, sub in groups:
            if subgroup_by is not None:
                rows.append(Row("header", label=f"{subgroup_by.replace('_', ' ')}: {g}"))
            w = weights.reindex(index[sub])
            for idx in index[sub]:  # the order of the data file, as R meta does by default
                rows.extend(_study_rows(records[idx], float(w.get(idx, math.nan)), show_definition))
            prow = pooled[(pooled["outcome"] == outcome) & (pooled["subgroup"] == g)] if len(pooled) else pooled
            if len(prow):
                label = "Random-effects model" if g == OVERALL else f"Pooled: {g}"
                rows.extend(_pooled_rows(prow.iloc[0], label))
            elif len(status) and len(sub):
                srow = status[(status["outcome"] == outcome) & (status["subgroup"] == g)]
                if len(srow):
                    rows.append(Row("note", label=srow.iloc[0]["reason"].capitalize()))
        if subgroup_by is not None and len(pooled):
            prow = pooled[(pooled["outcome"] == outcome) & (pooled["subgroup"] == across)]
            if len(prow):
                rows.append(Row("blank"))
                rows.extend(_pooled_rows(prow.iloc[0], across[0].upper() + across[1:], overall=True))
        if subgroup_by is not None and len(status) and len(cohort):
            srow = status[(status["outcome"] == outcome) & (status["subgroup"] == across)]
            if len(srow) and not srow.iloc[0]["pooled"]:
                rows.append(Row("note", label=across[0].upper() + across[1:] + ": " + srow.iloc[0]["reason"]))
        for mask, title in ((control_all, "Control arms (shown beside their trial, never pooled with treated arms)"),
                            (summary_all & has_all, "Secondary summaries and anecdotes (shown apart, never pooled)")):
            part = sel[mask[sel]]
            if len(part):
                rows.append(Row("header", label=title))
                for idx in index[part]:
                    rows.extend(_study_rows(records[idx], math.nan, show_definition))
        cases = sel[case_all[sel]]
        if len(cases):
            rows.append(Row("header", label="Case reports (shown, never pooled)"))
            for idx in index[cases]:
                rows.extend(_study_rows(records[idx], math.nan, show_definition))
        nocount = sel[~case_all[sel] & ~has_all[sel] & ~control_all[sel]]
        if len(nocount):
            rows.append(Row("header", label="Reported without counts (no interval)"))
            for idx in index[nocount]:
                rows.extend(_study_rows(records[idx], math.nan, show_definition))
    return rows


def _blocks(rows: list[Row]) -> list[list[Row]]:
    """Rows that must stay on one page: a title with what follows it, a study with its
    definition line, a diamond with its prediction interval, heterogeneity line and the study
    above it (so no page starts with a diamond)."""
    blocks: list[list[Row]] = []
    for r in rows:
        if blocks and (r.kind in ("pi", "het", "definition")
                       or (r.kind == "pooled" and blocks[-1][0].kind in ("study", "nocount", "section", "header"))):
            blocks[-1].append(r)
        else:
            blocks.append([r])
    merged, pending = [], []
    for b in blocks:
        if all(r.kind in ("section", "header", "blank") for r in b):
            pending.extend(b)
            continue
        merged.append(pending + b)
        pending = []
    if pending:
        merged.append(pending)
    return merged


def _paginate(rows: list[Row], per_page: int) -> list[list[Row]]:
    """Split rows into pages of at most ``per_page`` rows; a page that continues a section or
    subgroup starts with its titles marked "(continued)"."""
    pages: list[list[Row]] = []
    cur: list[Row] = []
    section = header = None
    for block in _blocks(rows):
        if cur and len(cur) + len(block) > per_page:
            pages.append(cur)
            cur = []
            lead = block[0].kind
            if lead not in ("section", "blank") and section is not None:
                cur.append(Row("section", label=f"{section} (continued)"))
            if lead not in ("section", "header", "blank") and header is not None:
                cur.append(Row("header", label=f"{header} (continued)"))
            while block and block[0].kind == "blank":
                block = block[1:]
        for r in block:
            if r.kind == "section":
                section, header = r.label, None
            elif r.kind == "header":
                header = r.label
        cur.extend(block)
    if cur:
        pages.append(cur)
    return pages


ZOOM_LIMITS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
"""Right ends (fractions) a forest axis may be zoomed to when every interval ends below them."""


def axis_limit(rows: list[Row]) -> float:
    """Right end of a forest axis: 1 (100 %), or the smallest of :data:`ZOOM_LIMITS` above
    every drawn estimate and upper limit (a safety panel of rare events is drawn on 0-5 %, so
    a 0/617 interval is visible). The same for every page of one panel."""
    ends = [v for r in rows if r.kind in ("study", "nocount", "pooled", "pi") for v in (r.est, r.hi)
            if not math.isnan(v)]
    top = max(ends, default=1.0)
    return next((z for z in ZOOM_LIMITS if top <= z / 1.04), 1.0)


def _draw(rows: list[Row], *, title: str, ci_label: str, show_weights: bool, footnotes: list[str],
          xmax: float = 1.0):
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PathCollection, PolyCollection
    from matplotlib.markers import MarkerStyle
    from matplotlib.ticker import PercentFormatter
    from matplotlib.transforms import IdentityTransform, blended_transform_factory

    from analysis.forest.legend import figure_legend
    from analysis.forest.textcolumn import TextColumn

    n = max(len(rows), 1)
    width = 11.0
    handles = _legend_handles(rows)
    # bottom, from the page edge up: footnotes, legend, then the axis with its label
    notes_in = 0.08 + 0.17 * len(footnotes)
    legend_in = 0.24 * math.ceil(len(handles) / LEGEND_COLUMNS) + (0.1 if handles else 0)
    top_in, bottom_in = 0.75, notes_in + legend_in + 0.6
    height = n * ROW_HEIGHT_IN + top_in + bottom_in + ROW_HEIGHT_IN
    fig = plt.figure(figsize=(width, height))
    ax_left, ax_right = 0.50, 0.735
    ax = fig.add_axes([ax_left, bottom_in / height, ax_right - ax_left, (n + 1) * ROW_HEIGHT_IN / height])
    ax.set_ylim(n - 0.5, -1.5)
    ax.set_xlim(0, xmax)
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0 if xmax >= 0.05 else 1))
    ax.set_xticks(np.linspace(0, xmax, 6))
    ax.set_xlabel("Proportion of patients (%)" if xmax == 1 else
                  f"Proportion of patients (%); axis zoomed to 0–{100 * xmax:g}% (every interval ends below it)")
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_facecolor("none")
    tr = blended_transform_factory(fig.transFigure, ax.transData)

    # Every cell goes into a column of cells of the same style (one artist per column, see
    # analysis.forest.textcolumn): drawing thousands of Text artists cost ~0.5 ms each per format.
    columns: dict[tuple, tuple[list, list, list]] = {}

    def put(x, y, text, *, ha="left", transform=tr, fontsize=None, fontweight="normal", style="normal",
            color="black"):
        key = (ha, transform is tr, fontsize or fs, fontweight, style, color)
        xs, ys, texts = columns.setdefault(key, ([], [], []))
        xs.append(x)
        ys.append(y)
        texts.append(text)
    x_label, x_evid, x_counts = 0.01, 0.29, 0.487
    x_weight = 0.985
    fs = 8.5
    # A weighted study row is one right-aligned text "interval  weight": digits are equally wide
    # (tabular) in DejaVu Sans and the padding uses figure spaces, so every column lines up.
    # x_right, where the interval ends, is the weight's constant width to the left.
    gap = FIGURE_SPACE * 4
    x_right = x_weight - _text_width(gap + "00.0%", fs) / (width * 72) if show_weights else x_weight
    hdr = dict(fontweight="bold")
    put(x_label, -1, "Study", ha="left", **hdr)
    put(x_evid, -1, "Evidence", ha="left", **hdr)
    put(x_counts, -1, "Events/N", ha="right", **hdr)
    put(x_right, -1, f"Proportion [{ci_label}]", ha="right", **hdr)
    if show_weights:
        put(x_weight, -1, "Weight", ha="right", **hdr)
    ax.plot([x_label, x_weight if show_weights else x_right], [-0.5, -0.5], transform=tr,
            color=OKABE_ITO["black"], lw=0.6, clip_on=False)

    seg_solid, seg_dash, diamonds, pi_bars = [], [], [], []
    squares = []  # (x, y, size, face, edge, line width)
    wmax = max([r.size for r in rows if r.kind == "study" and not math.isnan(r.size)] or [1.0])
    smax = (ROW_HEIGHT_IN * 72 * 0.75) ** 2
    for y, r in enumerate(rows):
        k = r.kind
        if k == "section":
            put(x_label, y, r.label, ha="left", fontsize=fs + 1.5, fontweight="bold")
        elif k == "header":
            put(x_label, y, r.label, ha="left", fontweight="bold")
        elif k in ("study", "nocount"):
            put(x_label + 0.005, y, clip(r.label, 42), ha="left")
            put(x_evid, y, r.evidence, ha="left", color="0.25")
            put(x_counts, y, r.counts, ha="right")
            if k == "study":
                if show_weights and not math.isnan(r.size):
                    put(x_weight, y, r.right + gap + r.weight, ha="right")
                else:
                    put(x_right, y, r.right, ha="right")
                    if show_weights:
                        put(x_weight, y, r.weight, ha="right")
                (seg_dash if r.approximate else seg_solid).append([(r.lo, y), (r.hi, y)])
                s = 30.0 if math.isnan(r.size) else max(9.0, smax * r.size / wmax)
                filled = not r.approximate  # hollow (white, coloured edge) when approximate
                squares.append((r.est, y, s, r.color if filled else "white",
                                OKABE_ITO["black"] if filled else r.color, 0.6 if filled else 1.4))
            else:
                if not math.isnan(r.est):
                    ax.plot([r.est], [y], marker="|", ms=9, color=OKABE_ITO["grey"], ls="none")
                    put(x_right, y, r.right, ha="right", color="0.25")
                x, ha, note = _note_place(r, xmax)
                put(x, y, note, transform=ax.transData, fontsize=fs - 1, style="italic", color="0.3", ha=ha)
        elif k == "pooled":
            put(x_label, y, r.label, ha="left", fontweight="bold")
            put(x_counts, y, r.counts, ha="right")
            put(x_right, y, r.right, ha="right", fontweight="bold")
            if show_weights and r.weight:
                put(x_weight, y, r.weight, ha="right")
            h = 0.36
            diamonds.append([(r.lo, y), (r.est, y - h), (r.hi, y), (r.est, y + h)])
        elif k == "pi":
            put(x_label + 0.005, y, r.label, ha="left", color="0.2")
            put(x_right, y, r.right, ha="right", color="0.2")
            pi_bars.append([(r.lo, y - 0.14), (r.hi, y - 0.14), (r.hi, y + 0.14), (r.lo, y + 0.14)])
        elif k == "definition":
            put(x_label + 0.02, y, clip(r.label, 150), ha="left", fontsize=fs - 1, style="italic",
                color="0.3")
        elif k in ("het", "note"):
            put(x_label + 0.005, y, r.label, ha="left", fontsize=fs - 0.5, style="italic",
                color="0.2")
    for (ha, on_rows, size, weight, style, color), (xs, ys, texts) in columns.items():
        fig.add_artist(TextColumn(xs, ys, texts, transform=tr if on_rows else ax.transData, ha=ha, fontsize=size,
                                  fontweight=weight, fontstyle=style, color=color))
    if seg_solid:
        ax.add_collection(LineCollection(seg_solid, colors=OKABE_ITO["black"], linewidths=1.0, clip_on=False))
    if seg_dash:
        ax.add_collection(LineCollection(seg_dash, colors=OKABE_ITO["black"], linewidths=1.0, linestyles=(0, (3, 2)),
                                         clip_on=False))
    if squares:  # one collection (what scatter makes, without its per-call cost)
        marker = MarkerStyle("s")
        xs, ys, ss, face, edge, lw = zip(*squares)
        coll = PathCollection((marker.get_path().transformed(marker.get_transform()),), sizes=ss,
                              offsets=np.column_stack([xs, ys]), offset_transform=ax.transData,
                              facecolors=face, edgecolors=edge, linewidths=lw, zorder=3, clip_on=False)
        coll.set_transform(IdentityTransform())
        ax.add_collection(coll, autolim=False)
    if diamonds:
        ax.add_collection(PolyCollection(diamonds, facecolors=OKABE_ITO["grey"], edgecolors=POOLED_COLOR,
                                         linewidths=0.9, zorder=3))
    if pi_bars:
        ax.add_collection(PolyCollection(pi_bars, facecolors=PI_COLOR, edgecolors=PI_COLOR, alpha=0.85, zorder=2))
    fig.text(0.01, 1 - 0.3 / height, title, fontsize=12, fontweight="bold", ha="left", va="center")
    if handles:
        figure_legend(fig, handles, loc="upper left", bbox_to_anchor=(0.01, (notes_in + legend_in) / height),
                      ncol=LEGEND_COLUMNS, fontsize=fs - 0.5, frameon=False, handlelength=1.4)
    if footnotes:
        ys = [(0.08 + 0.17 * (len(footnotes) - 1 - i)) / height for i in range(len(footnotes))]
        fig.add_artist(TextColumn(0.01, ys, footnotes, transform=fig.transFigure, ha="left", va="bottom",
                                  fontsize=fs - 1, color="0.25"))
    return fig


LEGEND_COLUMNS = 4
NO_N_NOTE = "N not reported: no interval"


def _note_place(r: Row, xmax: float) -> tuple[float, str, str]:
    """Where a row without an interval says why: ``(x in data units, ha, text)``. Without a
    reported proportion the full note starts at the axis' left end; with one (a grey tick at
    it) a short note sits beside the tick, on the side with room, never across it."""
    if math.isnan(r.est):
        return 0.02 * xmax, "left", r.note
    if r.est <= 0.5 * xmax:
        return r.est + 0.03 * xmax, "left", NO_N_NOTE
    return r.est - 0.03 * xmax, "right", NO_N_NOTE


def _legend_handles(rows: list[Row]) -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    by_color: dict[str, list[str]] = {}
    for r in rows:
        if r.kind == "study" and r.evidence not in by_color.setdefault(r.color, []):
            by_color[r.color].append(r.evidence)
    handles = [Patch(facecolor=c, edgecolor="black", lw=0.5, label=" / ".join(sorted(l)))
               for c, l in by_color.items()]
    if any(r.approximate for r in rows if r.kind == "study"):
        handles.append(Line2D([], [], marker="s", ls=(0, (3, 2)), color="black", mfc="white",
                              mec=OKABE_ITO["grey"], label="approximate (hollow, dashed)"))
    if any(r.kind == "pooled" for r in rows):
        handles.append(Patch(facecolor=OKABE_ITO["grey"], edgecolor=POOLED_COLOR, label="pooled estimate [CI]"))
    if any(r.kind == "pi" for r in rows):
        handles.append(Patch(facecolor=PI_COLOR, label="prediction interval"))
    return handles


def _text_width(text: str, size: float) -> float:
    """Width of ``text`` in points at font ``size`` (default font), without a renderer."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    return text_to_path.get_text_width_height_descent(text, FontProperties(size=size), ismath=False)[0]


def _footnotes(rows: list[Row], ci_method: str, pooling=None) -> list[str]:
    """The page's footnotes: what squares and lines mean, the approximate marks where used, and
    the pooled rows' method, CI and prediction-interval rule as ``pooling`` (a
    :class:`analysis.rates.PoolingResult`) used them (:mod:`analysis.forest.notes`)."""
    pooled = getattr(pooling, "pooled", None)
    methods = set(pooled["method"]) - {"exact count"} if pooled is not None and len(pooled) else set()
    notes = [f"Squares: proportion per study arm {squares_text(methods)}. Lines: {ci_method} 95% interval."]
    if any(r.approximate for r in rows if r.kind in ("study", "nocount")):
        notes.append(f"{APPROX_MARK} approximate figures as coded (e.g. 'over 200', 'about'); "
                     f"≥ total is a lower bound and the interval uses it (the widest); "
                     f"{DERIVED_MARK} events derived from a reported proportion.")
    if any(r.kind == "pooled" for r in rows):
        diamonds = diamonds_text(pooling.settings, methods) if methods else DIAMONDS
        notes.append(f"{diamonds} Case reports are never pooled.")
    return notes


def forest_pages(rates: pd.DataFrame, pooling=None, *, outcomes=None, subgroup_by: str | None = None,
                 title: str = "Response rates", rows_per_page: int | None = 60,
                 show_weights: bool = True, show_definition: bool = False) -> list:
    """Forest plot split into pages of at most ``rows_per_page`` rows; returns the figures.

    ``rates`` is a :func:`analysis.rates.study_rates` table, ``pooling`` the
    :class:`analysis.rates.PoolingResult` of :func:`analysis.rates.pool_rates` (or None:
    nothing pooled). ``rows_per_page=None`` draws one (possibly tall) figure.
    ``show_definition`` writes each outcome's definition in the source's words (e.g. "no
    severe reactions to treatment") next to its interval.
    """
    if rows_per_page is not None and rows_per_page < 5:
        raise ValueError(f"rows_per_page must be at least 5, got {rows_per_page}")
    rows = forest_rows(rates, pooling, outcomes=outcomes, subgroup_by=subgroup_by,
                       show_definition=show_definition)
    if not rows:
        rows = [Row("note", label="No rows to show for the chosen outcomes and filters.")]
    ci_methods = rates["ci_method"].dropna().unique() if "ci_method" in rates else []
    ci_method = ci_methods[0] if len(ci_methods) == 1 else "exact"
    ci_label = "95% CI"
    pages = _paginate(rows, rows_per_page) if rows_per_page else [rows]
    xmax = axis_limit(rows)
    figs = []
    for i, page in enumerate(pages):
        t = title if len(pages) == 1 else f"{title} (page {i + 1} of {len(pages)})"
        weighted = any(r.kind == "study" and not math.isnan(r.size) for r in page)
        figs.append(_draw(page, title=t, ci_label=ci_label, show_weights=show_weights and weighted,
                          footnotes=_footnotes(page, CI_LABELS.get(ci_method, ci_method), pooling), xmax=xmax))
    return figs


def forest_plot(rates: pd.DataFrame, pooling=None, **kwargs):
    """One forest-plot figure (tall if needed); see :func:`forest_pages` for the arguments."""
    kwargs["rows_per_page"] = None
    return forest_pages(rates, pooling, **kwargs)[0]


CATEGORY_STYLE = {
    "complete": ("Complete response", STATUS_COLORS["complete"], None),
    "partial": ("Partial response", STATUS_COLORS["partial"], None),
    "response_unspecified": ("Response, category not reported", OKABE_ITO["blue"], None),
    "died": ("Died (treatment-related)", OKABE_ITO["black"], None),
    "none": ("No response, not assessed or lost (not split by the source)", OKABE_ITO["vermillion"], None),
    "not_reported": ("Not reported", "#DDDDDD", "///"),
}


def _category_label(r) -> str:
    """A bar's label: study arm, time point, n, and whether it is a control arm, a case report
    or a secondary summary (a review's figure, not a study arm of its own)."""
    total = r["total"]
    n = f"n {'≥' if r['approximate'] else '='} {int(total)}" if pd.notna(total) else "n not given"
    summary = r.get("evidence_level") == "secondary_summary"
    extra = [x for x in (str(r.get("time") or ""), n,
                         "control arm" if r.get("arm_role") == "control" else "",
                         "case report" if r.get("is_case_report") else "",
                         "secondary summary" if summary else "") if x]
    return (APPROX_MARK + " " if r["approximate"] else "") + str(r["label"]) + f" ({', '.join(extra)})"


def _by_disease(categories: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
    """With more than one disease, the bars grouped by disease (in order of first appearance),
    each group under a heading row ("disease: X", an empty bar); ``{row: heading}``."""
    if "disease" not in categories.columns or categories["disease"].nunique() < 2:
        return categories, {}
    parts, headings, at = [], {}, 0
    for disease, g in categories.groupby("disease", sort=False):
        headings[at] = f"disease: {disease or 'not stated'}"
        blank = g.iloc[[0]].copy()  # same dtypes; an empty bar under the heading
        blank[[c for c in CATEGORY_STYLE if c in blank.columns]] = 0.0
        parts += [blank, g]
        at += len(g) + 1
    return pd.concat(parts, ignore_index=True), headings


def response_category_chart(categories: pd.DataFrame, title: str = "Response categories"):
    """Horizontal stacked bars (0-100 %) of :func:`analysis.rates.response_categories`, one per
    study arm and time point; deaths and the rest the source does not split are their own
    categories, never "no response"."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    categories, headings = _by_disease(categories)
    n = max(len(categories), 1)
    fig, ax = plt.subplots(figsize=(9, 1.3 + 0.42 * n))
    if categories.empty:
        ax.text(0.5, 0.5, "No study reports response categories.", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title, loc="left", fontweight="bold")
        return fig
    labels = [headings.get(i) or _category_label(r) for i, r in enumerate(categories.to_dict("records"))]
    y = np.arange(n)
    left = np.zeros(n)
    for col, (name, color, hatch) in CATEGORY_STYLE.items():
        vals = categories[col].to_numpy(dtype=float) if col in categories.columns else np.zeros(n)
        if not np.any(vals > 0):
            continue
        ax.barh(y, vals, left=left, color=color, hatch=hatch, edgecolor="white" if hatch is None else "0.6",
                label=name, height=0.6)
        for yi, v, l0 in zip(y, vals, left):
            if v >= 0.08:
                ax.text(l0 + v / 2, yi, f"{100 * v:.0f}%", ha="center", va="center", fontsize=8.5,
                        color="white" if col in ("complete", "response_unspecified", "none", "died") else "black")
        left += vals
    ax.set_yticks(y, labels)
    for i, tick in enumerate(ax.get_yticklabels()):
        if i in headings:
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    ax.set_xlabel("Share of patients in the study arm (%), at the time point shown\n"
                  "Each bar is one study arm as its source reports it; nothing is pooled or compared across bars.",
                  fontsize=9)
    ax.set_title(title, loc="left", fontweight="bold")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35 if n < 3 else -0.18), ncol=2, fontsize=8.5)
    return fig
