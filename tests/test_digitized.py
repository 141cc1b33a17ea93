"""Tests of analysis.load.digitized: importers of digitised Kaplan-Meier curves.

Every curve here is synthetic test data. Known points are written in each format, imported
and compared (values, curve names, order); the cleaning counts, percent detection and every
error message are asserted exactly; written folders must pass ``load_dataset``.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.load.digitized import (AT_RISK_COLUMNS, EXPECTED, POINTS_COLUMNS, ImportKMError, import_km, main,
                                write_points)
from analysis.load import DataValidationError, load_dataset
from analysis.survival.reconstruct import reconstruct_curves

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "digitized"
MSC = [(0.0, 1.0), (2.0, 0.95), (4.5, 0.9), (6.0, 0.82), (9.0, 0.75), (12.0, 0.7), (18.0, 0.64)]
CONTROL = [(0.0, 1.0), (3.0, 0.88), (6.0, 0.71), (10.0, 0.6), (15.0, 0.52)]
GUYOT = [(0.0, 1.0), (1.5, 1.0), (1.5, 0.96), (3.2, 0.96), (3.2, 0.9), (6.0, 0.9), (6.0, 0.84), (8.4, 0.84),
         (8.4, 0.78), (12.0, 0.78), (12.0, 0.7), (15.0, 0.7)]
CLEAN = ", 0 dropped (0 non-numeric, 0 negative time, 0 survival outside 0-1, 0 duplicate), 0 out of time " \
        "order (sorted by time), 0 above the point before (lowered to it)"


def curves(result) -> dict[str, list[tuple[float, float]]]:
    """The imported curves, in file order, as {group: [(time, survival), ...]}."""
    pts = result.points
    return {g: list(zip(pts.loc[pts["group"] == g, "time"], pts.loc[pts["group"] == g, "survival"]))
            for g in dict.fromkeys(pts["group"])}


def random_curve(seed: int, n: int) -> list[tuple[float, float]]:
    """A step curve from (0, 1) with strictly falling survival and some vertical drops."""
    rng = np.random.default_rng(seed)
    t = np.round(np.cumsum(rng.uniform(0.05, 1.5, n)), 3)
    t[0] = 0.0
    drops = rng.choice(np.arange(2, n), n // 5, replace=False)
    for i in sorted(drops):
        t[i] = t[i - 1]  # a vertical drop: the same time, a lower survival
    s = np.round(1 - np.cumsum(rng.uniform(0.001, 0.02, n)), 4)
    s[0] = 1.0
    return [(float(a), float(b)) for a, b in zip(np.maximum.accumulate(t), s)]


# --------------------------------------------------------------------------- writers


def js(x: float) -> str:
    """A number as JavaScript's toString writes it (18, not 18.0)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def write_wpd_csv(path: Path, data: dict) -> Path:
    n = max(len(v) for v in data.values())
    lines = [",".join(f"{k}," for k in data)[:-1] + ",", ",".join(["X,Y"] * len(data))]
    for i in range(n):
        lines.append(",".join(f"{js(v[i][0])},{js(v[i][1])}" if i < len(v) else "," for v in data.values()))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wpd_point(t, s):
    return {"x": 50 + 30 * t, "y": 400 - 350 * s if isinstance(s, float | int) else 0, "value": [t, s]}


def wpd_v4(data: dict, axes_type="XYAxes") -> dict:
    return {"version": [4, 2], "axesColl": [{"name": "XY", "type": axes_type, "calibrationPoints": []}],
            "datasetColl": [{"name": k, "axesName": "XY", "metadataKeys": [], "colorRGB": [0, 0, 0, 255],
                             "data": [wpd_point(t, s) for t, s in v], "autoDetectionData": None}
                            for k, v in data.items()], "measurementColl": []}


def wpd_v3(data: dict) -> dict:
    return {"wpd": {"version": [3, 8], "axesType": "XYAxes", "axesParameters": {"isLogX": False, "isLogY": False},
                    "calibration": [], "dataSeries": [{"name": k, "data": [wpd_point(t, s) for t, s in v]}
                                                      for k, v in data.items()],
                    "distanceMeasurementData": None, "angleMeasurementData": None}}


