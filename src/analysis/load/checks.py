"""Checks across rows and files of a validated data folder, each problem at file:row:column.

Every check reads cells through :func:`plain_rows`, which never hands out pandas' ``NA``: a
missing text cell is ``""`` and a missing number ``nan``, so a comparison of an empty cell
is simply false instead of raising ``TypeError: boolean value of NA is ambiguous`` (the
crash an ordinary row with an empty optional ``total_qualifier`` once caused). Cells a check
depends on that were reported already (a text in a number column, blanked) are skipped, so
one mistake gives one line.
"""

from __future__ import annotations

import difflib
import math

import numpy as np
import pandas as pd

from analysis import schemas, timing
from analysis.load.readers import Problem

MAX_DURATION_YEARS = 120
"""Longest duration accepted in cohort outcomes (a human life)."""

UNCONTROLLED_DESIGNS = ("case_report", "case_series", "uncontrolled_cohort", "review_summary")

EPS_DAYS = 1e-6
"""Slack (days) before an order is called certainly wrong: sums of interval ends along
offset chains carry float rounding, and two events on the same day are in order."""


def text(value) -> str:
    """A cell as text, ``""`` when empty (pandas' NA cannot be compared)."""
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def plain_rows(df: pd.DataFrame) -> list[tuple[int, dict]]:
    """``(spreadsheet row, cells)`` for every row of ``df``: number columns as ``float``
    (``nan`` when empty), every other cell as ``str`` (``""`` when empty)."""
    import numpy as np

    columns = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            columns[c] = s.to_numpy(dtype=float, na_value=np.nan).tolist()
        else:
            columns[c] = [text(v) for v in s]
    names = list(columns)
    return [(row, dict(zip(names, values))) for row, values in zip(df.index, zip(*columns.values()))] \
        if names else [(row, {}) for row in df.index]


def given(x: float) -> bool:
    return not math.isnan(x)


def _num(x: float) -> str:
    return timing.shown_value(x)


def reported_cells(problems: list[Problem], name: str) -> set[tuple]:
    """``(row, column)`` of every problem already reported in file ``name``."""
    return {(p.row, p.column) for p in problems if p.file == name}


# --------------------------------------------------------------------------- cohort outcomes


def check_outcomes(df: pd.DataFrame, problems: list[Problem], name: str = "cohort_outcomes.csv") -> None:
    reported = reported_cells(problems, name)
    qualified = [c for c in schemas.COHORT_OUTCOMES.columns if c.qualifier]
    for row, r in plain_rows(df):
        ev, tot, prop = r["events"], r["total"], r["proportion"]
        total_ok = (row, "total") not in reported
        if given(ev) and given(tot) and ev > tot:
            problems.append(Problem(name, row, "events", f"expected events <= total ({_num(tot)}), found {_num(ev)}"))
        if given(ev) and not given(tot) and total_ok:
            problems.append(Problem(name, row, "total", f"expected the total that the {_num(ev)} events are out of, "
                                    "found an empty cell"))
            reported.add((row, "total"))
        if given(ev) and given(prop):
            problems.append(Problem(name, row, "proportion", "expected either events/total or a proportion, found both"))
        if given(r["time_value"]) and not r["time_unit"]:
            problems.append(Problem(name, row, "time_unit", "expected a unit for time_value, found an empty cell"))
        elif given(r["time_value"]) and r["time_unit"] in schemas.TIME_UNITS:
            years = r["time_value"] * timing.TIME_UNITS[r["time_unit"]] / timing.YEAR
            if years > MAX_DURATION_YEARS:
                problems.append(Problem(name, row, "time_value", f"expected a duration of at most {MAX_DURATION_YEARS} "
                                        f"years, found {r['time_value']:g} {r['time_unit']}"))
        for col in qualified:  # a qualifier says how exact a value is: no value, nothing to qualify
            q = r[col.qualifier]
            if q and not given(r[col.name]) and (row, col.name) not in reported and (row, col.qualifier) not in reported:
                problems.append(Problem(name, row, col.qualifier, f"expected a {col.name} beside {col.qualifier} "
                                        f"{q!r}, found {col.name} empty (give the {col.name}, or leave "
                                        f"{col.qualifier} empty)"))
        approximate = r["approximate"]
        if approximate and approximate != "yes":  # empty: reported as a required cell
            for value, column, rough in ((tot, "total_qualifier", ("about", "at_least")),
                                         (prop, "proportion_qualifier", ("about",))):
                if given(value) and r[column] in rough:
                    what = column.split("_")[0]
                    problems.append(Problem(name, row, "approximate", f"expected 'yes' since {what} is "
                                            f"{r[column]!r}, found {approximate!r}"))
    check_comparisons(df, problems, name)


