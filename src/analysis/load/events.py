"""Resolving the events file: every event's time, the treatment lines and their anchors.

Each event is dated (``@calendar``), counts from another event of its patient, from the
patient's birth (``@birth/PATIENT``) or is ``not_reported`` (an undated root others may count
from). :func:`resolve_events` resolves them all at once: the cells are parsed once per
distinct value, the chains summed with numpy (:class:`analysis.load.chains.Chains`), and only a
row that is not an ordinary date or offset goes through the per-row Python of
:func:`_row_parent`, which words its problem (``file:row:column: message``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis import schemas, timing
import analysis.load.chains as chains
import analysis.load.checks as checks
from analysis.load.readers import Problem

_CALENDAR_RANGE = (timing.parse_date("1800").lo, timing.parse_date("2200").hi)
_LATE_EVENTS = {"relapse": "a relapse", "last_followup": "the last follow-up", "death": "a death",
                "remission": "a remission"}
"""Events of a line that cannot come before its first stem-cell therapy, in words."""
_RESERVED = schemas.RESERVED_ID_PREFIX


def texts(df: pd.DataFrame, column: str, cells: dict | None = None) -> np.ndarray:
    """A column as an object array of ``str``, ``""`` where empty (``cells``: the file's text
    columns as read, when known)."""
    return checks.texts(df, column, cells)


def per_value(fn, *columns: np.ndarray) -> tuple[list, np.ndarray]:
    """``fn(*cells)`` once per distinct combination of the cells of ``columns``: ``(results,
    code)``, the result of row ``i`` being ``results[code[i]]``."""
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        c, u = pd.factorize(col)
        codes = codes * len(u) + c
    _, first, code = np.unique(codes, return_index=True, return_inverse=True)
    return [fn(*(col[i] for col in columns)) for i in first], code.reshape(-1)


def _is_word(values: np.ndarray, word: str) -> np.ndarray:
    """Whether each text is ``word``, whatever its case and surrounding spaces (one pass of C
    when no text but the exact word holds it)."""
    exact = values == word
    if "\n".join(values).lower().count(word) == exact.sum():
        return exact
    return pd.Series(values, dtype=object).str.strip().str.lower().to_numpy(dtype=object) == word


def _intervals(fn, *columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(parsed, lo, best, hi)`` of ``fn(*cells)`` (an Interval, or ValueError: not parsed)."""
    def one(*cells):
        try:
            v = fn(*cells)
            return v.lo, v.best, v.hi, 1.0
        except ValueError:
            return math.nan, math.nan, math.nan, 0.0

    results, code = per_value(one, *columns)
    table = np.array(results, dtype=float).reshape(-1, 4)[code]
    return table[:, 3] == 1.0, table[:, 0], table[:, 1], table[:, 2]


class _Rows(checks.EventCells):
    """The cells of the events file that times depend on, as arrays (``""`` when empty), and
    the ids as numbers: ``node`` (each row's ``event_id``, -1 when empty) and ``ref``
    (``offset_from``) index ``labels``, which the pseudo-roots (``@calendar``, a patient's
    ``@birth/...``) join as they are needed (:meth:`root_node`)."""

    def __init__(self, events: pd.DataFrame, cells: dict | None = None):
        super().__init__(events, cells)
        for c in ("offset", "offset_from", "qualifier", "product", "source_id"):
            setattr(self, c, texts(events, c, cells))
        self.n = len(self.row)
        codes, labels = pd.factorize(np.concatenate([self.event_id, self.offset_from]))
        self.labels = list(labels)
        self._code = {}
        self.node = np.where(self.event_id != "", codes[:self.n], -1)
        self.ref = codes[self.n:]
        named = np.flatnonzero(self.node >= 0)[::-1]  # a repeated id: its last row counts
        ids, at = np.unique(self.node[named], return_index=True)
        self.last_row = np.full(len(self.labels), -1, dtype=np.int64)
        self.last_row[ids] = named[at]
        self.patient_of = np.full(len(self.labels), -1, dtype=np.int64)
        self.patient_of[ids] = self.patient[named[at]]

    def code(self, label: str) -> int:
        """The node of ``label`` (-1: none)."""
        if not self._code:
            self._code = {v: k for k, v in enumerate(self.labels)}
        return self._code.get(label, -1)

    def root_node(self, label: str) -> int:
        """The node of a pseudo-root (added to ``labels`` on first use)."""
        if self.code(label) < 0:
            self._code[label] = len(self.labels)
            self.labels.append(label)
        return self._code[label]


