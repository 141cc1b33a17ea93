"""Write tests/reference_data/rates_metadat, a valid data folder of public single-arm proportions.

Run from the project root after ``Rscript tests/r/metafor_reference.R`` (which exports the
metadat data sets to ``tests/r/input_proportions.csv``)::

    .venv/bin/python tests/r/make_rates_reference_data.py

The folder holds two metadat data sets as two "diseases" so that the rates notebook pools
per subgroup and overall; its ``pooled_rates.csv`` must equal the ``combined``,
``pritz1997`` and ``debruin2009`` rows of ``tests/r/expected_metafor_pooled.csv``.
These are not stem-cell data: they only exercise the computations.
"""

from __future__ import annotations

import csv
from pathlib import Path

from analysis.schemas import FILES

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "reference_data" / "rates_metadat"

SOURCES = {
    "pritz1997": dict(
        source_id="PRITZ1997", kind="review",
        citation="Zhou, Brizendine & Pritz, Stat Med 1999;18:557-566 (metadat::dat.pritz1997)",
        year="1999", link="https://doi.org/10.1002/(SICI)1097-0258(19990315)18:5<557::AID-SIM53>3.0.CO;2-F",
        evidence_level="uncontrolled_study",
        notes="Reference data for tests: 14 single-arm studies of hyperdynamic therapy for cerebral "
              "vasospasm; xi = patients improved, ni = patients treated."),
    "debruin2009": dict(
        source_id="DEBRUIN2009", kind="review",
        citation="de Bruin et al., Health Psychol 2009;28:668-674 (metadat::dat.debruin2009)",
        year="2009", link="https://doi.org/10.1037/a0015989", evidence_level="uncontrolled_study",
        notes="Reference data for tests: 13 standard-care arms of HAART-adherence trials; xi = "
              "patients with an undetectable viral load, ni = patients in the arm."),
}
DISEASE = {"pritz1997": "cerebral vasospasm (pritz1997)", "debruin2009": "HIV (debruin2009)"}
THERAPY = {"pritz1997": "hyperdynamic therapy", "debruin2009": "standard care"}


def main() -> None:
    rows = list(csv.DictReader((ROOT / "tests" / "r" / "input_proportions.csv").open(encoding="utf-8")))
    outcomes = []
    for i, r in enumerate(x for x in rows if x["dataset"] in SOURCES):
        ds = r["dataset"]
        outcomes.append(dict(
            outcome_id=f"{SOURCES[ds]['source_id']}-{i + 1:02d}", source_id=SOURCES[ds]["source_id"],
            study=r["study"], arm=r["subgroup"] if ds == "debruin2009" else "single arm",
            disease=DISEASE[ds], therapy=THERAPY[ds], cell_source="", design="uncontrolled_cohort",
            controlled="no", outcome="response",
            definition="improved" if ds == "pritz1997" else "undetectable viral load",
            events=r["xi"], total=r["ni"], total_qualifier="exact", proportion="",
            proportion_qualifier="", approximate="no", time_value="", time_unit="",
            time_qualifier="", quote=f"xi = {r['xi']}, ni = {r['ni']} (metadat::dat.{ds})", notes=""))
    tables = {"sources": list(SOURCES.values()), "patients": [], "events": [],
              "cohort_outcomes": outcomes}
    for name, data in tables.items():
        cols = FILES[name].column_names
        path = OUT / FILES[name].path
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
            w.writeheader()
            for row in data:
                w.writerow({c: row.get(c, "") for c in cols})
    (OUT / "README.md").write_text(
        "# Reference data: single-arm proportions from metadat\n\n"
        "Written by `tests/r/make_rates_reference_data.py` from the metadat data sets\n"
        "`dat.pritz1997` and `dat.debruin2009` (see `tests/r/metafor_reference.R`). Not stem-cell\n"
        "evidence: a valid data folder on which the rates notebook must pool and agree with R\n"
        "metafor (`tests/r/expected_metafor_pooled.csv`).\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