def check_comparisons(df: pd.DataFrame, problems: list[Problem], name: str) -> None:
    """Arms of one comparison: rows with the same source, study, outcome and time point, one
    ``control`` and one or more ``intervention`` arms. Names what a reader could not pair."""
    if "arm_role" not in df.columns or df.empty:
        return
    by_key: dict = {}
    rows = plain_rows(df[["source_id", "study", "outcome", "time_value", "time_unit", "arm_role", "design",
                          "controlled"]])
    for row, r in rows:
        key = (r["source_id"], r["study"], r["outcome"], r["time_value"] if given(r["time_value"]) else None,
               r["time_unit"])
        by_key.setdefault(key, []).append((row, r["arm_role"]))
    for (_src, study, outcome, t, unit), members in by_key.items():
        controls = [row for row, rl in members if rl == "control"]
        treated = [row for row, rl in members if rl == "intervention"]
        when = f" at {timing.amount(t, unit)}" if t is not None else ""
        if len(controls) > 1:
            for row in controls[1:]:
                problems.append(Problem(name, row, "arm_role", f"expected one control arm for {study!r} {outcome}{when}, "
                                        f"found {len(controls)} (rows {', '.join(map(str, controls))}); give each "
                                        "comparison its own study label or time point"))
        if controls and not treated:
            problems.append(Problem(name, controls[0], "arm_role", f"expected an intervention arm beside this control arm "
                                    f"({study!r} {outcome}{when}, same source, study, outcome and time point), found none"))
    for row, r in rows:
        design = r["design"]
        if r["arm_role"] == "control" and (design in UNCONTROLLED_DESIGNS or r["controlled"] == "no"):
            problems.append(Problem(name, row, "arm_role", f"expected no control arm in an uncontrolled study "
                                    f"(design {design!r}, controlled {r['controlled']!r}), found 'control'"))


# --------------------------------------------------------------------------- events


def check_events(df: pd.DataFrame, problems: list[Problem], name: str = "events.csv",
                 cells: dict | None = None) -> None:
    """A dose without its unit; a transplant or infusion outside a treatment line."""
    dose = df["dose"].to_numpy(dtype=float, na_value=np.nan)
    unit, kind = texts(df, "dose_unit", cells), texts(df, "event_type", cells)
    line = df["line"].to_numpy(dtype=float, na_value=np.nan)
    for i in np.flatnonzero(~np.isnan(dose) & (unit == "")).tolist():
        problems.append(Problem(name, int(df.index[i]), "dose_unit", f"expected the unit of dose {dose[i]:g}, "
                                "found an empty cell"))
    for i in np.flatnonzero(pd.Series(kind).isin(schemas.STEM_CELL_EVENTS).to_numpy() & (line == 0)).tolist():
        article = "an" if kind[i] == "infusion" else "a"  # an empty line: reported
        problems.append(Problem(name, int(df.index[i]), "line", f"expected a treatment line >= 1 for {article} "
                                f"{kind[i]}, found 0"))


