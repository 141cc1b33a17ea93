"""A small notebook for render tests: the ``parameters`` cell, then the given code cells."""

from __future__ import annotations

from pathlib import Path

from analysis.render import html as render_html


def write_notebook(path: Path, *sources: str) -> None:
    """A notebook whose first cell is the ``parameters`` cell (data_dir, output_dir)."""
    render_html._fast_nbformat_import()
    import nbformat

    cells = [nbformat.v4.new_code_cell('data_dir = "data"\noutput_dir = "out"', metadata={"tags": ["parameters"]})]
    cells += [nbformat.v4.new_code_cell(src) for src in sources]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                        "language": "python"}})
    nbformat.write(nb, path)
