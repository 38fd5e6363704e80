"""oodrepro.scorecard: the scorecard by scale (headline from archived paper-scale runs only) and the
reproduction report, on a fake archive and fake quick-profile results."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from pandas.io.formats.style import Styler

from oodrepro.engine.page import page_code
from oodrepro import archive, results, scorecard
from oodrepro.bookcheck import RAW_NAME

PAGE = "odm/mnist"  # a registered page: archive.add fingerprints its code


def _claims(verdicts: dict, page=PAGE, why="per-seed paired differences"):
    return [results.claim(cid, f"claim {cid}", "0.90 vs 0.80", "" if v == "needs data" else "0.91 vs 0.79", v,
                          why=why if v != "needs data" else "", page=page) for cid, v in verdicts.items()]


@pytest.fixture
def fake_archive(tmp_path, monkeypatch):
    """An archive (in $OODREPRO_ARCHIVE) holding one paper-profile run of odm/mnist: two claims, one
    reproduced and one needing SVHN, one table cell beside the paper's; 2 CPU-hours on 'test-box'."""
    base = tmp_path / "archive"
    monkeypatch.setenv(archive.ENV, str(base))
    rows = [{"in_dist": "mnist", "ood": "novelty", "method": "ml", "seed": 0, "status": "ok", "auroc": 0.97},
            {"in_dist": "mnist", "ood": "svhn", "method": "ml", "seed": 0, "status": "needs data",
             "why": "data set 'svhn' not found"}]
    src = results.write(tmp_path / "paper-run" / f"{PAGE}.json", PAGE, {"profile": "paper", "seeds": [0, 1, 2]}, rows,
                        _claims({"ml-ce-novelty": "reproduced", "ml-ce-svhn": "needs data"}), 3600.0,
                        extra={"summary": [{"ood": "novelty", "method": "ml", "mean": 0.97, "paper": 0.971,
                                            "status": "ok"}]})
    archive.add(PAGE, src, {"command": f"oodrepro run {PAGE} --profile paper", "commit": "abc1234567",
                            "machine": "test-box (x86_64, 2 CPUs)", "wall_seconds": 3600.0, "cpu_seconds": 7200.0,
                            "networks": [], "data": {}}, page_code(PAGE))
    return base


@pytest.fixture
def quick_results(tmp_path):
    """This build's results: odm/mnist on the quick profile (the same two claim ids, with other verdicts, and
    one more) and a knn_ls page with no archive."""
    res = tmp_path / "results"
    results.write(res / f"{PAGE}.json", PAGE, {"profile": "quick", "seeds": [0]}, [],
                  _claims({"ml-ce-novelty": "not reproduced", "ml-ce-svhn": "reproduced", "odm-only-quick": "reproduced"}),
                  5.0, extra={"summary": [{"ood": "hflip", "method": "ml", "mean": 0.8, "paper": 0.9, "status": "ok"}]})
    results.write(res / "knn_ls/table1.json", "knn_ls/table1", {"profile": "quick", "seeds": [0]}, [],
                  _claims({"knn_ls-vs-knn-mnist5k-hflip": "reproduced", "ml-ce-novelty": "reproduced"},
                          page="knn_ls/table1"), 5.0)
    return res


def test_headline_counts_come_from_the_archive_only(fake_archive, quick_results):
    card = scorecard.build(quick_results)
    c = card.counts
    assert (c["reproduced"], c["not reproduced"], c["inconclusive"], c["needs data"]) == (1, 0, 0, 1)
    assert c["tested"] == 2 and c["pages"] == 1 and c["stale"] == 0
    assert c["untested"] == 3 and c["untested_unarchived"] == 2  # odm-only-quick; knn_ls's two claims
    t = card.table.set_index(["page", "claim id"])
    assert list(card.table.columns) == scorecard.COLUMNS and len(t) == 5  # joined one to one on (page, id)
    row = t.loc[(PAGE, "ml-ce-novelty")]
    assert (row["paper scale: verdict"], row["this build: verdict"], row["this build: profile"]) == \
        ("reproduced", "not reproduced", "quick")
    assert row["paper scale: archive"] == "current"
    # the same id on another page is another claim: not joined to odm/mnist's archived verdict
    assert t.loc[("knn_ls/table1", "ml-ce-novelty"), "paper scale: verdict"] == ""
    text = card.headline_text()
    assert "2 claim(s) from 1 archived page(s) (odm/mnist): 1 reproduced, 0 not reproduced" in text
    assert "3 claim(s) of this build have no paper-scale run yet" in text
    assert "4 reproduced" not in text and "quick" not in text  # the build's counts are in build_text only
    assert card.build_text().startswith("This build (quick profile) tested 5 claim(s) of the papers on 2 page(s): "
                                        "4 reproduced")
    assert "Beyond the papers" not in card.build_text()


