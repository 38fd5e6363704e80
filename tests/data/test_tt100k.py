"""The TT100K loader and odm's split protocol on a fixture with known boxes (no real data needed)."""
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from oodrepro.data import tt100k
from oodrepro.data.tt100k_synth import write_synthetic
from oodrepro.errors import DataFormatError, DataNotFoundError, ParameterError


def _fixture(root, objects_by_frame, size=(120, 100)):
    """Frames of a flat grey with each sign a solid colour block, and their annotations.json."""
    (root / "train").mkdir(parents=True)
    imgs = {}
    for i, objs in enumerate(objects_by_frame):
        a = np.full((size[1], size[0], 3), 128, np.uint8)
        for k, (cat, (x0, y0, x1, y1)) in enumerate(objs):
            a[y0:y1, x0:x1] = (40 * k + 20, 200, 30)
        Image.fromarray(a).save(root / "train" / f"{i}.png")
        imgs[str(i)] = {"path": f"train/{i}.png", "id": i, "objects": [
            {"category": c, "bbox": {"xmin": b[0], "ymin": b[1], "xmax": b[2], "ymax": b[3]}} for c, b in objs]}
    (root / "annotations.json").write_text(json.dumps({"types": ["pl40", "pl60", "i5"], "imgs": imgs}))
    return root


def test_crop_box_margin_and_clipping():
    box = {"xmin": 10, "ymin": 20, "xmax": 30, "ymax": 60}  # 20 wide, 40 high
    assert tt100k.crop_box(box, 0.0, 100, 100) == (10, 20, 30, 60)
    assert tt100k.crop_box(box, 0.1, 100, 100) == (8, 16, 32, 64)  # 2 px and 4 px on each side
    assert tt100k.crop_box(box, 0.75, 100, 100) == (0, 0, 45, 90)  # clipped at the frame's edge
    with pytest.raises(DataFormatError, match="outside the 100×50 frame"):
        tt100k.crop_box(box, 0.1, 100, 50)
    with pytest.raises(ParameterError, match="'margin'"):
        tt100k.crop_box(box, -0.1, 100, 100)


def test_crop_signs_reads_the_known_boxes(tmp_path):
    root = _fixture(tmp_path, [[("pl40", (10, 10, 30, 30)), ("i5", (60, 40, 100, 80))], [("pl60", (0, 0, 20, 20))]])
    c = tt100k.crop_signs(root, size=8, margin=0.0)
    assert c["x"].shape == (3, 8, 8, 3) and list(c["labels"]) == ["pl40", "i5", "pl60"]
    np.testing.assert_array_equal(c["box"], [[10, 10, 30, 30], [60, 40, 100, 80], [0, 0, 20, 20]])
    assert (c["x"][0] == (20, 200, 30)).all() and (c["x"][1] == (60, 200, 30)).all()  # the sign's own pixels
    wide = tt100k.crop_signs(root, size=8, margin=0.5)
    np.testing.assert_array_equal(wide["box"][0], [0, 0, 40, 40])


def test_background_patches_never_overlap_a_sign(tmp_path):
    signs = [[("pl40", (40, 30, 80, 70))], [("i5", (50, 45, 70, 55)), ("pl60", (20, 20, 40, 40))]]
    root = _fixture(tmp_path, signs * 10, size=(120, 100))
    b = tt100k.background_patches(root, 40, size=8, seed=0, per_frame=3, central=0.8, patch=(8, 16))
    assert len(b["x"]) == 40
    ann = tt100k.read_annotations(root)
    for img, (x0, y0, x1, y1) in zip(b["image"], b["box"]):
        assert 12 <= x0 and x1 <= 108 and 10 <= y0 and y1 <= 90  # the central 80 %
        for o in ann["imgs"][img]["objects"]:
            s = o["bbox"]
            assert not (x0 < s["xmax"] and s["xmin"] < x1 and y0 < s["ymax"] and s["ymin"] < y1)
        assert (b["x"][list(b["box"].tolist()).index([x0, y0, x1, y1])] == 128).all()  # grey only


