"""Rendering the notebooks into a report folder (``python -m analysis render``).

Every ``notebooks/*.ipynb`` is executed with papermill in its own worker process (up to
``--jobs`` at a time) and written as::

    OUT/NAME/NAME.ipynb       executed notebook (paths in it are relative, see below)
    OUT/NAME/NAME.html        standalone HTML, code hidden unless --show-code, images embedded
    OUT/NAME/figures/*.png|svg   written by the notebook (analysis.style.save_figure)
    OUT/NAME/tables/*.csv        written by the notebook (analysis.export.save_table)
    OUT/NAME/.render-stamp.json  cache key and run details of this report
    OUT/index.html            index of all reports, run parameters and data fingerprint
    OUT/_failed/NAME.ipynb    papermill's error notebook of a notebook that failed

Guarantees:

* **Data validated first.** When a notebook to be run reads the data folder with
  ``analysis.load.load_dataset`` (see :func:`reads_dataset`), the folder is validated in
  this process before any kernel starts. If it has problems, no notebook runs: the
  ``file:row:column: message`` lines are printed (as ``python -m analysis validate`` gives
  them), the index shows them, previous reports are kept untouched, nothing is cached,
  and the exit code is 1.
* **Nothing half-written.** A notebook renders into ``OUT/.tmp-NAME-xxxx`` and that folder
  replaces ``OUT/NAME`` (atomic exchange of the two names) only when everything succeeded.
  A failure or an interruption (Ctrl-C, SIGTERM, SIGKILL) leaves the previous ``OUT/NAME``
  as it was; stale temporary folders are removed by the next run.
* **One writer.** A run holds ``flock(OUT/.render.lock)``. A second run into the same
  folder prints "another render is writing to OUT; waiting..." and waits (``--no-wait``
  makes it fail at once with exit code 3), then finds the reports current and skips them.
* **Cached.** A report is re-rendered only when its cache key changes: the notebook file,
  the parameters it receives, the content of the data files it reads (all files of the
  data folder, or the glob patterns listed in the notebook metadata
  ``{"analysis": {"data_files": [...]}}``), the source of the ``analysis`` package and the
  installed versions of the key packages. ``--force`` re-renders anyway.
* **Paths as the user means them.** The kernel runs in the folder the command was started
  from, so a path given with ``-p`` is relative to it, as on any command line.
* **The project's own Python.** The kernel is always ``sys.executable -m ipykernel_launcher``
  whatever kernelspecs the machine has (the spec ``stemcell-analysis`` is also installed into
  ``sys.prefix`` so JupyterLab lists it). Each cell has a time limit (``--timeout``).
* **No machine paths.** Absolute ``data_dir`` and ``output_dir`` are passed to the notebook;
  in the saved notebook and HTML they, and any other path of this machine (the Python
  environment, the ``analysis`` package, the home folder) are replaced by relative paths or
  placeholders such as ``<python>``.

Exit codes: 0 all rendered or unchanged; 1 at least one notebook failed, or the data folder
has problems (no notebook was run); 2 bad command line, folder or parameter (nothing was
run); 3 output folder locked and ``--no-wait``; 130 / 143 interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import fnmatch
import functools
import hashlib
import json
import math
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

KERNEL_NAME = "stemcell-analysis"
KERNEL_DISPLAY_NAME = "Python (stemcell-analysis)"
DEFAULT_TIMEOUT = 600
#: packages whose installed version is part of the cache key and shown in the index
KEY_PACKAGES = (
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "lifelines",
    "statsmodels",
    "pandera",
    "openpyxl",
    "papermill",
    "nbconvert",
    "nbformat",
    "ipykernel",
)
RESERVED_PARAMETERS = ("data_dir", "output_dir")
STAMP_FILE = ".render-stamp.json"
LOCK_FILE = ".render.lock"
TMP_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"
FAILED_DIR = "_failed"
INDEX_FILE = "index.html"
_MSG_PREFIX = "@@render "
#: set for the worker and its kernel: the temporary folder the notebook renders into
RENDER_ENV = "ANALYSIS_RENDER_DIR"

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


class RenderError(Exception):
    """A problem found before anything ran (bad option, folder or parameter); exit code 2."""

    exit_code = EXIT_USAGE


class _Terminated(BaseException):
    """Raised in the main process when SIGTERM arrives."""


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``render`` options to ``parser`` (a sub-parser of ``python -m analysis``)."""
    parser.add_argument("--data", default="data", metavar="DIR", help="data folder (default: data)")
    parser.add_argument("--out", default="reports", metavar="DIR", help="output folder (default: reports)")
    parser.add_argument(
        "--notebooks", default="notebooks", metavar="DIR", help="notebook folder (default: notebooks)"
    )
    parser.add_argument(
        "--only", nargs="+", default=None, metavar="NAME", help="render only these notebooks (file stems)"
    )
    parser.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="notebook parameter; VALUE is read as a YAML scalar or list (repeatable)",
    )
    parser.add_argument(
        "--jobs", "-j", type=int, default=None, metavar="N", help="notebooks rendered at once (default: cores)"
    )
    parser.add_argument("--force", action="store_true", help="re-render even if nothing changed")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit per notebook cell (default: {DEFAULT_TIMEOUT})",
    )
    parser.add_argument("--show-code", action="store_true", help="include the code in the HTML reports")
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="fail (exit 3) instead of waiting when another render writes to the same folder",
    )