def texts(df: pd.DataFrame, column: str, cells: dict | None = None) -> np.ndarray:
    """A column as an object array of ``str``, ``""`` where empty (never pandas' NA);
    ``cells``: the file's text columns as read (:class:`analysis.load.readers.Shape`), if known."""
    if cells is not None and column in cells:
        return cells[column]
    if df[column].dtype != object:
        return np.array([text(v) for v in df[column]], dtype=object)
    return df[column].to_numpy(dtype=object, na_value="")


_WORDS = {"last_followup": "last follow-up", "adverse_event": "adverse event"}


def _event_words(event_type: str) -> str:
    return _WORDS.get(event_type, event_type)


def _after(days: float) -> str:
    return (f"{timing.amount(math.floor(days), 'days')} or more" if days >= 1 else "less than a day")


def check_event_order(events: pd.DataFrame, graph: timing.OffsetGraph | None, usable,
                      problems: list[Problem], name: str = "events.csv", chains=None, cells=None,
                      node=None) -> None:
    """What the resolved times say is certainly wrong (intervals that cannot overlap): an
    event after the patient's death (but follow-up and post-mortem findings), two deaths, a
    last follow-up before another event; and gaps in a patient's line numbers. Rows with a
    problem already are left out (their times are unreliable).

    ``usable``: the event ids with a time (or a mask of the rows). The loader passes what it
    has made already: ``chains`` (the same offset chains as
    :class:`analysis.load.chains.Chains`), ``cells`` (:class:`EventCells`) and each row's ``node``
    in the chains; every comparison is made for all events at once."""
    from analysis.load.chains import Chains

    ev = cells if cells is not None else EventCells(events)
    skip = {p.row for p in problems if p.file == name}
    _check_lines(ev, problems, name)
    if graph is None and chains is None:
        return
    chains = chains if chains is not None else Chains.from_graph(graph)
    node = node if node is not None else chains.index(ev.event_id)
    if not isinstance(usable, np.ndarray):
        usable = pd.Series(ev.event_id).isin(usable).to_numpy()
    ok = ev.named & usable & (~pd.Series(ev.row).isin(skip).to_numpy() if skip else True)
    _check_deaths(ev, ok, node, chains, problems, name)
    followups = np.flatnonzero(ok & ev.of_type("last_followup"))
    others = np.flatnonzero(ok & ~ev.of_type("last_followup", "death"))
    for f, (lo, o) in _later_than(ev, node, chains, followups, others):
        problems.append(Problem(name, int(ev.row[f]), ev.column(f), f"expected the last follow-up of patient "
                                f"{ev.patient_id[f]} after every other event, found the "
                                f"{_event_words(ev.event_type[o])} on row {ev.row[o]} ({ev.event_id[o]}) "
                                f"{_after(lo)} after it"))


class EventCells:
    """The cells of the events file the order checks read, as arrays in row order (text
    ``""`` when empty, ``line`` NaN), and each row's patient as a number."""

    def __init__(self, events: pd.DataFrame, cells: dict | None = None):
        self.row = events.index.to_numpy()
        for c in ("event_id", "patient_id", "event_type", "date"):
            setattr(self, c, texts(events, c, cells))
        self.line = events["line"].to_numpy(dtype=float, na_value=np.nan)
        self.named = (self.patient_id != "") & (self.event_id != "")
        self.patient, self.patients = pd.factorize(self.patient_id)
        self._kind, self._kinds = pd.factorize(self.event_type)

    def of_type(self, *types: str) -> np.ndarray:
        """Whether each row's ``event_type`` is one of ``types``."""
        codes = [i for i, k in enumerate(self._kinds) if k in types]
        return np.isin(self._kind, codes) if codes else np.zeros(len(self.row), dtype=bool)

    def column(self, i: int) -> str:
        return "date" if self.date[i] else "offset"