def test_claims_beyond_the_papers_are_counted_apart(fake_archive, quick_results):
    card = scorecard.build(quick_results)
    extra = card.table.iloc[:1].assign(**{"chapter": scorecard.BEYOND, "page": "beyond/objectives",
                                          "claim id": "ls-vs-ce-pca", "this build: verdict": "reproduced"})
    card.table = pd.concat([card.table, extra], ignore_index=True)
    text = card.build_text()
    assert "tested 5 claim(s) of the papers" in text and "1 of 1 claims hold on this build" in text
    # archived, a finding beyond the papers stays out of the papers' paper-scale counts too
    before = card.counts
    card.table.loc[card.table["page"] == "beyond/objectives", "paper scale: verdict"] = "not reproduced"
    c = card.counts
    assert {k: c[k] for k in ("tested", "reproduced", "not reproduced", "pages")} == \
        {k: before[k] for k in ("tested", "reproduced", "not reproduced", "pages")}
    assert (c["beyond_tested"], c["beyond_not reproduced"]) == (1, 1)
    head = card.headline_text()
    assert "2 claim(s) from 1 archived page(s) (odm/mnist)" in head
    assert "0 of 1 claims hold at paper scale, 1 go the other way" in head


def test_a_quick_verdict_never_enters_the_headline(tmp_path, monkeypatch, quick_results):
    monkeypatch.setenv(archive.ENV, str(tmp_path / "empty-archive"))
    card = scorecard.build(quick_results)
    assert {k: card.counts[k] for k in results.VERDICTS} == dict.fromkeys(results.VERDICTS, 0)
    assert card.counts["tested"] == 0 and card.counts["untested"] == 5
    assert (card.table["paper scale: verdict"] == "").all()
    assert "no claim has a paper-scale verdict yet" in card.headline_text()
    shown = []
    monkeypatch.setattr(scorecard, "_display", lambda *o: shown.extend(o))
    card.show_figures()  # nothing archived: one sentence, no figure of the quick cells
    assert len(shown) == 1 and shown[0].data == scorecard.NO_ARCHIVE_FIGURE


def test_the_figure_draws_archived_cells_only_and_says_so(fake_archive, quick_results, monkeypatch):
    card = scorecard.build(quick_results)
    assert card.cells["source"].tolist() == ["archive", "this build"]
    shown = []
    monkeypatch.setattr(scorecard, "_display", lambda *o: shown.extend(o))
    monkeypatch.setattr(scorecard, "_itable", lambda df, caption, page_length=25: shown.append((df, caption)))
    card.show_figures()
    assert "<figcaption>" in shown[0].data and "archived cells only" in shown[0].data
    df, caption = shown[1]
    assert len(df) == 1 and df["page"].tolist() == [PAGE] and caption
    assert not [h for h in df.columns if RAW_NAME.match(str(h))]


def test_csvs_beside_the_results(fake_archive, quick_results):
    card = scorecard.build(quick_results)
    card.write_csvs(quick_results)
    back = results.from_csv((quick_results / "scorecard.csv").read_text())
    assert list(back.columns) == scorecard.COLUMNS and len(back) == 5
    assert set(results.from_csv((quick_results / "cells.csv").read_text())["source"]) == {"archive", "this build"}


def test_a_stale_archive_is_flagged(fake_archive, quick_results):
    m = json.loads((fake_archive / "manifest.json").read_text())
    m["pages"][PAGE]["code"] = "older-code"
    (fake_archive / "manifest.json").write_text(json.dumps(m))
    card = scorecard.build(quick_results)
    assert set(card.table.loc[card.table["paper scale: verdict"] != "", "paper scale: archive"]) == {scorecard.STALE}
    assert card.counts["stale"] == 2 and card.counts["reproduced"] == 1  # still counted, and marked
    assert "from a stale archive" in card.headline_text()
    assert any("odm/mnist is stale" in n for n in card.arch.notes())
    assert scorecard.reproduction().runs("odm")["code"].tolist() == [scorecard.STALE]


def test_a_tampered_archived_file_is_refused_in_one_line(fake_archive, quick_results):
    f = fake_archive / PAGE / "result.json"
    f.write_text(f.read_text().replace('"reproduced"', '"not reproduced"'))
    card = scorecard.build(quick_results)
    assert card.counts["tested"] == 0 and (card.table["paper scale: verdict"] == "").all()
    notes = card.arch.notes()
    assert len(notes) == 1 and "\n" not in notes[0]
    assert notes[0].startswith("The archived run of odm/mnist was refused:") and "altered" in notes[0]
    assert notes[0] in card.headline_text()
    rep = scorecard.reproduction()
    assert rep.runs("odm").empty and notes[0] in rep.summary_text()


