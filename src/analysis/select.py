"""Which rows an analysis uses: the one filter dialect, evidence ranking, patient selection.

Every notebook takes ``filters``: a list of ``"column=value"`` texts (as ``render -p`` passes
them) or a dict ``{column: value or [values]}``; repeated columns are alternatives, different
columns must all match (:func:`parse_filters`, :func:`apply_filters`). Notebook 01's keyword
parameters (``diseases``, ``therapies``, ``source_kinds``, ``min_evidence_level``,
``patient_ids``, ``include_anecdotes``) are documented shortcuts of :func:`select_patients`.
"""

from __future__ import annotations

import warnings

import pandas as pd

from analysis import schemas
from analysis.schemas import evidence_rank
from analysis.timing import expect_one_of

__all__ = ["parse_filters", "apply_filters", "select_patients", "evidence_rank"]


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def parse_filters(filters) -> dict[str, list[str]]:
    """Filters as ``{column: [values]}`` from a dict (``{"therapy": "UC-MSC"}``) or a list
    of ``"column=value"`` texts (``["therapy=UC-MSC", "therapy=autologous HSCT"]``, as the
    command line passes them; repeated columns are alternatives)."""
    if not filters:
        return {}
    if isinstance(filters, str):
        filters = [filters]
    out: dict[str, list[str]] = {}
    if isinstance(filters, dict):
        for col, wanted in filters.items():
            values = wanted if isinstance(wanted, (list, tuple, set)) else [wanted]
            out.setdefault(str(col), []).extend(str(v) for v in values)
        return out
    for item in filters:
        col, sep, value = str(item).partition("=")
        if not sep or not col.strip():
            raise ValueError(f"filter {item!r} must be written column=value, e.g. therapy=UC-MSC")
        out.setdefault(col.strip(), []).append(value.strip())
    return out


def apply_filters(df: pd.DataFrame, filters) -> pd.DataFrame:
    """Rows of ``df`` matching every column of ``filters`` (see :func:`parse_filters`).

    A cell matches a value case-insensitively, either whole or as one of its
    ``"; "``-separated parts ("psoriasis vulgaris; psoriatic arthritis" matches "psoriatic
    arthritis"). Raises ``ValueError`` for an unknown column.
    """
    parsed = parse_filters(filters)
    if not parsed:
        return df
    mask = pd.Series(True, index=df.index)
    for col, values in parsed.items():
        if col not in df.columns:
            raise ValueError(f"cannot filter on {col!r}; columns are: {', '.join(df.columns)}")
        wanted = {v.lower() for v in values}

        def match(cell, wanted=wanted):
            text = _text(cell).lower()
            return text in wanted or any(part.strip() in wanted for part in text.split(";"))

        mask &= df[col].map(match)
    return df[mask]


def as_list(value) -> list | None:
    """``None`` stays None, one text becomes a one-item list, anything else a list."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


def select_patients(ds, diseases=None, therapies=None, source_kinds=None,
                    min_evidence_level=None, patient_ids=None, include_anecdotes=True) -> pd.DataFrame:
    """Patients (joined with their source's kind, citation and evidence level) kept by the
    filters. ``None`` keeps all.

    * ``diseases`` / ``therapies``: texts; a patient is kept when any of its ``diseases``
      (or its ``therapy``) contains any of them, case-insensitively ("psoriasis" keeps
      "psoriasis vulgaris").
    * ``source_kinds``: kinds of source (``case_report``, ``forum``, ...).
    * ``min_evidence_level``: keep sources at this level or stronger (levels in
      :data:`analysis.schemas.EVIDENCE_LEVELS`, strongest first).
    * ``patient_ids``: ids to keep.
    * ``include_anecdotes``: keep patients whose ``case_role`` is ``adverse_event_anecdote``.
    """
    src = ds.sources[["source_id", "kind", "citation", "evidence_level"]].rename(
        columns={"kind": "source_kind", "citation": "source_citation"}
    )
    pats = ds.patients.merge(src, on="source_id", how="left")
    keep = pd.Series(True, index=pats.index)
    for column, wanted in (("diseases", diseases), ("therapy", therapies)):
        wanted = as_list(wanted)
        if wanted is not None:
            text = pats[column].fillna("").str.lower()
            hit = pd.Series(False, index=pats.index)
            for w in wanted:
                hit |= text.str.contains(str(w).lower(), regex=False)
            keep &= hit
    kinds = as_list(source_kinds)
    if kinds is not None:
        unknown = sorted(set(kinds) - set(schemas.SOURCE_KINDS))
        if unknown:
            raise ValueError(f"source_kinds: expected kinds among {', '.join(schemas.SOURCE_KINDS)}, "
                             f"found {', '.join(map(repr, unknown))}")
        keep &= pats["source_kind"].isin(kinds)
    if min_evidence_level is not None:
        expect_one_of("min_evidence_level", min_evidence_level, schemas.EVIDENCE_LEVELS)
        rank = {lv: i for i, lv in enumerate(schemas.EVIDENCE_LEVELS)}
        keep &= pats["evidence_level"].astype(object).map(rank).fillna(len(rank)) <= rank[min_evidence_level]
    ids = as_list(patient_ids)
    if ids is not None:
        missing = sorted(set(ids) - set(pats["patient_id"]))
        if missing:
            warnings.warn(f"patient_ids not in the data: {', '.join(missing)}", stacklevel=3)
        keep &= pats["patient_id"].isin(ids)
    if not include_anecdotes:
        keep &= pats["case_role"] != "adverse_event_anecdote"
    return pats[keep].reset_index(drop=True)
