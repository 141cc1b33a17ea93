"""Drawing layers of a timeline: one function per kind of mark, on a matplotlib ``Axes``.

Each ``draw_*`` function draws one kind of mark of a :class:`~analysis.timelines.layout.
TimelineLayout` with collections or one NaN-separated path (one artist per kind of mark, not
per mark), so they compose on a user's own axes: :func:`draw_lanes` (bands, lane tracks,
time-zero line, axis limits and ticks), :func:`draw_status_segments`,
:func:`draw_uncertainty`, :func:`draw_event_markers`, :func:`draw_ongoing_arrows`,
:func:`draw_labels` (texts from :func:`lane_labels`). The legend and the whole figure are in
:mod:`.figure`.

Units: x in the layout's time unit, y in lane units (see :mod:`.layout`); marker sizes in
points² (matplotlib's ``s``), line widths in points. Colours and markers come from
:mod:`analysis.style`. matplotlib is imported inside the functions that draw (a deliberate
lazy import: reading the table and layout does not load it).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from analysis import schemas
from analysis.style import EVENT_STYLE, EVIDENCE_COLORS, OKABE_ITO, STATUS_COLORS, TICK_STEPS_TIMELINE
from analysis.timelines.layout import FOLLOWUP_NOT_REPORTED, HEADER_HEIGHT, OTHER_RELAPSE, TimelineLayout
from analysis.timelines.table import ANCHOR_CALENDAR

UNIT_ABBREVIATION = {"days": "d", "weeks": "wk", "months": "mo", "years": "y", "calendar year": ""}
BAND_COLOR = "#F2F2F2"
"""Background of every other patient's lanes."""
WHISKER_COLOR = "#3A3A3A"
"""Colour of finite uncertainty whiskers (dark, visible on every status colour)."""
SPAN_ALPHA = 0.45
LANE_COLOR = "#A8A8A8"
"""The lane's track from its first event (or time zero) to its end."""
UNCERTAIN_HATCH = "...."
"""Hatch of a status stretch whose start is uncertain (pale, dotted; the anecdote lanes' hatch
is ``///``)."""


def evidence_marker():
    """The glyph of an evidence level (a bookmark: a square with a notch at the bottom), used
    by no event, so the evidence colours never share a glyph and colour with a mark
    (an orange square is conditioning, a grey one chemotherapy)."""
    from matplotlib.path import Path

    verts = [(-0.5, 0.6), (0.5, 0.6), (0.5, -0.6), (0.0, -0.2), (-0.5, -0.6), (-0.5, 0.6)]
    return Path(verts, [Path.MOVETO] + [Path.LINETO] * 4 + [Path.CLOSEPOLY])


def mark_style(mark: str) -> dict:
    """Colour, marker, label, size (points²) and face of a mark -- a value of
    ``layout.events["mark"]``: an event type, :data:`OTHER_RELAPSE` or
    :data:`FOLLOWUP_NOT_REPORTED` (from :data:`analysis.style.EVENT_STYLE`). The markers, the
    legend and the lane labels all read it."""
    if mark == OTHER_RELAPSE:
        s = dict(EVENT_STYLE["relapse"])
        return {**s, "label": "Relapse of another disease (comorbidity)", "face": "none", "size": 46}
    if mark == FOLLOWUP_NOT_REPORTED:
        return {"color": OKABE_ITO["black"], "marker": _question_marker(), "label": "Follow-up not reported",
                "face": "full", "size": 60}
    s = dict(EVENT_STYLE.get(mark, {"color": OKABE_ITO["grey"], "marker": "o", "label": mark}))
    size = {"last_followup": 150, "admission": 60, "remission": 90, "death": 50, "relapse": 55}.get(mark, 40)
    return {**s, "face": "full", "size": size}


@functools.lru_cache(maxsize=1)
def _question_marker():
    """The marker matplotlib draws for ``"$?$"`` (the same path, to 1e-16), built from the
    font's glyph without the mathtext parser, whose first use costs ~0.1 s per process."""
    from matplotlib.markers import MarkerStyle
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    text = TextPath((0, 0), "?")
    bb = text.get_extents()
    size = max(bb.width, bb.height)
    # as MarkerStyle("$?$"): centred on the glyph's extents, its larger side 1
    path = text.transformed(Affine2D().translate(-bb.x0 - 0.5 * bb.width, -bb.y0 - 0.5 * bb.height).scale(1 / size))
    # a path marker is scaled to 0.5 / (largest |vertex|); undo that so the size is the same
    return MarkerStyle(path, transform=Affine2D().scale(2 * float(np.max(np.abs(path.vertices)))))


