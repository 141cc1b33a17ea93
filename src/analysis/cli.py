"""The command line: ``python -m analysis {validate,new-data,render,data-dictionary,import-km}``.

Every problem ends in one line on standard error and an exit code, never a traceback: 0 done,
1 problems found (``validate``), 2 a bad argument, file or folder; ``render``'s codes are in
:mod:`analysis.render.command`. When the reader of standard output goes away
(``validate DIR | head -1``) the command ends quietly with 141, as command-line tools do.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis import render  # imports only the standard library; papermill and nbconvert load when notebooks run


def _not_a_folder(path: Path) -> str | None:
    """Why ``path`` cannot be a folder (it or a folder above it is a file), or None."""
    for p in [path, *path.parents]:
        if p.exists():
            if not p.is_dir():
                return f"{p} is a file, not a folder" if p == path else f"{p} is a file, not a folder, so {path} cannot be made"
            return None
    return None


def cmd_validate(args) -> int:
    """Check a data folder; print every problem as ``file:row:column: message``."""
    from analysis.load import DataValidationError, check_quotes, load_dataset

    why = _not_a_folder(Path(args.data_dir))
    if why:
        print(render.printable(f"error: {why}; give the data folder (sources, patients, events, cohort_outcomes)"),
              file=sys.stderr)
        return 2
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
    from analysis.labels import near_duplicate_warnings

    for line in near_duplicate_warnings(ds.cohort_outcomes, file=ds.files["cohort_outcomes"].name,
                                        groups=ds.groups):
        print(render.printable("warning: " + line), file=sys.stderr)
    counts = ", ".join(f"{v} {k}" for k, v in ds.summary().items())
    print(f"{args.data_dir}: OK ({counts})")
    return 0


def cmd_new_data(args) -> int:
    """Create a data folder with empty templates of every file."""
    from analysis.schemas import write_templates

    folder = Path(args.dir)
    why = _not_a_folder(folder)
    if why:
        print(render.printable(f"error: {why}; choose a new folder"), file=sys.stderr)
        return 2
    try:
        if folder.exists() and any(folder.iterdir()):
            print(render.printable(f"error: {folder} exists and is not empty; choose a new folder"), file=sys.stderr)
            return 2
        paths = write_templates(folder)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(render.printable(f"error: cannot create {folder} ({reason}); choose another folder"), file=sys.stderr)
        return 2
    print(f"created {folder} with {len(paths)} template files:")
    for p in paths:
        if p.parent.name == "templates":  # "__" in a template's name stands for a sub-folder
            target = p.name.replace("__", "/")
            print(f"  {p}  (optional: fill in and save as {folder / target})")
        else:
            print(f"  {p}")
    print("Fill them in (see data/README.md for every column), then run "
          f"`python -m analysis validate {folder}`. In the optional templates' names, `__` stands "
          "for a sub-folder: templates/ipd__example.csv becomes ipd/example.csv (any name ending .csv "
          "or .xlsx).")
    return 0


def cmd_data_dictionary(args) -> int:
    """Print the data dictionary generated from the schemas, or update it in a README."""
    from analysis.schemas import BEGIN_MARK, END_MARK, data_dictionary_markdown, update_readme

    if args.update:
        path = Path(args.update)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            print(render.printable(f"error: {path} does not exist; give the README that holds the data dictionary "
                                   "(data/README.md)"), file=sys.stderr)
            return 2
        except IsADirectoryError:
            print(render.printable(f"error: {path} is a folder; give the README file that holds the data dictionary "
                                   "(data/README.md)"), file=sys.stderr)
            return 2
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            print(render.printable(f"error: cannot read {path} ({reason})"), file=sys.stderr)
            return 2
        begin, end = text.find(BEGIN_MARK), text.find(END_MARK)
        if begin < 0 or end < begin:
            print(render.printable(f"error: {path} has no generated section to replace; put the line {BEGIN_MARK} "
                                   f"and, below it, the line {END_MARK} where the data dictionary goes"),
                  file=sys.stderr)
            return 2
        try:
            update_readme(path)
        except OSError as exc:
            print(render.printable(f"error: cannot write {path} ({exc.strerror or exc})"), file=sys.stderr)
            return 2
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

    # its own options: everything after the command name goes to analysis.load.digitized.main
    p = sub.add_parser("import-km", add_help=False,
                       help="add a digitised Kaplan-Meier curve (WebPlotDigitizer, two columns, Guyot) to km_curves/")
    p.add_argument("argv", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_import_km)
    return parser


def cmd_import_km(args) -> int:
    """``python -m analysis import-km FILE --study ID [...]`` (:func:`analysis.load.digitized.main`)."""
    from analysis.load.digitized import main as import_km_main

    return import_km_main(list(args.argv))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["import-km"]:  # its options (--help too) are its own, whatever they look like
            code = cmd_import_km(argparse.Namespace(argv=argv[1:]))
        else:
            parser = build_parser()
            args = parser.parse_args(argv)
            code = args.func(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:  # `validate DIR | head -1`: the reader has gone
        return render.stdout_closed()
