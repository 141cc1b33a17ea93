"""Notebook parameters: read from ``-p key=value``, matched to the notebooks that declare
them, and checked against each notebook's declaration before any kernel starts.

* :func:`parse_parameters` reads ``-p`` values as YAML scalars or lists.
* :func:`declared_parameters` lists the names assigned in a notebook's ``parameters`` cell
  (what papermill overrides); :func:`assign_parameters` gives each notebook the values it
  declares, and refuses a name no selected notebook declares.
* :func:`check_parameters` checks each value against the notebook's **declaration**, one per
  notebook, in its metadata::

      "metadata": {"analysis": {"parameters": {
          "time_unit": {"type": "str", "allowed": ["days", "weeks", "months", "years"]},
          "landmarks": {"type": "list[float]", "min": 0},
          "group_by":  {"type": ["str", "list[str]"], "allowed": ["therapy", "disease"], "nullable": true},
          ...}}}

  Keys of a parameter's declaration (:data:`SPEC_KEYS`): ``type`` (required) is one of
  :data:`TYPES` or a list of them (any may match; ``float`` accepts whole numbers, ``int``
  accepts ``3.0`` and passes ``3``); ``allowed`` lists the values a text or number (or each
  item of a list) may take; ``nullable`` (default false) accepts ``null``/``None``; ``min`` /
  ``max`` are inclusive bounds and ``exclusive_min`` / ``exclusive_max`` exclusive ones (of a
  number, or of each item of a list of numbers); ``pattern`` is a regular expression every
  text (or item) must match in full, described to the user by ``form``; ``doc`` is free text.
  ``data_dir`` and ``output_dir`` are set by the command and are not declared. A test checks
  that every project notebook declares exactly the names of its parameters cell and that
  its defaults pass.

  A value that does not fit stops the run with exit code 2 and one line per problem, e.g.
  ``02_relapse_free_survival.ipynb: parameter time_unit: expected one of days, weeks,
  months, years, found 'decades' (default: 'months', a str)``.

Standard library only, except ``yaml`` (imported when ``-p`` is used).
"""

from __future__ import annotations

import ast
import datetime as _dt
import json
import math
import re
from pathlib import Path

from analysis.render.folders import RenderError, _notebook_meta

RESERVED_PARAMETERS = ("data_dir", "output_dir")
SCALAR_TYPES = ("str", "int", "float", "bool")
TYPES = SCALAR_TYPES + tuple(f"list[{t}]" for t in SCALAR_TYPES)
"""Type names a declaration may use."""
SPEC_KEYS = ("type", "allowed", "nullable", "min", "max", "exclusive_min", "exclusive_max", "pattern", "form",
             "doc")


# --------------------------------------------------------------------------- -p KEY=VALUE


def parse_parameters(pairs: list[str]) -> dict:
    """``["key=value", ...]`` -> ``{key: value}``; values read with ``yaml.safe_load``.

    Only scalars (str, int, float, bool, null) and lists of them are accepted; YAML dates
    become ISO strings; text that is not valid YAML (say ``O'Brien "quoted"``) is taken
    as it is. Raises :class:`RenderError` for anything else, including a malformed list.
    """
    if not pairs:  # the usual render: no yaml import (~40 ms of an unchanged re-render)
        return {}
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
                raise RenderError(f"parameter {key}: cannot read the list {text!r}: "
                                  f"{' '.join(str(exc).split())}") from None
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


# --------------------------------------------------------------------------- the parameters cell


def _parameters_cell(notebook: Path) -> tuple[list[str], dict]:
    """Names assigned in the cell tagged ``parameters`` and the literal default of each
    (names whose value is not a literal are left out of the defaults)."""
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RenderError(f"{notebook}: not a readable notebook ({exc})") from None
    names: list[str] = []
    defaults: dict = {}
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
                if isinstance(target, ast.Name):
                    if target.id not in names:
                        names.append(target.id)
                    try:
                        defaults[target.id] = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError, AttributeError):
                        defaults.pop(target.id, None)
        break
    return names, defaults