def resolve_events(events: pd.DataFrame, patients: pd.DataFrame | None, problems: list[Problem],
                   name: str = "events.csv", cells: dict | None = None):
    """Resolve dates and offsets; return ``(events with t_*/date_* columns, lines table,
    graph)``, appending every problem found to ``problems``.

    ``name`` is the file's name in messages (``events.csv`` or ``events.xlsx``); ``cells``
    its text columns as read, when known (:class:`analysis.load.readers.Shape`). Chains of
    any depth resolve without recursion. Then checks the order of each patient's events
    (:func:`analysis.load.checks.check_event_order`)."""
    r = _Rows(events, cells)
    known = (set(texts(patients, "patient_id")) if patients is not None else set(r.patient_id)) - {""}
    entries, undated = _parents(r, known, problems, name)
    graph, times, usable = _chains(r, entries, undated, problems, name)
    lines, anchor = _anchors(r, times, r.node, usable, problems, name)
    calendar = r.code(timing.CALENDAR)
    t, d = _times(r, times, np.where(usable, r.node, -1), anchor, calendar, problems, name)
    checks.check_event_order(events, graph, usable, problems, name, chains=times, cells=r, node=r.node)
    out = events.copy(deep=False)  # the cells are shared, the new columns are the copy's own
    out["t_lo"], out["t_best"], out["t_hi"] = t
    for col, values in zip(("date_lo", "date_best", "date_hi"), d):
        out[col] = days_to_timestamps(values, out.index)
    out["imprecise"] = out["t_lo"] != out["t_hi"]
    return out, lines, graph


# --------------------------------------------------------------------------- each row's reference


def _parents(r: _Rows, known: set, problems: list[Problem], name: str):
    """Each row's reference and interval: ``(entries, undated)``, entries the arrays ``pos``,
    ``child``, ``parent`` (nodes), ``lo``, ``best``, ``hi``, ``edge`` (the reference is an
    event) of every row of the file that names a reference, in row order; undated the rows
    ``not_reported``. Ordinary rows are parsed once per distinct cell; the others go through
    :func:`_row_parent`, which words their problems."""
    skip = (r.node < 0) | _starts(r.event_id, _RESERVED) | ~pd.Series(r.qualifier).isin(timing.QUALIFIERS).to_numpy()
    has_date, has_offset, has_ref = r.date != "", r.offset != "", r.offset_from != ""
    dated = ~skip & has_date & ~has_offset
    not_reported = dated & _is_word(r.date, "not_reported")
    parsed, lo, best, hi = np.zeros(r.n, dtype=bool), *(np.full(r.n, np.nan) for _ in range(3))
    plain_date = dated & ~not_reported & ~has_ref
    counted = ~skip & has_offset & ~has_date & has_ref
    birth = counted & _is_word(r.offset_from, "birth")
    for rows, fn, cells in ((plain_date, timing.parse_date, (r.date, r.qualifier)),
                            (counted, timing.offset_interval, (r.offset, r.qualifier, birth))):
        parsed[rows], lo[rows], best[rows], hi[rows] = _intervals(fn, *(c[rows] for c in cells))
    known_patient = pd.Series(r.patients, dtype=object).isin(known).to_numpy()[r.patient] if r.n else skip
    same = (r.patient_of[r.ref] == r.patient) & known_patient
    with np.errstate(invalid="ignore"):
        ordinary = ((not_reported & ~has_ref & (r.qualifier == "")) | (plain_date & parsed)
                    | (birth & parsed & (lo >= 0)) | (counted & ~birth & parsed & same & ~_starts(r.offset_from, _RESERVED)))
    parent = r.ref.copy()
    if plain_date.any():
        parent[plain_date] = r.root_node(timing.CALENDAR)
    for i in np.flatnonzero(birth & ordinary).tolist():  # one pseudo-root per patient
        parent[i] = r.root_node(f"{timing.BIRTH}/{r.patient_id[i]}")
    undated = ordinary & not_reported
    entry = ordinary & ~not_reported
    edge = counted & ~birth
    extra = []  # the other rows, one by one: each gets its message
    patient_of = None
    for i in np.flatnonzero(~skip & ~ordinary).tolist():
        if patient_of is None:
            patient_of = dict(zip(r.event_id[r.node >= 0], r.patient_id[r.node >= 0]))
        got = _row_parent(r, i, known, patient_of, problems, name)
        if got == "undated":
            undated[i] = True
        elif got is not None:
            ref, iv, is_event = got
            entry[i], edge[i] = True, is_event
            parent[i] = r.ref[i] if is_event else r.root_node(ref)
            lo[i], best[i], hi[i] = iv.lo, iv.best, iv.hi
    pos = np.flatnonzero(entry)
    return {"pos": pos, "child": r.node[pos], "parent": parent[pos], "lo": lo[pos], "best": best[pos],
            "hi": hi[pos], "edge": edge[pos]}, undated


