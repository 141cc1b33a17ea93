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
  a report is written into ``OUT/.analysis-render-tmp-NAME-<random>`` and :func:`swap_in`
  exchanges it with ``OUT/NAME`` in one step (``renameat2``) or via
  ``OUT/.analysis-render-old-NAME-<random>``, which :func:`clean_stale` restores or removes
  after a crash. Folders are made with the umask's permissions (0755 under umask 022).
* **What render owns.** :class:`Manifest` (``OUT/.analysis-render-manifest.json``) lists
  what render wrote in ``OUT``; render replaces or deletes nothing else. Temporary names
  carry the prefix :data:`RENDER_PREFIX` and a random token and are made with
  ``O_CREAT | O_EXCL`` / ``mkdir``, so they never take over an existing name; each is recorded
  before it is made. A ``NAME/``, ``index.html`` or ``_failed/NAME.ipynb`` that render did
  not write stops the run before anything is touched (:meth:`Manifest.check_targets`).
* **Errors and exit codes.** :class:`RenderError` is a problem found before anything ran;
  its ``exit_code`` is :data:`EXIT_USAGE` (2), :data:`EXIT_FAILED` (1) for a file in
  ``OUT`` that render did not write, or :data:`EXIT_LOCKED` (3) for a locked folder with
  ``--no-wait``. What the codes mean: :mod:`analysis.render.command`.

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
#: every name render makes for itself in an output folder starts with this (nothing a user
#: would type); temporary names add a random token and are made with O_EXCL / mkdir, so they
#: never collide with an existing file
RENDER_PREFIX = ".analysis-render-"
MANIFEST_FILE = f"{RENDER_PREFIX}manifest.json"
TMP_PREFIX = f"{RENDER_PREFIX}tmp-"
OLD_PREFIX = f"{RENDER_PREFIX}old-"
FAILED_DIR = "_failed"
INDEX_FILE = "index.html"

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3
EXIT_PIPE = 141
"""Standard output closed by its reader (``| head -1``): 128 + SIGPIPE, as a shell reports a
command that SIGPIPE ended."""


class RenderError(Exception):
    """A problem found before anything ran (bad option, folder or parameter); exit code 2
    unless ``exit_code`` says otherwise."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


# --------------------------------------------------------------------------- fingerprints


def _data_files(data_dir: Path, outside: list[str] | None = None) -> list[Path]:
    """Regular data files under ``data_dir`` (recursive), without hidden and editor lock
    files. A link that leads out of the folder is never read (its relative path is appended
    to ``outside``); named pipes, devices and sockets are not files and are left out, so
    hashing never blocks."""
    files = []
    root = data_dir.resolve()
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir)
        if any(p.startswith((".", "~$")) or p == "__pycache__" for p in rel.parts):
            continue
        try:
            real = path.resolve()
        except (OSError, RuntimeError):  # a link loop
            real = None
        if real is None or (real != root and root not in real.parents):
            if outside is not None:
                outside.append(rel.as_posix())
            continue
        if path.is_file():
            files.append(path)
    return files


_BLANK = b", \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f"
"""What a row holding no value consists of (separators and ASCII white space)."""


def _count_rows(path: Path) -> int | None:
    """Data rows of a CSV file (header excluded); None for other files or unreadable ones.

    An ASCII file without quotes or lone carriage returns (individual patient data, a
    million rows) is counted line by line on its bytes; any other is read with ``csv``."""
    import csv

    if path.suffix.lower() != ".csv":
        return None
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if raw.isascii() and b'"' not in raw and (b"\r" not in raw or raw.count(b"\r") == raw.count(b"\r\n")):
        # the lines with something left when the blank characters are taken out
        kept = raw.translate(None, _BLANK.replace(b"\n", b""))
        while b"\n\n" in kept:
            kept = kept.replace(b"\n\n", b"\n")
        lines = kept.count(b"\n") + 1 - kept.startswith(b"\n") - kept.endswith(b"\n") if kept else 0
        return max(lines - 1, 0)
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
    of data rows of each CSV file (for the index). Links leading out of the folder are not
    read; their relative paths are listed under ``"outside"`` (only when there are any).
    """
    data_dir = Path(data_dir)
    total = hashlib.sha256()
    files = []
    outside: list[str] = []
    for path in _data_files(data_dir, outside):
        rel = path.relative_to(data_dir).as_posix()
        digest = _file_sha256(path)
        total.update(rel.encode() + b"\0" + digest.encode() + b"\n")
        files.append({"path": rel, "sha256": digest, "bytes": path.stat().st_size})
    fingerprint = {"sha256": total.hexdigest(), "files": files}
    if outside:
        fingerprint["outside"] = outside
    if rows:
        count_rows(fingerprint, data_dir)
    return fingerprint


