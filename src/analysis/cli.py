"""The command line: ``python -m analysis {validate,new-data,render,data-dictionary}``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis import render  # imports only the standard library; papermill and nbconvert load when notebooks run


def cmd_validate(args) -> int:
    """Check a data folder; print every problem as ``file:row:column: message``."""
    from analysis.load import DataValidationError, check_quotes, load_dataset

    try:
        ds = load_dataset(args.data_dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DataValidationError as exc:
        for p in exc.problems:
            print(p)
        print(f"{len(exc.problems)} problem(s) in {args.data_dir}", file=sys.stderr)
        return 1
    if args.sources_text:
        problems = check_quotes(ds, args.sources_text)
        for p in problems:
            print(p)
        if problems:
            print(f"{len(problems)} quote(s) not found in {args.sources_text}", file=sys.stderr)
            return 1
    counts = ", ".join(f"{v} {k}" for k, v in ds.summary().items())
    print(f"{args.data_dir}: OK ({counts})")
    return 0


def cmd_new_data(args) -> int:
    """Create a data folder with empty templates of every file."""
    from analysis.schemas import write_templates

    folder = Path(args.dir)
    if folder.exists() and any(folder.iterdir()):
        print(f"error: {folder} exists and is not empty; choose a new folder", file=sys.stderr)
        return 2
    paths = write_templates(folder)
    print(f"created {folder} with {len(paths)} template files:")
    for p in paths:
        print(f"  {p}")
    print("Fill them in (see data/README.md for every column), then run "
          f"`python -m analysis validate {folder}`.")
    return 0


def cmd_data_dictionary(args) -> int:
    """Print the data dictionary generated from the schemas, or update it in a README."""
    from analysis.schemas import data_dictionary_markdown, update_readme

    if args.update:
        update_readme(args.update)
        print(f"updated the data dictionary in {args.update}")
    else:
        print(data_dictionary_markdown())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Stem-cell remission evidence: validate data folders and render the reports.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a data folder and list every problem")
    p.add_argument("data_dir", help="data folder (sources, patients, events, cohort_outcomes)")
    p.add_argument("--sources-text", metavar="DIR",
                   help="folder of the sources' text files: check every quote appears verbatim")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("new-data", help="create a data folder from the empty templates")
    p.add_argument("dir", help="folder to create")
    p.set_defaults(func=cmd_new_data)

    p = sub.add_parser("data-dictionary", help="print the data dictionary (Markdown)")
    p.add_argument("--update", metavar="README",
                   help="replace the generated section of this file (e.g. data/README.md)")
    p.set_defaults(func=cmd_data_dictionary)

    p = sub.add_parser("render", help="render the notebooks into reports")
    render.add_arguments(p)
    p.set_defaults(func=render.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)
