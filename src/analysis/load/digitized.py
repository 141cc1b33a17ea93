"""Import digitised Kaplan-Meier curves into ``km_curves/points.csv`` (and ``at_risk.csv``).

``import_km`` reads one file (format detected by content) with a report of every change;
``write_points`` adds the rows to a data folder; ``main`` is ``python -m analysis import-km``.
Formats (checked against their sources):

* WebPlotDigitizer "all data" CSV: row 1 dataset names (name, empty cell), row 2 ``X,Y,X,Y``,
  then values, empty cells below shorter datasets (github.com/automeris-io/WebPlotDigitizer,
  javascript/services/dataExport.js ``generateCSV``, 2025-08).
* WebPlotDigitizer JSON (``wpd.json``; ``<project>/wpd.json`` in a saved ``.tar``: saveResume.js).
  Version 4 (app/javascript/core/plotData.js ``serialize``): ``{"version": [4, 2], "axesColl":
  [{"name", "type": "XYAxes"}], "datasetColl": [{"name", "axesName", "data": [{"x", "y",
  "value": [X, Y]}]}]}``. Version 3 (saveResume.js ``generateJSON`` before commit 1d902ebb):
  ``{"wpd": {"version": [3, 8], "axesType", "dataSeries": [{"name", "data": [{"x", "y",
  "value"}]}]}}`` -- ``dataSeries`` under ``wpd``, not ``datasetColl``. x, y are pixels.
* Two columns (time, survival) separated by , ; tab or spaces, header optional.
* Guyot et al. 2012's pair as survHE ships it (github.com/giabaio/survHE R/digitise.R,
  inst/extdata): ``survival.txt`` tab-separated, header, then row number, time, survival;
  ``nrisk.txt``: ``Interval time lower upper nrisk`` (Guyot's ``trisk``; lower/upper are
  1-based rows of survival.txt, only checked here: :mod:`analysis.survival.reconstruct` finds them).

Survival above 1 + ``PERCENT_TOLERANCE`` anywhere in a file means percent. Per curve, points
non-numeric, at negative times, outside 0-1 or duplicated are dropped; the rest sorted by time
(high to low survival at one time), lowered to the point before when above it; (0, 1) added.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import sys
import tarfile
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import pandas as pd

from analysis.schemas import KM_AT_RISK, KM_POINTS, TIME_UNITS

POINTS_COLUMNS = [c.name for c in KM_POINTS.columns if c.in_header]  # optional disease, therapy, outcome_id left out
AT_RISK_COLUMNS = [c.name for c in KM_AT_RISK.columns if c.in_header]
PERCENT_TOLERANCE = 0.05
MAX_BYTES = 10 * 2**20
EXPECTED = ("expected digitised points (WebPlotDigitizer CSV or JSON project, two columns "
            "time and survival, or Guyot's survival.txt)")


class ImportKMError(ValueError):
    """Bad input; ``str(exc)`` is ``FILE: message``."""
    def __init__(self, file, message: str):
        self.file, self.message = str(file), message
        super().__init__(f"{file}: {message}")


@dataclass
class ImportResult:
    points: pd.DataFrame  # POINTS_COLUMNS
    at_risk: pd.DataFrame | None  # AT_RISK_COLUMNS
    report: list[str]
    format: str = ""


def _num(x) -> float | None:
    if isinstance(x, str):
        x = x.strip()
        x = x.replace(",", ".") if re.fullmatch(r"[-+]?\d+,\d+", x) else x  # a decimal comma
        try:
            x = float(x)
        except ValueError:
            return None
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _shown(cell) -> str:
    s = "".join(c if c.isprintable() else "?" for c in str(cell))
    return repr(s if len(s) <= 40 else s[:37] + "...")


def _read_bytes(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ImportKMError(path, f"{EXPECTED}, found a file of {path.stat().st_size / 2**20:.0f} MB")
        return path.read_bytes()
    except OSError as exc:
        raise ImportKMError(path, f"expected a readable file, could not read it ({exc.strerror or exc})") from None


def _text(path: Path, raw: bytes) -> str:
    if raw.startswith(b"PK\x03\x04"):
        raise ImportKMError(path, f"{EXPECTED}, found a zip file (an .xlsx workbook?); save it as CSV")
    enc = "utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else None if b"\x00" in raw else "utf-8-sig"
    try:
        if enc:
            return raw.decode(enc)
    except UnicodeDecodeError:
        pass
    raise ImportKMError(path, f"{EXPECTED}, found binary data (not text)")


def _rows(path: Path, text: str) -> list[list[str]]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    head = lines[:5]
    delim = ("\t" if any("\t" in ln for ln in head) else ";" if all(";" in ln for ln in head)
             else "," if any("," in ln for ln in head) else None)
    if delim is None:
        return [ln.split() for ln in lines]
    try:
        rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=delim)]
    except csv.Error as exc:  # a cell beyond csv's field size limit
        raise ImportKMError(path, f"{EXPECTED}, found text that is not a table ({exc})") from None
    # without empty trailing cells (R's "nrisk \t", spreadsheet leftovers)
    return [r[:max((i + 1 for i, c in enumerate(r) if c), default=0)] for r in rows]


def _body(rows: list[list[str]]) -> list[list[str]]:  # without the header (a first row with no number)
    return rows[1:] if rows and not any(_num(c) is not None for c in rows[0]) else rows


def _wpd_json(path: Path, obj) -> tuple[str, list]:
    def bad(found):
        return ImportKMError(path, f"expected a WebPlotDigitizer JSON project (version 3 or 4), found {found}")
    if not isinstance(obj, dict):
        raise bad(f"JSON {type(obj).__name__}")
    v3 = isinstance(obj.get("wpd"), dict)
    obj, key = (obj["wpd"], "dataSeries") if v3 else (obj, "datasetColl")
    sets = obj.get(key)
    coll = obj.get("axesColl") if isinstance(obj.get("axesColl"), list) else []
    axes = {None: obj.get("axesType")} if v3 else {str(a.get("name")): a.get("type") for a in coll if isinstance(a, dict)}
    version = obj.get("version")
    if not (isinstance(version, list) and version and version[0] in (3, 4)):
        raise bad(f"version {_shown(version)[1:-1]}" if version is not None else "JSON without a 'version'")
    if (version[0] == 3) != v3 or not isinstance(sets, list) or not sets:
        raise bad(f"version {version[0]} without datasets ({'wpd.dataSeries' if version[0] == 3 else 'datasetColl'})")
    curves = []
    for ds in sets:
        ds = ds if isinstance(ds, dict) else {}
        name, data = ds.get("name"), ds.get("data")
        kind = axes.get(None if v3 else str(ds.get("axesName")))
        if not isinstance(data, list):
            raise bad(f"dataset {_shown(name)} without a 'data' list")
        if kind != "XYAxes":
            where = kind if isinstance(kind, str) and kind else "no calibrated axes"
            raise ImportKMError(path, f"expected datasets on XY axes, found dataset {_shown(name)} on {where}; "
                                "calibrate the X and Y axes in WebPlotDigitizer")
        pairs = [tuple(p["value"][:2]) if isinstance(p, dict) and isinstance(p.get("value"), list)
                 and len(p["value"]) >= 2 else (None, None) for p in data]
        curves.append((name, pairs))
    return f"a WebPlotDigitizer JSON project (version {'.'.join(map(str, version))})", curves


def _wpd_csv(path: Path, rows) -> tuple[str, list]:
    names, k = rows[0], len(rows[1]) // 2
    stray = next((i for i, c in enumerate(names) if c and (i % 2 or i >= 2 * k)), None)
    if stray is not None:  # WebPlotDigitizer does not quote names
        raise ImportKMError(path, f"expected each dataset name over its pair of columns X,Y, found "
                            f"{_shown(names[stray])} in column {stray + 1} (a comma inside a dataset name?)")
    curves = []
    for i in range(k):
        pairs = [(r[2 * i] if len(r) > 2 * i else "", r[2 * i + 1] if len(r) > 2 * i + 1 else "") for r in rows[2:]]
        curves.append((names[2 * i] if len(names) > 2 * i else "", [p for p in pairs if p != ("", "")]))
    return "a WebPlotDigitizer CSV export (all data)", curves


def _table(path: Path, rows, group) -> tuple[str, list, int]:
    """Two columns, or Guyot's survival.txt: (format, curves, rows of survival.txt or None)."""
    if rows and len(rows[0]) == 5 and rows[0][0].lower() == "interval":
        raise ImportKMError(path, f"{EXPECTED}, found Guyot's nrisk.txt (numbers at risk); give it with "
                            "--nrisk beside its survival.txt")
    data = _body(rows)
    widths = [len(r) for r in data]
    width = max(set(widths), key=widths.count) if data else 0  # the most common
    note = "" if group else f"; curve named {_shown(path.stem)} after the file (--group to rename)"
    if width == 3 and [_num(r[0]) if r else None for r in data] == list(range(1, len(data) + 1)):
        pairs = [r[1:] if len(r) == 3 else (None, None) for r in data]
        return f"Guyot's survival.txt (row, time, survival){note}", [(group or path.stem, pairs)], len(data)
    if width != 2:
        found = "no data rows" if not data else "one column" if width == 1 else f"{width} columns"
        raise ImportKMError(path, f"expected two columns (time, survival), found {found}")
    pairs = [r if len(r) == 2 else (None, None) for r in data]
    return f"two columns (time, survival){note}", [(group or path.stem, pairs)], None