def _starts(values: np.ndarray, prefix: str) -> np.ndarray:
    """Whether each text starts with ``prefix`` (one pass over the joined texts when none does)."""
    if not len(values) or ("\n" + "\n".join(values)).find("\n" + prefix) < 0:
        return np.zeros(len(values), dtype=bool)
    return np.array([v.startswith(prefix) for v in values], dtype=bool)


def _row_parent(r: _Rows, i: int, known: set, patient_of: dict, problems: list[Problem], name: str):
    """The reference of row ``i`` as ``(ref, interval, is_event)``, ``"undated"``, or None,
    with the row's problem appended: the rows that are not ordinary dates or offsets."""
    row, eid, pid = int(r.row[i]), r.event_id[i], r.patient_id[i]
    date, offset, ref, qual = r.date[i], r.offset[i], r.offset_from[i], r.qualifier[i]
    if date and offset:
        problems.append(Problem(name, row, "offset", "expected either a date or an offset, found both"))
        return None
    if not date and not offset:
        problems.append(Problem(name, row, "date", "expected a date or an offset (with offset_from), found neither; "
                                "for an undated event after another, use offset '+0 days' with qualifier at_least"))
        return None
    if date and date.strip().lower() == "not_reported":
        if ref or qual:
            problems.append(Problem(name, row, "date", "expected no offset_from or qualifier with date 'not_reported'"))
        return "undated"  # an undated root: other events may count from it
    if date:
        if ref:
            problems.append(Problem(name, row, "offset_from", f"expected empty when a date is given, found {ref!r}"))
        try:
            return timing.CALENDAR, timing.parse_date(date, qual), False
        except ValueError as exc:
            problems.append(Problem(name, row, "qualifier" if "applies to offsets" in str(exc) else "date", str(exc)))
            return None
    if not ref:
        problems.append(Problem(name, row, "offset_from", "expected the event_id the offset counts from (or 'birth'), "
                                "found an empty cell"))
        return None
    from_birth = ref.strip().lower() == "birth"
    try:
        iv = timing.offset_interval(offset, qual, from_birth=from_birth)
    except ValueError as exc:
        problems.append(Problem(name, row, "offset", str(exc)))
        return None
    if from_birth:
        if iv.lo < 0:
            problems.append(Problem(name, row, "offset", f"expected an age (an offset from birth) of 0 or more, "
                                    f"found {timing.shown(offset)}{' ' + qual if qual else ''}"))
            return None
        return f"{timing.BIRTH}/{pid}", iv, False
    if ref not in patient_of:
        problems.append(Problem(name, row, "offset_from", f"expected an event_id of patient {pid}, found {ref!r}, "
                                "which is not in events"))
        return None
    if ref.startswith(_RESERVED) or pid not in known or patient_of[ref] not in known:
        return None  # the reserved id or the unknown patient is reported already
    if patient_of[ref] != pid:
        problems.append(Problem(name, row, "offset_from", f"expected an event of the same patient {pid}, found "
                                f"{ref!r} of patient {patient_of[ref]}"))
        return None
    return ref, iv, True


# --------------------------------------------------------------------------- the chains


def _chains(r: _Rows, entries: dict, undated: np.ndarray, problems: list[Problem], name: str):
    """Cycles reported and set aside; ``(graph, chains, usable)``: the lazily built
    :class:`~analysis.timing.OffsetGraph` of the events whose chain reaches the calendar, a
    birth or an undated event, the same as arrays (:class:`analysis.load.chains.Chains`), and
    which rows' events have a time."""
    n = len(r.labels)
    child, parent_of = entries["child"], entries["parent"]
    edges = entries["edge"]
    cyclic = _cycles(r, child[edges], parent_of[edges], problems, name)
    last = _last_of(child)  # a repeated id: the reference of its last row with one
    parent = np.full(n, -1, dtype=np.int64)
    parent[child[last]] = parent_of[last]
    lo, best, hi = (np.zeros(n) for _ in range(3))
    for arr, c in ((lo, "lo"), (best, "best"), (hi, "hi")):
        arr[child[last]] = entries[c][last]
    parent[cyclic] = -1
    parent[~chains.ends(parent)] = -1  # none left after the cycles; never loop all the same
    labels = np.array(r.labels, dtype=object)
    root = chains.Chains(labels, parent, lo, best, hi).root
    is_undated = np.zeros(n, dtype=bool)
    is_undated[r.node[undated]] = True
    good = (parent >= 0) & (_starts(labels, _RESERVED)[root] | is_undated[root])
    times = chains.Chains(labels, np.where(good, parent, -1), lo, best, hi)
    usable = (r.node >= 0) & (good | is_undated)[np.maximum(r.node, 0)]

    return timing.OffsetGraph(_GraphParents(labels, parent, lo, best, hi, good)), times, usable


