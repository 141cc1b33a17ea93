"""What a report shows: machine paths scrubbed, the notebook turned into safe HTML.

* **Path scrubbing.** :func:`path_replacements` lists ``(absolute path, replacement)``
  pairs, longest first: the folder being rendered becomes ``.``, the data, notebook and
  output folders become paths relative to the report folder, and the Python environment
  (``<python>``), the ``analysis`` package (``<analysis>``), the working directory
  (``<cwd>``), the temporary folder (``<tmp>``) and the home folder (``~``) become
  placeholders. :func:`scrub` applies them to every string of a JSON-like object (the
  executed notebook, error messages); a path is replaced only when it ends at a path
  boundary.
* **HTML.** :func:`notebook_to_html` converts an executed notebook with nbconvert's ``lab``
  template into one self-contained file (images embedded, no external script). Markdown
  made by code has its raw HTML escaped (:func:`markdown_output_to_html`); all HTML is then
  sanitised against an allowlist (:func:`clean_html`). Escaping data strings *before* they
  reach Markdown is :func:`analysis.export.escape_markdown`.

nbconvert, bleach and jinja2 are imported inside the functions that use them (about a
second of imports), so a render that skips every notebook stays fast.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
from pathlib import Path

from analysis.render.folders import ANALYSIS_DIR


def _fast_nbformat_import() -> None:
    """Skip jsonschema's optional ``rfc3987_syntax`` import, which builds an Earley parser.

    nbformat imports jsonschema, whose format checkers import ``rfc3987_syntax`` if it is
    installed; that costs ~1.6 s per process and is only used to check IRI formats, which
    notebook validation never does.
    """
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]


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
        (ANALYSIS_DIR, "<analysis>"),
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