def _nrisk(path: Path, n_rows: int | None) -> list[tuple[float, int]]:
    rows = _rows(path, _text(path, _read_bytes(path)))
    data = _body(rows)
    if not data or {len(r) for r in data} - {2, 5}:
        found = "no rows" if not data else f"{max(len(r) for r in data)} columns"
        raise ImportKMError(path, "expected numbers at risk: Guyot's nrisk.txt (Interval, time, lower, upper, "
                            f"nrisk) or two columns (time, number at risk), found {found}")
    out = []
    for line, r in enumerate(data, 1 + len(rows) - len(data)):
        t, n = _num(r[-4 if len(r) == 5 else 0]), _num(r[-1])
        if t is None or t < 0 or n is None or n < 0 or n != int(n):
            raise ImportKMError(path, f"row {line}: expected a time >= 0 and a whole number at risk, found "
                                f"{_shown(r[-4 if len(r) == 5 else 0])} and {_shown(r[-1])}")
        if len(r) == 5 and n_rows is not None:
            lo, hi = _num(r[2]), _num(r[3])
            if lo is None or hi is None or not 0 <= lo <= hi <= n_rows:
                raise ImportKMError(path, f"row {line}: expected lower <= upper among the {n_rows} rows of the "
                                    f"points, found lower {_shown(r[2])}, upper {_shown(r[3])}")
        if out and (t <= out[-1][0] or n > out[-1][1]):
            raise ImportKMError(path, f"row {line}: expected times that increase and numbers at risk that do not, "
                                f"found {n:g} at time {t:g} after {out[-1][1]} at time {out[-1][0]:g}")
        out.append((t, int(n)))
    if out[0][0] != 0:
        raise ImportKMError(path, f"expected the first number at risk at time 0, found time {out[0][0]:g}")
    return out


