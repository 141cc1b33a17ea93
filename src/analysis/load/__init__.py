"""Reading a data folder (CSV or .xlsx) and validating it: every problem as
``file:row:column: message``, or a :class:`Dataset` of typed and resolved tables.

Rooms, each importing only the ones above it in this list (no cycle; none imports this
``__init__`` back):

=================== ==========================================================================
file                open it to change
=================== ==========================================================================
``csvfast.py``      pandas' C parser where it reads a file exactly as ``csv.reader`` would
                    (the fast path for large files; property-tested against ``csv``).
``readers.py``      files to text cells: encodings, delimiters, workbooks, size limits,
                    unknown files and folders; :class:`~analysis.load.readers.Problem`.
``chains.py``       offset chains (``offset_from``) as numpy arrays: depth, cycles, sums.
``checks.py``       what crosses rows and files: references, event order, digitized curves
                    and their numbers at risk, individual patient data.
``events.py``       dates and offsets to times (days from the patient's anchor), treatment lines.
``dataset.py``      :func:`load_dataset` (the one call the notebooks make): reads, validates
                    with the pandera schemas of :mod:`analysis.schemas`, runs the checks;
                    :func:`check_quotes` for ``validate --sources-text``; :func:`validate_ahead`
                    (render's kernel factory: a dataset validated once, taken by the
                    notebook's first ``load_dataset`` of the unchanged folder).
``digitized.py``    ``python -m analysis import-km``: digitised Kaplan-Meier curves
                    (WebPlotDigitizer, two columns, Guyot's pair) into ``km_curves/``.
=================== ==========================================================================

Row numbers are the spreadsheet's: the header is row 1, the first data row is row 2.
"""

from analysis.load.dataset import (MAX_FILE_BYTES, Dataset, DataValidationError, Problem, check_quotes,  # noqa: F401
                                   load_dataset, validate_ahead)

__all__ = ["MAX_FILE_BYTES", "Dataset", "DataValidationError", "Problem", "check_quotes", "load_dataset",
           "validate_ahead"]
