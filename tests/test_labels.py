"""Near-duplicate group labels are named, never merged silently; groups.csv merges them."""

from __future__ import annotations

import pandas as pd

from analysis.labels import apply_groups, near_duplicate_warnings, near_duplicates


def test_near_duplicates_are_named_once_in_first_seen_order():
    values = ["psoriasis", "Psoriasis ", "psoriasis vulgaris", "plaque psoriasis", "lupus nephritis",
              "lupus nephritits", "multiple sclerosis", "systemic sclerosis", None, ""]
    assert near_duplicates(values) == [("psoriasis", "psoriasis vulgaris"), ("psoriasis", "plaque psoriasis"),
                                       ("lupus nephritis", "lupus nephritits")]
    assert near_duplicates(["lupus", "Crohn's disease", "multiple sclerosis"]) == []


def test_groups_csv_maps_labels_before_the_analysis_and_silences_the_warning():
    df = pd.DataFrame({"disease": ["psoriasis", "Plaque psoriasis ", "lupus"], "therapy": ["MSC", "MSC", "HSCT"]})
    groups = pd.DataFrame({"column": ["disease"], "value": ["plaque psoriasis"], "group": ["psoriasis"]})
    assert apply_groups(df, groups)["disease"].tolist() == ["psoriasis", "psoriasis", "lupus"]
    assert df["disease"].tolist()[1] == "Plaque psoriasis "  # the input is not modified
    assert near_duplicate_warnings(df) == [
        "cohort_outcomes.csv:-:disease: 'psoriasis' and 'Plaque psoriasis' look alike but are different groups; if "
        "they are one thing, map both to one group in groups.csv (column,value,group: disease,Plaque psoriasis,"
        "psoriasis)"]
    assert near_duplicate_warnings(df, groups=groups) == []


def test_validate_warns_about_look_alike_diseases_and_still_passes(make_folder, tables, capsys):
    from analysis.cli import main

    second = dict(tables["cohort_outcomes"][0], outcome_id="O2", disease="Lupus nephritis")
    tables["cohort_outcomes"].append(second)
    folder = make_folder(tables)
    assert main(["validate", str(folder)]) == 0
    err = capsys.readouterr().err
    assert ("warning: cohort_outcomes.csv:-:disease: 'lupus' and 'Lupus nephritis' look alike but are different "
            "groups") in err
    (folder / "groups.csv").write_text("column,value,group\ndisease,Lupus nephritis,lupus\n", encoding="utf-8")
    assert main(["validate", str(folder)]) == 0
    assert "warning" not in capsys.readouterr().err
