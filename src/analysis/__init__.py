"""Stem-cell remission evidence analysis.

Rooms by concern, read from the bottom up (data -> numbers -> figure); imports only run
downwards and the vocabulary is defined once, at the bottom:

- ``timing``     the one time-unit table, dates / offsets / qualifiers resolved into intervals,
                 the wording of parameter errors
- ``schemas``    the data files' columns, evidence levels, outcomes (data dictionary, templates)
- ``select``     the one filter dialect and patient selection
- ``load``       reading a data folder (CSV or .xlsx), validation, typed tables
- ``style``      colours, markers, figure saving; ``export`` tables (CSV), Markdown escaping
- ``timelines``  swimmer plots of individual cases (package: table, layout, draw, figure)
- ``survival``   relapse-free survival (package: km, reconstruct, data, plot)
- ``rates``      response and safety rates (package: study, glmm, meta, metafor, rules, pool,
                 explore, compare, text)
- ``forest``     forest plots and response-category charts; ``forest_compare`` the forest plot
                 of controlled comparisons; ``forest_notes`` the rate forests' method footnotes
- ``digitized``  importing digitised Kaplan-Meier curves (``python -m analysis import-km``)
- ``render``     rendering the notebooks into ``reports/`` (package: command, jobs, html, folders, index)
- ``cli``        the ``python -m analysis`` command line

Heavy libraries (matplotlib, statsmodels, scipy, pandera) are imported by the modules that
use them, never by ``import analysis``, so the command line and JupyterLab start fast. The
Kaplan-Meier estimator is numpy (``survival.km``), equal to R survival; lifelines is a test
reference, not a dependency of the analysis path.

Time conventions used everywhere: internal times are days (float); a month is
365.25 / 12 = 30.4375 days, a year 365.25 days, a week 7 days (``timing.TIME_UNITS``).
"""

__version__ = "0.1.0"