def test_rare_classes_grouping_and_split_sizes():
    labels = ["pl40"] * 12 + ["pl60"] * 10 + ["pl80"] * 9 + ["i5"] * 30 + ["ph4"] * 11 + ["ph4.5"] * 10 + \
        [f"w{i}" for i in range(20, 28) for _ in range(10)]
    kept = tt100k.drop_rare(labels)
    assert "pl80" not in kept and "pl60" in kept and len(kept) == 13  # < 10 images dropped, 10 kept
    g = tt100k.group_classes(kept)
    assert g["pl40"] == g["pl60"] == "speed limit" and g["ph4.5"] == "height limit" and g["i5"] == "i5"
    s0 = tt100k.protocol_split(labels, seed=3)
    assert len(set(g.values())) == 11  # speed limit, height limit, i5 and eight warnings
    parts = {p: {g[c] for c in s0[p]} for p in tt100k.PARTS}
    assert [len(parts[p]) for p in tt100k.PARTS] == [6, 2, 3]  # ⌊5.5 + ½⌋, ⌊2.2 + ½⌋, the rest
    assert not (parts["in"] & parts["seen"]) and not (parts["in"] & parts["unseen"])
    assert {g["pl40"], g["pl60"]} <= parts["in"] or "speed limit" not in parts["in"]
    assert sum(g["pl40"] in parts[p] and g["pl60"] in parts[p] for p in tt100k.PARTS) == 1  # grouped together
    assert tt100k.protocol_split(labels, seed=3) == s0 and tt100k.protocol_split(labels, seed=4) != s0
    splits = tt100k.random_splits(labels, n=10, seed=0)
    assert len(splits) == 10 and len({tuple(s["in"]) for s in splits}) > 1
    assert all(len(s["in"]) == 7 and len(s["seen"]) == 3 and len(s["unseen"]) == 3 for s in splits)  # 13 classes


def test_bad_inputs_give_one_clear_line_and_lose_nothing(tmp_path):
    root = _fixture(tmp_path / "a", [[("pl40", (10, 10, 30, 30))]])
    before = (root / "annotations.json").read_text()
    (root / "annotations.json").write_text("{not json")
    with pytest.raises(DataFormatError, match="annotations.json: not valid JSON") as e:
        tt100k.read_annotations(root)
    assert "\n" not in str(e.value)
    (root / "annotations.json").write_text(json.dumps({"types": [], "imgs": {"0": {"path": "train/0.png",
                                                       "objects": [{"category": "pl40", "bbox": {"xmin": 1}}]}}}))
    with pytest.raises(DataFormatError, match=r"imgs\['0'\].objects\[0\].bbox must hold numbers"):
        tt100k.read_annotations(root)
    (root / "annotations.json").write_text(before.replace('"xmax": 30', '"xmax": 500'))
    with pytest.raises(DataFormatError, match="outside the 120×100 frame"):
        tt100k.crop_signs(root)
    assert (root / "train" / "0.png").is_file()  # nothing deleted
    with pytest.raises(ParameterError, match="unknown class group 'turn arrow'; known:"):
        tt100k.split_groups(["speed limit", "i5"], fixed={"in": ["turn arrow"]})
    with pytest.raises(DataNotFoundError, match="tt100k"):
        tt100k.read_annotations(tmp_path / "nowhere")
    with pytest.raises(ParameterError, match="'min_images'"):
        tt100k.drop_rare(["a"], 0)


def test_the_synthetic_set_is_read_by_the_real_loader(tmp_path):
    root = write_synthetic(tmp_path / "s", n_frames=30, per_frame=3, size=256, seed=1)
    c = tt100k.crop_signs(root)
    assert c["x"].shape[1:] == (32, 32, 3) and len(c["x"]) >= 30
    assert set(c["labels"]) <= {row[0] for row in __import__("oodrepro.data.tt100k_synth", fromlist=["x"]).CLASSES}
    t = tt100k.group_table()
    assert isinstance(t, pd.DataFrame) and {"group", "pattern", "note"} <= set(t.columns)
    stamp = (root / "annotations.json").stat().st_mtime_ns
    write_synthetic(tmp_path / "s", n_frames=30, per_frame=3, size=256, seed=1)
    assert (root / "annotations.json").stat().st_mtime_ns == stamp  # reused, not rewritten