def _clean(path: Path, name: str, pairs: list, percent: bool) -> tuple[list, str]:
    drops = {"non-numeric": 0, "negative time": 0, "survival outside 0-1": 0, "duplicate": 0}
    pts, seen = [], set()
    for t, s in pairs:
        t, s = _num(t), _num(s)
        s = None if s is None else round(s / 100, 12) if percent else s
        key = "non-numeric" if t is None or s is None else "negative time" if t < 0 else \
            "survival outside 0-1" if not 0 <= s <= 1 else "duplicate" if (t, s) in seen else None
        if key:
            drops[key] += 1
            continue
        seen.add((t, s))
        pts.append((t, s))
    if not pts:
        raise ImportKMError(path, f"expected numbers (time, survival), found no usable point in curve {_shown(name)} "
                            f"({len(pairs)} read: " + ", ".join(f"{v} {k}" for k, v in drops.items()) + ")")
    moved = sum(t < latest for (t, _), latest in zip(pts[1:], accumulate((p[0] for p in pts), max)))
    pts.sort(key=lambda p: (p[0], -p[1]))
    lowered, low = 0, 1.0
    for i, (t, s) in enumerate(pts):
        if s > low:
            pts[i], lowered = (t, low), lowered + 1
        low = min(low, pts[i][1])
    kept = len(pts)
    if pts[0][0] > 0:
        pts.insert(0, (0.0, 1.0))
    return pts, (f"Curve {_shown(name)}: {len(pairs)} points read, {sum(drops.values())} dropped ("
                 + ", ".join(f"{v} {k}" for k, v in drops.items()) + f"), {moved} out of time order (sorted by "
                 f"time), {lowered} above the point before (lowered to it), {kept} kept"
                 + (", start point (0, 1) added." if len(pts) > kept else "."))