def _check_deaths(ev: EventCells, ok: np.ndarray, node: np.ndarray, chains, problems: list[Problem],
                  name: str) -> None:
    """A second death of a patient; an event after the death (not a follow-up or a finding)."""
    death = ev.of_type("death")
    deaths = pd.DataFrame({"pos": np.flatnonzero(ev.named & death)})
    deaths["patient"] = ev.patient[deaths["pos"]]
    first = deaths.groupby("patient")["pos"].transform("first").to_numpy()
    for i, f in zip(deaths["pos"].to_numpy()[deaths["pos"].to_numpy() != first].tolist(),
                    first[deaths["pos"].to_numpy() != first].tolist()):
        problems.append(Problem(name, int(ev.row[i]), "event_type", f"expected one death per patient, found a second "
                                f"death of patient {ev.patient_id[i]} (the first on row {ev.row[f]}, "
                                f"{ev.event_id[f]})"))
    dead = pd.Series(np.flatnonzero(ok & death))
    death_of = dead.groupby(ev.patient[dead.to_numpy()]).first()
    after = ok & ~ev.of_type(*schemas.EVENTS_AFTER_DEATH, "death")
    after &= pd.Series(ev.patient).isin(death_of.index).to_numpy()
    pos = np.flatnonzero(after)
    d = death_of.reindex(ev.patient[pos]).to_numpy(dtype=np.int64)
    _, lo, _, _ = chains.relative(node[pos], node[d])
    with np.errstate(invalid="ignore"):
        late = lo > EPS_DAYS
    for i, j, days in zip(pos[late].tolist(), d[late].tolist(), lo[late].tolist()):
        problems.append(Problem(name, int(ev.row[i]), ev.column(i), f"expected no {_event_words(ev.event_type[i])} "
                                f"after the death of patient {ev.patient_id[i]} (row {ev.row[j]}, "
                                f"{ev.event_id[j]}), found it {_after(days)} after"))


PAIR_BUDGET = 200_000
"""Event pairs compared through their nearest common ancestor per patient; beyond it (a
hostile file) each event is compared through its chain's root: never a false problem, only
fewer found, and linear time."""
_PAIRS_AT_ONCE = 1_000_000


def _later_than(ev: EventCells, node: np.ndarray, chains, firsts: np.ndarray, others: np.ndarray):
    """For each of ``firsts`` (positions), the event of ``others`` of the same patient
    certainly latest after it: ``(first, (days, other))``, only where one is certainly after;
    the latest by the most days, then the first row."""
    nf = np.bincount(ev.patient[firsts], minlength=ev.patient.max(initial=-1) + 1)
    no = np.bincount(ev.patient[others], minlength=len(nf))
    by_pairs = (nf * no <= PAIR_BUDGET)[ev.patient[firsts]] if len(firsts) else np.zeros(0, dtype=bool)
    yield from _later_by_pairs(ev, node, chains, firsts[by_pairs], others, no)
    yield from _later_by_root(ev, node, chains, firsts[~by_pairs], others)


def _later_by_pairs(ev, node, chains, firsts, others, no):
    others = others[np.argsort(ev.patient[others], kind="stable")]
    start = np.concatenate([[0], np.cumsum(no)])
    firsts = firsts[np.argsort(ev.patient[firsts], kind="stable")]
    counts = no[ev.patient[firsts]]
    chunk = (np.cumsum(counts) - 1) // _PAIRS_AT_ONCE  # consecutive firsts, about a million pairs each
    found = []
    for c in np.unique(chunk[counts > 0]):
        f, n = firsts[chunk == c], counts[chunk == c]
        f_rep = np.repeat(f, n)
        within = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        o = others[start[ev.patient[f_rep]] + within]
        _, lo, _, _ = chains.relative(node[o], node[f_rep])
        with np.errstate(invalid="ignore"):
            later = lo > EPS_DAYS
        found.append(pd.DataFrame({"f": f_rep[later], "o": o[later], "lo": lo[later]}))
    if not found:
        return
    pairs = pd.concat(found).assign(row=lambda t: ev.row[t["o"].to_numpy()])
    best = pairs.sort_values(["f", "lo", "row"], ascending=[True, False, True], kind="stable").drop_duplicates("f")
    for f, o, lo in zip(best["f"].tolist(), best["o"].tolist(), best["lo"].tolist()):
        yield f, (lo, o)


