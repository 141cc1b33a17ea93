"""Shared fixtures: a small valid data folder written on the fly."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SEEDS = ROOT.parent / "shared" / "seeds"


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})


def minimal_tables() -> dict[str, list[dict]]:
    """A tiny, valid data set (synthetic, for tests only)."""
    return {
        "sources": [
            {"source_id": "T1", "kind": "case_report", "citation": "Test case report",
             "evidence_level": "case_report"},
        ],
        "patients": [
            {"patient_id": "P1", "source_id": "T1", "case_role": "autoimmune_case", "sex": "F",
             "age_years": "40", "diseases": "psoriasis", "therapy": "UC-MSC", "quote": "q"},
        ],
        "events": [
            {"event_id": "E1", "patient_id": "P1", "line": "0", "event_type": "admission",
             "date": "2010-03-15", "source_id": "T1", "quote": "q"},
            {"event_id": "E2", "patient_id": "P1", "line": "1", "event_type": "infusion",
             "offset": "+2 weeks", "offset_from": "E1", "product": "UC-MSC", "dose": "1000000",
             "dose_unit": "cells/kg", "source_id": "T1", "quote": "q"},
            {"event_id": "E3", "patient_id": "P1", "line": "1", "event_type": "last_followup",
             "offset": "+2 years", "offset_from": "E2", "qualifier": "about", "source_id": "T1",
             "quote": "q"},
        ],
        "cohort_outcomes": [
            {"outcome_id": "O1", "source_id": "T1", "study": "Test", "arm": "MSC",
             "disease": "lupus", "therapy": "MSC", "design": "uncontrolled_cohort",
             "controlled": "no", "outcome": "response", "definition": "responded",
             "events": "3", "total": "4", "total_qualifier": "exact", "approximate": "no",
             "quote": "q"},
        ],
    }


def write_folder(folder: Path, tables: dict[str, list[dict]]) -> Path:
    from analysis.schemas import FILES

    for name, rows in tables.items():
        write_csv(folder / FILES[name].path, rows, FILES[name].column_names)
    return folder


@pytest.fixture
def tables():
    return minimal_tables()


@pytest.fixture
def make_folder(tmp_path):
    """``make_folder(tables)`` writes a data folder and returns its path."""
    counter = iter(range(10_000))

    def _make(tables):
        return write_folder(tmp_path / f"data{next(counter)}", tables)

    return _make
