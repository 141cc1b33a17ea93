"""Group labels as typed by hand: near-duplicates and the optional ``groups.csv`` map.

Subgroups are the values of a column (``disease``, ``therapy``, ...). Values that differ only
in case or surrounding spaces are one group everywhere (:func:`analysis.rates.group_labels`).
Values that a reader would take for the same thing ("psoriasis", "psoriasis vulgaris", "plaque
psoriasis") are *not* merged silently: :func:`near_duplicates` names them, ``validate`` and the
report print a warning, and the user says what belongs together in ``groups.csv`` (columns
``column``, ``value``, ``group``), which :func:`apply_groups` applies before any analysis.
"""

from __future__ import annotations

import difflib
import re

import pandas as pd

GROUP_COLUMNS = ["column", "value", "group"]
SIMILARITY = 0.85
"""difflib ratio above which two labels count as near-duplicates."""


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", _norm(text))


def near_duplicates(values) -> list[tuple[str, str]]:
    """Pairs of distinct labels (after trimming and ignoring case) that look like one thing:
    one label is the other plus one word ("psoriasis" / "plaque psoriasis"), or the
    spellings are close (difflib ratio >= :data:`SIMILARITY`: "lupus nephritis" / "lupus
    nephritits"). Each pair once, in first-seen order."""
    seen: dict[str, str] = {}
    for v in values:
        if isinstance(v, str) and v.strip():
            seen.setdefault(_norm(v), v.strip())
    labels = list(seen.items())
    pairs = []
    for i, (na, a) in enumerate(labels):
        wa = set(_words(a))
        for nb, b in labels[i + 1:]:
            wb = set(_words(b))
            # one more word ("psoriasis" / "plaque psoriasis"); a longer description is a
            # different label on purpose ("autologous HSCT (cyclophosphamide + ATG)")
            contained = bool(wa and wb) and (wa <= wb or wb <= wa) and abs(len(wa) - len(wb)) <= 1
            if contained or difflib.SequenceMatcher(None, na, nb).ratio() >= SIMILARITY:
                pairs.append((a, b))
    return pairs


def near_duplicate_warnings(df: pd.DataFrame, columns=("disease",), file: str = "cohort_outcomes.csv",
                            groups: pd.DataFrame | None = None) -> list[str]:
    """One sentence per near-duplicate pair in ``columns`` of ``df`` that ``groups`` does not
    already put in one group: what to check and how to merge them if they are one thing."""
    out = []
    for col in columns:
        if col not in df.columns:
            continue
        mapped = apply_groups(df[[col]], groups)[col] if groups is not None else df[col]
        for a, b in near_duplicates(mapped.dropna().tolist()):
            out.append(f"{file}:-:{col}: {a!r} and {b!r} look alike but are different groups; if they are one "
                       f"thing, map both to one group in groups.csv (column,value,group: {col},{b},{a})")
    return out


def apply_groups(df: pd.DataFrame, groups: pd.DataFrame | None) -> pd.DataFrame:
    """``df`` with the values named in ``groups`` (columns ``column``, ``value``, ``group``)
    replaced by their group, matched after trimming and ignoring case. The input is not
    modified; columns ``groups`` does not name are left as they are."""
    if groups is None or groups.empty:
        return df
    out = df.copy()
    for col, g in groups.groupby("column", sort=False):
        if col not in out.columns:
            continue
        mapping = {_norm(v): grp for v, grp in zip(g["value"], g["group"])}
        out[col] = out[col].map(lambda x: mapping.get(_norm(x), x) if isinstance(x, str) else x)
    return out
