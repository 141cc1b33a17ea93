"""The shape of the house: imports run one way (no cycle between the package's rooms, none
inside a room), no file a newcomer has to scroll through, one time-unit table, and no notebook
importing the report runner."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "analysis"
MAX_LINES = 800


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every ``analysis...`` module a file imports, at any depth (function-level too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("analysis"):
            out.add(node.module)
            for alias in node.names:  # from analysis import rates
                out.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("analysis"))
    return out


def _graph(level) -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        src = level(name)
        for imp in _imports(path):
            while imp not in modules and "." in imp:  # "analysis.rates.study_rates" -> the module
                imp = imp.rsplit(".", 1)[0]
            dst = level(imp)
            if imp in modules and dst != src:
                graph.setdefault(src, set()).add(dst)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(n, path):
        state[n] = 1
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return path + [n, m]
            if not state.get(m):
                found = visit(m, path + [n])
                if found:
                    return found
        state[n] = 2
        return None

    for n in sorted(graph):
        if not state.get(n):
            found = visit(n, [])
            if found:
                return found
    return None


def test_no_import_cycle_between_rooms():
    """``analysis.rates`` and ``analysis.survival`` are rooms: a cycle between any two rooms
    (or modules) means two concerns leak into each other."""
    graph = _graph(lambda name: ".".join(name.split(".")[:2]))
    graph = {k: {v for v in vs if v != "analysis"} for k, vs in graph.items() if k != "analysis"}
    assert _cycle(graph) is None, _cycle(graph)


def test_no_import_cycle_inside_a_room():
    graph = _graph(lambda name: name)
    # a package's __init__ re-exports its modules; the modules must not import it back
    graph = {k: vs for k, vs in graph.items()}
    assert _cycle(graph) is None, _cycle(graph)


def test_no_file_a_newcomer_has_to_scroll_through():
    long = {str(p.relative_to(ROOT)): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_one_time_unit_table():
    """Days per unit are written once, in analysis.timing."""
    pattern = re.compile(r"365\.25\s*/\s*12|30\.4375")
    hits = [str(p.relative_to(ROOT)) for p in list(SRC.rglob("*.py")) + list((ROOT / "notebooks").glob("*.ipynb"))
            if p.name != "timing.py" and pattern.search(re.sub(r'""".*?"""|#[^\n]*', "", p.read_text(encoding="utf-8"),
                                                                 flags=re.S))]
    assert hits == []


def test_no_notebook_imports_the_report_runner():
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        code = "".join("".join(c["source"]) for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]
                       if c["cell_type"] == "code")
        assert "analysis.render" not in code and "from analysis import render" not in code, nb.name
