"""The ``index.html`` of a report folder (written by :mod:`analysis.render.command`).

Imports only :mod:`analysis.render.folders` (standard library), for the atomic write.

Plain HTML and CSS, no script. Every string that comes from data, parameters, notebooks
or error messages goes through :func:`html.escape`; links are relative to the index and
URL-quoted, so the report folder can be moved, zipped or published as it is.

Shown as given: the run date (UTC, ISO 8601 to the second), render times in seconds with
one decimal, file sizes in bytes, CSV data rows (header excluded; "—" for other files) and
SHA-256 hashes cut to their first 16 hex digits (the folder hash in full). A report's card
reads its ``.render-stamp.json``; a failed notebook links to ``_failed/NAME.ipynb``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import quote

from analysis.render.folders import Manifest, write_text_atomic

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1150px;
padding:1rem 1.5rem;color:#1b1b1b;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9rem} td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
th{background:#f4f4f4} code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}
pre{background:#fff4f0;border-left:4px solid #D55E00;padding:.5rem;white-space:pre-wrap;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem}
.card{border:1px solid #ccc;border-radius:6px;padding:.8rem}
.card h3{margin:.1rem 0 .4rem;font-size:1.1rem} .meta{color:#555;font-size:.85rem}
.thumbs{display:flex;flex-wrap:wrap;gap:.4rem;margin:.5rem 0}
.thumbs img{width:150px;height:105px;object-fit:contain;border:1px solid #ddd;background:#fff}
.badge{display:inline-block;border-radius:3px;padding:0 .4rem;font-size:.8rem;color:#fff}
.done{background:#009E73}.skipped{background:#0072B2}.failed{background:#D55E00}.kept{background:#999}
.missing{background:#000}
"""

_STATE_TEXT = {
    "done": ("done", "rendered in this run"),
    "skipped": ("skipped", "unchanged, kept from an earlier run"),
    "failed": ("failed", "failed in this run"),
    "not_run": ("failed", "not run: the data folder has problems; showing the previous report"),
    None: ("kept", "not selected in this run"),
}


def esc(value) -> str:
    """HTML-escaped text of ``value`` (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def href(*parts: str) -> str:
    """A relative, URL-quoted and HTML-escaped link target."""
    return esc("/".join(quote(p) for p in parts))


def _title(report: Path, name: str) -> str:
    """The first Markdown heading of the executed notebook, else the notebook name."""
    try:
        nb = json.loads((report / f"{name}.ipynb").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return name
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip() or name
    return name


def _stamp(report: Path) -> dict:
    try:
        return json.loads((report / ".render-stamp.json").read_text())
    except (OSError, ValueError):
        return {}


def _files(folder: Path, suffix: str) -> list[str]:
    return sorted(p.name for p in folder.glob(f"*{suffix}")) if folder.is_dir() else []


def _kv_table(rows) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>" if body else "<p>none</p>"


def _failure_block(name: str, info: dict, out: Path) -> str:
    cell = info.get("cell")
    where = f"cell {cell}" if cell else "before the first cell"
    parts = [
        f'<div class="failure" id="failed-{esc(name)}"><h3>{esc(name)}: {esc(info.get("ename"))} in {esc(where)}</h3>',
        f"<pre>{esc(info.get('evalue'))}</pre>",
    ]
    if info.get("detail"):
        parts.append(f"<pre>{esc(info.get('detail'))}</pre>")
    if (out / "_failed" / f"{name}.ipynb").is_file():
        parts.append(f'<p>Error notebook: <a href="{href("_failed", name + ".ipynb")}">{esc(name)}.ipynb</a></p>')
    if (out / name).is_dir():
        parts.append("<p>The previous report of this notebook is kept below.</p>")
    parts.append("</div>")
    return "".join(parts)


def _validation_block(validation: dict, data, notebooks: list[str], results: dict) -> str:
    """The data folder's problems when validation stopped the run before any notebook."""
    problems = validation.get("problems") or []
    count = validation.get("count", len(problems))
    not_run = [n for n in notebooks if results.get(n, {}).get("state") == "not_run"]
    more = f"\n… {count - len(problems)} more (python -m analysis validate lists them all)" \
        if count > len(problems) else ""
    return "".join([
        '<div class="failure" id="data-problems">',
        f"<h3>Data folder <code>{esc(data)}</code> has {esc(count)} problem(s)</h3>",
        f"<p>No notebook was run ({esc(', '.join(not_run)) or 'none'}); previous reports are kept.</p>",
        f"<pre>{esc(chr(10).join(problems) + more)}</pre>",
        "</div>",
    ])