def _later_by_root(ev, node, chains, firsts, others):
    if not len(firsts):
        return
    root, lo, _, _ = chains.to_root(node[others])
    top = pd.DataFrame({"patient": ev.patient[others], "root": root, "lo": lo, "o": others})
    top = top.sort_values(["patient", "root", "lo"], ascending=[True, True, False], kind="stable").drop_duplicates(
        ["patient", "root"]).set_index(["patient", "root"])
    f_root, _, _, f_hi = chains.to_root(node[firsts])
    key = pd.MultiIndex.from_arrays([ev.patient[firsts], f_root])
    got = top.reindex(key)
    gap = got["lo"].to_numpy() - f_hi
    with np.errstate(invalid="ignore"):
        late = gap > EPS_DAYS
    for f, o, days in zip(firsts[late].tolist(), got["o"].to_numpy()[late].astype(np.int64).tolist(), gap[late].tolist()):
        yield f, (days, o)


def _check_lines(ev: EventCells, problems: list[Problem], name: str) -> None:
    """A patient's lines numbered with a gap (1, 3): named at the first row of the line after it."""
    with np.errstate(invalid="ignore"):
        numbered = ev.named & (ev.line >= 1) & (ev.line == np.floor(ev.line))
    lines = pd.DataFrame({"patient": ev.patient[numbered], "line": ev.line[numbered].astype(np.int64),
                          "pos": np.flatnonzero(numbered)}).drop_duplicates(["patient", "line"])
    lines = lines.sort_values(["patient", "line"], kind="stable")
    prev = lines.groupby("patient")["line"].shift(1, fill_value=0).to_numpy()
    gap = lines["line"].to_numpy() - prev > 1
    for n, line, pos in zip((prev[gap] + 1).tolist(), lines["line"].to_numpy()[gap].tolist(),
                            lines["pos"].to_numpy()[gap].tolist()):
        end = line - 1
        missing = f"line {n}" if end == n else f"lines {n}-{end}"
        problems.append(Problem(name, int(ev.row[pos]), "line", f"expected {missing} of patient {ev.patient_id[pos]} "
                                f"before its line {line}, found no event in {missing}; number a patient's lines 1, 2, "
                                "3, ... without gaps"))


# --------------------------------------------------------------------------- survival files


def _curve(study: str, group: str) -> str:
    return f"{study} / {group!r}"


def check_ipd(ipd: pd.DataFrame, problems: list[Problem]) -> None:
    """Over all ``ipd/`` files: one row per patient (``study`` + ``patient_id``); a row with
    ``time`` empty is an event known only within ``time_lo`` - ``time_hi``; ``time_lo <= time
    <= time_hi`` where given; no ``cause`` on a censored row. Cells reported already are not
    looked at again; every rule runs on whole columns, and only a failing row is worded."""
    if ipd is None or ipd.empty or "file" not in ipd.columns:
        return
    row, file = ipd.index.to_numpy(), ipd["file"].to_numpy(dtype=object)
    study, patient = texts(ipd, "study"), texts(ipd, "patient_id")
    keyed = np.flatnonzero((study != "") & (patient != ""))
    p_code, p_ids = pd.factorize(patient[keyed])
    if len(p_ids) == len(keyed):  # every patient_id once: no (study, patient_id) twice
        _check_ipd_times(ipd, row, file, problems)
        return
    s_code = pd.factorize(study[keyed])[0]
    key = s_code * (int(p_code.max(initial=0)) + 1) + p_code  # (study, patient_id) as one number
    keys, first = np.unique(key, return_index=True)
    again = np.ones(len(key), dtype=bool)
    again[first] = False
    for j in np.flatnonzero(again).tolist():
        i, f = keyed[j], keyed[first[np.searchsorted(keys, key[j])]]
        where = f"row {row[f]}" if file[f] == file[i] else f"{file[f]} row {row[f]}"
        problems.append(Problem(file[i], int(row[i]), "patient_id", f"expected one row per patient, found patient "
                                f"{patient[i]!r} of study {study[i]} again (first on {where})"))
    _check_ipd_times(ipd, row, file, problems)


