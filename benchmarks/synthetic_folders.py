"""Synthetic data folders for the loading benchmark, written into a temporary folder (never
under data/ or examples/). Nothing here is evidence: copies of the shipped rows with new ids,
copies of the bad-data corpus's valid base, and simulated individual patient data."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "tests" / "bad_data" / "_base"
SHIPPED = ROOT / "data"


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _write(path: Path, table: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(table)


def shipped_kind(folder: Path, n_events: int) -> int:
    """``data/`` with its patients and events copied (ids prefixed ``C<k>-``) until there are at
    least ``n_events`` events: the shipped kind (long quotes, dates, offsets, chains, ages).
    Returns the number of events."""
    folder.mkdir(parents=True)
    for name in ("sources.csv", "cohort_outcomes.csv"):
        shutil.copy(SHIPPED / name, folder / name)
    events, patients = _rows(SHIPPED / "events.csv"), _rows(SHIPPED / "patients.csv")
    col = {c: i for i, c in enumerate(events[0])}
    out_e, out_p, k = [events[0]], [patients[0]], 0
    while len(out_e) - 1 < n_events:
        out_p += [[f"C{k}-{r[0]}", *r[1:]] for r in patients[1:]]
        for r in events[1:]:
            r = list(r)
            for c in ("event_id", "patient_id"):
                r[col[c]] = f"C{k}-{r[col[c]]}"
            if r[col["offset_from"]] not in ("", "birth"):
                r[col["offset_from"]] = f"C{k}-{r[col['offset_from']]}"
            out_e.append(r)
        k += 1
    _write(folder / "events.csv", out_e)
    _write(folder / "patients.csv", out_p)
    return len(out_e) - 1


def short_events(folder: Path, mbytes: float) -> int:
    """The corpus's valid base with copies of its patient and three short events until
    events.csv is about ``mbytes``. Returns the number of events."""
    shutil.copytree(BASE, folder)
    ev_header, *ev_rows = (BASE / "events.csv").read_text(encoding="utf-8").splitlines()
    pa_header, pa_row = (BASE / "patients.csv").read_text(encoding="utf-8").splitlines()
    events, patients, n = [ev_header], [pa_header], 0
    size = len(ev_header)
    while size < mbytes * 2**20:
        for r in ev_rows:
            cells = r.split(",")
            cells[0], cells[1] = f"{cells[0]}-{n}", f"P{n}"
            if cells[12]:
                cells[12] = f"{cells[12]}-{n}"
            line = ",".join(cells)
            events.append(line)
            size += len(line) + 1
        patients.append(pa_row.replace("P1", f"P{n}", 1))
        n += 1
    (folder / "events.csv").write_text("\n".join(events) + "\n", encoding="utf-8")
    (folder / "patients.csv").write_text("\n".join(patients) + "\n", encoding="utf-8")
    return len(events) - 1


def ipd_folder(folder: Path, n: int, seed: int = 2024) -> Path:
    """The corpus's valid base plus ``ipd/trial.csv``: ``n`` patients of its cohort S2 in two
    arms, exponential relapse times and uniform censoring in whole days, a cause on every
    event (relapse, or death for one in ten). Returns the IPD file."""
    shutil.copytree(BASE, folder)
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.5, "MSC", "HSCT")
    relapse = rng.exponential(np.where(group == "MSC", 700.0, 900.0))
    censor = rng.uniform(0, 3650, n)
    event = (relapse <= censor).astype(int)
    time = np.floor(np.minimum(relapse, censor)).astype(int)
    cause = np.where(event == 1, np.where(rng.random(n) < 0.1, "death", "relapse"), "")
    (folder / "ipd").mkdir()
    path = folder / "ipd" / "trial.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("study,patient_id,group,time,time_unit,event,cause\n")
        step = 100_000
        for start in range(0, n, step):
            sl = slice(start, start + step)
            ids = np.arange(start + 1, min(start + step, n) + 1).astype(str)
            lines = ["S2," + ",".join(cells) for cells in zip(ids, group[sl], time[sl].astype(str), ["days"] * len(ids),
                                                             event[sl].astype(str), cause[sl])]
            f.write("\n".join(lines) + "\n")
    return path
