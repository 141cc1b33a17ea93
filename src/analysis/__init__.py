"""Stem-cell remission evidence analysis.

A small, flat package: one module per concern.

- ``schemas``   pandera schemas of the data files and the generated data dictionary
- ``timing``    date / offset parsing and resolution of offset chains into intervals
- ``load``      reading a data folder (CSV or .xlsx), validation, typed tables
- ``timelines`` swimmer plots of individual cases
- ``survival``  relapse-free survival (Kaplan-Meier, log-rank, at-risk tables)
- ``reconstruct`` individual data reconstructed from published curves (Guyot 2012)
- ``rates``     per-study proportions, exact / Wilson intervals, random-effects pooling
- ``forest``    forest plots
- ``style``     colours, markers and figure saving shared by every figure
- ``export``    writing tables (CSV) safely
- ``render``    rendering the notebooks into ``reports/``
- ``cli``       the ``python -m analysis`` command line

Heavy libraries (matplotlib, lifelines, statsmodels, pandera) are imported inside the
modules that use them, so ``import analysis`` stays fast.

Time conventions used everywhere: internal times are days (float); a month is
365.25 / 12 = 30.4375 days, a year 365.25 days, a week 7 days.
"""

__version__ = "0.1.0"