def write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def write_tar(path: Path, data: dict) -> Path:
    """A saved WebPlotDigitizer project: <name>/info.json, <name>/wpd.json, <name>/image.png."""
    with tarfile.open(path, "w") as tar:
        for name, body in (("info.json", b'{"version": [4, 0], "json": "wpd.json", "images": ["image.png"]}'),
                           ("wpd.json", json.dumps(wpd_v4(data)).encode()), ("image.png", b"\x89PNG\r\n")):
            info = tarfile.TarInfo(f"project/{name}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return path


def write_table(path: Path, pts, sep=",", header=None, percent=False, decimal="."):
    lines = [sep.join(header)] if header else []
    for t, s in pts:
        s = repr(round(s * 100, 10)) if percent else repr(s)
        lines.append(sep.join(c.replace(".", decimal) for c in (repr(t), s)))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_guyot(folder: Path, pts) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["\tTime\tSurvival"] + [f"{i}\t{t!r}\t{s!r}" for i, (t, s) in enumerate(pts, 1)]
    (folder / "survival.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder / "survival.txt"


# --------------------------------------------------------------------------- fixtures of each format


@pytest.mark.parametrize("name, fmt", [
    ("wpd_all_data.csv", "a WebPlotDigitizer CSV export (all data)"),
    ("wpd_v4.json", "a WebPlotDigitizer JSON project (version 4.2)"),
    ("wpd_v3.json", "a WebPlotDigitizer JSON project (version 3.8)"),
])
def test_webplotdigitizer_fixtures(name, fmt):
    r = import_km(FIX / name, "S900")
    assert curves(r) == {"MSC": MSC, "Control": CONTROL}
    assert list(r.points.columns) == POINTS_COLUMNS and r.at_risk is None
    assert set(r.points["study"]) == {"S900"} and set(r.points["time_unit"]) == {"months"}
    assert r.format == fmt
    assert r.report == [f"{name}: read as {fmt}.", "Survival read as proportions (0-1).",
                        f"Curve 'MSC': 7 points read{CLEAN}, 7 kept.", f"Curve 'Control': 5 points read{CLEAN}, 5 kept."]


def test_group_selects_one_curve_of_a_webplotdigitizer_file():
    r = import_km(FIX / "wpd_v4.json", "S900", group="Control", time_unit="weeks")
    assert curves(r) == {"Control": CONTROL} and set(r.points["time_unit"]) == {"weeks"}
    with pytest.raises(ImportKMError) as e:
        import_km(FIX / "wpd_all_data.csv", "S900", group="Placebo")
    assert str(e.value) == f"{FIX / 'wpd_all_data.csv'}: expected a curve named 'Placebo', found 'MSC', 'Control'"


def test_two_column_percent_fixture():
    r = import_km(FIX / "two_column_percent.csv", "S900", group="MSC")
    assert curves(r) == {"MSC": MSC}
    assert r.report == ["two_column_percent.csv: read as two columns (time, survival).",
                        "Survival read in percent (largest value 100): divided by 100.",
                        f"Curve 'MSC': 7 points read{CLEAN}, 7 kept."]


def test_two_column_fraction_fixture_is_named_after_the_file():
    r = import_km(FIX / "two_column_fraction.txt", "S900")
    assert curves(r) == {"two_column_fraction": CONTROL}
    assert r.report == ["two_column_fraction.txt: read as two columns (time, survival); curve named "
                        "'two_column_fraction' after the file (--group to rename).",
                        "Survival read as proportions (0-1).",
                        f"Curve 'two_column_fraction': 5 points read{CLEAN}, 5 kept."]


def test_guyot_pair_fixture_and_its_reconstruction():
    r = import_km(FIX / "guyot" / "survival.txt", "S900", group="Arm A", nrisk=FIX / "guyot" / "nrisk.txt")
    assert curves(r) == {"Arm A": GUYOT}
    assert list(r.at_risk.columns) == AT_RISK_COLUMNS
    assert r.at_risk[["time", "n_at_risk"]].values.tolist() == [[0, 40], [4, 36], [8, 30], [12, 22]]
    assert set(r.at_risk["group"]) == {"Arm A"} and r.at_risk["total_events"].isna().all()
    assert r.report == ["survival.txt: read as Guyot's survival.txt (row, time, survival).",
                        "Survival read as proportions (0-1).", f"Curve 'Arm A': 12 points read{CLEAN}, 12 kept.",
                        "Numbers at risk of curve 'Arm A': 4 read from nrisk.txt (times 0 to 12)."]
    ipd, checks = reconstruct_curves(r.points, r.at_risk)
    assert len(ipd) == 40
    assert (checks["n_at_risk_reconstructed"] - checks["n_at_risk_reported"]).abs().max() <= 1


def test_two_column_numbers_at_risk(tmp_path):
    nrisk = tmp_path / "risk.csv"
    nrisk.write_text("time,at risk\n0,50\n6,31\n12,20\n")
    r = import_km(FIX / "two_column_fraction.txt", "S900", group="Control", nrisk=nrisk)
    assert r.at_risk[["time", "n_at_risk"]].values.tolist() == [[0, 50], [6, 31], [12, 20]]


# --------------------------------------------------------------------------- round trips


TWO = {"MSC arm (n=40)": random_curve(1, 40), "Control": random_curve(2, 25)}
ONE = random_curve(3, 60)


@pytest.mark.parametrize("fmt", ["wpd_csv", "wpd_v4", "wpd_v3", "wpd_tar"])
def test_round_trip_webplotdigitizer(tmp_path, fmt):
    path = {"wpd_csv": lambda: write_wpd_csv(tmp_path / "x.csv", TWO),
            "wpd_v4": lambda: write_json(tmp_path / "wpd.json", wpd_v4(TWO)),
            "wpd_v3": lambda: write_json(tmp_path / "old.json", wpd_v3(TWO)),
            "wpd_tar": lambda: write_tar(tmp_path / "project.tar", TWO)}[fmt]()
    r = import_km(path, "S900")
    assert curves(r) == TWO
    assert r.report[2:] == [f"Curve 'MSC arm (n=40)': 40 points read{CLEAN}, 40 kept.",
                            f"Curve 'Control': 25 points read{CLEAN}, 25 kept."]


@pytest.mark.parametrize("sep, header, decimal", [
    (",", ["time", "survival"], "."), ("\t", None, "."), (" ", ["t", "S"], "."), ("   ", None, "."),
    (";", ["time", "survival"], ","), ("\t", None, ","),
])
def test_round_trip_two_columns(tmp_path, sep, header, decimal):
    r = import_km(write_table(tmp_path / "curve.txt", ONE, sep, header, decimal=decimal), "S900", group="A")
    assert curves(r) == {"A": ONE}
    assert r.report[1:] == ["Survival read as proportions (0-1).", f"Curve 'A': 60 points read{CLEAN}, 60 kept."]


def test_utf16_and_crlf_text(tmp_path):
    """Excel's "Unicode text" is UTF-16 with a byte-order mark and CRLF line ends."""
    path = tmp_path / "curve.txt"
    path.write_bytes("time\tsurvival\r\n".encode("utf-16") + "".join(
        f"{t!r}\t{s!r}\r\n" for t, s in ONE).encode("utf-16-le"))
    assert curves(import_km(path, "S900", group="A")) == {"A": ONE}


def test_round_trip_percent(tmp_path):
    r = import_km(write_table(tmp_path / "pct.csv", ONE, header=["month", "% alive"], percent=True), "S900")
    (got,) = curves(r).values()
    assert [t for t, _ in got] == [t for t, _ in ONE]
    assert [s for _, s in got] == pytest.approx([s for _, s in ONE], abs=1e-12)
    assert r.report[1] == "Survival read in percent (largest value 100): divided by 100."


def test_round_trip_guyot(tmp_path):
    r = import_km(write_guyot(tmp_path / "g", ONE), "S900", group="B")
    assert curves(r) == {"B": ONE}
    assert r.format == "Guyot's survival.txt (row, time, survival)"


# --------------------------------------------------------------------------- cleaning


def test_drop_and_monotone_counts(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_text("time,survival\n0,1\n1,0.97\n1,0.97\nabc,0.9\n2,\n-0.2,1\n3,1.03\n4,-0.01\n"
                    "5,0.85\n2.5,0.9\n6,0.88\n7,0.8\n6.5,0.82\n")
    r = import_km(path, "S900")
    assert curves(r) == {"messy": [(0, 1), (1, 0.97), (2.5, 0.9), (5, 0.85), (6, 0.85), (6.5, 0.82), (7, 0.8)]}
    assert r.report[1:] == [
        "Survival read as proportions (0-1).",
        "Curve 'messy': 13 points read, 6 dropped (2 non-numeric, 1 negative time, 2 survival outside 0-1, "
        "1 duplicate), 2 out of time order (sorted by time), 1 above the point before (lowered to it), 7 kept."]


def test_webplotdigitizer_noise_and_click_order(tmp_path):
    """Typical WPD noise: a click just left of the axis, one above 100 %, points out of order."""
    data = {"A": [(-0.02, 1.001), (0.01, 0.999), (5, 0.8), (3, 0.9), (3, 0.91), (8, None), (8, 0.7)]}
    r = import_km(write_json(tmp_path / "wpd.json", wpd_v4(data)), "S900")
    assert curves(r) == {"A": [(0, 1), (0.01, 0.999), (3, 0.91), (3, 0.9), (5, 0.8), (8, 0.7)]}
    assert r.report[2] == ("Curve 'A': 7 points read, 2 dropped (1 non-numeric, 1 negative time, 0 survival "
                           "outside 0-1, 0 duplicate), 2 out of time order (sorted by time), 0 above the point "
                           "before (lowered to it), 5 kept, start point (0, 1) added.")


@pytest.mark.parametrize("top, percent", [(1.0, False), (1.05, False), (1.0501, True), (100.0, True)])
def test_percent_detection_tolerance(tmp_path, top, percent):
    path = tmp_path / "c.csv"
    path.write_text(f"0,{top}\n1,0.9\n2,0.5\n")
    r = import_km(path, "S900")
    assert r.report[1] == (f"Survival read in percent (largest value {top:g}): divided by 100." if percent
                           else "Survival read as proportions (0-1).")
    if top == 1.05:  # above 1 but within the tolerance: a proportion, dropped as outside 0-1
        assert curves(r) == {"c": [(0, 1), (1, 0.9), (2, 0.5)]}
        assert "1 survival outside 0-1" in r.report[2] and r.report[2].endswith("start point (0, 1) added.")


def test_vertical_drop_in_either_order_is_not_a_correction(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("0,1\n3,0.8\n3,0.9\n5,0.7\n")
    r = import_km(path, "S900")
    assert curves(r) == {"c": [(0, 1), (3, 0.9), (3, 0.8), (5, 0.7)]}
    assert r.report[2] == f"Curve 'c': 4 points read{CLEAN}, 4 kept."


# --------------------------------------------------------------------------- errors


def err(path, **kw) -> str:
    with pytest.raises(ImportKMError) as e:
        import_km(path, kw.pop("study", "S900"), **kw)
    assert str(e.value).startswith(f"{path}: ")
    return str(e.value)[len(f"{path}: "):]


def test_error_messages_of_broken_fixtures():
    assert err(FIX / "empty.csv") == f"{EXPECTED}, found an empty file"
    assert err(FIX / "one_column.csv") == "expected two columns (time, survival), found one column"
    assert err(FIX / "text_numbers.csv") == (
        "expected numbers (time, survival), found no usable point in curve 'text_numbers' (3 read: 3 non-numeric, "
        "0 negative time, 0 survival outside 0-1, 0 duplicate)")
    assert err(FIX / "binary.png") == f"{EXPECTED}, found binary data (not text)"
    assert err(FIX / "guyot" / "nrisk.txt") == (
        f"{EXPECTED}, found Guyot's nrisk.txt (numbers at risk); give it with --nrisk beside its survival.txt")
    assert EXPECTED == ("expected digitised points (WebPlotDigitizer CSV or JSON project, two columns time and "
                        "survival, or Guyot's survival.txt)")


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04\x14\x00rest", f"{EXPECTED}, found a zip file (an .xlsx workbook?); save it as CSV"),
    (b"\xff\xd8\xff\xe0 not utf-8 \xff", f"{EXPECTED}, found binary data (not text)"),
    (b"  \n\n \n", f"{EXPECTED}, found an empty file"),
    (b"time,survival\n", "expected two columns (time, survival), found no data rows"),
    (b"0,1,2,3\n1,0.9,2,3\n", "expected two columns (time, survival), found 4 columns"),
    (b"{", "expected a WebPlotDigitizer JSON project, found invalid JSON (Expecting property name enclosed in "
           "double quotes: line 1 column 2 (char 1))"),
    (b"[" * 100000, "expected a WebPlotDigitizer JSON project, found invalid JSON (maximum recursion depth "
                    "exceeded while decoding a JSON array from a unicode string)"),
    (b"[1, 2]", "expected a WebPlotDigitizer JSON project (version 3 or 4), found JSON list"),
    (b'{"a": 1}', "expected a WebPlotDigitizer JSON project (version 3 or 4), found JSON without a 'version'"),
    (b'{"version": [5, 0], "datasetColl": []}',
     "expected a WebPlotDigitizer JSON project (version 3 or 4), found version [5, 0]"),
    (b'{"version": [4, 2], "datasetColl": []}',
     "expected a WebPlotDigitizer JSON project (version 3 or 4), found version 4 without datasets (datasetColl)"),
    (b'{"version": [3, 8], "datasetColl": []}',
     "expected a WebPlotDigitizer JSON project (version 3 or 4), found version 3 without datasets (wpd.dataSeries)"),
    (json.dumps(wpd_v4({"A": [(0, 1)]}, "ImageAxes")).encode(),
     "expected datasets on XY axes, found dataset 'A' on ImageAxes; calibrate the X and Y axes in WebPlotDigitizer"),
    (b'{"version": [4, 2], "datasetColl": [{"name": "A", "data": [{"x": 1, "y": 2}]}]}',
     "expected datasets on XY axes, found dataset 'A' on no calibrated axes; calibrate the X and Y axes in "
     "WebPlotDigitizer"),
    (b'{"version": [4, 2], "axesColl": true, "datasetColl": [{"name": "A", "axesName": ["XY"], "data": []}]}',
     "expected datasets on XY axes, found dataset 'A' on no calibrated axes; calibrate the X and Y axes in "
     "WebPlotDigitizer"),  # found by fuzzing: a non-list axesColl, an unhashable axesName
    (b"Arm A, high dose,,Control,\nX,Y,X,Y\n0,1,0,1\n",
     "expected each dataset name over its pair of columns X,Y, found 'high dose' in column 2 (a comma inside a "
     "dataset name?)"),
    (b"A,,A,\nX,Y,X,Y\n0,1,0,1\n", "expected a distinct name for every dataset, found 'A' twice"),
    (b",,B,\nX,Y,X,Y\n0,1,0,1\n", "expected a distinct name for every dataset, found dataset 1 unnamed"),
])
def test_error_messages(tmp_path, content, message):
    path = tmp_path / "curve.dat"
    path.write_bytes(content)
    assert err(path) == message


def test_error_messages_of_arguments_and_paths(tmp_path):
    assert err(tmp_path / "missing.csv") == "expected a readable file, could not read it (No such file or directory)"
    assert err(tmp_path) == "expected a readable file, could not read it (Is a directory)"
    assert err(FIX / "wpd_v4.json", time_unit="hours") == (
        "expected a time unit among days, weeks, months, years, found 'hours'")
    assert err(FIX / "wpd_v4.json", study=" ") == "expected a study id (a sources row), found an empty one"
    assert set(import_km(FIX / "wpd_v4.json", " S900 ").points["study"]) == {"S900"}
    assert import_km(FIX / "two_column_fraction.txt", "S900", group="").report[0].endswith("(--group to rename).")
    assert err(FIX / "wpd_v4.json", nrisk=FIX / "guyot" / "nrisk.txt") == (
        "expected one curve for the numbers at risk of nrisk.txt, found 2 ('MSC', 'Control'); choose one with --group")
    tar = tmp_path / "p.tar"
    with tarfile.open(tar, "w") as t:
        info = tarfile.TarInfo("project/info.json")
        t.addfile(info, io.BytesIO(b""))
    assert err(tar) == "expected a WebPlotDigitizer .tar project holding wpd.json, found none"


@pytest.mark.parametrize("content, message", [
    ("Interval\ttime\tlower\tupper\tnrisk\n1\t0\t1\t5\t40\n2\t4\t6\t13\t36\n",
     "row 3: expected lower <= upper among the 12 rows of the points, found lower '6', upper '13'"),
    ("time,n\n0,40\n4,36\n8,41\n", "row 4: expected times that increase and numbers at risk that do not, found 41 "
                                   "at time 8 after 36 at time 4"),
    ("time,n\n0,40\n4,36\n4,30\n", "row 4: expected times that increase and numbers at risk that do not, found 30 "
                                   "at time 4 after 36 at time 4"),
    ("2,40\n4,36\n", "expected the first number at risk at time 0, found time 2"),
    ("0,40\n4,35.5\n", "row 2: expected a time >= 0 and a whole number at risk, found '4' and '35.5'"),
    ("time,n\n", "expected numbers at risk: Guyot's nrisk.txt (Interval, time, lower, upper, nrisk) or two columns "
                 "(time, number at risk), found no rows"),
    ("0,40,1\n", "expected numbers at risk: Guyot's nrisk.txt (Interval, time, lower, upper, nrisk) or two columns "
                 "(time, number at risk), found 3 columns"),
])
def test_error_messages_of_numbers_at_risk(tmp_path, content, message):
    nrisk = tmp_path / "nrisk.txt"
    nrisk.write_text(content)
    with pytest.raises(ImportKMError) as e:
        import_km(FIX / "guyot" / "survival.txt", "S900", nrisk=nrisk)
    assert str(e.value) == f"{nrisk}: {message}"


SEEDS = sorted(p for p in FIX.rglob("*") if p.is_file() and p.suffix != ".md")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), cut=st.integers(0, 2000), junk=st.binary(max_size=40))
def test_damaged_files_give_a_message_never_a_traceback(tmp_path, seed, cut, junk):
    raw = seed.read_bytes()
    path = tmp_path / seed.name
    path.write_bytes(raw[:cut] + junk + raw[cut:][len(junk):])
    try:
        r = import_km(path, "S900")
    except ImportKMError as exc:
        assert str(exc).startswith(f"{path}: expected ")
    else:
        assert ((r.points["survival"] >= 0) & (r.points["survival"] <= 1) & (r.points["time"] >= 0)).all()
        for _, g in r.points.groupby("group"):
            assert g["time"].is_monotonic_increasing and g["survival"].is_monotonic_decreasing
            assert g["time"].iloc[0] == 0