def count_rows(fingerprint: dict, data_dir: str | Path) -> dict:
    """Add the number of data rows of each CSV file (``rows``, None for other files) to a
    :func:`data_fingerprint` of ``data_dir``, and return it. Render calls it while the data
    folder is validated: the rows are only shown in the index."""
    for entry in fingerprint["files"]:
        entry["rows"] = _count_rows(Path(data_dir) / entry["path"])
    return fingerprint


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
    """Installed versions of :data:`KEY_PACKAGES` and of Python itself.

    Read from the names of the ``NAME-VERSION.dist-info`` folders on ``sys.path`` (the first
    one found wins, as for an import), which takes a few milliseconds where
    ``importlib.metadata.version`` parses each package's metadata (~0.1 s for all of them,
    a large part of a render with nothing to do); a package installed another way is asked
    through ``importlib.metadata``, and the two agree (a test checks)."""
    versions = {"python": sys.version.split()[0]}
    wanted = {_dist_key(name): name for name in KEY_PACKAGES}
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if folder.endswith(".dist-info"):
                dist, _, version = folder[: -len(".dist-info")].partition("-")
                if _dist_key(dist) in wanted and version:
                    found.setdefault(_dist_key(dist), version)
    for key, name in wanted.items():
        versions[name] = found.get(key) or _metadata_version(name)
    return versions


