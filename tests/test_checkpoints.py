"""Stored networks (oodrepro.checkpoints): manifest, sha256, definition matching, training fallback."""
import json

import numpy as np
import pytest
import torch

from oodrepro import checkpoints, cli, data, recipes, train


@pytest.fixture()
def store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(checkpoints.ENV, str(tmp_path / "ckpt"))
    return tmp_path / "ckpt"


def _ds():
    return data.load("mnist5k", "train").subset(np.arange(200), name="mnist5k[:200]")


R = recipes.Recipe("tiny", epochs=1, batch_size=100)


def test_store_then_load_instead_of_training(store_dir):
    ds = _ds()
    a = train.fit("mlp", ds, recipe=R, progress=False, use_cache=False, store="mlp-tiny")
    assert a.stored["file"].startswith("mlp-tiny-") and (store_dir / a.stored["file"]).is_file()
    entry = checkpoints.manifest()["networks"][a.stored["key"]]
    assert entry["definition"]["recipe"]["name"] == "tiny" and entry["sha256"] and entry["bytes"] > 0
    b = train.fit("mlp", ds, recipe=R, progress=False, use_cache=False)
    assert b.stored is not None and not b.stale_code
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert checkpoints.verify() == []


def test_no_matching_network_means_training(store_dir):
    ds = _ds()
    train.fit("mlp", ds, recipe=R, progress=False, use_cache=False, store="mlp-tiny")
    other = train.fit("mlp", ds, recipe=R, seed=1, progress=False, use_cache=False)
    assert other.stored is None


def test_a_changed_file_is_refused(store_dir):
    ds = _ds()
    a = train.fit("mlp", ds, recipe=R, progress=False, use_cache=False, store="mlp-tiny")
    path = store_dir / a.stored["file"]
    raw = bytearray(path.read_bytes())
    raw[-20] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(checkpoints.CheckpointError, match="altered: sha256"):
        train.fit("mlp", ds, recipe=R, progress=False, use_cache=False)
    assert any("altered" in p for p in checkpoints.verify())
    assert cli.main(["checkpoints", "verify"]) == 1


def test_stale_code_is_flagged(store_dir):
    ds = _ds()
    a = train.fit("mlp", ds, recipe=R, progress=False, use_cache=False, store="mlp-tiny")
    checkpoints.annotate(a.stored["key"], code="0" * 40)
    b = train.fit("mlp", ds, recipe=R, progress=False, use_cache=False)
    assert b.stored is not None and b.stale_code


def test_retrain_replaces_a_stale_network(store_dir):
    ds = _ds()
    a = train.fit("mlp", ds, recipe=R, progress=False, use_cache=False, store="mlp-tiny")
    checkpoints.annotate(a.stored["key"], code="0" * 40, accuracy={"tta0": 0.5})
    b = train.fit("mlp", ds, recipe=R, progress=False, use_cache=False, store="mlp-tiny", retrain=True)
    assert b.stored["key"] == a.stored["key"] and not b.stale_code
    entry = checkpoints.manifest()["networks"][a.stored["key"]]
    assert entry["code"] != "0" * 40 and "accuracy" not in entry and len(checkpoints.manifest()["networks"]) == 1
    assert checkpoints.verify() == []


def test_manifest_file_names_cannot_leave_the_folder(store_dir):
    store_dir.mkdir(parents=True)
    (store_dir / "manifest.json").write_text(json.dumps({"format": 1, "networks": {
        "k": {"file": "../outside.pt", "sha256": "x", "definition": {}}}}))
    assert any("not a plain file name" in p for p in checkpoints.verify())
    with pytest.raises(checkpoints.CheckpointError, match="not a plain file name"):
        checkpoints.load_state(dict(checkpoints.manifest()["networks"]["k"], key="k"))


def test_unlisted_and_missing_files(store_dir, capsys):
    ds = _ds()
    a = train.fit("mlp", ds, recipe=R, progress=False, use_cache=False, store="mlp-tiny")
    (store_dir / "stray.pt").write_bytes(b"x")
    (store_dir / a.stored["file"]).unlink()
    problems = checkpoints.verify()
    assert any("stray.pt: not in the manifest" in p for p in problems) and any("missing" in p for p in problems)
    assert cli.main(["checkpoints", "list"]) == 0
    assert "mlp-tiny" in capsys.readouterr().out


def test_a_broken_manifest_is_one_line(store_dir):
    store_dir.mkdir(parents=True)
    (store_dir / "manifest.json").write_text("{not json")
    with pytest.raises(checkpoints.CheckpointError, match="not a readable checkpoint manifest"):
        checkpoints.manifest()


def test_only_the_paper_profile_adds_stored_networks():
    """A smoke or quick run read stored networks but also wrote its own small ones into the project's
    checkpoints/ (an audit's smoke run of odm/mnist with recipe cifar_speedrun did): the engine's contexts store
    on the paper profile only, every chapter's networks (knn-ls's and odm/mnist's too, which name no recipe)."""
    from oodrepro import config
    from oodrepro.engine import contexts
    from oodrepro.experiments.knn_ls.paper import MODELS, PAPER

    names = {}
    for profile in ("smoke", "quick", "paper"):
        cfg = config.resolve("knn_ls.table1", profile, pairings=["mnist5k->hflip"], seeds=[0])
        ctx = next(contexts(PAPER, MODELS, cfg, progress=False))[2]
        names[profile] = ctx.store_name("mlp", "ls0.1")
    assert names == {"smoke": None, "quick": None, "paper": "mlp-mnist5k-ls0.1-adam-s0"}


def test_a_page_run_lists_the_stored_networks_it_read(tmp_path):
    """The engine records every stored network a context reads or stores; a page run's result file lists them
    (``networks``: what ``archive add`` records as the run's networks)."""
    from oodrepro import config, train
    from oodrepro.engine import contexts
    from oodrepro.engine.core import stored_networks
    from oodrepro.experiments.knn_ls.paper import MODELS, PAPER

    cfg = config.resolve("knn_ls.table1", "paper", pairings=["mnist5k->hflip"], seeds=[0], max_train=200, epochs=1)
    stored_networks(reset=True)
    ctx = next(contexts(PAPER, MODELS, cfg, progress=False))[2]
    m = ctx.model(train.LabelSmoothedCE(0.1))
    assert m.stored["file"].startswith("mlp-mnist5k-ls0.1-adam-s0-")
    assert stored_networks(reset=True) == [m.stored["file"]] and stored_networks() == []


def test_a_stored_networks_name_says_its_loss():
    from oodrepro import train
    from oodrepro.engine.core import loss_tag
    from oodrepro.experiments.odm.losses import ContrastiveLoss

    assert [loss_tag(train.LabelSmoothedCE(a)) for a in (0.0, 0.1)] == ["ce", "ls0.1"]
    assert loss_tag(ContrastiveLoss()) == "contrastive"
