"""Folders of a render: what decides a re-render, and how reports reach ``OUT`` safely.

The bottom of :mod:`analysis.render`: no other module of the package is imported here.

* **Fingerprints and cache key.** :func:`data_fingerprint` hashes every data file (SHA-256
  of relative path and bytes; hidden and editor lock files ``.*``, ``~$*`` left out);
  :func:`cache_key` hashes the notebook file, its parameters, the data files it reads
  (metadata ``{"analysis": {"data_files": [glob, ...]}}``, all files when absent), the
  source of the ``analysis`` package (:func:`package_source_hash`) and the versions of
  :data:`KEY_PACKAGES`. A report is current (:func:`_is_current`) when its
  ``.render-stamp.json`` holds the same key and its notebook and HTML exist.
* **Folders.** :func:`find_notebooks` picks the notebooks (stems name the report folders);
  :func:`output_lock` holds ``flock(OUT/.render.lock)`` (one writer per output folder);
  a report is written into ``OUT/.tmp-NAME-*`` and :func:`swap_in` exchanges it with
  ``OUT/NAME`` in one step (``renameat2``) or via ``OUT/.old-NAME-PID``, which
  :func:`clean_stale` restores or removes after a crash.
* **Errors and exit codes.** :class:`RenderError` is a problem found before anything ran;
  its ``exit_code`` is :data:`EXIT_USAGE` (2), or :data:`EXIT_LOCKED` (3) for a locked
  folder with ``--no-wait``. What the codes mean: :mod:`analysis.render.command`.

Paths: absolute :class:`pathlib.Path` inside; :func:`_term_path` and :func:`_display_path`
make them relative to the working directory for messages and the index. Sizes in bytes,
hashes as lowercase SHA-256 hex.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path

#: the ``analysis`` package folder (this file is ``analysis/render/folders.py``)
ANALYSIS_DIR = Path(__file__).resolve().parents[1]

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
STAMP_FILE = ".render-stamp.json"
LOCK_FILE = ".render.lock"
TMP_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"
FAILED_DIR = "_failed"
INDEX_FILE = "index.html"

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


class RenderError(Exception):
    """A problem found before anything ran (bad option, folder or parameter); exit code 2."""

    exit_code = EXIT_USAGE


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
    root = ANALYSIS_DIR
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


# --------------------------------------------------------------------------- stamps and paths shown


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
