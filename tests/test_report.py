"""oodrepro.report: the tables beside the paper and the profile note."""
import numpy as np
import pandas as pd

from oodrepro import provenance, report


def _summary():
    return pd.DataFrame([
        {"in_dist": "mnist", "ood": "hflip", "method": "a", "mean": 0.90, "se": 0.01, "status": "ok", "paper": 0.91,
         "delta": -0.01},
        {"in_dist": "mnist", "ood": "hflip", "method": "b", "mean": 0.89, "se": 0.01, "status": "ok", "paper": np.nan,
         "delta": np.nan},
        {"in_dist": "mnist", "ood": "hflip", "method": "c", "mean": 0.70, "se": 0.01, "status": "ok", "paper": 0.8,
         "delta": -0.1},
        {"in_dist": "mnist", "ood": "kmnist", "method": "a", "mean": np.nan, "se": np.nan, "status": "needs data",
         "paper": 0.95, "delta": np.nan}])


def test_best_within_2se_marks_ties_with_the_best():
    assert report.best_within_2se(_summary()).tolist() == [True, True, False, False]


def test_ours_vs_paper_table(readable):
    t = report.ours_vs_paper(_summary(), ["a", "b", "c"], {"mnist": "MNIST", "hflip": "HFlip"},
                             method_labels={"a": "A"})
    assert t.index.tolist() == [("MNIST", "HFlip"), ("MNIST", "kmnist")]
    row = t.loc[("MNIST", "HFlip")]
    assert row[("A", "ours")] == "<b>0.900 ± 0.010</b>" and row[("A", "paper")] == "0.910" and row[("A", "Δ")] == "-0.010"
    assert row[("c", "paper")] == "0.800" and row[("c", "ours")] == "0.700 ± 0.010"
    assert ("b", "ours") in t.columns and ("b", "paper") not in t.columns and ("b", "Δ") not in t.columns
    assert readable(report.styled(t)) == [] and list(t.index.names) == ["Train/In", "OOD set"]
    assert t.loc[("MNIST", "kmnist"), ("A", "ours")] == "needs data" and t.loc[("MNIST", "kmnist"), ("A", "paper")] == "0.950"


def test_claims_table_counts_and_caption():
    from oodrepro import results

    cl = [results.claim("x", "A beats B", "1 vs 0", "1 vs 0", "reproduced"),
          results.claim("y", "A beats C", "", "", "needs data")]
    styled, n_rep, n = report.claims_table(cl, "Claims here")
    assert (n_rep, n) == (1, 2) and "Claims here: 1 of 2 reproduced" in styled.to_html()


def test_quick_profile_note_next_to_every_comparison_with_the_paper():
    df = pd.DataFrame({("kNN", "ours"): ["0.9"], ("kNN", "paper"): ["0.95"], ("kNN", "Δ"): ["-0.05"]})
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    assert "Profile 'quick'" in report.styled(df, "Table 1.", profile="quick").to_html()
    assert "Profile" not in report.styled(pd.DataFrame({"a": [1]}), "No paper here.", profile="quick").to_html()
    assert "Profile" not in report.styled(df, "Table 1.", profile="paper").to_html()
    assert "Profile" not in report.styled(df, "Table 1.").to_html()  # no run context given: no note
    assert not hasattr(provenance, "set_profile")  # the profile is passed, not kept in module state
