"""A column of many rows as codes into its few distinct values.

Individual patient data hold a million rows but a handful of studies, groups, units and
causes: a function of such a column (its text, a unit's length, a study's evidence level)
is computed once per distinct value and spread to the rows by their codes, so no step loops
over the rows in Python and no column is hashed twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class Coded:
    """``values[codes]`` is the column: ``codes`` an int array (one per row, every one valid),
    ``values`` an object array of the distinct values (missing ones included)."""

    def __init__(self, codes: np.ndarray, values: np.ndarray):
        self.codes, self.values = codes, values

    @classmethod
    def of(cls, column) -> Coded:
        """The column hashed once. Cells that are neither text nor missing are kept one per
        row (1 and 1.0 hash alike but read differently)."""
        cells = column.to_numpy(dtype=object) if isinstance(column, pd.Series) else np.asarray(column, dtype=object)
        if len(cells) and pd.isna(cells[0]) and pd.isna(cells).all():  # an empty column: no hashing
            return cls(np.zeros(len(cells), dtype=np.int64), cells[:1].copy())
        codes, uniques = pd.factorize(cells)
        values = np.asarray(uniques, dtype=object)
        if not all(isinstance(v, str) for v in values):
            return cls(np.arange(len(cells)), cells)
        missing = codes < 0
        if missing.any():
            values = np.append(values, np.array([cells[np.argmax(missing)]], dtype=object))
            codes = np.where(missing, len(values) - 1, codes)
        return cls(codes, values)

    @classmethod
    def constant(cls, value, n: int) -> Coded:
        return cls(np.zeros(n, dtype=np.int64), _objects([value]))

    def map(self, fn) -> Coded:
        """``fn`` of every cell, called once per distinct value."""
        return Coded(self.codes, _objects([fn(v) for v in self.values]))

    def array(self) -> np.ndarray:
        """The column as an object array."""
        return self.values[self.codes] if len(self.values) else np.empty(len(self.codes), dtype=object)

    def fill(self, out: np.ndarray) -> None:
        """Write the column into ``out`` (an object array as long as the column)."""
        if len(self.codes):
            np.take(self.values, self.codes, out=out)

    def __len__(self) -> int:
        return len(self.codes)

    @staticmethod
    def concat(columns: list[Coded]) -> Coded:
        """The columns one after another."""
        offsets = np.cumsum([0] + [len(c.values) for c in columns[:-1]])
        return Coded(np.concatenate([c.codes + k for c, k in zip(columns, offsets)]),
                     _objects([v for c in columns for v in c.values]))

    @staticmethod
    def combine(fn, *columns: Coded) -> Coded:
        """``fn(cell, cell, ...)`` of the columns' cells in every row, called once per distinct
        combination."""
        key = np.zeros(len(columns[0]), dtype=np.int64)
        for c in columns:
            key = key * max(len(c.values), 1) + c.codes
            if len(key) and key.max() > 2**40:  # renumber before the product can overflow
                key = pd.factorize(key)[0].astype(np.int64)
        code, _ = pd.factorize(key)  # numbered in order of first appearance
        first = pd.Series(code).drop_duplicates().index.to_numpy()
        return Coded(code, _objects([fn(*(c.values[c.codes[k]] for c in columns)) for k in first]))


def _objects(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out