def import_km(path, study: str, time_unit: str = "months", group: str | None = None, nrisk=None) -> ImportResult:
    """Read a digitised curve file (format detected by content; see the module docstring).
    ``group`` names the curve of a two-column or Guyot file (default: the file's stem) and
    selects one curve of a WebPlotDigitizer file; ``nrisk``: Guyot's nrisk.txt (or two
    columns time, number at risk) for the one curve. Raises :class:`ImportKMError`.
    """
    path = Path(path)
    study = str(study or "").strip()
    if not study:
        raise ImportKMError(path, "expected a study id (a sources row), found an empty one")
    if time_unit not in TIME_UNITS:
        raise ImportKMError(path, f"expected a time unit among {', '.join(TIME_UNITS)}, found {_shown(time_unit)}")
    raw = _read_bytes(path)
    if len(raw) > 262 and raw[257:262] == b"ustar":
        try:
            with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                member = next((m for m in tar.getmembers() if m.isfile() and m.name.split("/")[-1] == "wpd.json"), None)
                if member is None:
                    raise ImportKMError(path, "expected a WebPlotDigitizer .tar project holding wpd.json, found none")
                raw = tar.extractfile(member).read()
        except (tarfile.TarError, OSError) as exc:
            raise ImportKMError(path, f"expected a readable tar archive, found a damaged one ({exc})") from None
    text = _text(path, raw)
    if not text.strip():
        raise ImportKMError(path, f"{EXPECTED}, found an empty file")
    n_rows = None
    if text.lstrip()[:1] in "{[":
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ImportKMError(path, f"expected a WebPlotDigitizer JSON project, found invalid JSON ({exc})") from None
        fmt, curves = _wpd_json(path, obj)
    else:
        rows = _rows(path, text)
        xy = [c.upper() for c in rows[1]] if len(rows) > 1 else []
        if xy and xy == ["X", "Y"] * (len(xy) // 2):
            fmt, curves = _wpd_csv(path, rows)
        else:
            fmt, curves, n_rows = _table(path, rows, group)
    names = [str(n).strip() if isinstance(n, (str, int, float)) else "" for n, _ in curves]
    odd = next((n for n in names if not n or names.count(n) > 1), None)
    if odd is not None:
        raise ImportKMError(path, "expected a distinct name for every dataset, found "
                            + (f"{_shown(odd)} twice" if odd else f"dataset {names.index('') + 1} unnamed"))
    if fmt.startswith("a WebPlotDigitizer") and group is not None:
        if group not in names:
            raise ImportKMError(path, f"expected a curve named {_shown(group)}, found {', '.join(map(_shown, names))}")
        curves, names = [curves[names.index(group)]], [group]
    top = max((v for _, pairs in curves for _, s in pairs if (v := _num(s)) is not None), default=0.0)
    percent = top > 1 + PERCENT_TOLERANCE
    report = [f"{path.name}: read as {fmt}.",
              f"Survival read in percent (largest value {top:g}): divided by 100." if percent
              else "Survival read as proportions (0-1)."]
    frames = []
    for name, (_, pairs) in zip(names, curves):
        pts, line = _clean(path, name, pairs, percent)
        report.append(line)
        frames.append(pd.DataFrame({"study": study, "group": name, "time": [p[0] for p in pts],
                                    "time_unit": time_unit, "survival": [p[1] for p in pts]}))
    points = pd.concat(frames, ignore_index=True)[POINTS_COLUMNS]
    at_risk = None
    if nrisk is not None:
        if len(names) > 1:
            raise ImportKMError(path, f"expected one curve for the numbers at risk of {Path(nrisk).name}, found "
                                f"{len(names)} ({', '.join(map(_shown, names))}); choose one with --group")
        counts = _nrisk(Path(nrisk), n_rows)
        at_risk = pd.DataFrame({"study": study, "group": names[0], "time": [c[0] for c in counts],
                                "time_unit": time_unit, "n_at_risk": [c[1] for c in counts],
                                "total_events": pd.array([pd.NA] * len(counts), dtype="Int64")})[AT_RISK_COLUMNS]
        report.append(f"Numbers at risk of curve {_shown(names[0])}: {len(counts)} read from {Path(nrisk).name} "
                      f"(times {counts[0][0]:g} to {counts[-1][0]:g}).")
    return ImportResult(points, at_risk, report, fmt)


def write_points(result: ImportResult, folder, replace: bool = False) -> list[str]:
    """Add the result's rows to ``folder/km_curves/points.csv`` (and ``at_risk.csv``), creating
    them if needed. Rows of the same study and group already there are an error unless
    ``replace`` (then they are replaced). Returns one line per file written."""
    plan = []
    tables = [(d, f) for d, f in ((result.points, KM_POINTS), (result.at_risk, KM_AT_RISK)) if d is not None]
    for df, data_file in tables:
        path = Path(folder) / data_file.path
        if path.with_suffix(".xlsx").exists():
            raise ImportKMError(path.with_suffix(".xlsx"), "expected km_curves/*.csv to add rows to, found a "
                                "workbook; save it as CSV (or add the rows by hand)")
        required = [c.name for c in data_file.columns if c.in_header]
        header, old, delim = required, [], ","
        if path.exists():
            try:
                text = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise ImportKMError(path, f"expected a readable UTF-8 CSV file, could not read it ({exc})") from None
            first = text.split("\n", 1)[0]
            delim = ";" if first.count(";") > first.count(",") else ","
            rows = [r for r in csv.reader(io.StringIO(text), delimiter=delim) if any(c.strip() for c in r)]
            if rows:
                header = [c.strip() for c in rows[0]]
                old = [r + [""] * (len(header) - len(r)) for r in rows[1:]]
                if not set(required) <= set(header) <= set(data_file.column_names) or len(set(header)) < len(header):
                    raise ImportKMError(path, f"expected the columns {', '.join(required)}, found "
                                        f"{', '.join(header)}")
        i_s, i_g = header.index("study"), header.index("group")
        curves = set(zip(df["study"].astype(str), df["group"].astype(str)))
        clash = [(r[i_s].strip(), r[i_g].strip()) in curves for r in old]
        if any(clash) and not replace:
            s, g = next((r[i_s].strip(), r[i_g].strip()) for r, c in zip(old, clash) if c)
            n = sum((r[i_s].strip(), r[i_g].strip()) == (s, g) for r in old)
            raise ImportKMError(path, f"already holds {n} rows of study {_shown(s)}, group {_shown(g)}; "
                                "pass replace=True (--replace) to replace them")
        keep = [r for r, c in zip(old, clash) if not c]
        new = [["" if pd.isna(rec.get(c)) else str(rec[c]) for c in header] for rec in df.to_dict("records")]
        plan.append((path, header, delim, keep + new, len(new), sum(clash)))
    lines = []
    for path, header, delim, rows, n_new, n_old in plan:
        tmp = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("w", newline="", encoding="utf-8") as f:
                csv.writer(f, delimiter=delim, lineterminator="\n").writerows([header] + rows)
            os.replace(tmp, path)
        except OSError as exc:
            raise ImportKMError(path, f"expected a writable file, could not write it ({exc.strerror or exc})") from None
        lines.append(f"{path}: {n_new} rows written" + (f" (replacing {n_old})" if n_old else "") + ".")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m analysis import-km``: print the report and the rows written; 0, or 2 on bad input."""
    p = argparse.ArgumentParser(prog="python -m analysis import-km", description="Import a digitised KM curve.")
    p.add_argument("file")
    p.add_argument("--study", required=True, help="source id of the publication (a sources row)")
    p.add_argument("--group", help="curve name (two-column / Guyot files) or the curve to take (WebPlotDigitizer)")
    p.add_argument("--time-unit", default="months", choices=TIME_UNITS)
    p.add_argument("--nrisk", metavar="FILE", help="numbers at risk: Guyot's nrisk.txt or two columns")
    p.add_argument("--data", metavar="DIR", help="data folder to add the rows to (without it: print them)")
    p.add_argument("--replace", action="store_true", help="replace rows of the same study and group")
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        result = import_km(args.file, args.study, args.time_unit, args.group, args.nrisk)
        print("\n".join(result.report))
        if args.data:
            print("\n".join(write_points(result, args.data, replace=args.replace)))
        else:
            print("".join(df.to_csv(index=False, lineterminator="\n") for df in (result.points, result.at_risk)
                          if df is not None), end="")
            print("Nothing written; pass --data DIR to add these rows to DIR/km_curves/.")
    except ImportKMError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0
