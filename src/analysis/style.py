"""Colours, markers and figure saving shared by every figure of the project.

Colours are the Okabe-Ito palette (colour-blind safe). The same event type, disease
status, therapy or evidence level gets the same colour in every figure.
"""

from __future__ import annotations

from pathlib import Path

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#999999",
}

#: colour and matplotlib marker per event type (timelines, legends)
EVENT_STYLE = {
    "diagnosis": {"color": OKABE_ITO["grey"], "marker": "D", "label": "Diagnosis"},
    "admission": {"color": OKABE_ITO["black"], "marker": "H", "label": "Admission"},
    "chemotherapy": {"color": OKABE_ITO["grey"], "marker": "s", "label": "Chemotherapy"},
    "conditioning": {"color": OKABE_ITO["orange"], "marker": "s", "label": "Conditioning"},
    "transplant": {"color": OKABE_ITO["blue"], "marker": "^", "label": "Stem-cell transplant"},
    "infusion": {"color": OKABE_ITO["bluish_green"], "marker": "v", "label": "Stem-cell infusion"},
    "assessment": {"color": OKABE_ITO["sky_blue"], "marker": "o", "label": "Assessment"},
    "remission": {"color": OKABE_ITO["bluish_green"], "marker": "*", "label": "Remission"},
    "relapse": {"color": OKABE_ITO["vermillion"], "marker": "X", "label": "Relapse"},
    "adverse_event": {"color": OKABE_ITO["reddish_purple"], "marker": "P", "label": "Adverse event"},
    "death": {"color": OKABE_ITO["black"], "marker": "x", "label": "Death"},
    "last_followup": {"color": OKABE_ITO["black"], "marker": "|", "label": "Last follow-up"},
}

#: colour per disease status (timeline segments)
STATUS_COLORS = {
    "active": OKABE_ITO["vermillion"],
    "improving": OKABE_ITO["yellow"],
    "partial": OKABE_ITO["sky_blue"],
    "complete": OKABE_ITO["bluish_green"],
    "relapse": OKABE_ITO["vermillion"],
    "not_reported": OKABE_ITO["grey"],
}

#: colour per evidence level (forest plots, KM legends)
EVIDENCE_COLORS = {
    "rct": OKABE_ITO["blue"],
    "controlled_study": OKABE_ITO["sky_blue"],
    "uncontrolled_study": OKABE_ITO["bluish_green"],
    "case_series": OKABE_ITO["yellow"],
    "case_report": OKABE_ITO["orange"],
    "reconstructed": OKABE_ITO["reddish_purple"],
    "secondary_summary": OKABE_ITO["grey"],
    "anecdote": OKABE_ITO["black"],
    "background": "#DDDDDD",
}

_GROUP_CYCLE = [
    OKABE_ITO["blue"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["orange"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["black"],
    OKABE_ITO["yellow"],
]


def group_colors(groups) -> dict:
    """Stable colour per group label: sorted labels take the Okabe-Ito cycle in order."""
    labels = sorted({str(g) for g in groups})
    return {g: _GROUP_CYCLE[i % len(_GROUP_CYCLE)] for i, g in enumerate(labels)}


def apply_style() -> None:
    """Readable defaults for every figure (call once per notebook)."""
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "font.size": 10,
            "axes.titlesize": 12,
            "axes.labelsize": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "svg.fonttype": "none",
            "svg.hashsalt": "analysis",  # reproducible SVG ids
        }
    )


def save_figure(fig, output_dir: str | Path, name: str) -> list[Path]:
    """Save ``fig`` as ``output_dir/figures/NAME.png`` and ``.svg``; return both paths.

    ``name`` is reduced to a safe file stem (see :func:`analysis.export.safe_stem`), so an
    id from a data file can never write outside ``output_dir/figures``.
    """
    from analysis.export import safe_stem

    folder = Path(output_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_stem(name)
    paths = []
    for ext in ("png", "svg"):
        path = folder / f"{stem}.{ext}"
        meta = {"Date": None} if ext == "svg" else {"Software": None}
        fig.savefig(path, bbox_inches="tight", metadata=meta)
        paths.append(path)
    return paths
