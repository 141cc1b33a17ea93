"""Offset chains as arrays: the times of many events relative to many others at once.

:class:`analysis.timing.OffsetGraph` answers one question at a time in Python (the loader's
``ds.graph.relative(a, b)``). Validating a file of 100,000 events asks several such questions
per event (each event against its line's anchor and the calendar, follow-ups against the
other events of their patient, ...), so the loader asks them here, all at once, with numpy.

The chains are a forest: node ``i`` counts from ``parent[i]`` (``-1``: a root, such as the
calendar, a birth or an undated event) by the interval ``(lo[i], best[i], hi[i])`` days. The
time of ``a`` relative to ``b`` is summed along both chains up to their nearest common
ancestor, as :meth:`analysis.timing.OffsetGraph.relative` does, by binary lifting: each node's
2**k-th ancestor and the interval sum up to it, for k up to log2 of the deepest chain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import timing


class Chains:
    """Acyclic offset chains over nodes ``ids`` (see the module docstring).

    ``parent``: index of each node's reference, ``-1`` for a root; ``lo``, ``best``, ``hi``:
    the interval (days) of each node after its reference (ignored for roots). The chains must
    not loop (the loader sets cycles aside first, :func:`ends`)."""

    def __init__(self, ids, parent, lo, best, hi):
        self.ids = np.asarray(ids, dtype=object)
        self._index: pd.Index | None = None
        self.parent = np.asarray(parent, dtype=np.int64)
        n = len(self.parent)
        is_root = self.parent < 0
        self._up0 = np.where(is_root, np.arange(n), self.parent)
        self._iv0 = np.zeros((3, n))
        for k, v in enumerate((lo, best, hi)):
            self._iv0[k] = np.where(is_root, 0.0, np.asarray(v, dtype=float))
        self.root, self.depth = _roots_and_depths(self._up0)
        self._up: list[np.ndarray] | None = None
        self._sum: list[np.ndarray] | None = None
        self._from_root: np.ndarray | None = None

    @classmethod
    def from_graph(cls, graph: timing.OffsetGraph | None) -> "Chains":
        """The chains of an :class:`~analysis.timing.OffsetGraph` (its cycles left out)."""
        parent = graph.parent if graph is not None else {}
        ids = pd.Index(list(dict.fromkeys([*parent, *(ref for ref, _ in parent.values())])), dtype=object)
        pos = ids.get_indexer([ref for ref, _ in parent.values()]) if parent else np.zeros(0, dtype=np.int64)
        up = np.full(len(ids), -1, dtype=np.int64)
        lo, best, hi = (np.zeros(len(ids)) for _ in range(3))
        own = ids.get_indexer(list(parent)) if parent else np.zeros(0, dtype=np.int64)
        up[own] = pos
        for arr, k in ((lo, "lo"), (best, "best"), (hi, "hi")):
            arr[own] = [getattr(iv, k) for _, iv in parent.values()]
        return cls(ids, up, lo, best, hi)

    def index(self, event_ids) -> np.ndarray:
        """Node of each id (``-1`` for an id that is no node)."""
        if self._index is None:
            self._index = pd.Index(self.ids, dtype=object)
        return self._index.get_indexer(pd.Index(np.asarray(event_ids, dtype=object), dtype=object))

    def _tables(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if self._up is None:
            up, sums = [self._up0], [self._iv0]
            levels = max(1, int(self.depth.max(initial=0)).bit_length())
            for _ in range(1, levels):
                prev_up, prev_sum = up[-1], sums[-1]
                sums.append(prev_sum + prev_sum[:, prev_up])
                up.append(prev_up[prev_up])
            self._up, self._sum = up, sums
        return self._up, self._sum

    @property
    def from_root(self) -> np.ndarray:
        """Each node's time after its root (3 x nodes: lo, best, hi), summed from the root
        down, one level at a time: the same sums, in the same order, as OffsetGraph's."""
        if self._from_root is None:
            total = np.zeros_like(self._iv0)
            order = np.argsort(self.depth, kind="stable")
            starts = np.searchsorted(self.depth[order], np.arange(1, int(self.depth.max(initial=0)) + 2))
            for lo, hi in zip(starts[:-1], starts[1:]):
                level = order[lo:hi]
                total[:, level] = self._iv0[:, level] + total[:, self.parent[level]]
            self._from_root = total
        return self._from_root

    def _lift(self, x: np.ndarray, steps: np.ndarray, acc: np.ndarray | None = None) -> np.ndarray:
        """``x`` moved ``steps`` nodes up its chain, the intervals passed added into ``acc``."""
        up, sums = self._tables()
        x = x.copy()
        for k in range(len(up)):
            move = ((steps >> k) & 1).astype(bool)
            if move.any():
                if acc is not None:
                    acc[:, move] += sums[k][:, x[move]]
                x[move] = up[k][x[move]]
        return x

    def ancestor(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The nearest common ancestor of nodes ``a`` and ``b`` (of one tree each pair)."""
        dx, dy = self.depth[a], self.depth[b]
        x = self._lift(a, np.maximum(dx - dy, 0))
        y = self._lift(b, np.maximum(dy - dx, 0))
        up, _ = self._tables()
        for k in reversed(range(len(up))):
            move = up[k][x] != up[k][y]
            x[move], y[move] = up[k][x[move]], up[k][y[move]]
        return np.where(x != y, self._up0[x], x)

    def relative(self, a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(found, lo, best, hi)``: the time of node ``a`` after node ``b`` (arrays of nodes,
        ``-1`` for none), through their nearest common ancestor; ``found`` is False (and the
        interval NaN) where the two are not related or either is ``-1``."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        found = (a >= 0) & (b >= 0)
        found[found] = self.root[a[found]] == self.root[b[found]]
        x, y = a[found], b[found]
        common = self.ancestor(x, y)
        sa, sb = self.from_root[:, x], self.from_root[:, y]
        inner = common != self.root[x]  # else the sums from the root are the sums to the ancestor
        for nodes, sums in ((x, sa), (y, sb)):
            if inner.any():
                acc = np.zeros((3, int(inner.sum())))
                self._lift(nodes[inner], self.depth[nodes[inner]] - self.depth[common[inner]], acc)
                sums[:, inner] = acc
        out = np.full((3, len(a)), np.nan)
        out[0, found] = sa[0] - sb[2]
        out[1, found] = sa[1] - sb[1]
        out[2, found] = sa[2] - sb[0]
        return found, out[0], out[1], out[2]

    def to_root(self, a) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(root, lo, best, hi)``: each node's root and its time after it (``a >= 0``)."""
        a = np.asarray(a, dtype=np.int64)
        total = self.from_root[:, a]
        return self.root[a], total[0], total[1], total[2]


def _roots_and_depths(up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Root and depth of every node of an acyclic forest (``up``: parent, roots their own),
    by pointer doubling: log2(depth) vectorised steps."""
    n = len(up)
    depth = (up != np.arange(n)).astype(np.int64)
    jump = up.copy()
    while True:
        nxt = jump[jump]
        if np.array_equal(nxt, jump):
            return jump, depth
        depth = depth + depth[jump]
        jump = nxt


def ends(parent: np.ndarray) -> np.ndarray:
    """Whether each node's chain ends at a root (``parent`` ``-1``) rather than in a cycle."""
    n = len(parent)
    jump = np.where(parent < 0, np.arange(n), parent)
    for _ in range(max(1, n).bit_length() + 1):
        jump = jump[jump]
    return parent[jump] < 0