def _dist_key(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _metadata_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


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
    if out.exists() and not out.is_dir():
        raise RenderError(f"the output folder {out} is a file, not a folder; choose another folder with --out. "
                          "Nothing was rendered.")
    try:
        out.mkdir(parents=True, exist_ok=True)  # mode 0777 less the umask, like every folder render makes
        fd, probe = _create_exclusive(out, f"{RENDER_PREFIX}write-test-")
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


# --------------------------------------------------------------------------- what render owns


def _token() -> str:
    import secrets

    return secrets.token_hex(6)


def _create_exclusive(folder: Path, prefix: str, suffix: str = "") -> tuple[int, Path]:
    """A new file ``folder/PREFIX<random>SUFFIX`` opened for writing; never an existing one
    (``O_CREAT | O_EXCL``; another random name is tried if taken). Mode 0666 less the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        path = folder / f"{prefix}{_token()}{suffix}"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue


def _write_fd(fd: int, data: bytes, path: Path) -> None:
    """Write all of ``data`` to the open file ``fd`` (the file ``path``) and close it; an
    error (``ENOSPC``: the disk is full) is raised after closing."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str, manifest: Manifest | None = None) -> None:
    """Write ``path`` in one step: a new temporary file beside it (a name no other file has,
    see :func:`_create_exclusive`), then a rename over ``path``. On any error (a full disk)
    the temporary file is removed and the error raised; ``path`` is as it was. With a
    ``manifest`` the temporary name is recorded before it is made (so a kill in between is
    cleaned by the next run) and ``path`` is recorded as render's own."""
    folder = path.parent
    prefix = f"{TMP_PREFIX}{path.name}-"
    if manifest is not None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        while True:
            name = f"{prefix}{_token()}"
            manifest.add_temporary(name, kind="file")
            try:
                fd, tmp = os.open(folder / name, flags, 0o666), folder / name
                break
            except FileExistsError:
                manifest.temporary.pop(name, None)  # someone else's: try another name
            except BaseException:
                manifest.forget_temporary(name)
                raise
    else:
        fd, tmp = _create_exclusive(folder, prefix)
    try:
        _write_fd(fd, text.encode("utf-8"), tmp)
        if manifest is not None:
            manifest.add_owned(path.relative_to(manifest.out).as_posix(), save=False)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if manifest is not None:
            with contextlib.suppress(OSError):
                manifest.forget_temporary(tmp.name)
        if isinstance(exc, OSError) and not exc.filename:  # say which file could not be written
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise
    if manifest is not None:
        manifest.forget_temporary(tmp.name)


_MANIFEST_FORMAT = "analysis-render-manifest"
_INDEX_SIGNATURES = ('<meta name="generator" content="analysis render">',
                     "<title>Stem-cell remission evidence: reports</title>")  # the second: before manifests


class Manifest:
    """The files and folders render wrote in an output folder (``OUT/.analysis-render-manifest.json``).

    Render replaces or deletes only what is listed here: ``owned`` (relative paths: the
    report folders ``NAME``, ``index.html``, ``_failed/NAME.ipynb``) and ``temporary``
    (top-level names of the folders and files being written, each recorded *before* it is
    made, so the next run removes what a killed run left). Everything else in the folder is
    the user's and stays as it is, whatever its name. A folder rendered before manifests
    existed is taken over by signature: a report folder holding ``.render-stamp.json``, an
    ``index.html`` that render wrote, an error notebook of papermill in ``_failed/``.
    Only the process holding the output lock reads or writes it.
    """

    def __init__(self, out: Path, owned=(), temporary=None):
        self.out = Path(out)
        self.path = self.out / MANIFEST_FILE
        self.owned: set[str] = set(owned)
        self.temporary: dict[str, dict] = dict(temporary or {})

    @classmethod
    def load(cls, out: Path) -> Manifest:
        """The manifest of ``out`` (empty if there is none); RenderError (exit 1) if the
        file is not a manifest (render will not guess what it owns)."""
        out = Path(out)
        path = out / MANIFEST_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(out)
        except (OSError, UnicodeDecodeError) as exc:
            raise _foreign(f"cannot read {path} ({getattr(exc, 'strerror', None) or exc})") from None
        try:
            data = json.loads(text)
            if data.get("format") != _MANIFEST_FORMAT:
                raise ValueError("not a render manifest")
            owned = [str(p) for p in data.get("owned", [])]
            temporary = {str(k): dict(v) for k, v in data.get("temporary", {}).items()}
        except (ValueError, AttributeError, TypeError):
            raise _foreign(f"{path} is not a manifest written by render; move it away (render then "
                           "recognises its own reports by their .render-stamp.json)") from None
        return cls(out, owned, temporary)

    def save(self) -> None:
        """Write the manifest in one step (a new temporary file, then a rename)."""
        data = {"format": _MANIFEST_FORMAT, "version": 1,
                "about": "files and folders written by python -m analysis render; render changes nothing else here",
                "owned": sorted(self.owned), "temporary": dict(sorted(self.temporary.items()))}
        fd, tmp = _create_exclusive(self.out, f"{MANIFEST_FILE}.", ".tmp")
        try:
            _write_fd(fd, (json.dumps(data, indent=1) + "\n").encode("utf-8"), tmp)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # ------------------------------------------------------------------ ownership

    def owns(self, rel: str) -> bool:
        """Whether render wrote ``OUT/rel`` (listed, or a pre-manifest render's by signature)."""
        path = self.out / rel
        if rel in self.owned:
            return True
        if not path.exists() or path.is_symlink():
            return False
        parts = rel.split("/")
        if len(parts) == 1 and rel == INDEX_FILE:
            return path.is_file() and _has_signature(path, _INDEX_SIGNATURES)
        if len(parts) == 2 and parts[0] == FAILED_DIR and rel.endswith(".ipynb"):
            return path.is_file() and _is_papermill_notebook(path)
        if len(parts) == 1:
            return path.is_dir() and (path / STAMP_FILE).is_file()
        return False

    def add_owned(self, rel: str, save: bool = True) -> None:
        if rel not in self.owned:
            self.owned.add(rel)
            if save:
                self.save()

    def forget_owned(self, rel: str) -> None:
        if rel in self.owned:
            self.owned.discard(rel)
            self.save()

    def check_targets(self, names: list[str]) -> None:
        """Raise RenderError (exit 1) naming the first path a run for the reports ``names``
        would replace that render did not write: ``index.html``, ``NAME/``,
        ``_failed/NAME.ipynb`` (or a ``_failed`` that is not a folder). Nothing is touched."""
        failed = self.out / FAILED_DIR
        if failed.is_symlink() or (failed.exists() and not failed.is_dir()):
            raise _foreign(f"{_term_link(failed)} is not a folder render made (it keeps error notebooks in "
                           f"{FAILED_DIR}/); move it away or choose another --out. Nothing was rendered.")
        for rel in [INDEX_FILE] + list(names) + [f"{FAILED_DIR}/{n}.ipynb" for n in names]:
            path = self.out / rel
            if (path.exists() or path.is_symlink()) and not self.owns(rel):
                raise _foreign(f"{_term_link(path)} was not written by render (it is not in {self.path.name}); "
                               "move it away or choose another --out. Nothing was rendered.")

    def remove_owned_file(self, rel: str) -> None:
        """Delete ``OUT/rel`` if render wrote it (an error notebook of an earlier run)."""
        if self.owns(rel):
            with contextlib.suppress(FileNotFoundError):
                (self.out / rel).unlink()
            self.forget_owned(rel)

    # ------------------------------------------------------------------ temporaries

    def add_temporary(self, name: str, kind: str, report: str | None = None) -> None:
        """Record ``OUT/name`` as a temporary of kind ``tmp`` (a report being written),
        ``old`` (the previous report being replaced) or ``file``; saved at once."""
        self.temporary[name] = {"kind": kind, **({"report": report} if report else {})}
        self.save()

    def forget_temporary(self, name: str) -> None:
        if self.temporary.pop(name, None) is not None:
            self.save()

    def make_report_dir(self, report: str, kind: str = "tmp") -> Path:
        """A new temporary folder ``OUT/.analysis-render-tmp-REPORT-<random>`` for a report being
        written (kind ``tmp``), or ``.analysis-render-old-REPORT-<random>`` to move the previous
        report into (kind ``old``): recorded first, then made, with the umask's permissions."""
        prefix = TMP_PREFIX if kind == "tmp" else OLD_PREFIX
        while True:  # os.mkdir: mode 0777 less the umask (tempfile.mkdtemp would make it 0700)
            name = f"{prefix}{report}-{_token()}"
            self.add_temporary(name, kind, report)
            try:
                os.mkdir(self.out / name)
                return self.out / name
            except FileExistsError:
                self.temporary.pop(name, None)  # someone else's: try another name
            except BaseException:
                self.forget_temporary(name)
                raise

    def remove_temporary(self, path: Path) -> None:
        """Delete a temporary of this manifest and forget it."""
        if path.name in self.temporary:
            _remove(path)
            self.forget_temporary(path.name)


def _foreign(message: str) -> RenderError:
    """A refusal to touch a file render did not write: exit code 1."""
    return RenderError(message, exit_code=EXIT_FAILED)


def _has_signature(path: Path, signatures) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    return any(s in head for s in signatures)


def _is_papermill_notebook(path: Path) -> bool:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        return isinstance(nb.get("metadata", {}).get("papermill"), dict)
    except (OSError, ValueError, AttributeError):
        return False


def clean_stale(out: Path, manifest: Manifest | None = None) -> list[str]:
    """Remove what an interrupted run left in ``out``; return the names removed or restored.

    Only temporaries listed in the manifest are touched: a report being written is deleted;
    a previous report being replaced (``old``) is put back when its ``NAME`` is missing,
    otherwise deleted. Files and folders render did not record (the user's ``.tmp-notes.txt``,
    ``.old-thesis-draft/``, anything) stay as they are, whatever their names. Also removed:
    an unfinished copy of the manifest itself (``.analysis-render-manifest.json.<random>.tmp``,
    recognised by its content). Must be called with the lock held.
    """
    manifest = manifest if manifest is not None else Manifest.load(out)
    done = []
    for name, info in sorted(manifest.temporary.items()):
        path = out / name
        if not name.startswith(RENDER_PREFIX) or "/" in name or name in (".", ".."):
            manifest.temporary.pop(name)  # never a path outside render's names
            continue
        if path.exists() or path.is_symlink():
            report = info.get("report")
            if info.get("kind") == "old" and report and not (out / report).exists():
                os.rename(path, out / report)
            else:
                _remove(path)
            done.append(name)
        manifest.temporary.pop(name)
    for path in out.glob(f"{MANIFEST_FILE}.*.tmp"):
        if re.fullmatch(re.escape(MANIFEST_FILE) + r"\.[0-9a-f]{12}\.tmp", path.name) and path.is_file() \
                and _is_manifest_draft(path):
            path.unlink()
            done.append(path.name)
    if done or manifest.path.exists():
        manifest.save()
    return done


def _is_manifest_draft(path: Path) -> bool:
    try:
        head = path.read_bytes()[:200]
    except OSError:
        return False
    return head == b"" or head.startswith(b'{\n "format": "' + _MANIFEST_FORMAT.encode())


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


def swap_in(new: Path, dest: Path, manifest: Manifest | None = None) -> None:
    """Make the finished folder ``new`` (a temporary of the manifest) the report ``dest``;
    the old ``dest`` is deleted.

    With ``renameat2`` the two names are exchanged in one step. Otherwise ``dest`` is first
    renamed to a new ``.analysis-render-old-NAME-<random>`` (recorded in the manifest
    first, which :func:`clean_stale` restores if the process dies before the second
    rename). Signals are blocked meanwhile. ``dest`` is recorded as render's own.
    """
    manifest = manifest if manifest is not None else Manifest.load(dest.parent)
    blocked = {signal.SIGINT, signal.SIGTERM}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    garbage = None
    try:
        manifest.add_owned(dest.name, save=False)
        if not dest.exists():
            os.rename(new, dest)
            manifest.temporary.pop(new.name, None)
            manifest.save()
            return
        if _renameat2_exchange(new, dest):
            garbage = new  # now holds the previous report
            manifest.temporary[new.name] = {"kind": "tmp", "report": dest.name}
            manifest.save()
        else:
            garbage = manifest.make_report_dir(dest.name, kind="old")  # empty: the rename replaces it
            os.rename(dest, garbage)
            os.rename(new, dest)
            manifest.forget_temporary(new.name)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    manifest.remove_temporary(garbage)


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


def _term_link(path: Path) -> str:
    """As :func:`_term_path`, without following ``path`` itself if it is a link."""
    folder = _term_path(path.parent)
    return path.name if folder == "." else f"{folder.rstrip('/')}/{path.name}"


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


def stdout_closed() -> int:
    """End quietly after ``BrokenPipeError`` on standard output (its reader, say ``head -1``,
    has gone), as command-line tools do: further writes go to ``/dev/null``, so the
    interpreter's final flush prints no "Exception ignored" traceback. Returns
    :data:`EXIT_PIPE`."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_PIPE