def _scale(layout: TimelineLayout) -> float:
    return 0.35 if layout.compact else 1.0


def draw_lanes(ax, layout: TimelineLayout):
    """Patient bands (alternating light shading), hatched background for adverse-event
    anecdotes, the lanes' base lines (start to end), the axis limits and the time-zero line.
    Returns a dict of the collections drawn."""
    from matplotlib.collections import PolyCollection

    x0, x1 = layout.xlim
    lanes, groups = layout.lanes, layout.groups
    out = {}
    shade = groups.iloc[1::2]
    out["bands"] = ax.add_collection(PolyCollection(
        [[(x0, t), (x1, t), (x1, b), (x0, b)] for t, b in zip(shade["y_top"] - _header(layout), shade["y_bottom"])],
        facecolors=BAND_COLOR, edgecolors="none", zorder=0))
    an = groups[groups["anecdote"]]
    if len(an):
        out["anecdote"] = ax.add_collection(PolyCollection(
            [[(x0, t), (x1, t), (x1, b), (x0, b)] for t, b in zip(an["y_top"], an["y_bottom"])],
            facecolors="none", edgecolors="#BBBBBB", hatch="///", linewidths=0, zorder=0.5))
    out["lanes"] = _segments(ax, lanes["start"].to_numpy(float), lanes["end_x"].to_numpy(float),
                             lanes["y"].to_numpy(float), lanes["y"].to_numpy(float), color=LANE_COLOR,
                             lw=1.2 * _scale(layout), zorder=1)
    if layout.anchor != ANCHOR_CALENDAR and x0 < 0 < x1:
        ax.axvline(0, color="#505050", lw=0.8, ls=(0, (4, 3)), zorder=0.8)
    ax.set_xlim(x0, x1)
    ax.set_ylim(*layout.ylim)
    ax.set_xlabel(layout.axis_label)
    step = _tick_step(layout.time_unit, x1 - x0)
    if step:
        from matplotlib.ticker import FormatStrFormatter, MultipleLocator

        ax.xaxis.set_major_locator(MultipleLocator(step))
        if layout.anchor == ANCHOR_CALENDAR and step >= 1:
            ax.xaxis.set_major_formatter(FormatStrFormatter("%d"))
    ax.spines["left"].set_visible(False)
    ax.grid(axis="x", color="#E0E0E0", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    return out


def _tick_step(time_unit: str, span: float, max_ticks: int = 14) -> float | None:
    """A tick step natural for the unit (months in 3, 6, 12, ...; weeks in 4, 13, 26, 52):
    the first of :data:`analysis.style.TICK_STEPS_TIMELINE` giving at most ``max_ticks``."""
    for step in TICK_STEPS_TIMELINE.get(time_unit, ()):
        if span / step <= max_ticks:
            return step
    return None


def _header(layout: TimelineLayout) -> float:
    return 0.0 if layout.compact else HEADER_HEIGHT


def draw_status_segments(ax, layout: TimelineLayout, half_height: float = 0.16):
    """Disease-status segments as coloured bars along the lanes (one PolyCollection);
    colours from :data:`analysis.style.STATUS_COLORS`."""
    from matplotlib.collections import PolyCollection

    s = layout.segments
    h = half_height * (1.6 if layout.compact else 1.0)  # compact lanes are 1 unit, one row
    solid = s["solid_from"].to_numpy(dtype=float) if "solid_from" in s else s["x0"].to_numpy(dtype=float)
    x0, x1 = s["x0"].to_numpy(dtype=float), s["x1"].to_numpy(dtype=float)
    colors = np.array([STATUS_COLORS.get(st, OKABE_ITO["grey"]) for st in s["status"]], dtype=object)
    # the stretch where the status is only known to have begun somewhere: pale, dotted
    unsure = solid > x0
    polys = [[(a, y - h), (b, y - h), (b, y + h), (a, y + h)]
             for a, b, y in zip(x0[unsure], np.minimum(solid, x1)[unsure], s["y"].to_numpy()[unsure])]
    unsure_coll = PolyCollection(polys, facecolors=list(colors[unsure]), edgecolors=list(colors[unsure]),
                                 hatch=UNCERTAIN_HATCH, alpha=0.35, linewidths=0, zorder=2)
    ax.add_collection(unsure_coll)
    # one polygon per segment (its solid part; empty where the whole segment is uncertain)
    polys = [[(a, y - h), (b, y - h), (b, y + h), (a, y + h)]
             for a, b, y in zip(np.minimum(solid, x1), x1, s["y"])]
    coll = PolyCollection(polys, facecolors=list(colors), edgecolors="none", alpha=0.85, zorder=2)
    ax.add_collection(coll)
    sp = layout.spans
    polys = [[(a, y - h), (b, y - h), (b, y + h), (a, y + h)] for a, b, y in zip(sp["x0"], sp["x1"], sp["y"])]
    span_coll = PolyCollection(polys, facecolors=[EVENT_STYLE[t]["color"] for t in sp["event_type"]],
                               edgecolors="none", alpha=SPAN_ALPHA, zorder=1.9)
    ax.add_collection(span_coll)
    return {"segments": coll, "uncertain": unsure_coll, "spans": span_coll}


def draw_uncertainty(ax, layout: TimelineLayout, style: str = "whisker"):
    """Intervals of imprecise times. A finite interval is a whisker with caps (``style=
    "whisker"``) or a shaded band (``"band"``); an open side ("at least", order only) is a
    dotted whisker from the best estimate to the axis edge, capped by an arrowhead there
    (it is never drawn "to infinity"). Returns the collections."""
    from matplotlib.collections import PolyCollection

    x0, x1 = layout.xlim
    e = layout.events
    e = e[e["mark"] != FOLLOWUP_NOT_REPORTED]
    lo, best, hi, y = (e[c].to_numpy(dtype=float) for c in ("x_lo", "time_best", "x_hi", "y"))
    colors = np.array([mark_style(m)["color"] for m in e["mark"]], dtype=object)
    fin_lo = np.where(np.isfinite(lo), lo, best)
    fin_hi = np.where(np.isfinite(hi), hi, best)
    a, b = np.clip(fin_lo, x0, x1), np.clip(fin_hi, x0, x1)
    has = b > a
    cap = layout.step * 0.32
    lw, alpha = (0.6, 0.6) if layout.compact else (1.2, 1.0)
    out = {}
    if style == "band":
        polys = [[(p, q - cap), (r, q - cap), (r, q + cap), (p, q + cap)] for p, r, q in zip(a[has], b[has], y[has])]
        out["bands"] = ax.add_collection(PolyCollection(polys, facecolors=list(colors[has]), alpha=0.25,
                                                        edgecolors="none", zorder=2.5))
    else:
        out["whiskers"] = _segments(ax, a[has], b[has], y[has], y[has], color=WHISKER_COLOR, lw=lw,
                                    alpha=alpha, zorder=2.5)
        cap_lo = has & np.isfinite(lo) & (lo >= x0)
        cap_hi = has & np.isfinite(hi) & (hi <= x1)
        cx = np.concatenate([a[cap_lo], b[cap_hi]])
        cy = np.concatenate([y[cap_lo], y[cap_hi]])
        out["caps"] = _segments(ax, cx, cx, cy - cap, cy + cap, color=WHISKER_COLOR, lw=lw, alpha=alpha, zorder=2.5)
    # open sides, and finite whiskers running beyond the axis, drawn as dotted arrows
    right = np.isposinf(hi) | (np.isfinite(hi) & (hi > x1))
    left = (np.isneginf(lo) | (np.isfinite(lo) & (lo < x0))) & (e["offscale"].to_numpy() != "left")
    right &= e["offscale"].to_numpy() != "right"
    start_r = np.clip(np.where(np.isposinf(hi), best, x1), x0, x1)
    start_l = np.clip(np.where(np.isneginf(lo), best, x0), x0, x1)
    xa = np.concatenate([start_r[right], np.full(left.sum(), x0)])
    xb = np.concatenate([np.full(right.sum(), x1), start_l[left]])
    yy = np.concatenate([y[right], y[left]])
    cols = np.concatenate([colors[right], colors[left]])
    out["open"] = {c: _segments(ax, xa[cols == c], xb[cols == c], yy[cols == c], yy[cols == c], color=c, lw=lw * 0.8,
                                ls=(0, (1, 1.6)), alpha=0.8, zorder=2.4) for c in dict.fromkeys(cols.tolist())}
    s = 22 * _scale(layout)
    out["open_right"] = ax.scatter(np.full(right.sum(), x1), y[right], marker=">", s=s, c=list(colors[right]) or None,
                                   linewidths=0, zorder=2.6, clip_on=False)
    out["open_left"] = ax.scatter(np.full(left.sum(), x0), y[left], marker="<", s=s, c=list(colors[left]) or None,
                                  linewidths=0, zorder=2.6, clip_on=False)
    return out


def _segments(ax, x0, x1, y0, y1, color, lw, ls="-", alpha=1.0, zorder=2.0):
    """Many straight segments of one colour and style as ONE path (a Line2D whose pieces are
    separated by NaN): one artist, and one element in an SVG, however many segments."""
    from matplotlib.lines import Line2D

    n = len(x0)
    xs = np.column_stack([x0, x1, np.full(n, np.nan)]).ravel()
    ys = np.column_stack([y0, y1, np.full(n, np.nan)]).ravel()
    line = Line2D(xs, ys, color=color, lw=lw, ls=ls, alpha=alpha, zorder=zorder, solid_capstyle="butt")
    ax.add_line(line)
    return line


def n_segments(line) -> int:
    """Number of segments drawn by one :func:`_segments` path."""
    return int(np.isnan(np.asarray(line.get_xdata(), dtype=float)).sum())


def draw_event_markers(ax, layout: TimelineLayout):
    """One scatter per kind of mark (event types of :data:`analysis.style.EVENT_STYLE`, a
    relapse of another disease as an open marker, "follow-up not reported" as "?").
    Assessments are filled with their status colour. Off-scale events get a small
    edge arrow. Returns ``{mark: PathCollection}``."""
    e = layout.events
    out = {}
    k = 0.22 if layout.compact else 1.0  # marker area; compact lanes are about 6 pt apart
    for mark, grp in e.groupby("mark", sort=True):
        st = mark_style(mark)
        face = st["color"]
        if mark == "assessment":
            face = [STATUS_COLORS.get(s, "white") if isinstance(s, str) else "white" for s in grp["status"]]
        line_marker = st["marker"] in ("|", "x", "+", "_")
        size = st["size"] * ((0.14 if layout.compact else 1.0) if line_marker else k)
        kw = dict(marker=st["marker"], s=size, zorder=3 + (0.5 if mark == "last_followup" else 0), label=st["label"])
        if line_marker:
            kw.update(c=st["color"], linewidths=(2.6 if mark == "last_followup" else 1.4) * max(k, 0.6))
        elif st["face"] == "none":
            kw.update(facecolors="none", edgecolors=st["color"], linewidths=1.4)
        elif mark == FOLLOWUP_NOT_REPORTED:
            kw.update(c=st["color"], linewidths=0)
        else:
            kw.update(c=face if isinstance(face, list) else st["color"], edgecolors="#222222", linewidths=0.5)
        out[mark] = ax.scatter(grp["x"], grp["y"], **kw)
    return out


def draw_ongoing_arrows(ax, layout: TimelineLayout, length: float | None = None):
    """An arrow after the lane end where the target disease is still in (partial or
    complete) remission at the last follow-up (or at the last report when follow-up is not
    reported). Drawn as one LineCollection (shaft) and one scatter (heads)."""
    from matplotlib.collections import LineCollection

    la = layout.lanes[layout.lanes["ongoing"].fillna(False).astype(bool)]
    x0, x1 = layout.xlim
    length = length if length is not None else 2.2 * layout.min_sep
    start = la["arrow_x"].to_numpy() + 0.4 * layout.min_sep
    tip = np.minimum(start + length, x1)
    y = la["y"].to_numpy()
    color = [STATUS_COLORS.get(s, OKABE_ITO["bluish_green"]) for s in la["last_status"]]
    shaft = ax.add_collection(LineCollection([[(a, q), (b, q)] for a, b, q in zip(start, tip, y)],
                                             colors=color, linewidths=2.0 * _scale(layout), zorder=3.2))
    heads = ax.scatter(tip, y, marker=">", s=55 * _scale(layout), c=color or None, linewidths=0, zorder=3.2,
                       clip_on=False)
    return {"shafts": shaft, "heads": heads}


def format_dose(dose: float, unit=None) -> str:
    """A dose as people write it: ``1000000`` cells/kg -> ``10⁶ cells/kg``, ``2e6`` ->
    ``2×10⁶``; small numbers as they are; empty when there is no dose."""
    if dose is None or pd.isna(dose) or not np.isfinite(dose):
        return ""
    exp = int(math.floor(math.log10(dose))) if dose > 0 else 0
    mant = dose / 10 ** exp if dose > 0 else 0
    sup = str(exp).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    num = (f"{mant:g}×10{sup}" if mant != 1 else f"10{sup}") if abs(exp) >= 4 else f"{dose:g}"
    return f"{num} {unit}" if isinstance(unit, str) and unit else num

def _fmt_num(v: float, digits: int) -> str:
    """One number with ``digits`` decimals and a true minus sign (as the table's texts)."""
    v = round(float(v), digits) + 0.0  # no "-0.0"
    return f"{v:.{digits}f}".replace("-", "−")


def _fmt_interval(lo: float, best: float, hi: float, abbr: str) -> str:
    b = _fmt_num(best, 0)
    if np.isneginf(lo) and np.isposinf(hi):
        return f"{b} {abbr} (order only)"
    if np.isposinf(hi):
        return f"≥ {b} {abbr}" if lo == best else f"{b} {abbr} (≥ {_fmt_num(lo, 0)})"
    if np.isneginf(lo):
        return f"≤ {b} {abbr}" if hi == best else f"{b} {abbr} (≤ {_fmt_num(hi, 0)})"
    if lo == hi:
        return f"{b} {abbr}"
    return f"{b} {abbr} ({_fmt_num(lo, 0)} to {_fmt_num(hi, 0)})"


def lane_labels(layout: TimelineLayout) -> pd.DataFrame:
    """Text of the labels: per lane (``lane_label``: line, therapy, number of stem-cell
    administrations, dose, follow-up, events beyond the axis) and per patient
    (``header``: id, disease(s), sex and age, short citation, evidence level, anecdote)."""
    la = layout.lanes
    ev = layout.events
    abbr = UNIT_ABBREVIATION.get(layout.time_unit, "")
    stem = ev[ev["event_type"].isin(schemas.STEM_CELL_EVENTS)]
    n_stem = stem.groupby("lane_id").size()
    n_inf = stem[stem["event_type"] == "infusion"].groupby("lane_id").size()
    dosed = stem.dropna(subset=["dose"])
    doses = dosed.groupby("lane_id").agg(dose=("dose", "first"), unit=("dose_unit", "first"),
                                         n_values=("dose", "nunique"), n=("dose", "size"))
    fu = ev[ev["event_type"].isin(["last_followup", "death"])].sort_values("time_best").groupby("lane_id").last()
    off = ev[ev["offscale"] != ""]

    def lane_text(r):
        n = int(n_stem.get(r.lane_id, 0))
        ther = r.line_therapy if isinstance(r.line_therapy, str) else "therapy not named"
        if layout.compact:
            return f"{r.patient_id} L{r.line}"
        parts = [f"line {r.line} · {ther}"]
        if n:
            kind = "infusion" if int(n_inf.get(r.lane_id, 0)) == n else "transplant"
            what = f"{n} {kind}{'s' if n != 1 else ''}"
            if r.lane_id in doses.index:
                d = doses.loc[r.lane_id]
                what += f", {format_dose(d['dose'], d['unit'])}"
                if d["n_values"] > 1:
                    what += " (first; doses differ)"
                elif d["n"] < n:
                    what += f" ({int(d['n'])} of {n} with a stated dose)"
            parts.append(what)
        if r.end_kind == "not_reported":
            parts.append("follow-up not reported")
        elif r.end_kind == "next_line":
            parts.append("followed by the next line")
        elif r.lane_id in fu.index:
            f = fu.loc[r.lane_id]
            word = "died at" if f["event_type"] == "death" else "follow-up"
            if layout.anchor == ANCHOR_CALENDAR:
                when = pd.Timestamp(f["date_best"]).strftime("%Y-%m") if pd.notna(f["date_best"]) else ""
                parts.append(f"{'died' if word == 'died at' else 'follow-up to'} {when}")
            else:
                parts.append(f"{word} {_fmt_interval(f['time_lo'], f['time_best'], f['time_hi'], abbr)}")
        for m, t, side in zip(off.loc[off["lane_id"] == r.lane_id, "mark"], off.loc[off["lane_id"] == r.lane_id, "time_best"],
                              off.loc[off["lane_id"] == r.lane_id, "offscale"]):
            arrow = "◂" if side == "left" else "▸"
            parts.append(f"{arrow} {mark_style(m)['label'].lower()} at {_fmt_num(t, 0)} {abbr} (off axis)")
        return "\n".join(parts)

    def header_text(r):
        sex = {"M": "male", "F": "female"}.get(r.sex, "")
        age = f"{r.age_years:g} y" if isinstance(r.age_years, (int, float)) and np.isfinite(r.age_years) else ""
        who = ", ".join(x for x in (sex, age) if x) or "sex/age not reported"
        role = "  ·  ADVERSE-EVENT ANECDOTE" if r.case_role == "adverse_event_anecdote" else ""
        return (f"{r.patient_id}  ·  {r.diseases}  ·  {who}{role}",
                f"{r.citation}  ·  evidence: {schemas.evidence_words(r.evidence_level)}")

    out = la[["lane_id", "patient_id", "line", "y", "first_in_patient"]].copy()
    out["lane_label"] = [lane_text(r) for r in la.itertuples(index=False)]
    heads = [header_text(r) if f else ("", "") for r, f in zip(la.itertuples(index=False), la["first_in_patient"])]
    out["header"] = [h[0] for h in heads]
    out["header_source"] = [h[1] for h in heads]
    return out


def draw_labels(ax, layout: TimelineLayout, fontsize: float | None = None):
    """Lane labels (y tick labels: line, therapy, number of infusions or transplants, dose,
    follow-up not reported), patient headers above each patient's lanes (id, disease(s),
    sex and age, short citation, evidence level, anecdote mark) with a square in the
    evidence level's colour, and the times of off-scale events. Returns the label table."""
    import matplotlib.transforms as mtransforms

    labels = lane_labels(layout)
    fs = fontsize or (5 if layout.compact else 8.5)
    trans = mtransforms.blended_transform_factory(ax.transAxes, ax.transData)
    heads = labels[labels["first_in_patient"]]
    lv = layout.lanes.set_index("lane_id")["evidence_level"]
    ax.set_yticks([])
    if layout.compact:
        # many lanes: plain texts (cheaper than ticks) and the evidence level as a coloured
        # square left of each lane
        for text, y in zip(labels["lane_label"], layout.lanes["y_label"]):
            ax.text(-0.009, y, text, transform=trans, ha="right", va="center", fontsize=fs, clip_on=False,
                    parse_math=False)
        ax.scatter(np.full(len(labels), -0.004), layout.lanes["y"], marker=evidence_marker(), s=8, transform=trans,
                   clip_on=False, linewidths=0, zorder=4,
                   c=[EVIDENCE_COLORS.get(str(v), OKABE_ITO["grey"]) for v in layout.lanes["evidence_level"]])
    else:
        ax.set_yticks(layout.lanes["y_label"].to_numpy())
        ax.set_yticklabels(labels["lane_label"], fontsize=fs, parse_math=False)  # data text, not mathtext
        ax.tick_params(axis="y", length=0)
        g = layout.groups.set_index("patient_id")
        yh = heads["patient_id"].map(g["y_header"]).to_numpy()
        ax.scatter(np.full(len(heads), 0.006), yh - 0.2, marker=evidence_marker(), s=48, transform=trans, clip_on=False,
                   c=[EVIDENCE_COLORS.get(str(lv[i]), OKABE_ITO["grey"]) for i in heads["lane_id"]],
                   edgecolors="#333333", linewidths=0.4, zorder=4)
        shaded = set(layout.groups["patient_id"].iloc[1::2])
        for pid, text, src, y in zip(heads["patient_id"], heads["header"], heads["header_source"], yh):
            box = dict(facecolor=BAND_COLOR if pid in shaded else "white", edgecolor="none", pad=0.6)
            t = ax.text(0.016, y - 0.2, text, transform=trans, ha="left", va="center", fontsize=fs, parse_math=False,
                        fontweight="bold", color="#222222", zorder=4, clip_on=True, bbox=box)
            t2 = ax.text(0.016, y + 0.22, src, transform=trans, ha="left", va="center", fontsize=fs - 0.5, parse_math=False,
                         color="#333333", zorder=4, clip_on=True, bbox=box)
            t.set_in_layout(False)
            t2.set_in_layout(False)
    return labels