class _GraphParents:
    """The ``parent`` mapping of the events with a time, made when the graph is first used
    (a class, not a closure, so a Dataset can still be pickled)."""

    def __init__(self, labels, parent, lo, best, hi, good):
        self.args = (labels, parent, lo, best, hi, np.flatnonzero(good))

    def __call__(self) -> dict:
        labels, parent, lo, best, hi, g = self.args
        ivs = map(timing.Interval, lo[g].tolist(), best[g].tolist(), hi[g].tolist())
        return dict(zip(labels[g].tolist(), zip(labels[parent[g]].tolist(), ivs)))


def _last_of(nodes: np.ndarray) -> np.ndarray:
    """Positions of the last occurrence of each distinct value of ``nodes``."""
    rev = np.arange(len(nodes))[::-1]
    _, at = np.unique(nodes[rev], return_index=True)
    return rev[at]


def _cycles(r: _Rows, child: np.ndarray, parent_of: np.ndarray, problems: list[Problem], name: str) -> np.ndarray:
    """The events on a cycle of offsets (``child`` counts from ``parent_of``, in row order), each
    named with the rows of its cycle; chains into a cycle are not on it."""
    if not len(child):
        return np.zeros(0, dtype=np.int64)
    edge_to = np.full(len(r.labels), -1, dtype=np.int64)
    last = _last_of(child)  # a repeated id: its last offset, in the place of its first
    edge_to[child[last]] = parent_of[last]
    looping = ~chains.ends(edge_to) & (edge_to >= 0)
    if not looping.any():
        return np.zeros(0, dtype=np.int64)
    _, first = np.unique(child, return_index=True)
    order = child[np.sort(first)]
    label = r.labels
    found = []
    for cycle in timing.find_cycles({label[c]: label[edge_to[c]] for c in order.tolist() if looping[c]}):
        nodes = [r.code(e) for e in cycle]
        rows = ", ".join(f"row {r.row[r.last_row[c]]} ({e})" for c, e in zip(nodes, cycle))
        for c in nodes:
            problems.append(Problem(name, int(r.row[r.last_row[c]]), "offset_from", f"offsets form a cycle: {rows}"))
        found += nodes
    return np.array(found, dtype=np.int64)


# --------------------------------------------------------------------------- lines and times