def _check_ipd_times(ipd: pd.DataFrame, row: np.ndarray, file: np.ndarray, problems: list[Problem]) -> None:
    reported = {(p.file, p.row, p.column) for p in problems if p.file.startswith("ipd/")}

    def number(c):
        return ipd[c].to_numpy(dtype=float, na_value=np.nan) if c in ipd.columns else np.full(len(ipd), np.nan)

    def clean(i, *columns) -> bool:  # no cell of the rule reported already
        return not any((file[i], int(row[i]), c) in reported for c in columns)

    time, lo, hi, event = number("time"), number("time_lo"), number("time_hi"), number("event")
    t, a, b = ~np.isnan(time), ~np.isnan(lo), ~np.isnan(hi)
    cause = texts(ipd, "cause") if "cause" in ipd.columns else np.full(len(ipd), "", dtype=object)
    found = []
    for i in np.flatnonzero(~t & ~a & ~b).tolist():
        if clean(i, "time", "time_lo", "time_hi"):
            found.append((i, "time", "expected a value, found an empty cell (an event known only within an interval "
                                     "gives time_lo and time_hi instead)"))
    for i in np.flatnonzero(~t & (a ^ b)).tolist():
        given, other = ("time_lo", "time_hi") if a[i] else ("time_hi", "time_lo")
        if clean(i, "time", given, other):
            found.append((i, other, f"expected {other} beside {given} {_num(lo[i] if a[i] else hi[i])} (time is "
                                    "empty: the event lies between them), found an empty cell"))
    for i in np.flatnonzero(~t & a & b & (event == 0)).tolist():
        if clean(i, "time", "time_lo", "time_hi", "event"):
            found.append((i, "event", "expected event 1 for an interval (time_lo, time_hi) without a time (a censored "
                                      "row gives its censoring time in time), found 0"))
    with np.errstate(invalid="ignore"):
        for i in np.flatnonzero(t & a & (lo > time)).tolist():
            if clean(i, "time", "time_lo"):
                found.append((i, "time_lo", f"expected time_lo <= time ({_num(time[i])}), found {_num(lo[i])}"))
        for i in np.flatnonzero(t & b & (hi < time)).tolist():
            if clean(i, "time", "time_hi"):
                found.append((i, "time_hi", f"expected time_hi >= time ({_num(time[i])}), found {_num(hi[i])}"))
        for i in np.flatnonzero(~t & a & b & (hi < lo)).tolist():
            if clean(i, "time_lo", "time_hi"):
                found.append((i, "time_hi", f"expected time_hi >= time_lo ({_num(lo[i])}), found {_num(hi[i])}"))
    for i in np.flatnonzero((event == 0) & (cause != "")).tolist():
        if clean(i, "event", "cause"):
            found.append((i, "cause", f"expected an empty cell when event is 0 (censored), found "
                                      f"{timing.shown(cause[i])}"))
    problems.extend(Problem(file[i], int(row[i]), column, message) for i, column, message in found)


def _by_curve(df: pd.DataFrame, columns: list[str]) -> dict[tuple, list[tuple[int, dict]]]:
    out: dict[tuple, list] = {}
    for row, r in plain_rows(df[columns]):
        if r["study"] and r["group"]:
            out.setdefault((r["study"], r["group"]), []).append((row, r))
    return out


def _one_unit(name: str, key: tuple, rows: list[tuple[int, dict]], problems: list[Problem]) -> bool:
    units = [(row, r["time_unit"]) for row, r in rows if r["time_unit"] in schemas.TIME_UNITS]
    if not units:
        return False
    first_row, unit = units[0]
    mixed = [(row, u) for row, u in units if u != unit]
    for row, u in mixed:
        problems.append(Problem(name, row, "time_unit", f"expected one time unit per curve ({_curve(*key)} is in "
                                f"{unit} on row {first_row}), found {u!r}"))
    return not mixed


