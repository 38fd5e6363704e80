"""Archived paper-scale results (oodrepro.archive) and how a page renders them."""
import datetime
import json

import pytest

from oodrepro import archive, cli, results
from oodrepro.engine import page as pages

PAGE = "kpca/main"


@pytest.fixture()
def archived(tmp_path, monkeypatch):
    monkeypatch.setenv(archive.ENV, str(tmp_path / "archive"))
    rows = [{"in_dist": "cifar10", "ood": "svhn", "method": "msp", "seed": 0, "status": "ok", "auroc": 91.0,
             "fpr95": 50.0}]
    params = {"profile": "paper", "seeds": [0], "methods": ["msp"], "pairings": ["cifar10->svhn"]}
    src = results.write(tmp_path / "run" / f"{PAGE}.json", PAGE, params, rows, wall_time_s=12.0,
                        extra={"summary": [{"in_dist": "cifar10", "ood": "svhn", "method": "msp", "auroc": 91.0,
                                            "auroc_se": 0.0, "fpr95": 50.0, "n_seeds": 1, "status": "ok"}]})
    archive.add(PAGE, src, {"command": "oodrepro run kpca/main --profile paper", "machine": "test-box",
                            "cpu_seconds": 3600.0, "wall_seconds": 12.0, "networks": ["net-s0.pt"],
                            "data": {"cifar10_test_jpg.zip": "ab" * 32}}, pages.page_code(PAGE))
    return tmp_path / "archive"


def test_an_archived_result_renders_with_its_provenance(archived):
    got = archive.load(PAGE, code=pages.page_code(PAGE))
    assert got["doc"]["rows"][0]["auroc"] == 91.0 and not got["stale"]
    from oodrepro import provenance

    box = provenance.archive_admonition(got["doc"], got["entry"], got["stale"])
    for text in ("oodrepro run kpca/main --profile paper", "test-box", "1.00 CPU-hours", "net-s0.pt",
                 "cifar10_test_jpg.zip (sha256 abababababab…)"):
        assert text in box
    a, note = pages._archived(pages.spec(PAGE), pages.Page(PAGE, {"profile": "quick"}, {}, None))
    assert a is not None and note == "" and a.cfg["profile"] == "paper" and a.has_data


def test_a_changed_archive_file_is_refused(archived):
    path = archived / "kpca" / "main" / "result.json"
    path.write_text(path.read_text().replace("91.0", "99.0"))
    with pytest.raises(archive.ArchiveError, match="was altered: its sha256 does not match"):
        archive.load(PAGE)
    assert archive.check()[0][1].startswith("tampered")
    assert cli.main(["archive", "check"]) == 1
    a, note = pages._archived(pages.spec(PAGE), pages.Page(PAGE, {"profile": "quick"}, {}, None))
    assert a is None and "refused" in note


def test_a_stale_archive_is_flagged(archived):
    m = json.loads((archived / "manifest.json").read_text())
    m["pages"][PAGE]["code"] = "0" * 40
    (archived / "manifest.json").write_text(json.dumps(m))
    assert archive.load(PAGE, code=pages.page_code(PAGE))["stale"]
    assert archive.check(code_of=pages.page_code) == [(PAGE, "stale: the page's code changed since the run was archived")]
    assert cli.main(["archive", "check"]) == 0  # stale is reported, not an error
    a, _ = pages._archived(pages.spec(PAGE), pages.Page(PAGE, {"profile": "quick"}, {}, None))
    from oodrepro import provenance

    assert "STALE" in provenance.archive_admonition(a.doc, a.archive_entry, a.stale)


def test_only_paper_profile_runs_of_the_page_are_archived(tmp_path, monkeypatch):
    monkeypatch.setenv(archive.ENV, str(tmp_path / "archive"))
    src = results.write(tmp_path / "q.json", PAGE, {"profile": "quick"}, [])
    with pytest.raises(archive.ArchiveError, match="only paper-profile runs are archived"):
        archive.add(PAGE, src, {}, "x")
    src = results.write(tmp_path / "p.json", "kpca/cost", {"profile": "paper"}, [])
    with pytest.raises(archive.ArchiveError, match="not of 'kpca/main'"):
        archive.add(PAGE, src, {}, "x")
    with pytest.raises(archive.ArchiveError, match="page name '../x'"):
        archive.load("../x") if archive.manifest()["pages"].get("../x") else archive._page_dir(tmp_path, "../x")