def test_reproduction_report_lists_cpu_time_machine_and_missing_data(fake_archive, monkeypatch):
    rep = scorecard.reproduction()
    runs = rep.runs("odm")
    assert runs[["page", "machine", "wall time", "CPU-hours", "commit"]].values.tolist() == \
        [[PAGE, "test-box (x86_64, 2 CPUs)", "1.0 h", "2.00", "abc1234567"]]
    claims = rep.claims("odm")
    assert claims["verdict"].tolist() == ["reproduced", "needs data"] and all(claims["why"])
    assert rep.needs_data("odm").values.tolist() == [["svhn", PAGE]]
    assert rep.summary_text().startswith("1 page(s) archived at paper scale, 2.0 CPU-hours in all")
    shown = []
    monkeypatch.setattr(scorecard, "_display", lambda *o: shown.extend(o))
    rep.show("odm")
    tables = [s for s in shown if isinstance(s, Styler)]
    assert len(tables) == 3
    for st in tables:  # a caption on every table, labelled columns
        assert st.caption and not [h for h in st.data.columns if RAW_NAME.match(str(h))]
    assert "CPU-hours" in tables[0].data.columns and "machine" not in tables[0].data.columns  # one machine:
    assert "all on test-box (x86_64, 2 CPUs)" in tables[0].caption  # named once, in the caption
    shown.clear()
    rep.show("kpca")  # nothing archived: one sentence
    assert len(shown) == 1 and shown[0].data.count(".") == 1 and "No paper-scale run of kpca" in shown[0].data


def test_an_empty_archive_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(archive.ENV, str(tmp_path / "none"))
    rep = scorecard.reproduction()
    assert rep.summary_text().startswith("The archive holds no paper-scale run yet")
    assert rep.runs("knn_ls").empty and isinstance(rep.claims("knn_ls"), pd.DataFrame)


def test_claims_of_numbers_repeated_ids():
    doc = {"notebook": "p/q", "meta": {"profile": "quick"},
           "claims": _claims({"a": "reproduced"}, page="p/q") * 2}
    assert scorecard.claims_of([doc])["claim id"].tolist() == ["a", "a#2"]


def test_kpca_percent_tables_become_cells_in_auroc_units():
    from oodrepro import results

    doc = {"notebook": "kpca/main", "meta": {"params": {"profile": "paper"}}, "claims": [],
           "summary": [{"in_dist": "cifar10", "ood": "svhn", "method": "msp", "auroc": 91.0, "auroc_se": 0.5,
                        "fpr95": 40.0, "n_seeds": 3, "paper_auroc": 90.0, "delta_auroc": 1.0, "paper_fpr95": 50.0,
                        "delta_fpr95": -10.0},
                       {"in_dist": "cifar10", "ood": "tt100k", "method": "msp", "auroc": 88.0, "auroc_se": 0.8,
                        "fpr95": 60.0, "n_seeds": 3, "paper_auroc": None, "delta_auroc": None, "paper_fpr95": None,
                        "delta_fpr95": None}]}
    c = results.cells_of([scorecard.percent_tables_as_cells(doc)])
    assert len(c) == 1  # the row without a paper value is not a cell
    (r,) = c.itertuples()
    assert r.ours == pytest.approx(0.91) and r.paper == pytest.approx(0.90) and r.delta == pytest.approx(0.01)
    assert r.cell == "in_dist=cifar10, ood=svhn, method=msp" and r.chapter == "kpca"
    knn = {"notebook": "knn_ls/table1", "summary": [{"in_dist": "mnist", "ood": "hflip", "method": "knn", "mean": 0.8,
                                                     "se": 0.01, "n_seeds": 5, "paper": 0.79, "delta": 0.01}]}
    assert scorecard.percent_tables_as_cells(knn) == knn  # other chapters' tables pass unchanged


def test_a_rule_repeated_on_many_claims_is_said_once():
    c = pd.DataFrame({"claim": list("abcde"), "why": ["paired.", "paired.", "own rule", "paired.", "x"]})
    out, rules = scorecard.numbered_rules(c)
    assert out["why"].tolist() == ["rule 1", "rule 1", "own rule", "rule 1", "x"] and rules == [(1, "paired")]
    out, rules = scorecard.numbered_rules(c, at_least=4)
    assert out["why"].tolist() == c["why"].tolist() and rules == []