def _anchors(r: _Rows, times: chains.Chains, node: np.ndarray, usable: np.ndarray, problems: list[Problem],
             name: str):
    """The treatment lines (``patient_id, line, anchor_event_id, anchor_type, therapy,
    source_id``), each anchored at its earliest usable stem-cell therapy (the first listed of
    equals), and each row's anchor node (its line's; for line 0 the patient's first line's;
    -1 for none)."""
    with np.errstate(invalid="ignore"):
        numbered = (r.line > 0) & (r.line == np.floor(r.line))
    line = np.where(numbered, r.line, 0).astype(np.int64)
    line_code, line_values = pd.factorize(line)
    key = r.patient * len(line_values) + line_code  # (patient, line) of every row, as one number
    in_line = numbered & (r.event_id != "") & (r.patient_id != "")
    pos = np.flatnonzero(in_line & r.of_type(*schemas.STEM_CELL_EVENTS) & usable)
    _, first, group = np.unique(key[pos], return_index=True, return_inverse=True)
    _, _, best, _ = times.relative(node[pos], node[pos[first]][group.reshape(-1)])
    order = np.lexsort((pos, np.where(np.isnan(best), np.inf, best), key[pos]))
    chosen = pos[order][np.r_[True, np.diff(key[pos][order]) != 0]] if len(pos) else pos
    lines = pd.DataFrame({"patient_id": r.patient_id[chosen], "line": line[chosen],
                          "anchor_event_id": r.event_id[chosen], "anchor_type": r.event_type[chosen],
                          "therapy": np.where(r.product[chosen] != "", r.product[chosen], r.event_type[chosen]),
                          "source_id": r.source_id[chosen], "_pos": chosen},
                         columns=["patient_id", "line", "anchor_event_id", "anchor_type", "therapy", "source_id",
                                  "_pos"]).sort_values(["patient_id", "line"], kind="stable")
    chosen = lines.pop("_pos").to_numpy(dtype=np.int64)
    lines = lines.reset_index(drop=True) if len(lines) else pd.DataFrame(columns=list(lines.columns))
    if not any(p.file == name for p in problems):  # else a problem reported already may explain it
        grouped = np.flatnonzero(in_line)
        _, first_row = np.unique(key[grouped], return_index=True)
        for i in grouped[first_row][~np.isin(key[grouped][first_row], key[chosen])].tolist():
            problems.append(Problem(name, int(r.row[i]), "line", f"line {line[i]} of patient {r.patient_id[i]} has "
                                    "no transplant or infusion event with a usable time to anchor it (day 0 of a "
                                    "line is its first stem-cell therapy)"))
    anchor = np.full(r.n, -1, dtype=np.int64)
    by_key = pd.Index(key[chosen])
    at = by_key.get_indexer(key)
    anchor[at >= 0] = node[chosen][at[at >= 0]]
    firsts = chosen[~pd.Series(r.patient[chosen]).duplicated().to_numpy()]  # the lines are sorted
    first_line = pd.Index(r.patient[firsts]).get_indexer(r.patient)
    zero = (line == 0) & (first_line >= 0)
    anchor[line == 0] = -1
    anchor[zero] = node[firsts][first_line[zero]]
    return lines, anchor


def _times(r: _Rows, times: chains.Chains, node: np.ndarray, anchor: np.ndarray, calendar: int,
           problems: list[Problem], name: str):
    """Each row's time after its anchor (``t``) and on the calendar (``d``), each as
    ``(lo, best, hi)`` arrays (NaN where unknown); problems for a time outside the calendar
    and for a relapse, death, remission or last follow-up before its line's anchor."""
    found, *t = times.relative(node, anchor)
    on_cal, *d = times.relative(node, np.full(r.n, calendar))
    with np.errstate(invalid="ignore"):
        outside = on_cal & np.any([np.isfinite(v) & ((v < _CALENDAR_RANGE[0]) | (v > _CALENDAR_RANGE[1])) for v in d],
                                  axis=0)
    for i in np.flatnonzero(outside).tolist():  # a chain of long offsets can leave the calendar
        lo, best, hi = (float(v[i]) for v in d)
        out = [v for v in (lo, best, hi) if math.isfinite(v) and not _CALENDAR_RANGE[0] <= v <= _CALENDAR_RANGE[1]]
        years = " to ".join(dict.fromkeys(f"{1970 + v / timing.YEAR:.0f}" for v in (lo, hi) if math.isfinite(v)))
        problems.append(Problem(name, int(r.row[i]), "offset", "expected a time between the years 1800 and 2200, "
                                f"found that the offsets put it in {years or f'{1970 + out[0] / timing.YEAR:.0f}'}"))
    for v in d:
        v[outside] = np.nan
    with np.errstate(invalid="ignore"):
        early = found & (r.line > 0) & (r.line == np.floor(r.line)) & r.of_type(*_LATE_EVENTS) \
            & (t[2] < -checks.EPS_DAYS)
    for i in np.flatnonzero(early).tolist():
        problems.append(Problem(name, int(r.row[i]), "date" if r.date[i] else "offset",
                                f"{_LATE_EVENTS[r.event_type[i]]} of line {int(r.line[i])} cannot be before the "
                                f"line's first stem-cell therapy ({r.labels[anchor[i]]}); found it {-t[2][i]:.0f} "
                                "days or more before"))
    return t, d


def days_to_timestamps(days, index) -> pd.Series:
    """Days since 1970-01-01 -> Timestamps, in one vectorised step (NaT where not finite).

    Only the finite values are handed to pandas: ``pd.to_datetime(..., unit="s")`` on an array holding
    NaN rounds an uninitialised scratch buffer under ``np.errstate(over="raise")`` (pandas 2.3), which
    raised FloatingPointError at random when that memory happened to hold a huge number.
    """
    arr = np.asarray(days, dtype=float)
    finite = np.isfinite(arr)
    out = np.full(arr.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    out[finite] = pd.to_datetime(arr[finite] * 86400.0, unit="s", origin="unix").to_numpy(dtype="datetime64[ns]")
    return pd.Series(out, index=index)