def check_curves(points: pd.DataFrame, at_risk: pd.DataFrame, p_name: str | None, r_name: str | None,
                 problems: list[Problem]) -> None:
    """The digitized curves (``km_curves/points``, file ``p_name`` or None) and their numbers
    at risk (``km_curves/at_risk``, ``r_name``), as the reconstruction (Guyot 2012) needs them."""
    if r_name and not p_name:
        problems.append(Problem(r_name, "-", "", "expected km_curves/points.csv (the digitized curves these numbers "
                                "at risk belong to) beside it, found no such file"))
        return
    if not p_name:
        return
    p_reported = reported_cells(problems, p_name)
    curves = _by_curve(points, ["study", "group", "time", "time_unit", "survival"])
    for key, rows in curves.items():
        if not _one_unit(p_name, key, rows, problems):
            continue
        prev = None
        for row, r in rows:
            if not (given(r["time"]) and given(r["survival"])) or (row, "time") in p_reported:
                continue
            if prev is not None:
                p_row, p = prev
                if r["time"] < p["time"]:
                    problems.append(Problem(p_name, row, "time", f"expected a time of at least {p['time']:g} along "
                                            f"curve {_curve(*key)} (row {p_row}), found {r['time']:g}; list a "
                                            "curve's points in time order"))
                    continue
                if r["survival"] > p["survival"] and (row, "survival") not in p_reported:
                    problems.append(Problem(p_name, row, "survival", f"expected a survival of at most "
                                            f"{p['survival']:g} (row {p_row}) along curve {_curve(*key)}, since a "
                                            f"Kaplan-Meier curve never rises, found {r['survival']:g}"))
            prev = (row, r)
    if not r_name:
        if curves:
            problems.append(Problem(p_name, "-", "", "expected km_curves/at_risk.csv beside the digitized curves "
                                    "(their numbers at risk, at least at time 0, which the reconstruction needs), "
                                    "found no such file"))
        return
    risks = _by_curve(at_risk, ["study", "group", "time", "time_unit", "n_at_risk", "total_events"])
    for key, rows in curves.items():
        if key not in risks:
            problems.append(Problem(p_name, rows[0][0], "group", f"expected numbers at risk of curve {_curve(*key)} in "
                                    f"{r_name} (at least at time 0, which the reconstruction needs), found none"))
    for key, rows in risks.items():
        if key not in curves:
            same_study = sorted({g for s, g in curves if s == key[0]})
            close = difflib.get_close_matches(key[1], same_study, n=1, cutoff=0.5)
            hint = (f"; did you mean {close[0]!r}?" if close else
                    f" (curves of {key[0]}: {', '.join(map(repr, same_study))})" if same_study else "")
            problems.append(Problem(r_name, rows[0][0], "group", f"expected a curve {_curve(*key)} in {p_name} for "
                                    f"these numbers at risk, found none{hint}"))
        _check_at_risk(r_name, key, rows, problems)
        if key in curves:
            _check_total_events(r_name, key, rows, curves[key], problems)


def _check_total_events(name: str, key: tuple, rows: list[tuple[int, dict]], points: list[tuple[int, dict]],
                        problems: list[Problem]) -> None:
    """What the curve and its count at time 0 allow: no more events than patients, and
    events exactly when the curve falls."""
    totals = [(row, r["total_events"]) for row, r in rows if given(r["total_events"])]
    if not totals:
        return
    row, total = totals[0]
    start = [(r_row, r["n_at_risk"]) for r_row, r in rows if r["time"] == 0 and given(r["n_at_risk"])]
    if start and total > start[0][1]:
        problems.append(Problem(name, row, "total_events", f"expected at most {_num(start[0][1])} events in curve "
                                f"{_curve(*key)} (its number at risk at time 0, row {start[0][0]}), found "
                                f"{_num(total)}"))
    falls = [(p_row, p["survival"]) for p_row, p in points if given(p["survival"]) and p["survival"] < 1]
    if total == 0 and falls:
        problems.append(Problem(name, row, "total_events", f"expected at least 1 event in curve {_curve(*key)}, "
                                f"which falls to {falls[0][1]:g} (row {falls[0][0]}), found 0"))
    elif total > 0 and not falls and any(given(p["survival"]) for _, p in points):
        problems.append(Problem(name, row, "total_events", f"expected 0 events in curve {_curve(*key)}, which never "
                                f"falls below 1, found {_num(total)}"))


