"""Forest plots and the response-categories chart (figures; the numbers are in
:mod:`analysis.rates`).

Rooms, each importing only the ones above it in this list (none imports this ``__init__``
back):

=================== ==========================================================================
file                open it to change
=================== ==========================================================================
``textcolumn.py``   :class:`~analysis.forest.textcolumn.TextColumn`: a column of table cells
                    drawn as one artist (fast PNG and SVG for thousands of rows).
``legend.py``      a figure legend that lays itself out once per drawing (matplotlib's
                    asks ~35 times), the same pixels.
``notes.py``        the footnotes that state the pooling method used (squares, diamonds).
``rates.py``        forest plots of response and safety proportions (:func:`forest_pages`,
                    :func:`forest_plot`, :func:`forest_rows`) and the response-categories chart
                    (:func:`response_category_chart`).
``compare.py``      the forest plot of controlled comparisons, intervention vs control
                    (:func:`comparison_forest`: risk ratio, odds ratio or risk difference).
=================== ==========================================================================
"""

from analysis.forest.compare import comparison_forest  # noqa: F401
from analysis.forest.rates import forest_pages, forest_plot, forest_rows, response_category_chart  # noqa: F401

__all__ = ["comparison_forest", "forest_pages", "forest_plot", "forest_rows", "response_category_chart"]