def test_a_result_computed_by_other_code_is_not_archived_as_this_codes(tmp_path, monkeypatch):
    monkeypatch.setenv(archive.ENV, str(tmp_path / "archive"))
    now = pages.page_code(PAGE)
    old = results.write(tmp_path / "old.json", PAGE, {"profile": "paper"}, [], extra={"code": "0" * 40})
    with pytest.raises(archive.ArchiveError, match=r"computed by other code than this checkout's \(page code 0000000000"):
        archive.add(PAGE, old, {}, now)
    assert not (tmp_path / "archive" / "manifest.json").exists()  # nothing half-written
    same = results.write(tmp_path / "same.json", PAGE, {"profile": "paper"}, [], extra={"code": now})
    assert archive.add(PAGE, same, {}, now)["code"] == now


def test_a_page_run_records_the_code_it_ran_with(tmp_path):
    from oodrepro.engine.page import run

    page = run("knn_ls/theory", {"profile": "smoke", "results_dir": str(tmp_path)})
    assert page.doc["code"] == pages.page_code("knn_ls/theory")


def test_no_archive_means_the_reason_in_its_place(tmp_path, monkeypatch):
    monkeypatch.setenv(archive.ENV, str(tmp_path / "empty"))
    a, note = pages._archived(pages.spec(PAGE), pages.Page(PAGE, {"profile": "quick"}, {}, None))
    assert a is None and "No paper-scale run of this page is archived yet" in note
    a, note = pages._archived(pages.spec(PAGE), pages.Page(PAGE, {"profile": "paper"}, {}, None))
    assert a is None and "ran the paper profile itself" in note


def test_archive_add_cost_of_adds_an_earlier_runs_cost_and_refuses_another_run(tmp_path, monkeypatch):
    monkeypatch.setenv(archive.ENV, str(tmp_path / "archive"))
    params = {"profile": "paper", "seeds": [0], "pairings": ["cifar10->svhn"]}
    code = pages.page_code(PAGE)
    first = results.write(tmp_path / "a" / f"{PAGE}.json", PAGE, dict(params, results_dir="a"), [], wall_time_s=2000.0,
                          extra={"code": code})
    results.write(tmp_path / "b" / f"{PAGE}.json", PAGE, dict(params, results_dir="b"), [], wall_time_s=25.0,
                  extra={"code": code})
    assert cli.main(["archive", "add", PAGE, "--results-dir", str(tmp_path / "b"), "--cost-of", str(first)]) == 0
    e = archive.manifest()["pages"][PAGE]
    assert e["wall_seconds"] == 2025.0 and e["cost_from"]["wall_seconds"] == 2000.0
    other = results.write(tmp_path / "c" / f"{PAGE}.json", PAGE, dict(params, seeds=[0, 1]), [], wall_time_s=9.0)
    assert cli.main(["archive", "add", PAGE, "--results-dir", str(tmp_path / "b"), "--cost-of", str(other)]) == 2
    assert archive.manifest()["pages"][PAGE]["wall_seconds"] == 2025.0  # the refused add changed nothing
    # a parameter the page gained since the earlier run counts as the same run while it has its profile's default
    from oodrepro import config

    default = config.resolve("kpca.main", "paper")["n_components"]
    later = results.write(tmp_path / "d" / f"{PAGE}.json", PAGE, dict(params, results_dir="d", n_components=default), [],
                          wall_time_s=5.0, extra={"code": code})
    assert cli.with_cost_of({"wall_seconds": 5.0}, later, first)["wall_seconds"] == 2005.0
    other = results.write(tmp_path / "e" / f"{PAGE}.json", PAGE, dict(params, results_dir="e", n_components=default + 1),
                          [], wall_time_s=5.0, extra={"code": code})
    with pytest.raises(Exception, match="not a run of"):
        cli.with_cost_of({"wall_seconds": 5.0}, other, first)