def declared_parameters(notebook: Path) -> list[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (what papermill overrides).

    Same answer as ``papermill.inspect_notebook`` for plain ``name = value`` lines, without
    importing papermill (which costs about a second; a re-render that skips everything
    must stay fast).
    """
    return _parameters_cell(notebook)[0]


def parameter_defaults(notebook: Path) -> dict:
    """The literal default of each parameter of the notebook's ``parameters`` cell."""
    return _parameters_cell(notebook)[1]


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


# --------------------------------------------------------------------------- declarations


def parameter_declaration(notebook: Path) -> dict | None:
    """The notebook's ``metadata.analysis.parameters`` (name -> spec), or None when it has
    none. A malformed declaration raises :class:`RenderError` naming what is wrong."""
    decl = _notebook_meta(notebook).get("parameters")
    if decl is None:
        return None
    where = f"{notebook.name}: metadata.analysis.parameters"
    if not isinstance(decl, dict):
        raise RenderError(f"{where}: expected an object of name -> declaration, found {type(decl).__name__}")
    for name, spec in decl.items():
        if not isinstance(spec, dict):
            raise RenderError(f"{where}.{name}: expected an object with a 'type', found {spec!r}")
        unknown = [k for k in spec if k not in SPEC_KEYS]
        if unknown:
            raise RenderError(f"{where}.{name}: unknown key(s) {', '.join(map(repr, unknown))}; "
                              f"expected keys among {', '.join(SPEC_KEYS)}")
        bad = [t for t in _types(spec) if t not in TYPES] or ([] if _types(spec) else ["(none)"])
        if bad:
            raise RenderError(f"{where}.{name}: type {', '.join(map(str, bad))} is not one of {', '.join(TYPES)}")
        if "allowed" in spec and not isinstance(spec["allowed"], list):
            raise RenderError(f"{where}.{name}: 'allowed' must be a list")
        if "pattern" in spec:
            try:
                re.compile(spec["pattern"])
            except (re.error, TypeError) as exc:
                raise RenderError(f"{where}.{name}: 'pattern' is not a regular expression ({exc})") from None
    return decl


def _types(spec: dict) -> list:
    kinds = spec.get("type")
    return list(kinds) if isinstance(kinds, list) else ([kinds] if kinds is not None else [])


def check_value(spec: dict, value):
    """``(True, value)`` with ``value`` as the notebook receives it (``3.0`` for an ``int``
    becomes ``3``) if it fits ``spec``, else ``(False, None)``."""
    if value is None:
        return bool(spec.get("nullable")), None
    for kind in _types(spec):
        if kind.startswith("list["):
            if isinstance(value, list):
                items = [_scalar(spec, kind[5:-1], v) for v in value]
                if all(ok for ok, _ in items):
                    return True, [v for _, v in items]
        else:
            ok, fitted = _scalar(spec, kind, value)
            if ok:
                return True, fitted
    return False, None


def _scalar(spec: dict, kind: str, value):
    if kind == "bool":
        return isinstance(value, bool), value
    if kind == "str":
        ok = isinstance(value, str)
        if ok and "pattern" in spec:
            ok = re.fullmatch(spec["pattern"], value) is not None
    elif kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False, None
        if kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    return False, None
                value = int(value)
        ok = math.isfinite(value) and _in_bounds(spec, value)
    else:
        return False, None
    if ok and "allowed" in spec:
        ok = value in spec["allowed"]
    return ok, value


def _in_bounds(spec: dict, x) -> bool:
    return (("min" not in spec or x >= spec["min"]) and ("max" not in spec or x <= spec["max"])
            and ("exclusive_min" not in spec or x > spec["exclusive_min"])
            and ("exclusive_max" not in spec or x < spec["exclusive_max"]))


_WORDS = {"str": ("text", "texts"), "int": ("a whole number", "whole numbers"),
          "float": ("a number", "numbers"), "bool": ("true or false", "true/false values")}


def expectation(spec: dict) -> str:
    """What ``spec`` accepts, in words: ``one of REML, DL, PM``, ``a list of numbers >= 0``."""
    allowed = spec.get("allowed")
    bounds = " and ".join(f"{op} {_num(spec[key])}" for key, op in
                          (("min", ">="), ("exclusive_min", ">"), ("max", "<="), ("exclusive_max", "<"))
                          if key in spec)
    form = f" written {spec['form']}" if spec.get("form") else ""
    parts = []
    kinds = _types(spec)
    for kind in kinds:
        is_list = kind.startswith("list[")
        base = kind[5:-1] if is_list else kind
        if is_list and base in kinds and allowed:
            parts.append("a list of them")
            continue
        if allowed and base != "bool":
            text = f"one of {', '.join(map(str, allowed))}"
            parts.append(f"a list of values among {', '.join(map(str, allowed))}" if is_list else text)
            continue
        one, many = _WORDS[base]
        extra = (f" {bounds}" if bounds and base in ("int", "float") else "") + (form if base == "str" else "")
        parts.append(f"a list of {many}{extra}" if is_list else f"{one}{extra}")
    if spec.get("nullable"):
        parts.append("null")
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + (", or " if len(parts) > 2 or "," in parts[0] else " or ") + parts[-1]


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _shown(value) -> str:
    text = repr(value)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= 80 else text[:77] + "..."


_TYPE_NAMES = {str: "str", int: "int", float: "float", bool: "bool", list: "list", dict: "dict", type(None): "null"}


def check_parameters(notebooks: list[Path], per_notebook: dict[str, dict]) -> dict[str, dict]:
    """Check every value of ``per_notebook`` (stem -> ``{name: value}``, from
    :func:`assign_parameters`) against its notebook's declaration; return the values as the
    notebooks receive them. Raises :class:`RenderError` (exit 2) with one line per problem,
    each naming the notebook, the parameter, what is accepted, the value found and the
    default with its type. A notebook without a declaration is not checked; a declaration
    that lacks a parameter of the notebook's parameters cell is a problem."""
    problems: list[str] = []
    checked: dict[str, dict] = {}
    for nb in notebooks:
        values = per_notebook.get(nb.stem, {})
        checked[nb.stem] = dict(values)
        if not values:
            continue
        decl = parameter_declaration(nb)
        if decl is None:
            continue
        defaults = parameter_defaults(nb)
        for name, value in values.items():
            spec = decl.get(name)
            if spec is None:
                problems.append(f"{nb.name}: parameter {name} is in the parameters cell but not declared in the "
                                "notebook's metadata (analysis.parameters); declare its type there")
                continue
            ok, fitted = check_value(spec, value)
            if ok:
                checked[nb.stem][name] = fitted
                continue
            default = ""
            if name in defaults:
                d = defaults[name]
                kind = _TYPE_NAMES.get(type(d), type(d).__name__)
                default = f" (default: {_shown(d)})" if d is None else \
                    f" (default: {_shown(d)}, {'an' if kind[0] in 'aeiou' else 'a'} {kind})"
            hint = ""
            if "allowed" not in spec and any(t in ("str", "list[str]") for t in _types(spec)) and not any(
                    t in ("int", "float", "bool", "list[int]", "list[float]", "list[bool]") for t in _types(spec)) \
                    and (isinstance(value, (int, float, bool))
                         or (isinstance(value, list) and any(isinstance(v, (int, float, bool)) for v in value))):
                hint = "; put text that reads as a number or true/false in quotes, e.g. -p \"key='007'\""
            problems.append(f"{nb.name}: parameter {name}: expected {expectation(spec)}, found {_shown(value)}"
                            f"{default}{hint}")
    if problems:
        raise RenderError("\nerror: ".join(problems))
    return checked
