"""Dates, offsets and qualifiers, and resolution of offset chains."""

import math

import pytest

from analysis import timing
from analysis.timing import DAYS_PER_UNIT, Interval, OffsetGraph

MONTH, YEAR = DAYS_PER_UNIT["month"], DAYS_PER_UNIT["year"]


def days(iso):
    import datetime as dt

    return float(dt.date.fromisoformat(iso).toordinal() - dt.date(1970, 1, 1).toordinal())


@pytest.mark.parametrize(
    "text, lo, hi",
    [
        ("2009-07-07", "2009-07-07", "2009-07-07"),
        ("2009-07", "2009-07-01", "2009-07-31"),
        ("2009", "2009-01-01", "2009-12-31"),
        ("2012-02", "2012-02-01", "2012-02-29"),  # leap year
        ("2011-2-3", "2011-02-03", "2011-02-03"),
    ],
)
def test_date_precision_is_the_interval_it_stands_for(text, lo, hi):
    iv = timing.parse_date(text)
    assert (iv.lo, iv.hi) == (days(lo), days(hi))
    assert iv.best == (days(lo) + days(hi)) / 2


def test_about_date_widens_by_one_unit_of_precision():
    assert timing.parse_date("2009-07-07", "about") == Interval(days("2009-07-06"), days("2009-07-07"), days("2009-07-08"))
    iv = timing.parse_date("2009", "about")
    assert iv.lo == days("2009-01-01") - YEAR and iv.hi == days("2009-12-31") + YEAR


@pytest.mark.parametrize(
    "text, message",
    [
        ("2011-13-01", "expected a month 01-12, found '2011-13-01'"),
        ("2011-13", "expected a month 01-12, found '2011-13'"),
        ("2011-02-30", "expected a day 01-28 for 2011-02, found '2011-02-30'"),
        ("07/07/2009", "expected a date as YYYY, YYYY-MM or YYYY-MM-DD, found '07/07/2009'"),
        ("1066", "expected a year between 1800 and 2200, found '1066'"),
    ],
)
def test_impossible_dates_are_rejected_with_the_value(text, message):
    with pytest.raises(ValueError) as exc:
        timing.parse_date(text)
    assert str(exc.value) == message


def test_within_and_at_least_apply_to_offsets_only():
    with pytest.raises(ValueError, match="qualifier 'within' applies to offsets only"):
        timing.parse_date("2010", "within")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("+6 months", 6 * MONTH),
        ("-2 weeks", -14.0),
        ("+1 week", 7.0),
        ("+3 days", 3.0),
        ("+1.5 years", 1.5 * YEAR),
        ("+0 days", 0.0),
        ("+ 12 Months", 12 * MONTH),
    ],
)
def test_offsets_in_every_unit(text, expected):
    assert timing.parse_offset(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["6 months", "+6 fortnights", "+six months", "", "+6"])
def test_bad_offsets_say_what_is_expected(text):
    with pytest.raises(ValueError) as exc:
        timing.parse_offset(text)
    assert str(exc.value).startswith("expected an offset as a sign, a number and a unit")
    assert repr(text) in str(exc.value)


def test_qualifiers_on_offsets():
    d = 12 * MONTH
    assert timing.offset_interval("+12 months") == Interval(d, d, d)
    about = timing.offset_interval("+12 months", "about")
    assert (about.lo, about.best, about.hi) == pytest.approx((0.9 * d, d, 1.1 * d), rel=1e-12)
    assert timing.offset_interval("+12 months", "within") == Interval(0.0, d / 2, d)
    assert timing.offset_interval("+12 months", "at_least") == Interval(d, d, math.inf)
    assert timing.offset_interval("-6 weeks", "within") == Interval(-42.0, -21.0, 0.0)
    assert timing.offset_interval("-0 days", "at_least") == Interval(-math.inf, 0.0, 0.0)
    assert timing.offset_interval("+0 days", "at_least") == Interval(0.0, 0.0, math.inf)


def test_an_age_is_the_year_of_age():
    iv = timing.offset_interval("+35 years", from_birth=True)
    assert (iv.lo, iv.best, iv.hi) == (35 * YEAR, 35.5 * YEAR, 36 * YEAR)
    # an explicit qualifier or a non-whole age is taken as coded
    assert timing.offset_interval("+35 years", "about", from_birth=True).best == 35 * YEAR


def test_unknown_qualifier():
    with pytest.raises(ValueError, match="expected qualifier empty, about, within or at_least, found 'roughly'"):
        timing.offset_interval("+1 days", "roughly")


def test_relative_time_goes_through_the_nearest_common_ancestor():
    # A dated; B = A + [at least 0]; C = B + 6 months; D = B + within 12 months
    g = OffsetGraph({
        "A": (timing.CALENDAR, timing.parse_date("2009-07-07")),
        "B": ("A", timing.offset_interval("+0 days", "at_least")),
        "C": ("B", timing.offset_interval("+6 months")),
        "D": ("B", timing.offset_interval("+12 months", "within")),
    })
    # relative to B the unknown gap A->B does not widen C or D
    assert g.relative("C", "B") == Interval(6 * MONTH, 6 * MONTH, 6 * MONTH)
    assert g.relative("D", "C") == Interval(-6 * MONTH, 0.0, 6 * MONTH)
    # relative to A the gap is open-ended
    assert g.relative("C", "A") == Interval(6 * MONTH, 6 * MONTH, math.inf)
    assert g.relative("A", "C") == Interval(-math.inf, -6 * MONTH, -6 * MONTH)
    # to the calendar
    cal = g.relative("C", timing.CALENDAR)
    assert cal.lo == days("2009-07-07") + 6 * MONTH


def test_unrelated_chains_have_no_relative_time():
    g = OffsetGraph({
        "A": (timing.CALENDAR, timing.parse_date("2009")),
        "B": (timing.BIRTH + "/P", timing.offset_interval("+8 years", from_birth=True)),
    })
    assert g.relative("A", "B") is None


def test_calendar_chains_relate_through_the_calendar():
    g = OffsetGraph({
        "A": (timing.CALENDAR, timing.parse_date("2011-10")),
        "B": (timing.CALENDAR, timing.parse_date("2012-10-16")),
    })
    rel = g.relative("B", "A")
    assert (rel.lo, rel.hi) == (days("2012-10-16") - days("2011-10-31"), days("2012-10-16") - days("2011-10-01"))


def test_find_cycles_lists_every_member_once():
    cycles = timing.find_cycles({"a": "b", "b": "c", "c": "a", "d": "a", "x": "y"})
    assert len(cycles) == 1 and sorted(cycles[0]) == ["a", "b", "c"]
    assert timing.find_cycles({"a": "a"}) == [["a"]]
