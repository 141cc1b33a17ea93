"""The data files: their columns, types, allowed values and units, in one place.

``FILES`` is the single description of every data file. From it come the pandera schemas
that validate a data folder (:func:`pandera_schema`), the data dictionary in
``data/README.md`` (:func:`data_dictionary_markdown`) and the empty templates
(:func:`write_templates`). Change a column here and all three follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analysis import timing

EVIDENCE_LEVELS = [
    "rct",
    "controlled_study",
    "uncontrolled_study",
    "case_series",
    "case_report",
    "secondary_summary",
    "anecdote",
    "background",
]
"""Evidence levels, strongest first. ``reconstructed`` (curves rebuilt from published
Kaplan-Meier plots) is added by the survival analysis, not coded in data."""

RECONSTRUCTED = "reconstructed"
"""Evidence level of survival rows rebuilt from a published Kaplan-Meier plot (Guyot 2012)."""


def evidence_rank(level) -> float:
    """Position of an evidence level in :data:`EVIDENCE_LEVELS` (0 = strongest; NaN unknown)."""
    try:
        return float(EVIDENCE_LEVELS.index(str(level)))
    except ValueError:
        return float("nan")


def evidence_words(level, missing: str = "not given") -> str:
    """An evidence level in words for figures and text (``case_report`` -> "case report");
    ``missing`` when the level is empty."""
    return level.replace("_", " ") if isinstance(level, str) else missing

SOURCE_KINDS = [
    "trial", "cohort", "case_series", "case_report", "registry", "review",
    "news", "clinic_page", "forum", "blog",
]
CASE_ROLES = ["autoimmune_case", "adverse_event_anecdote"]
SEXES = ["M", "F", "unknown"]
EVENT_TYPES = [
    "diagnosis", "admission", "chemotherapy", "conditioning", "transplant", "infusion",
    "assessment", "remission", "relapse", "adverse_event", "death", "last_followup",
]
STEM_CELL_EVENTS = ("transplant", "infusion")
EVENTS_AFTER_DEATH = ("last_followup", "diagnosis", "assessment", "adverse_event")
"""Event types that may be dated after the patient's death: the end of follow-up and what a
post-mortem examination finds. Any other event after a death is an error."""
STATUSES = ["active", "improving", "partial", "complete", "not_reported"]
QUALIFIERS = [q for q in timing.QUALIFIERS if q]
DESIGNS = [
    "case_report", "case_series", "uncontrolled_cohort", "controlled_cohort", "rct",
    "registry", "review_summary", "not_reported",
]
OUTCOMES = [
    "response", "complete_response", "partial_response", "relapse_free", "disease_free",
    "disease_activity_reduced", "severe_adverse_event", "adverse_event",
    "treatment_related_death", "relapse", "progression", "treatment_failure",
    "overall_survival", "event_free_survival",
]
SAFETY_OUTCOMES = ("severe_adverse_event", "adverse_event", "treatment_related_death")
RELAPSE_OUTCOMES = ("relapse", "progression", "treatment_failure")
OUTCOME_PANELS = {
    **{o: "efficacy" for o in OUTCOMES},
    **{o: "relapse" for o in RELAPSE_OUTCOMES},
    **{o: "safety" for o in SAFETY_OUTCOMES},
}
"""Which forest panel an outcome belongs to: ``efficacy`` (a higher share is better:
response, remission, relapse-free, overall or event-free survival), ``relapse`` (a higher
share is worse: relapse, progression, treatment failure) or ``safety`` (a higher share is
worse: adverse events, treatment-related deaths)."""
HIGHER_IS_BETTER = {o: OUTCOME_PANELS[o] == "efficacy" for o in OUTCOMES}
ARM_ROLES = ["intervention", "control", "single_arm"]
"""``intervention`` and ``control`` arms of one study, outcome and time point form a
comparison; ``single_arm`` (the default when empty) is an uncontrolled arm."""
COUNT_QUALIFIERS = ["exact", "about", "at_least"]
PROPORTION_QUALIFIERS = ["exact", "about"]
TIME_UNITS = list(timing.TIME_UNITS)
TIME_QUALIFIERS = ["at", "up_to", "at_least", "about"]
YES_NO = ["yes", "no"]
YES_NO_NR = ["yes", "no", "not_reported"]

RESERVED_ID_PREFIX = timing.CALENDAR[0]
"""Ids may not start with this (``@``): the roots of offset chains are ``@calendar`` and
``@birth/PATIENT``."""

MAX_TEXT_LENGTH = 10_000
"""Longest text accepted in one cell (characters); quotes are meant to be short."""


@dataclass(frozen=True)
class Col:
    """One column of a data file."""

    name: str
    kind: str  # "text", "id", "ref", "int", "float", "category", "date_or_blank", "flag"
    description: str
    required: bool = True  # must be filled in on every row
    allowed: tuple = ()
    unit: str = ""
    min_value: float | None = None
    max_value: float | None = None
    unique: bool = False
    example: str = ""
    in_header: bool = True  # False: a later addition that older files may leave out entirely
    qualifier: str = ""  # the column that qualifies this value (total -> total_qualifier)
    over_max_hint: str = ""  # a share of 1 (proportion, survival): the hint for a percentage typed in it


@dataclass(frozen=True)
class DataFile:
    name: str  # stem: sources, patients, events, cohort_outcomes, ipd, ...
    path: str  # relative path pattern in a data folder
    description: str
    columns: tuple[Col, ...]
    optional: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _quote(required=True):
    return Col(
        "quote", "text",
        "Short verbatim quote from the source that supports the row (checked with "
        "`validate --sources-text`).",
        required=required, example="came to our hospital in October 2011",
    )


def _source_ref():
    return Col("source_id", "ref", "Id of the source document (a `sources` row).",
               example="S001")


SOURCES = DataFile(
    "sources", "sources.csv",
    "One row per source document.",
    (
        Col("source_id", "id", "Unique id of the document.", unique=True, example="S001"),
        Col("kind", "category", "What the document is.", allowed=tuple(SOURCE_KINDS),
            example="case_report"),
        Col("citation", "text", "Short citation shown in figures and tables.",
            example="Treatment of Psoriasis with Mesenchymal Stem Cells (letter)"),
        Col("year", "int", "Year of publication, if known.", required=False,
            min_value=1900, max_value=2100, example=""),
        Col("link", "text", "URL or DOI, if known.", required=False, example=""),
        Col("evidence_level", "category",
            "Strength of evidence, strongest first: " + ", ".join(EVIDENCE_LEVELS) + ".",
            allowed=tuple(EVIDENCE_LEVELS), example="case_report"),
        Col("text_file", "text",
            "File name of the document's plain text, for quote checks (optional).",
            required=False, example="001_0c19ac2d9f6bbb92.txt"),
        Col("notes", "text", "Coder's notes.", required=False),
    ),
)

PATIENTS = DataFile(
    "patients", "patients.csv",
    "One row per patient (case).",
    (
        Col("patient_id", "id", "Unique id of the patient.", unique=True, example="S001-P2"),
        _source_ref(),
        Col("case_role", "category",
            "autoimmune_case: a patient treated for / with an autoimmune disease; "
            "adverse_event_anecdote: a case told only for its harms.",
            allowed=tuple(CASE_ROLES), example="autoimmune_case"),
        Col("sex", "category", "M, F or unknown.", allowed=tuple(SEXES), example="F"),
        Col("age_years", "float", "Age at presentation (admission or first reported event).",
            required=False, unit="years", min_value=0, max_value=120, example="26"),
        Col("diseases", "text", "Target disease(s), separated by '; '.",
            example="psoriasis vulgaris"),
        Col("comorbidity", "text", "Other diseases relevant to the treatment, '; '-separated.",
            required=False, example="diffuse large B-cell lymphoma (stage IV)"),
        Col("therapy", "text", "Stem-cell therapy received (all lines, '; '-separated).",
            example="UC-MSC"),
        _quote(),
        Col("notes", "text", "Coder's notes.", required=False),
    ),
)

EVENTS = DataFile(
    "events", "events.csv",
    "One row per thing that happened to a patient.",
    (
        Col("event_id", "id", "Unique id of the event.", unique=True, example="S001-P2-E03"),
        Col("patient_id", "ref", "Patient the event belongs to (a `patients` row).",
            example="S001-P2"),
        Col("line", "int",
            "Treatment line (1, 2, ...); 0 for events outside any line (diagnosis, admission). "
            "Day 0 of a line is its earliest transplant or infusion.",
            min_value=0, max_value=50, example="1"),
        Col("event_type", "category", "What happened.", allowed=tuple(EVENT_TYPES),
            example="infusion"),
        Col("status", "category",
            "Disease status (assessment, remission): active, improving, partial, complete, "
            "not_reported.", required=False, allowed=tuple(STATUSES), example=""),
        Col("disease", "text",
            "Disease the event concerns, when it is not the target disease (e.g. a lymphoma "
            "relapse). Empty = target disease.", required=False, example=""),
        Col("detail", "text", "What the source says happened, in brief.", required=False,
            example="infusion 1 of 3 weekly"),
        Col("product", "text", "Cell product (transplant, infusion).", required=False,
            example="UC-MSC"),
        Col("dose", "float", "Dose per administration.", required=False, min_value=0,
            example="1000000"),
        Col("dose_unit", "text", "Unit of the dose.", required=False, example="cells/kg"),
        Col("date", "date_or_blank",
            "Calendar date YYYY, YYYY-MM or YYYY-MM-DD (stands for the whole period), or "
            "`not_reported` for an event whose time the source does not give (other events "
            "may then count from it). Give either a date or an offset.",
            required=False, example="2011-10"),
        Col("offset", "text",
            "Offset from `offset_from`: sign, number, unit (days, weeks, months, years), "
            "e.g. '+6 months'.", required=False, example=""),
        Col("offset_from", "text",
            "event_id of the same patient the offset counts from, or 'birth' for an age "
            "(which must not be negative).",
            required=False, example=""),
        Col("qualifier", "category",
            "about (±10 % of the offset; dates ± one unit), within (upper bound: between 0 "
            "and the offset), at_least (lower bound). Empty = as stated.",
            required=False, allowed=tuple(QUALIFIERS), example="about"),
        _source_ref(),
        _quote(),
        Col("notes", "text", "Coder's notes.", required=False),
    ),
)

COHORT_OUTCOMES = DataFile(
    "cohort_outcomes", "cohort_outcomes.csv",
    "One row per study arm, outcome and time point.",
    (
        Col("outcome_id", "id", "Unique id of the row.", unique=True, example="S003-O1"),
        _source_ref(),
        Col("study", "text", "Short study label shown in figures.",
            example="MSC lupus studies, China"),
        Col("arm", "text", "Study arm.", example="MSC"),
        Col("arm_role", "category",
            "intervention or control (the arms of a controlled comparison: same source, study, "
            "outcome and time point), or single_arm (empty = single_arm). Control arms are "
            "shown but never pooled with treated arms.", required=False,
            allowed=tuple(ARM_ROLES), example="single_arm", in_header=False),
        Col("cohort_group", "text",
            "The same label on rows of different reports that cover overlapping patients (one "
            "cohort at 1 and 5 years; a multicentre report that includes an earlier pilot). A "
            "pool takes one row per cohort group: the largest total, ties: the latest year.",
            required=False, example="", in_header=False),
        Col("disease", "text", "Disease studied.", example="systemic lupus erythematosus"),
        Col("therapy", "text", "Therapy.", example="MSC"),
        Col("cell_source", "text", "Cell source (bone marrow, umbilical cord, ...).",
            required=False, example="bone marrow or umbilical cord (not specified)"),
        Col("design", "category", "Study design.", allowed=tuple(DESIGNS),
            example="uncontrolled_cohort"),
        Col("controlled", "category", "Whether there was a control group.",
            allowed=tuple(YES_NO_NR), example="no"),
        Col("outcome", "category", "Outcome.", allowed=tuple(OUTCOMES), example="response"),
        Col("definition", "text", "The outcome's definition in the source's words.",
            example="benefited from treatment"),
        Col("events", "int", "Patients with the outcome.", required=False, min_value=0,
            example=""),
        Col("total", "int", "Patients in the arm.", required=False, min_value=1,
            example="200", qualifier="total_qualifier"),
        Col("total_qualifier", "category",
            "exact, about, or at_least ('over 200' is at_least 200).", required=False,
            allowed=tuple(COUNT_QUALIFIERS), example="at_least"),
        Col("proportion", "float", "Proportion with the outcome, when no count is given.",
            required=False, min_value=0, max_value=1, example="0.75",
            qualifier="proportion_qualifier",
            over_max_hint="write a percentage as a proportion: divide by 100"),
        Col("proportion_qualifier", "category", "exact or about.", required=False,
            allowed=tuple(PROPORTION_QUALIFIERS), example="about"),
        Col("approximate", "category",
            "yes when any figure of the row is approximate ('over', 'about', 'three out of "
            "four').", allowed=tuple(YES_NO), example="yes"),
        Col("time_value", "float", "Time point or duration of the outcome.", required=False,
            min_value=0, example="24", qualifier="time_qualifier"),
        Col("time_unit", "category", "Unit of time_value.", required=False,
            allowed=tuple(TIME_UNITS), example="months"),
        Col("time_qualifier", "category",
            "at (time point), up_to (the longest reported), at_least, about.",
            required=False, allowed=tuple(TIME_QUALIFIERS), example="up_to"),
        _quote(),
        Col("notes", "text", "Coder's notes.", required=False),
    ),
    notes=(
        "Give `events` and `total` when the source gives counts; give `proportion` (and "
        "`total` if known) when it gives only a share. Never derive a count the source "
        "does not state: the rates analysis derives approximate figures itself and labels "
        "them.",
        "\"9 of 37 relapsed\" is `outcome` relapse, `events` 9, `total` 37. \"Relapse-free "
        "survival 70 % at 5 years\" is `outcome` relapse_free, `proportion` 0.70, `time_value` "
        "5, `time_unit` years, `time_qualifier` at (and `total` if the source gives the "
        "number of patients). Outcomes where a higher share is worse (relapse, progression, "
        "treatment_failure; adverse events and deaths) are drawn in their own panels.",
        "A randomised or controlled study is coded as one row per arm with the same "
        "`source_id`, `study`, `outcome` and time point: the treated arm(s) `arm_role` "
        "intervention, the comparator `control`. `arm_role` and `cohort_group` may be left "
        "out of older files.",
    ),
)

def _curve_context() -> tuple[Col, ...]:
    """Optional columns of IPD and curve files saying what a curve is about (older files may
    leave them out): its disease and therapy, or a cohort_outcomes row that gives them."""
    return (
        Col("disease", "text", "Disease of the patients (else from `outcome_id`, or from the "
            "source's cohort_outcomes rows when they name one disease).", required=False,
            example="Crohn's disease", in_header=False),
        Col("therapy", "text", "Therapy (else from `outcome_id` or the source's rows, as "
            "`disease`).", required=False, example="autologous HSCT", in_header=False),
        Col("outcome_id", "ref", "A `cohort_outcomes` row about the same patients, whose "
            "disease and therapy apply.", required=False, example="", in_header=False),
    )


_IPD_EXTRA = (
    *_curve_context(),
    Col("cause", "text", "With `event` 1: what the event was (relapse, death, ...; the "
        "competing-risks analysis separates them); empty when `event` is 0.", required=False,
        example="", in_header=False),
    Col("strata", "text", "Stratum for a stratified log-rank test (centre, risk group, ...).",
        required=False, example="", in_header=False),
    Col("time_lo", "float", "Earliest time the event can have happened (interval-censored "
        "rows; in `time_unit`).", required=False, min_value=0, example="", in_header=False),
    Col("time_hi", "float", "Latest time the event can have happened (with `time_lo`).",
        required=False, min_value=0, example="", in_header=False),
)


IPD = DataFile(
    "ipd", "ipd/*.csv",
    "Optional: individual patient survival data, one row per patient, any number of files.",
    (
        Col("study", "ref", "Source id of the study (a `sources` row).", example="S010"),
        Col("patient_id", "text", "Patient id within the study.", example="1"),
        Col("group", "text", "Group (arm, disease, ...).", example="HSCT"),
        Col("time", "float", "Time from the anchor therapy to relapse/death or censoring. "
            "Empty only when `time_lo` and `time_hi` give the interval of an event.",
            required=False, min_value=0, example="14.5"),
        Col("time_unit", "category", "Unit of `time`.", allowed=tuple(TIME_UNITS),
            example="months"),
        Col("event", "int", "1 = relapse or death, 0 = censored.", min_value=0, max_value=1,
            example="0"),
        *_IPD_EXTRA,
    ),
    optional=True,
    notes=(
        "Files `ipd/*.csv` or `ipd/*.xlsx`, any names. One row per patient: the same `study` "
        "and `patient_id` on two rows (in one file or two) is an error.",
    ),
)

KM_POINTS = DataFile(
    "km_points", "km_curves/points.csv",
    "Optional: digitized points of published Kaplan-Meier curves (reconstructed by the "
    "Guyot 2012 algorithm).",
    (
        Col("study", "ref", "Source id of the publication.", example="S010"),
        Col("group", "text", "Curve label.", example="HSCT"),
        Col("time", "float", "Time of the digitized point.", min_value=0, example="12"),
        Col("time_unit", "category", "Unit of `time`.", allowed=tuple(TIME_UNITS),
            example="months"),
        Col("survival", "float", "Survival read off the curve (0-1).", min_value=0,
            max_value=1, example="0.82",
            over_max_hint="survival is a proportion: divide by 100"),
        *_curve_context(),
    ),
    optional=True,
    notes=(
        "One curve is one `study` and `group`. List its points in time order (time never goes "
        "back), in one time unit; survival never rises along a curve. Every curve needs its "
        "numbers at risk in `km_curves/at_risk.csv`, and every at-risk group a curve here.",
    ),
)

KM_AT_RISK = DataFile(
    "km_at_risk", "km_curves/at_risk.csv",
    "Optional: numbers at risk printed under a published Kaplan-Meier curve.",
    (
        Col("study", "ref", "Source id of the publication.", example="S010"),
        Col("group", "text", "Curve label (as in points.csv).", example="HSCT"),
        Col("time", "float", "Time of the at-risk count.", min_value=0, example="0"),
        Col("time_unit", "category", "Unit of `time`.", allowed=tuple(TIME_UNITS),
            example="months"),
        Col("n_at_risk", "int", "Number at risk.", min_value=0, example="50"),
        Col("total_events", "int", "Total events in the group, if reported (any one row).",
            required=False, min_value=0, example=""),
    ),
    optional=True,
    notes=(
        "Per curve (`study` and `group`, as in `points.csv`): the first number at risk at time "
        "0, one count per time, counts that never increase over time, one time unit, and "
        "`total_events` on one row or the same on every row. `at_risk.csv` without "
        "`points.csv` is an error.",
    ),
)

GROUPABLE_COLUMNS = ("therapy", "diseases", "disease", "product", "cell_source", "design", "arm",
                     "study", "group", "kind", "evidence_level", "sex", "case_role")
"""Columns whose values ``groups.csv`` may map to analysis groups."""

GROUPS = DataFile(
    "groups", "groups.csv",
    "Optional: analysis groups. Each row maps a value of a column of the data to a group "
    "label (e.g. therapy `UC-MSC` and `WJ-MSC` to group `MSC`).",
    (
        Col("column", "category", "Column whose values are grouped.",
            allowed=GROUPABLE_COLUMNS, example="therapy"),
        Col("value", "text",
            "A value of that column as it appears in the data (or one of its '; '-separated "
            "parts); case is ignored.", example="UC-MSC"),
        Col("group", "text", "The group label shown in figures and tables.", example="MSC"),
    ),
    optional=True,
    notes=(
        "A value must appear in that column of some data file (a typo would silently leave it "
        "ungrouped), and may map to one group only.",
    ),
)

FILES: dict[str, DataFile] = {
    f.name: f for f in (SOURCES, PATIENTS, EVENTS, COHORT_OUTCOMES, IPD, KM_POINTS, KM_AT_RISK, GROUPS)
}
REQUIRED_FILES = ("sources", "patients", "events", "cohort_outcomes")


def _expected(col: Col) -> str:
    if col.allowed:
        return "one of " + ", ".join(col.allowed)
    return {
        "int": "a whole number",
        "float": "a number",
        "id": "an id",
        "ref": "an id",
        "text": "text",
        "date_or_blank": "a date",
    }.get(col.kind, col.kind)


def pandera_schema(data_file: DataFile, refs: dict[str, set] | None = None, types_only: bool = False):
    """The pandera ``DataFrameSchema`` of a file (all cells read as text first).

    ``refs`` maps a referencing column (``source_id``, ``patient_id``, ``study``) to the set
    of ids it may name; references are then checked too. Each check carries a message in
    the user's words (``expected ..., found``) that :mod:`analysis.load` turns into
    ``file:row:column: message`` lines.
    """
    import pandera.pandas as pa

    refs = refs or {}
    columns = {}
    if types_only:  # first pass: which cells cannot be read as numbers (number columns only)
        for col in data_file.columns:
            if col.kind in ("int", "float"):
                columns[col.name] = pa.Column("Int64" if col.kind == "int" else float,
                                              nullable=True, coerce=True, required=True)
        return pa.DataFrameSchema(columns, name=data_file.name)
    for col in data_file.columns:
        checks = []
        dtype = None  # text: cells are str or NA as read; a str dtype check per column doubled the load time
        if col.kind not in ("int", "float"):
            checks.append(
                pa.Check(
                    lambda s: s.str.len() <= MAX_TEXT_LENGTH,
                    error=f"expected at most {MAX_TEXT_LENGTH:,} characters",
                )
            )
        if col.kind in ("int", "float"):
            dtype = "Int64" if col.kind == "int" else float
            if col.min_value is not None:
                checks.append(pa.Check.ge(col.min_value, error=f"expected a value >= {col.min_value:g}"))
            if col.max_value is not None:
                checks.append(pa.Check.le(col.max_value, error=f"expected a value <= {col.max_value:g}"))
        if col.kind == "id":  # '@calendar', '@birth/...' name the roots of the offset chains
            checks.append(pa.Check(lambda s: ~s.astype(str).str.startswith(RESERVED_ID_PREFIX),
                                   element_wise=False,
                                   error=f"expected an id that does not start with {RESERVED_ID_PREFIX!r} "
                                         "(reserved for the time roots @calendar and @birth)"))
        if col.allowed:
            checks.append(pa.Check.isin(list(col.allowed), error="expected " + _expected(col)))
        ref_ids = refs.get(col.name) if col.kind == "ref" else None
        if ref_ids is not None:
            target = {"source_id": "sources", "study": "sources", "outcome_id": "cohort_outcomes"}.get(col.name, "patients")
            checks.append(
                pa.Check.isin(sorted(ref_ids), error=f"expected an id listed in {target}")
            )
        columns[col.name] = pa.Column(
            dtype,
            checks=checks,
            nullable=not col.required,
            unique=col.unique,
            coerce=col.kind in ("int", "float"),
            required=True,
        )
    return pa.DataFrameSchema(columns, strict=True, name=data_file.name)


def expected_text(data_file: DataFile, column: str) -> str:
    """What a column expects, in words (for error messages)."""
    for col in data_file.columns:
        if col.name == column:
            return _expected(col)
    return "a known column"


def template_csv(data_file: DataFile) -> str:
    """Header line of an empty template for ``data_file``."""
    return ",".join(data_file.column_names) + "\n"


def write_templates(folder: str | Path) -> list[Path]:
    """Write an empty CSV (header only) for every data file into ``folder``; return paths.

    Refuses to overwrite an existing file.
    """
    folder = Path(folder)
    written = []
    for data_file in FILES.values():
        rel = data_file.path.replace("*", "example")
        path = folder / rel
        if path.exists():
            raise FileExistsError(f"{path} already exists; not overwriting it")
    for data_file in FILES.values():
        if data_file.optional:
            continue
        path = folder / data_file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template_csv(data_file), encoding="utf-8")
        written.append(path)
    templates = folder / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    for data_file in FILES.values():
        if data_file.optional:
            path = templates / (data_file.path.replace("/", "__").replace("*", "example"))
            path.write_text(template_csv(data_file), encoding="utf-8")
            written.append(path)
    return written


FOLDER_NOTES = (
    "A data folder holds `sources`, `patients`, `events` and `cohort_outcomes` (required) and "
    "`groups` (optional), each as `.csv` or `.xlsx` (first sheet), and the optional folders "
    "`ipd/` (`*.csv`, `*.xlsx`) and `km_curves/` (`points`, `at_risk`). Ignored, so they may "
    "stay: notes (`README.md`, any `.md` or `.txt`), hidden files (`.DS_Store`, `.git`, "
    "LibreOffice's `.~lock.*#`), Excel's lock files (`~$*.xlsx`), `Thumbs.db`, `desktop.ini` "
    "and the folder `templates/` that `new-data` writes. Any other file or folder is an error "
    "(a top-level `ipd.csv` would otherwise be silently left out), and so is a data file that "
    "is a link to a file outside the folder, or not a regular file (a named pipe, a device). "
    "Ids (`source_id`, `patient_id`, `event_id`, `outcome_id`) must not start with `@`; every "
    "id and text is read in Unicode NFC, so 'José' typed in composed or decomposed form is "
    "the same id. In an `.xlsx`, the first sheet is read and must not be hidden behind "
    "another; formulas need their saved values; a date cell shown as `yyyy-mm` stands for the "
    "month (as `1999-03`) and one shown as `yyyy` for the year."
)


def data_dictionary_markdown() -> str:
    """The data dictionary (the generated part of ``data/README.md``)."""
    lines = [FOLDER_NOTES + "\n"]
    for data_file in FILES.values():
        opt = " (optional)" if data_file.optional else ""
        lines.append(f"### `{data_file.path}`{opt}\n")
        lines.append(data_file.description + "\n")
        lines.append("| column | type | required | allowed values / range | unit | description |")
        lines.append("|---|---|---|---|---|---|")
        for c in data_file.columns:
            if c.allowed:
                allowed = ", ".join(f"`{a}`" for a in c.allowed)
            elif c.min_value is not None or c.max_value is not None:
                lo = "" if c.min_value is None else f"{c.min_value:g}"
                hi = "" if c.max_value is None else f"{c.max_value:g}"
                allowed = f"{lo} – {hi}".strip()
            else:
                allowed = ""
            extra = " (unique)" if c.unique else ""
            lines.append(
                f"| `{c.name}` | {c.kind}{extra} | {'yes' if c.required else 'no'} | {allowed} "
                f"| {c.unit} | {c.description} |"
            )
        example = ",".join(_csv_cell(c.example) for c in data_file.columns)
        lines.append("")
        lines.append("Example row:\n")
        lines.append("```csv\n" + ",".join(data_file.column_names) + "\n" + example + "\n```\n")
        for note in data_file.notes:
            lines.append(note + "\n")
    return "\n".join(lines)


def _csv_cell(value: str) -> str:
    if any(ch in value for ch in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


BEGIN_MARK = "<!-- BEGIN GENERATED DATA DICTIONARY (python -m analysis data-dictionary --update data/README.md) -->"
END_MARK = "<!-- END GENERATED DATA DICTIONARY -->"


def generated_section(readme_text: str) -> str:
    """The generated part of a README (between the markers)."""
    start = readme_text.index(BEGIN_MARK) + len(BEGIN_MARK)
    return readme_text[start:readme_text.index(END_MARK)].strip()


def update_readme(path: str | Path) -> None:
    """Replace the generated part of ``path`` with the current data dictionary."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    start = text.index(BEGIN_MARK) + len(BEGIN_MARK)
    end = text.index(END_MARK)
    path.write_text(text[:start] + "\n\n" + data_dictionary_markdown() + "\n" + text[end:], encoding="utf-8")
