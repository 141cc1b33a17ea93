"""When things happened: coded dates and offsets, resolved into intervals.

A coded time is either

* a calendar **date** of any precision: ``2009`` (the whole year), ``2009-07`` (the whole
  month) or ``2009-07-07`` (that day); it stands for the interval it covers, and its best
  estimate is the interval's midpoint; or
* an **offset** from another event of the same patient, ``+6 months`` or ``-2 weeks``
  (units: days, weeks, months, years; a month is 365.25/12 days, a year 365.25 days),
  named in ``offset_from``. ``offset_from = birth`` codes an age: ``+35 years`` from birth
  is "at age 35", the year of age [35, 36).

A **qualifier** says how exact the figure is:

=========== ============================================ =====================================
qualifier   offset ``+d`` means                         best estimate
=========== ============================================ =====================================
(empty)     exactly ``d``                                ``d``
``about``   ``d`` ± 10 % of ``|d|`` (dates: ± one unit    ``d``
            of their precision: a year, a month, a day)
``within``  between 0 and ``d`` (an upper bound)          ``d / 2`` (midpoint)
``at_least`` ``d`` or more (a lower bound; unbounded)    ``d`` (the bound)
=========== ============================================ =====================================

``within`` and ``at_least`` apply to offsets only. ``at_least +0 days`` from an event is how
"after X, date not reported" is coded; ``at_least -0 days`` is "before X".

Every time is resolved to an interval ``(lo, best, hi)`` in days relative to another event
by walking the offset chain to the two events' nearest common ancestor, so uncertainty is
carried (interval arithmetic) and never rounded away. Dated events share the pseudo-root
``@calendar`` (days since 1970-01-01), age-coded events the pseudo-root ``@birth``.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

TIME_UNITS = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}
"""The one table of time units: days per unit (a month is 365.25/12 = 30.4375 days, a year
365.25 days). Every module, notebook and data column reads its unit names and lengths here."""
DAYS_PER_UNIT = {unit[:-1]: days for unit, days in TIME_UNITS.items()}
"""The same table by singular name (``"month"``), as offsets are written (``+6 months``)."""
MONTH = TIME_UNITS["months"]
YEAR = TIME_UNITS["years"]
QUALIFIERS = ("", "about", "within", "at_least")
ABOUT_FRACTION = 0.10
CALENDAR = "@calendar"
BIRTH = "@birth"
_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
MAX_OFFSET_YEARS = 120
"""Longest offset accepted (a human life); longer ones are typos and would overflow dates."""

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_OFFSET_RE = re.compile(
    r"^([+-])\s*(\d+(?:\.\d+)?)\s*(day|days|week|weeks|month|months|year|years)$", re.I
)


@dataclass(frozen=True)
class Interval:
    """A time interval in days: ``lo <= best <= hi``; ``lo``/``hi`` may be infinite."""

    lo: float
    best: float
    hi: float

    def __add__(self, other: "Interval") -> "Interval":
        return Interval(self.lo + other.lo, self.best + other.best, self.hi + other.hi)

    def __sub__(self, other: "Interval") -> "Interval":
        return Interval(self.lo - other.hi, self.best - other.best, self.hi - other.lo)

    @property
    def exact(self) -> bool:
        return self.lo == self.hi


ZERO = Interval(0.0, 0.0, 0.0)


def shown(text) -> str:
    """``repr`` of a user's value for a message, cut to 60 characters (cells may be huge)."""
    text = str(text)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def shown_value(value) -> str:
    """A cell value as a user would recognise it: ``-4`` not ``np.float64(-4.0)``; text as
    :func:`shown`."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return shown(value) if isinstance(value, str) else repr(value)


def amount(value, unit: str, fmt: str = "g") -> str:
    """A number with its unit in words: ``amount(1, "years")`` is "1 year", ``amount(2.5,
    "years")`` "2.5 years" (units are named in the plural, as in :data:`TIME_UNITS`);
    ``fmt`` is the number's format (``".4g"``, ``".1f"``), and the unit is singular when
    the number as shown is exactly 1."""
    number = float(value)
    text = f"{number:{fmt}}"
    if float(text) == 1 and isinstance(unit, str) and unit.endswith("s"):
        unit = unit[:-1]
    return f"{text} {unit}"


def expect_one_of(name: str, value, allowed) -> None:
    """Raise ``ValueError("name: expected one of a, b, found 'x'")`` unless ``value`` is in
    ``allowed``: the one wording of every parameter error."""
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {', '.join(map(str, allowed))}, found {value!r}")


def unit_days(time_unit: str, name: str = "time_unit") -> float:
    """Days in one ``time_unit`` (``days``, ``weeks``, ``months``, ``years``); ``ValueError``
    naming the parameter otherwise."""
    expect_one_of(name, time_unit, TIME_UNITS)
    return TIME_UNITS[time_unit]


def _date_hint(text: str) -> str:
    """What a date the parser rejects probably is, for the message."""
    import datetime as dt

    if re.fullmatch(r"\d{5}", text) and 10_000 <= int(text) <= 99_999:
        day = dt.date(1899, 12, 30) + dt.timedelta(days=int(text))
        return (f" (an Excel date stored as a number? {text} is {day.isoformat()}; "
                "format the column as text and type the date as YYYY-MM-DD)")
    if re.match(r"\d{4}-\d{1,2}-\d{1,2}[T ]\d", text):
        return " (a date with a time; give the date only)"
    return ""


def parse_date(text: str, qualifier: str = "") -> Interval:
    """Calendar date ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` -> interval in days since 1970-01-01.

    The interval covers the whole period (``hi`` is the start of its last day); ``about``
    widens it by one unit of its precision on each side. Raises ``ValueError`` with a
    message a user can act on.
    """
    m = _DATE_RE.match(text.strip())
    if not m:
        raise ValueError(f"expected a date as YYYY, YYYY-MM or YYYY-MM-DD, found {shown(text)}"
                         + _date_hint(text.strip()))
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else None
    day = int(m.group(3)) if m.group(3) else None
    if year < 1800 or year > 2200:
        raise ValueError(f"expected a year between 1800 and 2200, found {shown(text)}")
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"expected a month 01-12, found {shown(text)}")
    if day is not None:
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise ValueError(f"expected a day 01-{last} for {year}-{month:02d}, found {shown(text)}")
    if qualifier in ("within", "at_least"):
        raise ValueError(
            f"expected qualifier about or empty with a date, found {qualifier!r} (qualifier {qualifier!r} "
            "applies to offsets only; code a bound as an offset from another event, for example "
            "'within' '+12 months')"
        )
    import datetime as dt

    def ordinal(y, mo, d):
        return dt.date(y, mo, d).toordinal() - _EPOCH_ORDINAL

    if day is not None:
        lo = hi = ordinal(year, month, day)
        unit = 1.0
    elif month is not None:
        lo = ordinal(year, month, 1)
        hi = ordinal(year, month, calendar.monthrange(year, month)[1])
        unit = DAYS_PER_UNIT["month"]
    else:
        lo, hi = ordinal(year, 1, 1), ordinal(year, 12, 31)
        unit = DAYS_PER_UNIT["year"]
    best = (lo + hi) / 2
    if qualifier == "about":
        lo, hi = lo - unit, hi + unit
    return Interval(float(lo), float(best), float(hi))


def parse_offset(text: str) -> float:
    """Signed offset such as ``+6 months`` or ``-2 weeks`` -> days (float)."""
    m = _OFFSET_RE.match(text.strip())
    if not m:
        raise ValueError(
            "expected an offset as a sign, a number and a unit (days, weeks, months, years), "
            f"for example '+6 months', found {shown(text)}"
        )
    sign = -1.0 if m.group(1) == "-" else 1.0
    unit = m.group(3).lower().rstrip("s")
    days = sign * float(m.group(2)) * DAYS_PER_UNIT[unit]
    if not abs(days) <= MAX_OFFSET_YEARS * DAYS_PER_UNIT["year"]:
        raise ValueError(f"expected an offset of at most {MAX_OFFSET_YEARS} years, found {shown(text)}")
    return days


def offset_interval(text: str, qualifier: str = "", from_birth: bool = False) -> Interval:
    """The interval an offset with its qualifier stands for (see the module table)."""
    if qualifier not in QUALIFIERS:
        raise ValueError(f"expected qualifier empty, about, within or at_least, found {shown(qualifier)}")
    d = parse_offset(text)
    if from_birth and qualifier == "":
        m = _OFFSET_RE.match(text.strip())
        if m.group(3).lower().startswith("year") and float(m.group(2)).is_integer() and d >= 0:
            # "at age 35" is the year of age [35, 36)
            year = DAYS_PER_UNIT["year"]
            return Interval(d, d + year / 2, d + year)
    if qualifier == "":
        return Interval(d, d, d)
    if qualifier == "about":
        w = ABOUT_FRACTION * abs(d)
        return Interval(d - w, d, d + w)
    if qualifier == "within":
        return Interval(min(0.0, d), d / 2, max(0.0, d))
    # at_least: d or further from the reference, in the offset's direction
    if d > 0 or (d == 0 and not text.strip().startswith("-")):
        return Interval(d, d, math.inf)
    return Interval(-math.inf, d, d)


class OffsetGraph:
    """The offset chains of one data set.

    ``parent[event] = (reference, interval of the event relative to the reference)``. The
    reference is another event id, or a pseudo-root (``@calendar``, ``@birth/PATIENT``).

    Every walk is iterative and can never loop: members of a cycle (and events whose chain
    runs into one) are set aside in ``cyclic`` and have no time; a chain of any depth (10,000
    offsets listed deepest first) resolves without recursion. Sums along a chain are
    memoised, so resolving every event of a chain of depth ``d`` costs ``O(d)``, not ``O(d²)``.

    ``parent`` may be a function returning that mapping: the graph is then built on first
    use (the loader makes one per data folder; validating needs none).
    """

    _LAZY = frozenset({"cyclic", "parent", "depth", "_roots", "_ancestors", "_lca", "_sum"})

    def __init__(self, parent: dict[str, tuple[str, Interval]] | Callable[[], dict]):
        if callable(parent):
            self._source = parent
            return
        self._build(parent)

    def __getattr__(self, name: str):
        source = self.__dict__.get("_source")
        if name not in self._LAZY or source is None:
            raise AttributeError(name)
        del self._source
        self._build(source())
        return getattr(self, name)

    def _build(self, parent: dict[str, tuple[str, Interval]]) -> None:
        parent = dict(parent)
        self.cyclic: set[str] = set()
        depth: dict[str, int] = {}
        roots: dict[str, str] = {}
        for start in parent:
            if start in depth or start in self.cyclic:
                continue
            path: list[str] = []
            on_path: set[str] = set()
            node = start
            while node in parent and node not in depth and node not in self.cyclic:
                if node in on_path:
                    break
                on_path.add(node)
                path.append(node)
                node = parent[node][0]
            if node in on_path or node in self.cyclic:  # a cycle, or a chain into one
                self.cyclic.update(path)
                continue
            d = depth.get(node, 0)  # node: a root, or a node resolved already
            top = roots.get(node, node)
            for n in reversed(path):
                d += 1
                depth[n] = d
                roots[n] = top
        self.parent = {e: p for e, p in parent.items() if e not in self.cyclic}
        self.depth = depth
        self._roots = roots
        self._ancestors: dict[str, set[str]] = {}
        self._lca: dict[tuple[str, str], str] = {}
        self._sum: dict[tuple[str, str], Interval] = {}

    def root(self, event: str) -> str:
        """The end of ``event``'s chain: a pseudo-root, an undated event or an event id the
        graph does not hold (``event`` itself when it has no parent)."""
        return self._roots.get(event, event)

    def chain(self, event: str) -> list[tuple[str, Interval]]:
        """``[(event, 0), (parent, t), (grandparent, t'), ...]``: the event's time relative to
        each ancestor, nearest first, ending at the chain's root."""
        out = [(event, ZERO)]
        acc = ZERO
        node = event
        for _ in range(self.depth.get(event, 0)):
            ref, iv = self.parent[node]
            acc = acc + iv
            out.append((ref, acc))
            node = ref
        return out

    def _ancestor_set(self, node: str) -> set[str]:
        found = self._ancestors.get(node)
        if found is None:
            found = {n for n, _ in self.chain(node)}
            if len(self._ancestors) > 4096:  # anchors are few; bound the cache all the same
                self._ancestors.clear()
            self._ancestors[node] = found
        return found

    def _common(self, event: str, anchor: str) -> str | None:
        """The nearest common ancestor of ``event`` and ``anchor`` (memoised per anchor)."""
        ancestors = self._ancestor_set(anchor)
        path = []
        node = event
        found = None
        for _ in range(self.depth.get(event, 0) + 1):
            if node in ancestors:
                found = node
                break
            known = self._lca.get((node, anchor))
            if known is not None:
                found = known
                break
            path.append(node)
            if node not in self.parent:
                break
            node = self.parent[node][0]
        if found is not None:
            for n in path:
                self._lca[(n, anchor)] = found
        return found

    def _sum_to(self, event: str, ancestor: str) -> Interval:
        """``event``'s time relative to its ``ancestor``: the sum of the offsets between them."""
        path = []
        node = event
        acc = ZERO
        while node != ancestor:
            known = self._sum.get((node, ancestor))
            if known is not None:
                acc = known
                break
            path.append(node)
            node = self.parent[node][0]
        for n in reversed(path):
            acc = self.parent[n][1] + acc
            self._sum[(n, ancestor)] = acc
        return acc

    def relative(self, event: str, anchor: str) -> Interval | None:
        """Time of ``event`` relative to ``anchor`` (days), through their nearest common
        ancestor; ``None`` when the two are not related (e.g. an age and a calendar date) or
        either is on an offset cycle."""
        if event in self.cyclic or anchor in self.cyclic:
            return None
        common = self._common(event, anchor)
        if common is None:
            return None
        return self._sum_to(event, common) - self._sum_to(anchor, common)


def find_cycles(edges: dict[str, str]) -> list[list[str]]:
    """Cycles in a child -> parent mapping, each as the list of its members (in chain order)."""
    seen: set[str] = set()
    cycles = []
    for start in edges:
        if start in seen:
            continue
        path: list[str] = []
        on_path: dict[str, int] = {}
        node = start
        while node in edges and node not in seen:
            if node in on_path:
                cycles.append(path[on_path[node]:])
                break
            on_path[node] = len(path)
            path.append(node)
            node = edges[node]
        seen.update(path)
    return cycles