def test_archive_add_networks_of_counts_another_runs_networks_and_adds_no_time(tmp_path, monkeypatch):
    """A rerun from another run's cache reads fewer stored networks (none, when every score is cached):
    --networks-of lists the networks that run read, without adding its time; a missing file is refused."""
    from oodrepro import checkpoints

    monkeypatch.setenv(archive.ENV, str(tmp_path / "archive"))
    monkeypatch.setenv(checkpoints.ENV, str(tmp_path / "ck"))
    net = checkpoints.store({"arch": "speednet_wide", "seed": 0}, {"w": [0.0]}, {"train_seconds": 10.0}, "net")
    params, code = {"profile": "paper", "seeds": [0], "pairings": ["cifar10->svhn"]}, pages.page_code(PAGE)
    earlier = results.write(tmp_path / "a" / f"{PAGE}.json", PAGE, dict(params, results_dir="a"), [],
                            wall_time_s=500.0, extra={"code": code, "networks": [net["file"]]})
    results.write(tmp_path / "b" / f"{PAGE}.json", PAGE, dict(params, results_dir="b"), [], wall_time_s=25.0,
                  extra={"code": code, "networks": []})
    add = ["archive", "add", PAGE, "--results-dir", str(tmp_path / "b")]
    assert cli.main(add + ["--networks-of", str(earlier)]) == 0
    e = archive.manifest()["pages"][PAGE]
    assert e["networks"] == [net["file"]] and e["wall_seconds"] == 25.0
    assert cli.main(add) == 0 and archive.manifest()["pages"][PAGE]["networks"] == []
    assert cli.main(add + ["--networks-of", str(tmp_path / "no-such.json")]) == 2


def test_archive_lists_the_stored_networks_the_run_read_when_the_page_names_them(tmp_path, monkeypatch):
    """odm/tsinghua's grouped and random splits train networks of one architecture, recipe and seed: the archive
    of a run lists the ones its result file names, not every network of that architecture, recipe and seed."""
    from oodrepro import checkpoints

    monkeypatch.setenv(checkpoints.ENV, str(tmp_path / "ck"))
    defn = {"arch": "wrn10_2", "recipe": {"name": "odm_cpu"}, "seed": 0}
    grouped = checkpoints.store(dict(defn, data="g"), {"w": [0.0]}, {"train_seconds": 100.0}, "net-grouped")
    random0 = checkpoints.store(dict(defn, data="r"), {"w": [1.0]}, {"train_seconds": 50.0}, "net-random0")
    for e in (grouped, random0):  # stored by an earlier script: their training CPU is the run's too
        checkpoints.annotate(e["key"], created="2026-01-01T00:00:00Z")
    params = {"profile": "paper", "arch": "wrn10_2", "recipe": "odm_cpu", "seeds": [0]}
    named = results.write(tmp_path / "a.json", "odm/tsinghua", params, [], wall_time_s=1.0,
                          extra={"networks": [grouped["file"]]})
    prov = cli.archive_provenance(named)
    own = results.read(named)["meta"].get("cpu_seconds") or 0.0
    assert prov["networks"] == [grouped["file"]] and prov["cpu_seconds"] == pytest.approx(own + 100.0, abs=0.1)
    unnamed = results.write(tmp_path / "b.json", "odm/tsinghua", params, [], wall_time_s=1.0)
    assert cli.archive_provenance(unnamed)["networks"] == sorted([grouped["file"], random0["file"]])
    # a network the run stored itself (created after the run began) was trained in it: its CPU is not added twice
    checkpoints.annotate(grouped["key"], created="2099-01-01T00:00:00Z")
    assert cli.archive_provenance(named)["cpu_seconds"] == pytest.approx(own, abs=0.1)
    # stored before this run but after an earlier run began whose cost is added (--cost-of): trained in that run
    checkpoints.annotate(grouped["key"], created="2026-06-01T00:00:00Z")
    assert cli.archive_provenance(named)["cpu_seconds"] == pytest.approx(own + 100.0, abs=0.1)
    earlier = datetime.datetime(2026, 5, 1, tzinfo=datetime.timezone.utc).timestamp()
    assert cli.archive_provenance(named, since=earlier)["cpu_seconds"] == pytest.approx(own, abs=0.1)
    # a rerun from the earlier run's cache loaded fewer networks: the ones the earlier run read count too
    both = cli.archive_provenance(named, also_read=[random0["file"]])
    assert both["networks"] == sorted([grouped["file"], random0["file"]])
    # a rerun whose result file lists no networks at all (every score from the cache): the earlier run's list only
    other = {"profile": "paper", "seeds": [0]}  # no arch / recipe: nothing to match the manifest by
    bare = results.write(tmp_path / "c.json", "knn_ls/figure2", other, [], wall_time_s=1.0)
    assert cli.archive_provenance(bare)["networks"] == []
    assert cli.archive_provenance(bare, also_read=[random0["file"]])["networks"] == [random0["file"]]


