"""The project's shape: two commands, environments in step, docs generated from code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from analysis import schemas

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_and_pyproject_name_the_same_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]} | {_name(r) for r in project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = set(), set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip |= {_name(r) for r in dep["pip"]}
        else:
            conda.add(_name(dep))
    conda -= {"python", "pip"}
    assert conda | pip == wanted
    assert not conda & pip


def test_ci_runs_exactly_the_readme_test_command():
    ci = [l for l in (ROOT / ".ci/run").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert ci[-1] == "make test"
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make reports" in readme


def test_data_readme_dictionary_matches_the_schemas():
    text = (ROOT / "data" / "README.md").read_text()
    assert schemas.generated_section(text) == schemas.data_dictionary_markdown().strip(), (
        "data/README.md is out of date: run `python -m analysis data-dictionary --update data/README.md`"
    )


def test_shipped_templates_match_the_schemas():
    for data_file in schemas.FILES.values():
        path = ROOT / "data" / "templates" / f"{data_file.name}.csv"
        assert path.read_text() == schemas.template_csv(data_file)


def test_notebooks_are_stored_without_outputs():
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell.get("outputs") == [] and cell.get("execution_count") is None, nb_path.name
        params = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(params) == 1, f"{nb_path.name}: one cell tagged 'parameters'"
        src = "".join(params[0]["source"])
        assert "data_dir" in src and "output_dir" in src, nb_path.name


def test_reports_folder_holds_only_its_readme_in_git():
    tracked = subprocess.run(["git", "ls-files", "reports"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert tracked == ["reports/README.md"]


def test_import_analysis_is_light():
    code = "import sys, analysis, analysis.cli; print(sorted(m for m in ('matplotlib','lifelines','statsmodels','pandera','papermill') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