# --------------------------------------------------------------------------- writing to a data folder


def data_folder(tmp_path: Path) -> Path:
    """The shipped data files plus a source row for the synthetic study S900."""
    folder = tmp_path / "data"
    folder.mkdir()
    for p in (ROOT / "data").glob("*.csv"):
        shutil.copy(p, folder / p.name)
    with (folder / "sources.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    rows.append([{"source_id": "S900", "kind": "trial", "citation": "Synthetic test curves (not a study)",
                  "evidence_level": "rct"}.get(c, "") for c in rows[0]])
    with (folder / "sources.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return folder


def test_written_points_pass_validation(tmp_path):
    folder = data_folder(tmp_path)
    wpd = import_km(FIX / "wpd_all_data.csv", "S900")
    guyot = import_km(FIX / "guyot" / "survival.txt", "S900", group="Arm A", nrisk=FIX / "guyot" / "nrisk.txt")
    assert write_points(wpd, folder) == [f"{folder / 'km_curves' / 'points.csv'}: 12 rows written."]
    assert write_points(guyot, folder) == [f"{folder / 'km_curves' / 'points.csv'}: 12 rows written.",
                                           f"{folder / 'km_curves' / 'at_risk.csv'}: 4 rows written."]
    # curves without numbers at risk cannot be reconstructed: validate names them ...
    with pytest.raises(DataValidationError) as e:
        load_dataset(folder)
    assert [str(p) for p in e.value.problems] == [
        f"km_curves/points.csv:{row}:group: expected numbers at risk of curve S900 / {g!r} in km_curves/at_risk.csv "
        "(at least at time 0, which the reconstruction needs), found none" for row, g in ((2, "MSC"), (9, "Control"))]
    # ... and with them (as printed under the published plot) the folder is valid
    with (folder / "km_curves" / "at_risk.csv").open("a", encoding="utf-8") as f:
        f.write("S900,MSC,0,months,40,\nS900,Control,0,months,40,\n")
    ds = load_dataset(folder)  # raises DataValidationError listing any problem
    got = ds.km_curves_points
    assert got["group"].tolist() == ["MSC"] * 7 + ["Control"] * 5 + ["Arm A"] * 12
    assert list(zip(got["time"], got["survival"])) == MSC + CONTROL + GUYOT
    assert ds.km_curves_at_risk["n_at_risk"].tolist() == [40, 36, 30, 22, 40, 40]
    ipd, _ = reconstruct_curves(got[got["group"] == "Arm A"], ds.km_curves_at_risk[ds.km_curves_at_risk["group"] == "Arm A"])
    assert len(ipd) == 40


def test_write_refuses_rows_of_the_same_curve_unless_replace(tmp_path):
    folder = data_folder(tmp_path)
    guyot = import_km(FIX / "guyot" / "survival.txt", "S900", group="Arm A", nrisk=FIX / "guyot" / "nrisk.txt")
    write_points(guyot, folder)
    points, at_risk = folder / "km_curves" / "points.csv", folder / "km_curves" / "at_risk.csv"
    before = points.read_bytes(), at_risk.read_bytes()
    with pytest.raises(ImportKMError) as e:
        write_points(guyot, folder)
    assert str(e.value) == (f"{points}: already holds 12 rows of study 'S900', group 'Arm A'; pass replace=True "
                            "(--replace) to replace them")
    assert (points.read_bytes(), at_risk.read_bytes()) == before
    other = import_km(FIX / "two_column_fraction.txt", "S900", group="Arm B")
    write_points(other, folder)  # another curve of the same study is fine
    fewer = import_km(FIX / "two_column_percent.csv", "S900", group="Arm A")
    assert write_points(fewer, folder, replace=True) == [f"{points}: 7 rows written (replacing 12)."]
    assert len(at_risk.read_text().splitlines()) == 1 + 4  # at-risk rows untouched: the result had none
    with at_risk.open("a", encoding="utf-8") as f:  # Arm B's number at risk, which validate asks for
        f.write("S900,Arm B,0,months,40,\n")
    ds = load_dataset(folder)
    assert ds.km_curves_points["group"].tolist() == ["Arm B"] * 5 + ["Arm A"] * 7


def test_write_keeps_a_semicolon_file_and_refuses_workbooks_and_strange_headers(tmp_path):
    folder = data_folder(tmp_path)
    points = folder / "km_curves" / "points.csv"
    points.parent.mkdir()
    points.write_text("\ufeffstudy;group;time;time_unit;survival\nS900;Old;0;months;1\n", encoding="utf-8")
    write_points(import_km(FIX / "wpd_v3.json", "S900", group="MSC"), folder)
    assert points.read_text().splitlines()[:3] == ["study;group;time;time_unit;survival", "S900;Old;0;months;1",
                                                  "S900;MSC;0.0;months;1.0"]
    (folder / "km_curves" / "at_risk.csv").write_text(
        "study,group,time,time_unit,n_at_risk,total_events\nS900,Old,0,months,10,\nS900,MSC,0,months,10,\n")
    assert len(load_dataset(folder).km_curves_points) == 8
    points.write_text("study,group,time,unit,survival\n")
    with pytest.raises(ImportKMError) as e:
        write_points(import_km(FIX / "wpd_v3.json", "S900"), folder)
    assert str(e.value) == (f"{points}: expected the columns study, group, time, time_unit, survival, found "
                            "study, group, time, unit, survival")
    points.unlink()
    (folder / "km_curves" / "points.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(ImportKMError) as e:
        write_points(import_km(FIX / "wpd_v3.json", "S900"), folder)
    assert str(e.value) == (f"{folder / 'km_curves' / 'points.xlsx'}: expected km_curves/*.csv to add rows to, "
                            "found a workbook; save it as CSV (or add the rows by hand)")


# --------------------------------------------------------------------------- command line


def test_main_writes_and_reports(tmp_path, capsys):
    folder = data_folder(tmp_path)
    assert main([str(FIX / "wpd_all_data.csv"), "--study", "S900", "--data", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["wpd_all_data.csv: read as a WebPlotDigitizer CSV export (all data).",
                   "Survival read as proportions (0-1).", f"Curve 'MSC': 7 points read{CLEAN}, 7 kept.",
                   f"Curve 'Control': 5 points read{CLEAN}, 5 kept.",
                   f"{folder / 'km_curves' / 'points.csv'}: 12 rows written."]
    assert main([str(FIX / "wpd_all_data.csv"), "--study", "S900", "--data", str(folder)]) == 2
    assert capsys.readouterr().err == (f"{folder / 'km_curves' / 'points.csv'}: already holds 7 rows of study "
                                       "'S900', group 'MSC'; pass replace=True (--replace) to replace them\n")
    assert main([str(FIX / "wpd_all_data.csv"), "--study", "S900", "--data", str(folder), "--replace"]) == 0
    assert capsys.readouterr().out.endswith("points.csv: 12 rows written (replacing 12).\n")


def test_main_without_data_prints_the_rows(capsys):
    argv = [str(FIX / "guyot" / "survival.txt"), "--study", "S900", "--group", "Arm A", "--time-unit", "weeks",
            "--nrisk", str(FIX / "guyot" / "nrisk.txt")]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[4:7] == ["study,group,time,time_unit,survival", "S900,Arm A,0.0,weeks,1.0", "S900,Arm A,1.5,weeks,1.0"]
    assert out[-6:] == ["study,group,time,time_unit,n_at_risk,total_events", "S900,Arm A,0.0,weeks,40,",
                        "S900,Arm A,4.0,weeks,36,", "S900,Arm A,8.0,weeks,30,", "S900,Arm A,12.0,weeks,22,",
                        "Nothing written; pass --data DIR to add these rows to DIR/km_curves/."]


def test_main_bad_input_returns_2_with_one_line(capsys):
    assert main([str(FIX / "binary.png"), "--study", "S900"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err == f"{FIX / 'binary.png'}: {EXPECTED}, found binary data (not text)\n"
    assert main([str(FIX / "wpd_v4.json")]) == 2  # argparse: --study is required
    assert "the following arguments are required: --study" in capsys.readouterr().err
    assert main([str(FIX / "wpd_v4.json"), "--study", "S900", "--time-unit", "hours"]) == 2