def run(args: argparse.Namespace) -> int:
    """Render the notebooks as ``args`` (from :func:`add_arguments`) say; return the exit code."""
    out = sys.stdout
    try:
        return _run(args, out)
    except RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m analysis.render [options]``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return _worker_main()
    parser = argparse.ArgumentParser(prog="python -m analysis.render", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


# --------------------------------------------------------------------------- parameters


def parse_parameters(pairs: list[str]) -> dict:
    """``["key=value", ...]`` -> ``{key: value}``; values read with ``yaml.safe_load``.

    Only scalars (str, int, float, bool, null) and lists of them are accepted; YAML dates
    become ISO strings; text that is not valid YAML (say ``O'Brien "quoted"``) is taken
    as it is. Raises :class:`RenderError` for anything else, including a malformed list.
    """
    import keyword

    import yaml

    params: dict = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep:
            raise RenderError(f"parameter {pair!r} must be written KEY=VALUE")
        if not key.isidentifier() or keyword.iskeyword(key):
            raise RenderError(f"parameter name {key!r} is not a valid Python name")
        if key in RESERVED_PARAMETERS:
            option = "--data" if key == "data_dir" else "--out"
            raise RenderError(f"parameter {key!r} is set by the command; use {option} instead")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            if text.lstrip().startswith(("[", "{")):
                raise RenderError(f"parameter {key}: cannot read the list {text!r}: {exc}") from None
            value = text  # not YAML: the text itself, e.g. a title with quotes in it
        if isinstance(value, str) and _NUMBER.fullmatch(text.strip()):
            value = float(text)  # YAML 1.1 reads "1e3" as text; a user means a number
        params[key] = _check_value(key, value)
    return params


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _check_value(key: str, value):
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RenderError(f"parameter {key}: {value} is not a finite number")
        return value
    if isinstance(value, list):
        return [_check_value(key, v) for v in value]
    raise RenderError(
        f"parameter {key}: only numbers, text, true/false, null and lists are accepted, "
        f"not {type(value).__name__}"
    )


def declared_parameters(notebook: Path) -> list[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (what papermill overrides).

    Same answer as ``papermill.inspect_notebook`` for plain ``name = value`` lines, without
    importing papermill (which costs about a second; a re-render that skips everything
    must stay fast).
    """
    import ast

    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RenderError(f"{notebook}: not a readable notebook ({exc})") from None
    names: list[str] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code" or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise RenderError(f"{notebook.name}: the parameters cell is not valid Python ({exc.msg})") from None
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                if isinstance(target, ast.Name) and target.id not in names:
                    names.append(target.id)
        break
    return names


def assign_parameters(notebooks: list[Path], params: dict) -> dict[str, dict]:
    """Per notebook stem, the subset of ``params`` that notebook declares.

    A parameter that none of ``notebooks`` declares raises :class:`RenderError`.
    """
    if not params:
        return {nb.stem: {} for nb in notebooks}
    declared = {nb.stem: declared_parameters(nb) for nb in notebooks}
    unknown = [k for k in params if not any(k in d for d in declared.values())]
    if unknown:
        lines = [
            f"  {nb}: {', '.join(n for n in d if n not in RESERVED_PARAMETERS) or '(none)'}"
            for nb, d in declared.items()
        ]
        raise RenderError(
            f"parameter {', '.join(repr(k) for k in unknown)} is not declared by any selected "
            "notebook. Parameters the notebooks declare:\n" + "\n".join(lines)
        )
    return {stem: {k: v for k, v in params.items() if k in d} for stem, d in declared.items()}


# --------------------------------------------------------------------------- fingerprints


def _data_files(data_dir: Path) -> list[Path]:
    """Data files under ``data_dir`` (recursive), without hidden and editor lock files."""
    files = []
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir)
        if any(p.startswith((".", "~$")) or p == "__pycache__" for p in rel.parts):
            continue
        if path.is_file():
            files.append(path)
    return files


def _count_rows(path: Path) -> int | None:
    """Data rows of a CSV file (header excluded); None for other files or unreadable ones."""
    import csv

    if path.suffix.lower() != ".csv":
        return None
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            with open(path, newline="", encoding=encoding) as fh:
                rows = sum(1 for row in csv.reader(fh) if any(cell.strip() for cell in row))
            return max(rows - 1, 0)
        except (UnicodeDecodeError, csv.Error):
            continue
    return None


def data_fingerprint(data_dir: str | Path, rows: bool = False) -> dict:
    """Hash of the data folder's content: ``{"sha256", "files": [{path, sha256, bytes, rows}]}``.

    The folder hash covers every file's relative path and bytes. ``rows`` adds the number
    of data rows of each CSV file (for the index).
    """
    data_dir = Path(data_dir)
    total = hashlib.sha256()
    files = []
    for path in _data_files(data_dir):
        rel = path.relative_to(data_dir).as_posix()
        digest = _file_sha256(path)
        total.update(rel.encode() + b"\0" + digest.encode() + b"\n")
        entry = {"path": rel, "sha256": digest, "bytes": path.stat().st_size}
        if rows:
            entry["rows"] = _count_rows(path)
        files.append(entry)
    return {"sha256": total.hexdigest(), "files": files}


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _select_files(fingerprint: dict, patterns: list[str] | None) -> dict:
    """Sub-fingerprint of the files matching ``patterns`` (all files when None)."""
    if patterns is None:
        return {"sha256": fingerprint["sha256"]}
    chosen = [
        f for f in fingerprint["files"] if any(fnmatch.fnmatchcase(f["path"], p) for p in patterns)
    ]
    return {"files": [(f["path"], f["sha256"]) for f in chosen]}


def package_source_hash() -> str:
    """Hash of every file of the ``analysis`` package (sources and templates)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo") or not path.is_file():
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\n")
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`KEY_PACKAGES` and of Python itself."""
    from importlib import metadata

    versions = {"python": sys.version.split()[0]}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _notebook_meta(path: Path) -> dict:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RenderError(f"{path}: not a readable notebook ({exc})") from None
    return nb.get("metadata", {}).get("analysis", {}) or {}


def cache_key(
    notebook: Path,
    params: dict,
    data_fp: dict,
    source_hash: str,
    versions: dict,
    options: dict,
) -> str:
    """The cache key of one report (sha256 hex). See the module docstring for what it covers."""
    patterns = _notebook_meta(notebook).get("data_files")
    if patterns is not None and not isinstance(patterns, list):
        patterns = None
    payload = {
        "notebook": hashlib.sha256(notebook.read_bytes()).hexdigest(),
        "parameters": params,
        "data": _select_files(data_fp, patterns),
        "analysis": source_hash,
        "versions": versions,
        "options": options,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------- folders


def find_notebooks(folder: Path, only: list[str] | None = None) -> list[Path]:
    """The sorted ``*.ipynb`` of ``folder``; ``only`` restricts to these stems (or file names)."""
    if not folder.is_dir():
        raise RenderError(f"notebook folder {folder} does not exist")
    notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    for nb in notebooks:  # the stem names the report folder: same rule as export.safe_stem
        if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,119}", nb.stem) or nb.stem == FAILED_DIR:
            raise RenderError(f"notebook file name {nb.name!r} may only use letters, digits, - _ .")
    if not notebooks:
        raise RenderError(f"no notebooks (*.ipynb) in {folder}")
    if only:
        wanted = [Path(n).stem if n.endswith(".ipynb") else n for n in only]
        known = {nb.stem for nb in notebooks}
        missing = [n for n in wanted if n not in known]
        if missing:
            raise RenderError(
                f"no notebook named {', '.join(missing)} in {folder}; available: {', '.join(sorted(known))}"
            )
        notebooks = [nb for nb in notebooks if nb.stem in wanted]
    return notebooks


def _check_writable(out: Path) -> None:
    """Create ``out`` if needed and prove a file can be written there, or raise RenderError."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise RenderError(
            f"cannot write to the output folder {out} ({reason}); "
            "choose another folder with --out or make it writable. Nothing was rendered."
        ) from None


@contextlib.contextmanager
def output_lock(out: Path, wait: bool = True, stream=None):
    """Hold an exclusive ``flock`` on ``out/.render.lock`` (released even if the process is killed)."""
    import fcntl

    stream = stream or sys.stderr
    try:
        fh = open(out / LOCK_FILE, "a+")
    except OSError as exc:
        raise RenderError(f"cannot create the lock file in {out}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                err = RenderError(f"another render is writing to {out}; try again when it has finished")
                err.exit_code = EXIT_LOCKED
                raise err from None
            print(f"another render is writing to {out}; waiting for it to finish…", file=stream, flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield
    finally:
        fh.close()


def clean_stale(out: Path) -> list[str]:
    """Remove what an interrupted run left in ``out``; return the names removed or restored.

    ``.tmp-*`` folders (unfinished renders) are deleted. An ``.old-NAME-*`` folder (a
    previous report being replaced when the run was killed) is put back when ``NAME`` is
    missing, otherwise deleted. Must be called with the lock held.
    """
    done = []
    for path in sorted(out.iterdir()):
        name = path.name
        if name.startswith(TMP_PREFIX) or name.startswith(".index.html."):
            _remove(path)
            done.append(name)
        elif name.startswith(OLD_PREFIX):
            report = name[len(OLD_PREFIX) :].rsplit("-", 1)[0]
            target = out / report
            if report and not target.exists():
                os.rename(path, target)
            else:
                _remove(path)
            done.append(name)
    return done


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _renameat2_exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = func(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    return rc == 0


def swap_in(new: Path, dest: Path) -> None:
    """Make the finished folder ``new`` the report ``dest``; the old ``dest`` is deleted.

    With ``renameat2`` the two names are exchanged in one step. Otherwise ``dest`` is first
    renamed to ``.old-NAME-*`` (which :func:`clean_stale` restores if the process dies
    before the second rename). Signals are blocked meanwhile.
    """
    blocked = {signal.SIGINT, signal.SIGTERM}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        if not dest.exists():
            os.rename(new, dest)
            return
        if _renameat2_exchange(new, dest):
            garbage = new  # now holds the previous report
        else:
            garbage = dest.with_name(f"{OLD_PREFIX}{dest.name}-{os.getpid()}")
            os.rename(dest, garbage)
            os.rename(new, dest)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    _remove(garbage)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- kernel


def kernel_argv() -> list[str]:
    """The command that starts the project's kernel: this Python with ipykernel."""
    return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def install_kernelspec() -> Path | None:
    """Install the ``stemcell-analysis`` kernelspec into ``sys.prefix`` (for JupyterLab).

    Rendering does not need it (the worker starts :func:`kernel_argv` directly); returns the
    spec folder, or None when ``sys.prefix`` is not writable. Written only when it differs.
    """
    import importlib.util

    folder = Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    spec = {
        "argv": kernel_argv(),
        "display_name": KERNEL_DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
        "env": {"PYDEVD_DISABLE_FILE_VALIDATION": "1"},
    }
    try:
        if json.loads((folder / "kernel.json").read_text()) == spec:
            return folder
    except (OSError, ValueError):
        pass
    try:
        folder.mkdir(parents=True, exist_ok=True)
        found = importlib.util.find_spec("ipykernel")
        if found and found.submodule_search_locations:
            resources = Path(list(found.submodule_search_locations)[0]) / "resources"
            for logo in resources.glob("logo-*"):
                shutil.copy(logo, folder / logo.name)
        _atomic_write(folder / "kernel.json", json.dumps(spec, indent=1))
    except OSError:
        return None
    return folder


# --------------------------------------------------------------------------- path scrubbing


def path_replacements(report_dir: Path, data_dir: Path, notebooks_dir: Path, out: Path, tmp: Path) -> list:
    """``(absolute path, replacement)`` pairs that remove this machine's paths from a report.

    ``tmp`` (the folder being rendered, later ``report_dir``) becomes ``.``; data, notebook
    and output folders become paths relative to the report folder (or their bare names when
    the only way there is through ``/``); the Python environment, the ``analysis`` package,
    the working directory and the home folder become placeholders.
    """

    def rel(target: Path) -> str:
        target = target.resolve()
        base = report_dir.resolve()
        if os.path.commonpath([target, base]) == os.path.sep:
            return target.name
        return os.path.relpath(target, base)

    pairs = [
        (tmp, "."),
        (report_dir, "."),
        (data_dir, rel(data_dir)),
        (notebooks_dir, rel(notebooks_dir)),
        (out, rel(out)),
        (Path(__file__).resolve().parent, "<analysis>"),
        (Path(sys.prefix), "<python>"),
        (Path(sys.base_prefix), "<python>"),
        (Path.cwd(), "<cwd>"),
        (Path.home(), "~"),
        (Path(tempfile.gettempdir()), "<tmp>"),
    ]
    result = {}
    for path, repl in pairs:
        for variant in {str(path), os.path.abspath(path), str(Path(path).resolve())}:
            if len(variant) > 1 and variant not in result:
                result[variant] = repl
    return sorted(result.items(), key=lambda kv: -len(kv[0]))


def scrub(obj, replacements: list):
    """Copy of a JSON-like ``obj`` with every string's machine paths replaced."""
    if not replacements:
        return obj
    pattern = re.compile("|".join(re.escape(p) + r"(?![\w.-])" for p, _ in replacements))
    mapping = dict(replacements)

    def fix(value):
        if isinstance(value, str):
            return pattern.sub(lambda m: mapping[m.group(0)], value)
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        return value

    return fix(obj)


# --------------------------------------------------------------------------- HTML

_HTML_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{#- Self-contained report: no script is loaded from the internet. -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{#- Images keep their text alternative (IPython's Image(alt=...), analysis.style.show_figure). -#}
{% block data_png scoped -%}
{%- set alt=output | get_metadata('alt', 'image/png') -%}
{%- set width=output | get_metadata('width', 'image/png') -%}
{%- set height=output | get_metadata('height', 'image/png') -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- if alt %} alt="{{ alt | escape_html }}"{% endif %}
{%- if width is not none %} width="{{ width | escape_html }}"{% endif %}
{%- if height is not none %} height="{{ height | escape_html }}"{% endif %}>
</div>
{%- endblock data_png %}
{#- Markdown made by code (display(Markdown(...))): raw HTML in it is shown as text. -#}
{% block data_markdown scoped -%}
{%- set html_value=output.data['text/markdown'] | markdown_output2html | clean_html -%}
<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-OutputArea-output {{ extra_class }}" data-mime-type="text/markdown">
{{ html_value }}
</div>
{%- endblock data_markdown %}
"""


def markdown_output_to_html(source: str) -> str:
    """HTML of a ``text/markdown`` output, with any raw HTML in it shown as text.

    Markdown outputs are made by code (``display(Markdown(...))``) and often carry data
    strings; raw HTML there (``<script>``, ``<img onerror=...>`` from a data cell) is
    escaped instead of interpreted, so it reads as the data says. Markdown cells (the
    author's prose) keep nbconvert's rendering; both are then sanitised by
    :func:`clean_html`.
    """
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    return MarkdownWithMath(renderer=IPythonRenderer(escape=True)).render(source)


from analysis.export import escape_markdown  # noqa: E402,F401  (moved; kept importable here)


_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details",
    "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "mark", "ol", "p", "pre", "s", "small", "span", "strong", "style", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in ("class", "id", "title"):
        return True
    if tag == "a":
        return name == "href" and not value.strip().lower().startswith("data:")
    if tag == "img":
        return name in ("src", "alt", "width", "height")
    if tag in ("td", "th"):
        return name in ("colspan", "rowspan", "align")
    return tag in ("table", "col", "colgroup", "ol") and name in ("border", "span", "start")


def clean_html(element) -> str:
    """Sanitise HTML from Markdown cells and outputs (nbconvert's ``clean_html`` filter).

    Keeps what notebooks legitimately produce (headings, paragraphs, lists, tables, images
    as data URIs or relative paths, links, pandas' ``<style>`` for tables) and escapes
    everything else, so ``<script>``, ``on*=`` handlers, ``<iframe>`` and ``javascript:``
    links coming from a data string show as text or are dropped. nbconvert's own filter
    also escapes headings, paragraphs and table headers, hence this wider allowlist.
    """
    import bleach

    text = element.decode() if isinstance(element, bytes) else str(element)
    return bleach.clean(
        text,
        tags=_ALLOWED_TAGS,
        attributes=_allowed_attribute,
        protocols=["http", "https", "mailto", "data"],
    )


def notebook_to_html(nb, show_code: bool = False, title: str | None = None) -> str:
    """Standalone HTML of an executed notebook (nbconvert ``lab`` template).

    Code is hidden unless ``show_code``; outputs keep their embedded images (data URIs)
    and local Markdown images are embedded, so the file can be mailed. No external script
    is referenced (MathJax, require.js and mermaid are left out, so TeX shows as source).
    HTML in Markdown cells and in outputs is sanitised (:func:`clean_html`): raw
    ``<script>``, event handlers and ``javascript:`` links are shown as text or dropped, so a
    data string that reaches Markdown or an HTML output cannot run in the reader's browser.
    Cells tagged ``remove-cell`` / ``remove-input`` / ``remove-output`` are honoured.

    The exporter is made once per process and ``show_code`` and reused: nbconvert's first
    conversion compiles its templates and Markdown/CSS regular expressions (~0.5 s).
    """
    body, _ = _html_exporter(bool(show_code)).from_notebook_node(nb, resources={"metadata": {"name": title or "report"}})
    return body


@functools.lru_cache(maxsize=2)
def _html_exporter(show_code: bool):
    _fast_nbformat_import()
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = {"remove-cell", "remove_cell"}
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input", "remove_input", "hide-input"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output", "remove_output"}
    config.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(
        config=config,
        template_name="lab",
        extra_loaders=[DictLoader({"analysis_report.html.j2": _HTML_TEMPLATE})],
        template_file="analysis_report.html.j2",
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        sanitize_html=True,
        filters={"clean_html": clean_html, "markdown_output2html": markdown_output_to_html},
    )
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    return exporter


# --------------------------------------------------------------------------- worker (child process)


def _fast_nbformat_import() -> None:
    """Skip jsonschema's optional ``rfc3987_syntax`` import, which builds an Earley parser.

    nbformat imports jsonschema, whose format checkers import ``rfc3987_syntax`` if it is
    installed; that costs ~1.6 s per process and is only used to check IRI formats, which
    notebook validation never does.
    """
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]


def _emit(**message) -> None:
    sys.stdout.write(_MSG_PREFIX + json.dumps(message) + "\n")
    sys.stdout.flush()


def _failing_cell(nb) -> tuple[int | None, int]:
    """(1-based number of the failing cell as the author sees it, number of cells) of ``nb``.

    Only call it for a notebook that failed. The injected-parameters and papermill error
    cells are not counted.
    """
    skip = {"injected-parameters", "papermill-error-cell-tag"}
    cells = [c for c in nb.cells if not skip & set(c.get("metadata", {}).get("tags", []))]
    last_started = None
    for i, cell in enumerate(cells, start=1):
        meta = cell.get("metadata", {}).get("papermill", {})
        has_error = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        if has_error or meta.get("exception") or meta.get("status") in ("running", "failed"):
            return i, len(cells)
        if meta.get("start_time"):
            last_started = i
    # a dead kernel leaves no error output: the failing cell is the last one that started
    return last_started, len(cells)


def _worker_main() -> int:
    """Entry point of a worker process: execute the notebooks whose spec files arrive on
    stdin (one path per line), one after another, until stdin closes.

    A worker serves several notebooks so that its imports (papermill, nbconvert, ~1 s of
    CPU with the first HTML conversion) are paid once per parallel job, not per notebook.
    """
    _fast_nbformat_import()
    import papermill  # noqa: F401 - imported before the first notebook arrives

    while line := sys.stdin.readline():
        if line.strip():
            _execute_spec(line.strip())
    return 0


def _execute_spec(spec_path: str) -> int:
    """Execute one notebook into its temporary folder (in a worker process)."""
    spec = json.loads(Path(spec_path).read_text())
    tmp = Path(spec["tmp"])
    name = spec["name"]
    out_nb = tmp / f"{name}.ipynb"
    started = time.monotonic()
    os.chdir(tmp)
    os.environ[RENDER_ENV] = str(tmp)  # the kernel's environment names its folder

    import nbformat
    import papermill
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager
    from papermill.engines import NBClientEngine, papermill_engines

    class ProjectKernelManager(AsyncKernelManager):
        """Always this Python, whatever kernelspecs are installed."""

        @property
        def kernel_spec(self):
            if self._kernel_spec is None:
                self._kernel_spec = KernelSpec(
                    argv=kernel_argv(),
                    display_name=KERNEL_DISPLAY_NAME,
                    language="python",
                    metadata={},
                    resource_dir=str(tmp),
                )
            return self._kernel_spec

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            # numbered as the author sees them in JupyterLab (all cells, without the injected one),
            # like the failing cell in error messages
            shown = [
                i for i, c in enumerate(nb_man.nb.cells) if "injected-parameters" not in c.metadata.get("tags", [])
            ]
            original = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                if cell_index in shown and cell.cell_type == "code":
                    _emit(event="cell", i=shown.index(cell_index) + 1, n=len(shown))
                return original(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register("analysis-progress", ProgressEngine)
    params = dict(spec["parameters"])
    params["data_dir"] = spec["data_dir"]
    params["output_dir"] = str(tmp)
    _emit(event="start")
    error = None
    try:
        papermill.execute_notebook(
            spec["notebook"],
            str(out_nb),
            parameters=params,
            engine_name="analysis-progress",
            kernel_name=KERNEL_NAME,
            language="python",
            progress_bar=False,
            log_output=False,
            cwd=spec["cwd"],
            execution_timeout=spec["timeout"],
            start_timeout=120,
            kernel_manager_class=ProjectKernelManager,
        )
    except papermill.PapermillExecutionError as exc:
        error = {"ename": exc.ename, "evalue": exc.evalue}
    except Exception as exc:  # timeout, dead kernel, unreadable notebook ...
        message = str(exc).strip().splitlines()
        error = {"ename": type(exc).__name__, "evalue": message[0] if message else ""}
        if "timed out" in str(exc).lower() or type(exc).__name__ == "CellTimeoutError":
            error["evalue"] = f"a cell ran longer than the time limit of {spec['timeout']:g} s (--timeout)"

    cell = ncells = None
    replacements = [tuple(p) for p in spec["replacements"]]
    if out_nb.exists():
        nb = nbformat.read(out_nb, as_version=4)
        nb = nbformat.from_dict(scrub(nb, replacements))
        nbformat.write(nb, out_nb)
        cell, ncells = _failing_cell(nb) if error else (None, None)
    if error:
        error = scrub(error, replacements)
        _emit(event="failed", cell=cell, cells=ncells, notebook_saved=out_nb.exists(), **error)
        return 1
    try:
        html = notebook_to_html(nb, show_code=spec["show_code"], title=name)
        (tmp / f"{name}.html").write_text(html, encoding="utf-8")
    except Exception as exc:
        _emit(event="failed", cell=None, cells=None, notebook_saved=False,
              ename=type(exc).__name__, evalue=f"HTML conversion failed: {exc}")
        return 1
    _emit(event="done", seconds=round(time.monotonic() - started, 2))
    return 0


def _set_parent_death_signal() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# --------------------------------------------------------------------------- main process


@dataclass
class Job:
    """One notebook of a run and its state."""

    name: str
    notebook: Path
    params: dict
    key: str
    state: str = "queued"  # queued, running, done, failed, skipped
    cell: int = 0
    cells: int = 0
    seconds: float = 0.0
    failure: dict = field(default_factory=dict)
    tmp: Path | None = None
    proc: subprocess.Popen | None = None
    log: object = None
    started: float = 0.0

    def status(self) -> str:
        if self.state == "running":
            if self.cells:
                return f"running cell {self.cell} of {self.cells}"
            return "starting kernel"
        if self.state == "done":
            return f"done in {self.seconds:.1f} s"
        if self.state == "failed":
            where = f" in cell {self.failure['cell']}" if self.failure.get("cell") else ""
            return f"failed{where}"
        if self.state == "skipped":
            return "skipped (unchanged)"
        if self.state == "not_run":
            return "not run (the data folder has problems)"
        return self.state


class Progress:
    """One line per notebook; redrawn in place on a terminal, plain lines otherwise."""

    def __init__(self, jobs: list[Job], stream, live: bool | None = None):
        self.jobs = jobs
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.width = max((len(j.name) for j in jobs), default=0)
        self.drawn = 0
        self.last: list[str] = []
        self.printed: dict[str, str] = {}

    def line(self, job: Job) -> str:
        status = job.status()
        if not self.live and job.state == "running":
            status = "running"
        return f"{job.name.ljust(self.width)}  {status}"

    def update(self) -> None:
        if self.live:
            lines = [self.line(job) for job in self.jobs]
            if lines == self.last:
                return
            if self.drawn:
                self.stream.write(f"\x1b[{self.drawn}F")
            for line in lines:
                self.stream.write("\x1b[2K" + line + "\n")
            self.drawn, self.last = len(lines), lines
        else:
            for job in self.jobs:
                state = job.state
                if state != "queued" and self.printed.get(job.name) != state:
                    self.stream.write(self.line(job) + "\n")
                    self.printed[job.name] = state
        self.stream.flush()


def _display_path(path: Path) -> str:
    """``path`` relative to the working directory if inside it, else its bare name."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return path.name


def _term_path(path: Path) -> str:
    """``path`` for terminal messages: relative to the working directory if inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return str(path)


def _worker_env(package_parent: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(package_parent)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    env.pop("JPY_PARENT_PID", None)
    return env


@dataclass
class Worker:
    """A worker process (``python -m analysis.render --worker``): it runs the notebooks sent
    to it, one at a time, and exits when its stdin closes."""

    proc: subprocess.Popen
    log: object  # its stderr, a temporary file
    job: Job | None = None
    buffer: bytes = b""


def _start_worker_process(out: Path, env: dict, index: int) -> Worker:
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "analysis.render", "--worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        # until its first notebook the worker names a folder of its own in the output folder
        env=env | {RENDER_ENV: str(out / f"{TMP_PREFIX}worker-{index}")},
        cwd=str(out),
        start_new_session=True,
        preexec_fn=_set_parent_death_signal,
    )
    return Worker(proc, log)


def _start_job(worker: Worker, job: Job, out: Path, data_dir: Path, notebooks_dir: Path, args) -> None:
    """Write the job's spec into a new temporary folder and send it to ``worker``."""
    job.tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{job.name}-", dir=out))
    spec = {
        "name": job.name,
        "notebook": str(job.notebook),
        "tmp": str(job.tmp),
        "data_dir": str(data_dir),
        "parameters": job.params,
        "timeout": float(args.timeout),
        "show_code": bool(getattr(args, "show_code", False)),
        "cwd": str(Path.cwd()),
        "replacements": path_replacements(out / job.name, data_dir, notebooks_dir, out, job.tmp),
    }
    spec_path = job.tmp / ".render-spec.json"
    spec_path.write_text(json.dumps(spec))
    job.proc, job.log = worker.proc, worker.log
    job.state = "running"
    job.started = time.monotonic()
    worker.job = job
    worker.proc.stdin.write(f"{spec_path}\n".encode())
    worker.proc.stdin.flush()


def _handle_message(job: Job, message: dict) -> None:
    event = message.get("event")
    if event == "cell":
        job.cell, job.cells = message["i"], message["n"]
    elif event == "done":
        job.state = "done"
        job.seconds = time.monotonic() - job.started
    elif event == "failed":
        job.state = "failed"
        job.seconds = time.monotonic() - job.started
        job.failure = {k: message.get(k) for k in ("cell", "cells", "ename", "evalue", "notebook_saved")}


def _read_worker(worker: Worker, data: bytes) -> None:
    worker.buffer += data
    *lines, worker.buffer = worker.buffer.split(b"\n")
    for raw in lines:
        text = raw.decode("utf-8", "replace")
        if text.startswith(_MSG_PREFIX) and worker.job is not None:
            with contextlib.suppress(ValueError):
                _handle_message(worker.job, json.loads(text[len(_MSG_PREFIX) :]))


def _worker_stderr_tail(job: Job, lines: int = 15) -> str:
    if job.log is None:
        return ""
    job.log.seek(0)
    text = job.log.read().decode("utf-8", "replace").strip().splitlines()
    return "\n".join(text[-lines:])


def _finish(job: Job, out: Path, stamp: dict) -> None:
    """After the worker exited: swap the report in, or file the failure."""
    if job.state == "running":  # worker died without a final message
        job.state = "failed"
        job.seconds = time.monotonic() - job.started
        job.failure = {
            "cell": None,
            "ename": "WorkerError",
            "evalue": f"the render process exited with code {job.proc.returncode}",
            "detail": _worker_stderr_tail(job),
        }
    failed_nb = out / FAILED_DIR / f"{job.name}.ipynb"
    if job.state == "done":
        try:
            (job.tmp / ".render-spec.json").unlink(missing_ok=True)
            _atomic_write(job.tmp / STAMP_FILE, json.dumps(stamp, indent=1, sort_keys=True))
            swap_in(job.tmp, out / job.name)
            failed_nb.unlink(missing_ok=True)
        except OSError as exc:
            job.state = "failed"
            job.failure = {"cell": None, "ename": type(exc).__name__,
                           "evalue": f"could not replace {_term_path(out / job.name)}: {exc.strerror or exc}"}
    if job.state != "done":
        saved = job.tmp / f"{job.name}.ipynb"
        if saved.exists():
            failed_nb.parent.mkdir(exist_ok=True)
            os.replace(saved, failed_nb)
            job.failure["failed_notebook"] = failed_nb
        _remove(job.tmp)
    job.tmp = None
    job.log = None  # the worker's, closed with it


def _kill_workers(jobs: list[Job], workers: list[Worker] = ()) -> None:
    procs = {id(p): p for p in [j.proc for j in jobs if j.proc is not None] + [w.proc for w in workers]}
    for proc in procs.values():
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
    for proc in procs.values():
        with contextlib.suppress(Exception):
            proc.wait(timeout=10)
    for job in jobs:
        if job.tmp is not None:
            _remove(job.tmp)
    for worker in workers:
        with contextlib.suppress(Exception):
            worker.log.close()


def _start_workers(n: int, out: Path) -> list[Worker]:
    """``n`` idle worker processes (see :class:`Worker`)."""
    env = _worker_env(Path(__file__).resolve().parent.parent)
    return [_start_worker_process(out, env, i) for i in range(n)]


def _run_jobs(todo: list[Job], out, data_dir, notebooks_dir, args, stamps, progress: Progress,
              workers: list[Worker] | None = None) -> None:
    """Run ``todo`` in ``--jobs`` worker processes (``workers``, already started, then new
    ones as needed), each taking the next queued notebook when it has finished one (the
    queue is ordered longest first); a worker that dies fails its notebook and is replaced
    while notebooks are waiting."""
    env = _worker_env(Path(__file__).resolve().parent.parent)
    jobs_n = max(1, args.jobs or os.cpu_count() or 1)
    queue = list(todo)
    idle, workers = list(workers or []), []
    sel = selectors.DefaultSelector()
    started = len(idle)

    def next_job(worker: Worker) -> None:
        if queue:
            _start_job(worker, queue.pop(0), out, data_dir, notebooks_dir, args)
        else:
            with contextlib.suppress(OSError):
                worker.proc.stdin.close()  # nothing left: the worker exits

    def finish(job: Job) -> None:
        _finish(job, out, stamps[job.name] | {"seconds": round(job.seconds, 2), "rendered_at": _now()})

    try:
        while queue or any(w.job for w in workers):
            while queue and len(workers) < jobs_n:
                if idle:
                    worker = idle.pop(0)
                else:
                    worker = _start_worker_process(out, env, started)
                    started += 1
                workers.append(worker)
                sel.register(worker.proc.stdout, selectors.EVENT_READ, worker)
                next_job(worker)
                progress.update()
            for keyobj, _ in sel.select(timeout=0.5):
                worker = keyobj.data
                data = os.read(keyobj.fd, 65536)
                if data:
                    _read_worker(worker, data)
                    job = worker.job
                    if job is not None and job.state in ("done", "failed"):
                        worker.job = None
                        finish(job)
                        next_job(worker)
                    continue
                sel.unregister(keyobj.fileobj)
                keyobj.fileobj.close()
                worker.proc.wait()
                workers.remove(worker)
                with contextlib.suppress(OSError):
                    worker.proc.stdin.close()
                if worker.job is not None:  # died during a notebook: _finish says so
                    job, worker.job = worker.job, None
                    finish(job)
                worker.log.close()
            progress.update()
    except BaseException:
        _kill_workers(list(todo), workers + idle)
        raise
    finally:
        sel.close()
    for worker in idle:  # started for notebooks that did not need them
        with contextlib.suppress(OSError):
            worker.proc.stdin.close()
    workers += idle
    for worker in workers:  # idle, stdin closed: they are exiting
        with contextlib.suppress(Exception):
            worker.proc.wait(timeout=30)
        with contextlib.suppress(Exception):
            worker.log.close()


def _sigterm(signum, frame):
    raise _Terminated()


def _run(args, stream) -> int:
    data_dir = Path(args.data).resolve()
    out = Path(args.out).resolve()
    notebooks_dir = Path(getattr(args, "notebooks", "notebooks")).resolve()
    if not data_dir.is_dir():
        raise RenderError(f"data folder {args.data} does not exist (use --data DIR)")
    if args.jobs is not None and args.jobs < 1:
        raise RenderError("--jobs must be at least 1")
    if not args.timeout or args.timeout <= 0:
        raise RenderError("--timeout must be a positive number of seconds")
    if out == data_dir or data_dir in out.parents or out in data_dir.parents:
        raise RenderError("the output folder must not be, contain or lie inside the data folder")
    notebooks = find_notebooks(notebooks_dir, args.only)
    params = parse_parameters(args.parameters or [])
    per_notebook = assign_parameters(notebooks, params)
    _check_writable(out)

    previous = {}
    if _is_main_thread():
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, _sigterm)
    todo: list[Job] = []
    workers: list[Worker] = []
    try:
        with output_lock(out, wait=not getattr(args, "no_wait", False)):
            clean_stale(out)
            install_kernelspec()
            data_fp = data_fingerprint(data_dir, rows=True)
            source_hash = package_source_hash()
            versions = package_versions()
            options = {"show_code": bool(getattr(args, "show_code", False)), "data": _display_path(data_dir)}
            jobs, stamps = [], {}
            for nb in notebooks:
                p = per_notebook[nb.stem]
                key = cache_key(nb, p, data_fp, source_hash, versions, options)
                job = Job(nb.stem, nb, p, key)
                if not args.force and _is_current(out / nb.stem, key):
                    job.state = "skipped"
                    (out / FAILED_DIR / f"{nb.stem}.ipynb").unlink(missing_ok=True)  # older attempt
                jobs.append(job)
                stamps[nb.stem] = {
                    "key": key,
                    "notebook": nb.name,
                    "parameters": p,
                    "data": options["data"],
                    "data_sha256": data_fp["sha256"],
                }
            # longest first (by the previous render's time; never rendered counts as longest),
            # so the last notebook to finish does not start late
            todo = sorted((j for j in jobs if j.state == "queued"), key=lambda j: -_previous_seconds(out / j.name))
            # the data folder is validated here, in this process, before any kernel starts:
            # a broken file then costs a second, not one failed notebook per kernel. The
            # worker processes start first and import papermill meanwhile; they start no
            # kernel until they are sent a notebook.
            jobs_n = max(1, args.jobs or os.cpu_count() or 1)
            workers = _start_workers(min(jobs_n, len(todo)), out)
            problems = None
            if todo and any(reads_dataset(j.notebook) for j in todo):
                problems = validate_data(data_dir, stream=sys.stderr)
            if problems is not None:
                for job in todo:
                    job.state = "not_run"  # no stamp is written: nothing is cached
                todo = []
                _kill_workers([], workers)
                workers = []
            elif todo:
                print(
                    f"rendering {len(todo)} of {len(jobs)} notebook(s) into {_term_path(out)} "
                    f"with {min(jobs_n, len(todo))} parallel job(s)",
                    file=stream,
                )
            else:
                print(f"all {len(jobs)} notebook(s) unchanged (use --force to re-render)", file=stream)
            progress = Progress(jobs, stream)
            progress.update()
            _run_jobs(todo, out, data_dir, notebooks_dir, args, stamps, progress, workers=workers)
            for worker in workers:  # all done: any still waiting for a notebook exits
                with contextlib.suppress(OSError):
                    worker.proc.stdin.close()
            from analysis import report_index

            index = report_index.write_index(
                out,
                notebooks=[nb.stem for nb in find_notebooks(notebooks_dir)],
                run={
                    "date": _now(),
                    "parameters": params,
                    "data": _display_path(data_dir),
                    "fingerprint": data_fp,
                    "versions": versions,
                    "show_code": options["show_code"],
                    "validation": None if problems is None else {
                        "count": len(problems), "problems": problems[:MAX_PROBLEM_LINES],
                    },
                },
                results={j.name: {"state": j.state, "seconds": j.seconds, **j.failure} for j in jobs},
            )
    except (KeyboardInterrupt, _Terminated) as exc:
        _kill_workers(todo, workers)
        code = 130 if isinstance(exc, KeyboardInterrupt) else 143
        print("\ninterrupted: previous reports are kept unchanged", file=sys.stderr)
        return code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    failed = [j for j in jobs if j.state == "failed"]
    stream.flush()
    if problems is not None:
        print(_validation_text(problems, data_dir, out, [j for j in jobs if j.state == "not_run"]), file=sys.stderr)
    groups: dict[tuple, list[Job]] = {}
    for job in failed:
        f = job.failure
        groups.setdefault((f.get("ename"), f.get("evalue"), f.get("detail")), []).append(job)
    for group in groups.values():
        print(_failure_text(group, out), file=sys.stderr)
    summary = ", ".join(
        f"{n} {s}" for s, n in ((s, sum(j.state == s for j in jobs)) for s in ("done", "skipped", "failed", "not_run")) if n
    ).replace("not_run", "not run")
    print(f"{summary}; index: {_term_path(index)}", file=stream)
    return EXIT_FAILED if failed or problems is not None else EXIT_OK


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _previous_seconds(report: Path) -> float:
    try:
        return float(json.loads((report / STAMP_FILE).read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return math.inf


def _is_current(report: Path, key: str) -> bool:
    try:
        stamp = json.loads((report / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return False
    name = report.name
    return (
        stamp.get("key") == key
        and (report / f"{name}.ipynb").is_file()
        and (report / f"{name}.html").is_file()
    )


MAX_PROBLEM_LINES = 200
"""Problem lines shown on the terminal and in the index; ``validate`` lists them all."""
_LOAD_DATASET = re.compile(r"\bload_dataset\s*\(")


def reads_dataset(notebook: Path) -> bool:
    """Whether ``notebook`` loads the data folder with ``analysis.load.load_dataset``.

    The notebook metadata ``{"analysis": {"validate_data": true|false}}`` decides when
    present; otherwise any code cell calling ``load_dataset(`` counts. Render validates
    the data folder first (:func:`validate_data`) when a notebook to be run reads it.
    """
    meta = _notebook_meta(notebook)
    if isinstance(meta.get("validate_data"), bool):
        return meta["validate_data"]
    nb = json.loads(notebook.read_text(encoding="utf-8"))  # readable: _notebook_meta checked
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            if _LOAD_DATASET.search("".join(source) if isinstance(source, list) else source):
                return True
    return False


def validate_data(data_dir: Path, stream=None) -> list[str] | None:
    """Validate ``data_dir`` in this process, as ``python -m analysis validate`` does.

    Returns the ``file:row:column: message`` lines of every problem, or None when the data
    is valid. A loader crash (a bug, not a data problem) is reported on ``stream`` and
    returns None: the notebooks then run and their error notebooks show the traceback.
    """
    from analysis.load import DataValidationError, load_dataset

    try:
        load_dataset(data_dir)
    except DataValidationError as exc:
        return [str(p) for p in exc.problems] or [str(exc)]
    except Exception as exc:  # noqa: BLE001 - reported, then the notebooks show it in full
        print(f"warning: could not validate {_term_path(data_dir)} before rendering "
              f"({type(exc).__name__}: {exc}); the notebooks will report it", file=stream or sys.stderr)
    return None


def _validation_text(problems: list[str], data_dir: Path, out: Path, jobs: list[Job]) -> str:
    """The terminal summary when validation stopped the run before any notebook started."""
    lines = [
        f"FAILED data folder {_term_path(data_dir)} has {len(problems)} problem(s); "
        "no notebook was run, previous reports are kept:"
    ]
    lines += ["  " + line for line in problems[:MAX_PROBLEM_LINES]]
    if len(problems) > MAX_PROBLEM_LINES:
        lines.append(f"  … {len(problems) - MAX_PROBLEM_LINES} more lines "
                     f"(python -m analysis validate {_term_path(data_dir)} lists them all)")
    names = [j.notebook.name for j in jobs]
    lines.append(f"  not run: {', '.join(names)}")
    kept = [_term_path(out / j.name) for j in jobs if (out / j.name).is_dir()]
    if kept:
        lines.append(f"  previous report(s) kept: {', '.join(kept)}")
    return "\n".join(lines)


def _failure_text(jobs: list[Job], out: Path) -> str:
    """The terminal summary of notebooks that failed with the same error (usually one).

    A broken data file makes every notebook fail with the same ``DataValidationError``;
    its ``file:row:column: message`` lines are then printed once for all of them.
    """
    f = jobs[0].failure

    def where(job: Job) -> str:
        g = job.failure
        if not g.get("cell"):
            return "setup"
        return f"cell {g['cell']}" + (f" of {g['cells']}" if g.get("cells") else "")

    if len(jobs) == 1:
        lines = [f"FAILED {jobs[0].notebook.name}, {where(jobs[0])}: {f.get('ename')}"]
    else:
        names = ", ".join(f"{j.notebook.name} ({where(j)})" for j in jobs)
        lines = [f"FAILED {names}: {f.get('ename')}"]
    evalue = (f.get("evalue") or "").strip()
    if evalue:
        body = evalue.splitlines()
        limit = 200 if "ValidationError" in (f.get("ename") or "") else 20
        lines += ["  " + line for line in body[:limit]]
        if len(body) > limit:
            lines.append(f"  … {len(body) - limit} more lines")
    if f.get("detail"):
        lines += ["  " + line for line in f["detail"].splitlines()]
    for job in jobs:
        prefix = "  " if len(jobs) == 1 else f"  {job.notebook.name}: "
        if job.failure.get("failed_notebook"):
            lines.append(f"{prefix}error notebook: {_term_path(Path(job.failure['failed_notebook']))}")
        if (out / job.name).is_dir():
            lines.append(f"{prefix}previous report kept: {_term_path(out / job.name)}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
