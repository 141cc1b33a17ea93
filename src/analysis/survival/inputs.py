"""Checks of the arrays the survival numbers take, and R's rule for nearly tied times.

The bottom room of :mod:`analysis.survival` (numpy and pandas only): every function of
:mod:`.km`, :mod:`.summaries`, :mod:`.competing` and :mod:`.interval` that takes arrays
checks them here, so a wrong input gets the same readable ``ValueError`` everywhere
("<function>: time must be finite numbers >= 0"), and times that R would treat as tied
are tied by :func:`aeq_times`, R's ``aeqSurv`` (``survfit(timefix = TRUE)``, ``survdiff``).

Conventions: times in the caller's unit, finite and >= 0; ``event`` 1 = relapse or death,
0 = censored; a ``cause`` is text, ``""``/``None``/NaN meaning censored; group and strata
labels are text and may not be missing.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def check_times(time, what: str, name: str = "time") -> np.ndarray:
    """``time`` as a float array: finite, >= 0 and not empty."""
    try:
        t = np.asarray(time, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {name} must be numbers") from None
    if not len(t):
        raise ValueError(f"{what}: no observations ({name} is empty)")
    if not np.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"{what}: {name} must be finite numbers >= 0")
    return t


def check_events(event, n: int, what: str) -> np.ndarray:
    """``event`` as an int array of 0/1 values, as long as ``time``."""
    e = np.asarray(event).reshape(-1)
    if len(e) != n:
        raise ValueError(f"{what}: event has {len(e)} values but time has {n}")
    try:
        ok = np.isin(e.astype(float), (0.0, 1.0)).all()
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{what}: event must be 0 (censored) or 1 (relapse or death)")
    return e.astype(float).astype(np.int64)


def check_same_length(what: str, n: int, **arrays) -> None:
    for name, arr in arrays.items():
        if len(arr) != n:
            raise ValueError(f"{what}: {name} has {len(arr)} values but time has {n}")


def check_causes(cause) -> np.ndarray:
    """Cause labels as an object array of str, with "" for censored (``""``, None, NaN)."""
    values = pd.Series(np.asarray(cause, dtype=object).reshape(-1), dtype=object)
    missing = values.isna().to_numpy() | (values == "").to_numpy()
    out = values.astype(str).to_numpy(dtype=object)
    out[missing] = ""
    return out


def check_labels(values, what: str, name: str) -> np.ndarray:
    """Group/strata labels as str; missing values are an error."""
    values = pd.Series(np.asarray(values, dtype=object).reshape(-1), dtype=object)
    if values.isna().any():
        raise ValueError(f"{what}: {name} has missing values")
    return values.astype(str).to_numpy(dtype=object)


def aeq_times(values: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """R's ``aeqSurv`` (``survfit(timefix = TRUE)``, ``survdiff``): times closer than
    sqrt(machine eps) -- absolutely, or relative to the mean absolute time -- are made
    equal (to the smallest of them), as ``all.equal`` would judge them. ``values`` are
    all the time values R looks at; each of ``arrays`` is mapped (non-finite unchanged)."""
    y = np.unique(values[np.isfinite(values)])
    if len(y) < 2:
        return list(arrays)
    tol = math.sqrt(np.finfo(float).eps)
    dy = np.diff(y)
    tied = (dy <= tol) | (dy / np.mean(np.abs(y)) <= tol)
    if not tied.any():
        return list(arrays)
    cuts = y[np.concatenate([[True], ~tied])]
    out = []
    for a in arrays:
        a = np.asarray(a, dtype=float)
        fin = np.isfinite(a)
        mapped = a.copy()
        mapped[fin] = cuts[np.searchsorted(cuts, a[fin], side="right") - 1]
        out.append(mapped)
    return out