def _card(name: str, info: dict, out: Path) -> str:
    report = out / name
    state = info.get("state")
    if state == "failed" and not report.is_dir():
        badge, text = "failed", "failed; no earlier report"
    elif state == "not_run" and not report.is_dir():
        badge, text = "failed", "not run: the data folder has problems; no earlier report"
    elif not report.is_dir():
        badge, text = "missing", "not rendered yet"
    else:
        badge, text = _STATE_TEXT.get(state, _STATE_TEXT[None])
        if state == "failed":
            text = "failed in this run; showing the previous report"
    stamp = _stamp(report)
    lines = [
        f'<div class="card" id="report-{esc(name)}">',
        f"<h3>{esc(_title(report, name))}</h3>",
        f'<div class="meta"><code>{esc(name)}</code> <span class="badge {badge}">{esc(text)}</span></div>',
    ]
    if report.is_dir():
        rendered = stamp.get("rendered_at", "unknown")
        secs = stamp.get("seconds")
        took = f", {secs:.1f} s" if isinstance(secs, (int, float)) else ""
        lines.append(
            f'<div class="meta">rendered {esc(rendered)}{esc(took)} from data folder '
            f'<code>{esc(stamp.get("data"))}</code></div>'
        )
        if stamp.get("parameters"):
            params = ", ".join(f"{k} = {json.dumps(v)}" for k, v in stamp["parameters"].items())
            lines.append(f'<div class="meta">parameters: {esc(params)}</div>')
        links = []
        if (report / f"{name}.html").is_file():
            links.append(f'<a class="report-link" href="{href(name, name + ".html")}">report (HTML)</a>')
        if (report / f"{name}.ipynb").is_file():
            links.append(f'<a href="{href(name, name + ".ipynb")}">executed notebook</a>')
        lines.append("<p>" + " · ".join(links) + "</p>")
        pngs = _files(report / "figures", ".png")
        if pngs:
            lines.append('<div class="thumbs">')
            for png in pngs:
                target = href(name, "figures", png)
                svg = png[:-4] + ".svg"
                title = esc(png[:-4]) + (" (SVG also available)" if (report / "figures" / svg).is_file() else "")
                lines.append(f'<a href="{target}" title="{title}"><img src="{target}" alt="{esc(png[:-4])}"></a>')
            lines.append("</div>")
        tables = _files(report / "tables", ".csv")
        if tables:
            links = ", ".join(f'<a href="{href(name, "tables", t)}">{esc(t)}</a>' for t in tables)
            lines.append(f'<div class="meta">tables: {links}</div>')
    if state == "failed":
        lines.append(f'<p><a href="#failed-{esc(name)}">see the error</a></p>')
    elif state == "not_run":
        lines.append('<p><a href="#data-problems">see the data problems</a></p>')
    lines.append("</div>")
    return "\n".join(lines)


def index_html(out: Path, notebooks: list[str], run: dict, results: dict) -> str:
    """The index page as a string (see :func:`write_index`)."""
    fp = run.get("fingerprint", {})
    files_rows = "".join(
        f"<tr><td>{esc(f['path'])}</td><td>{esc('—' if f.get('rows') is None else f['rows'])}</td>"
        f"<td>{esc(f.get('bytes'))}</td><td><code>{esc(f['sha256'][:16])}</code></td></tr>"
        for f in fp.get("files", [])
    )
    params = run.get("parameters") or {}
    failures = [(n, results[n]) for n in notebooks if results.get(n, {}).get("state") == "failed"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="analysis render">',  # render recognises its own index by it
        "<title>Stem-cell remission evidence: reports</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Stem-cell remission evidence: reports</h1>",
        f'<p class="meta">Run {esc(run.get("date"))} · data folder <code>{esc(run.get("data"))}</code> · '
        f'data fingerprint <code>{esc(str(fp.get("sha256", ""))[:16])}</code></p>',
    ]
    validation = run.get("validation")
    if failures or validation:
        parts.append('<section id="failures"><h2>Failures</h2>')
        if validation:
            parts.append(_validation_block(validation, run.get("data"), notebooks, results))
        if failures:
            parts.append(
                f"<p>{len(failures)} notebook(s) failed in this run. Their previous reports, if any, are kept.</p>"
            )
            parts += [_failure_block(n, info, out) for n, info in failures]
        parts.append("</section>")
    parts.append('<section id="reports"><h2>Reports</h2><div class="cards">')
    parts += [_card(n, results.get(n, {}), out) for n in notebooks]
    parts.append("</div></section>")
    parts.append('<section id="run"><h2>Run</h2>')
    parts.append(
        _kv_table(
            [("date (UTC)", run.get("date")), ("data folder", run.get("data")),
             ("code shown in reports", "yes" if run.get("show_code") else "no")]
            + [(f"parameter {k}", json.dumps(v)) for k, v in params.items()]
        )
    )
    parts.append("</section>")
    parts.append('<section id="data"><h2>Data fingerprint</h2>')
    parts.append(f'<p>SHA-256 of the data folder: <code>{esc(fp.get("sha256"))}</code></p>')
    parts.append(
        "<table><tr><th>file</th><th>data rows</th><th>bytes</th><th>SHA-256 (first 16)</th></tr>"
        f"{files_rows}</table></section>"
    )
    parts.append('<section id="versions"><h2>Package versions</h2>')
    parts.append(_kv_table(sorted((run.get("versions") or {}).items())))
    parts.append("</section></body></html>\n")
    return "\n".join(parts)


def write_index(out: str | Path, notebooks: list[str], run: dict, results: dict,
                manifest: Manifest | None = None) -> Path:
    """Write ``out/index.html`` atomically (a new temporary file, then a rename; on an error
    such as a full disk the temporary file is removed, the previous index stays and the
    ``OSError`` is raised) and return its path. With ``manifest`` (the output folder's
    :class:`~analysis.render.folders.Manifest`) the index is recorded as render's own.

    ``notebooks`` are the report names in display order; ``run`` holds ``date``,
    ``parameters``, ``data`` (display name), ``fingerprint`` (from
    :func:`analysis.render.folders.data_fingerprint` with rows), ``versions`` and ``show_code``;
    ``results`` maps a name to ``{"state": done|skipped|failed|not_run, ...failure details}``;
    ``run["validation"]``, when the data folder's validation stopped the run before any
    notebook (state ``not_run``), is ``{"count": N, "problems": [file:row:column: message, ...]}``.
    """
    out = Path(out)
    path = out / "index.html"
    write_text_atomic(path, index_html(out, notebooks, run, results), manifest)
    return path