def test_has_data_a_simulation_without_status_counts_its_rows():
    """knn-ls's theory page needs no data set: its rows carry no status, and its archived figure is drawn."""
    sim = pages.Page("knn_ls/theory", {"profile": "paper"}, {"rows": [{"n": 1000, "k": 1, "fpr": 0.5}]}, None)
    assert sim.has_data
    assert not pages.Page("knn_ls/theory", {"profile": "paper"}, {"rows": []}, None).has_data
    need = pages.Page(PAGE, {"profile": "paper"}, {"rows": [{"method": "msp", "status": "needs data"}]}, None)
    assert not need.has_data


def test_archive_add_of_an_unknown_page_names_the_known_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(archive.ENV, str(tmp_path / "archive"))
    assert cli.main(["archive", "add", "kpca/mian", "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no notebook 'kpca/mian'" in err and "kpca/main" in err and "no result file" not in err
    assert not (tmp_path / "archive").exists()  # nothing half-written


def test_archive_records_the_data_files_of_the_root_the_run_read_not_the_archiving_shells(tmp_path, monkeypatch):
    """The run read its data from $OODREPRO_DATA_ROOT; the shell that archives it sets none (or another): the data
    files and their sha256 come from the root recorded in the result file."""
    root = tmp_path / "data"
    (root / "MNIST" / "raw").mkdir(parents=True)
    (root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").write_bytes(b"digits")
    monkeypatch.setenv("OODREPRO_DATA_ROOT", str(root))
    rows = [{"in_dist": "mnist", "ood": "hflip", "status": "ok", "auroc": 0.9}]
    res = results.write(tmp_path / "r.json", "knn_ls/figure2", {"profile": "paper", "seeds": [0]}, rows,
                        wall_time_s=1.0)
    monkeypatch.delenv("OODREPRO_DATA_ROOT")
    files = cli.archive_provenance(res)["data"]
    assert list(files) == ["MNIST/raw/train-images-idx3-ubyte.gz"]
    assert files["MNIST/raw/train-images-idx3-ubyte.gz"] == __import__("hashlib").sha256(b"digits").hexdigest()


def test_as_archived_reruns_a_page_with_its_archived_parameters(archived, tmp_path):
    """``oodrepro run --as-archived`` (make book PROFILE=paper): the archived run's parameters but its results
    folder and data root, only those the notebook declares; a page without an archive keeps its own."""
    nb = cli._find(PAGE)
    declared = cli.notebook_params(nb)
    got = cli.archived_params(nb, declared)
    assert got == {"profile": "paper", "seeds": [0], "methods": ["msp"], "pairings": ["cifar10->svhn"]}
    assert cli.archived_params(cli._find("kpca/cost"), cli.notebook_params(cli._find("kpca/cost"))) == {}
    ran = {"profile": "paper", "seeds": [0, 1], "results_dir": "runs/x", "data_root": "/d", "gone_since": 3}
    src = results.write(tmp_path / "run2" / f"{PAGE}.json", PAGE, ran, [], wall_time_s=1.0)
    archive.add(PAGE, src, {"command": "oodrepro run kpca/main --profile paper"}, pages.page_code(PAGE))
    assert cli.archived_params(nb, declared) == {"profile": "paper", "seeds": [0, 1]}
    path = archived / "kpca" / "main" / "result.json"
    path.write_text(path.read_text().replace('"seeds"', '"seeds_"', 1))
    with pytest.raises(archive.ArchiveError, match="was altered"):  # a tampered archive is refused, not rerun
        cli.archived_params(nb, declared)


def test_every_archived_page_leads_with_its_archive():
    """A page with an archive shows the paper-scale run first: its notebook glues the archive's provenance box
    (``paper_provenance``) in a cell before its parameters cell (knn-ls Figure 3 had an archive and no such cell)."""
    for page in archive.pages(archive.folder()):
        cells = cli.read_notebook(cli._find(page))["cells"]
        text = ["".join(c["source"]) for c in cells]
        params = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
        assert any("paper_provenance" in t for t in text[:params]), f"{page}: no archived run before its parameters"