def _check_at_risk(name: str, key: tuple, rows: list[tuple[int, dict]], problems: list[Problem]) -> None:
    totals = [(row, r["total_events"]) for row, r in rows if given(r["total_events"])]
    for row, t in totals[1:]:
        if t != totals[0][1]:
            problems.append(Problem(name, row, "total_events", f"expected the same total_events on every row of curve "
                                    f"{_curve(*key)} (or on one row only): {_num(totals[0][1])} on row "
                                    f"{totals[0][0]}, found {_num(t)}"))
    if not _one_unit(name, key, rows, problems):
        return
    unit = next(r["time_unit"] for _, r in rows if r["time_unit"] in schemas.TIME_UNITS)
    timed = sorted([(r["time"], row, r) for row, r in rows if given(r["time"]) and given(r["n_at_risk"])],
                   key=lambda x: (x[0], x[1]))
    if not timed:
        return
    t0, row0, _ = timed[0]
    if t0 != 0:
        problems.append(Problem(name, row0, "time", f"expected the first number at risk of curve {_curve(*key)} at "
                                f"time 0, found {timing.amount(t0, unit)}"))
    for (pt, p_row, p), (t, row, r) in zip(timed, timed[1:]):
        if t == pt:
            problems.append(Problem(name, row, "time", f"expected one number at risk per time of curve {_curve(*key)}, "
                                    f"found time {t:g} again (row {p_row})"))
        elif r["n_at_risk"] > p["n_at_risk"]:
            problems.append(Problem(name, row, "n_at_risk", f"expected at most {_num(p['n_at_risk'])} at risk (row "
                                    f"{p_row}, at {timing.amount(pt, unit)}) since numbers at risk never increase "
                                    f"over time, found {_num(r['n_at_risk'])}"))


# --------------------------------------------------------------------------- groups


def check_groups(groups: pd.DataFrame, tables: list[pd.DataFrame], problems: list[Problem], name: str) -> None:
    """Each ``groups`` row maps a value that is in the data, and a value to one group only."""
    if groups is None or groups.empty:
        return
    values: dict[str, dict[str, str]] = {}  # column -> lower-case value -> the value as written
    for df in tables:
        if df is None:
            continue
        for c in schemas.GROUPABLE_COLUMNS:
            if c in df.columns:
                found = values.setdefault(c, {})
                for v in df[c].dropna().astype(str):
                    for part in [v, *v.split(";")]:
                        found.setdefault(part.strip().lower(), part.strip())
    first: dict[tuple, tuple] = {}
    for row, r in plain_rows(groups[["column", "value", "group"]]):
        if not r["column"] or not r["value"]:
            continue
        key = (r["column"], r["value"].lower())
        if key in first and first[key][1] != r["group"]:
            problems.append(Problem(name, row, "group", f"expected one group for {r['column']} {r['value']!r}, found "
                                    f"{r['group']!r} here and {first[key][1]!r} on row {first[key][0]}"))
        first.setdefault(key, (row, r["group"]))
        known = values.get(r["column"], {})
        if r["column"] in schemas.GROUPABLE_COLUMNS and r["value"].lower() not in known:
            close = difflib.get_close_matches(r["value"].lower(), sorted(known), n=1, cutoff=0.7)
            hint = f"; did you mean {known[close[0]]!r}?" if close else ""
            problems.append(Problem(name, row, "value", f"expected a value of column {r['column']} in the data, "
                                    f"found {timing.shown(r['value'])}, which no row has{hint}"))
