"""Tsinghua-Tencent 100K (TT100K) traffic signs for odm's §4.2: loaders and the split protocol as data.

**The release format** (``root/annotations.json`` + frames): ``{"types": [names], "imgs": {"<id>": {"path":
"train/<id>.jpg", "id": <int>, "objects": [{"category": "pl40", "bbox": {"xmin", "ymin", "xmax", "ymax"}},
…]}}}``. :func:`crop_signs` cuts every annotated sign with a margin and resizes it; :func:`background_patches`
cuts patches at random from the central area of the frames, never overlapping a sign (odm §4.2).

**Ready-made crops** (``TT100K_Cropped``: ``tt100k_cropped_{train,test}_32x32.npz`` with ``x, y, classes`` and
``tt100k_background_256.zip`` of 256×256 background patches): :func:`load_cropped`, :func:`cropped_background`.

**The protocol** (odm §4.2, supplement C): drop classes with fewer than :data:`MIN_IMAGES` images
(:func:`drop_rare`); group near-identical classes by the table ``tt100k_groups.csv`` beside this module
(:func:`group_table`, :func:`group_classes`); split the groups 50 / 20 / 30 % into in-distribution / seen OOD /
unseen OOD with a seed (:func:`split_groups`); Table 4's 10 random splits of the ungrouped classes
(:func:`random_splits`).

**Offline stand-in**: :func:`write_synthetic` writes a small synthetic sign set *in TT100K's own format*
(frames + ``annotations.json``) so that the real loader is what reads it.
"""
from __future__ import annotations

import json
import re
import zipfile
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataFormatError, DataNotFoundError, ParameterError

ANNOTATIONS = "annotations.json"
MIN_IMAGES = 10
FRACTIONS = (0.5, 0.2, 0.3)
PARTS = ("in", "seen", "unseen")


# --- the release format ----------------------------------------------------------------------------------
def _bad(path, what: str) -> DataFormatError:
    return DataFormatError(f"{path}: {what}")


def _check_object(path, img_id: str, k: int, obj) -> dict:
    if not isinstance(obj, dict) or "category" not in obj or "bbox" not in obj:
        raise _bad(path, f"imgs[{img_id!r}].objects[{k}] needs 'category' and 'bbox'")
    b = obj["bbox"]
    try:
        box = {c: float(b[c]) for c in ("xmin", "ymin", "xmax", "ymax")}
    except (KeyError, TypeError, ValueError):
        raise _bad(path, f"imgs[{img_id!r}].objects[{k}].bbox must hold numbers xmin, ymin, xmax, ymax, got {b!r}") from None
    if not (box["xmax"] > box["xmin"] and box["ymax"] > box["ymin"]):
        raise _bad(path, f"imgs[{img_id!r}].objects[{k}].bbox is empty or inverted: {b!r}")
    return {"category": str(obj["category"]), "bbox": box}


def read_annotations(root) -> dict:
    """``root/annotations.json`` validated: ``{"types": [...], "imgs": {id: {"path", "objects": [...]}}}``.

    A missing file raises :class:`DataNotFoundError`; a malformed one one :class:`DataFormatError` line
    naming the file and the entry."""
    path = Path(root) / ANNOTATIONS
    if not path.is_file():
        raise DataNotFoundError("tt100k", str(path), "Put TT100K's release (annotations.json and the frame folders) "
                                "there, or use the ready-made crops (TT100K_Cropped)")
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _bad(path, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("imgs"), dict) or not isinstance(doc.get("types"), list):
        raise _bad(path, "expected an object with 'types' (a list) and 'imgs' (an object by image id)")
    imgs = {}
    for img_id, im in doc["imgs"].items():
        if not isinstance(im, dict) or not isinstance(im.get("path"), str) or not isinstance(im.get("objects", []), list):
            raise _bad(path, f"imgs[{img_id!r}] needs 'path' (a string) and 'objects' (a list)")
        rel = im["path"]
        if not rel or "\0" in rel or Path(rel).is_absolute() or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel) \
                or ".." in re.split(r"[/\\]", rel):
            raise _bad(path, f"imgs[{img_id!r}].path = {rel!r} is not accepted; frame paths must be relative to "
                             f"{Path(root)} without '..'")
        imgs[str(img_id)] = {"path": im["path"], "objects": [_check_object(path, img_id, k, o)
                                                             for k, o in enumerate(im.get("objects", []))]}
    return {"types": [str(t) for t in doc["types"]], "imgs": imgs, "root": str(root)}


def crop_box(bbox: dict, margin: float, width: int, height: int, where: str = "bbox") -> tuple[int, int, int, int]:
    """The crop ``(x0, y0, x1, y1)`` (pixels, end exclusive) of a sign: its box widened by ``margin`` × its
    width / height on every side, clipped to the frame. A box outside the frame is a DataFormatError."""
    if not (isinstance(margin, (int, float)) and not isinstance(margin, bool) and margin >= 0):
        raise ParameterError(f"parameter 'margin' = {margin!r} is not accepted; use a number >= 0")
    x0, y0, x1, y1 = bbox["xmin"], bbox["ymin"], bbox["xmax"], bbox["ymax"]
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        raise DataFormatError(f"{where}: box {x0:g},{y0:g},{x1:g},{y1:g} lies outside the {width}×{height} frame")
    mw, mh = margin * (x1 - x0), margin * (y1 - y0)
    return (max(0, int(np.floor(x0 - mw))), max(0, int(np.floor(y0 - mh))),
            min(width, int(np.ceil(x1 + mw))), min(height, int(np.ceil(y1 + mh))))


def _open(root: Path, rel: str):
    from PIL import Image

    p = root / rel
    if Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise DataFormatError(f"{root / ANNOTATIONS}: frame path {rel!r} is not accepted; it must be relative "
                              "to the data set's folder, without '..'")
    if p.exists() and not p.resolve().is_relative_to(Path(root).resolve()):
        raise DataFormatError(f"{p}: frame resolves to {p.resolve()}, outside the data set's folder "
                              f"{Path(root).resolve()}; copy it in or remove the link")
    if not p.is_file():
        raise DataNotFoundError("tt100k", str(p), "annotations.json names a frame that is not on disk")
    try:
        return Image.open(p).convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataFormatError(f"{p}: not a readable image ({type(exc).__name__}); replace the frame") from None


def crop_signs(root, size: int = 32, margin: float = 0.1, ann: dict | None = None) -> dict:
    """Every annotated sign cut with ``margin`` (:func:`crop_box`) and resized to ``size``×``size`` (bilinear).

    Returns ``{"x": uint8 (N, size, size, 3), "labels": str array, "image": ids, "box": (N, 4) crops}``."""
    from PIL import Image

    root = Path(root)
    ann = ann or read_annotations(root)
    xs, labels, ids, boxes = [], [], [], []
    for img_id, im in ann["imgs"].items():
        if not im["objects"]:
            continue
        frame = _open(root, im["path"])
        for k, o in enumerate(im["objects"]):
            box = crop_box(o["bbox"], margin, frame.width, frame.height, f"{ANNOTATIONS}: imgs[{img_id!r}].objects[{k}]")
            xs.append(np.asarray(frame.crop(box).resize((size, size), Image.BILINEAR)))
            labels.append(o["category"])
            ids.append(img_id)
            boxes.append(box)
    return {"x": np.stack(xs) if xs else np.zeros((0, size, size, 3), np.uint8), "labels": np.array(labels),
            "image": np.array(ids), "box": np.array(boxes, dtype=int).reshape(-1, 4)}


def _overlaps(box, signs) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < s[2] and s[0] < x1 and y0 < s[3] and s[1] < y1 for s in signs)


def patch_boxes(width: int, height: int, signs, n: int, rng, patch=(24, 64), central: float = 0.5,
                tries: int = 200) -> list[tuple[int, int, int, int]]:
    """Up to ``n`` random square boxes of side in ``patch`` inside the central ``central`` fraction of a
    ``width``×``height`` frame (odm: "from the central area"), none overlapping a box of ``signs``."""
    cx0, cy0 = int(round(width * (1 - central) / 2)), int(round(height * (1 - central) / 2))
    cx1, cy1 = width - cx0, height - cy0
    out = []
    for _ in range(tries):
        if len(out) == n:
            break
        side = int(rng.integers(patch[0], patch[1] + 1))
        if cx1 - cx0 < side or cy1 - cy0 < side:
            break
        x0, y0 = int(rng.integers(cx0, cx1 - side + 1)), int(rng.integers(cy0, cy1 - side + 1))
        box = (x0, y0, x0 + side, y0 + side)
        if not _overlaps(box, signs) and not _overlaps(box, out):
            out.append(box)
    return out


def background_patches(root, n: int, size: int = 32, seed: int = 0, per_frame: int = 2, central: float = 0.5,
                       patch=(24, 64), ann: dict | None = None) -> dict:
    """``n`` background patches cut at random from the central area of annotated frames, never overlapping
    a sign, resized to ``size``. Returns ``{"x": uint8 (n, size, size, 3), "image": ids, "box": (n, 4)}``."""
    from PIL import Image

    root = Path(root)
    ann = ann or read_annotations(root)
    rng = np.random.default_rng(seed)
    order = list(ann["imgs"])
    xs, ids, boxes = [], [], []
    for img_id in (order[i] for i in rng.permutation(len(order))):
        if len(xs) >= n:
            break
        im = ann["imgs"][img_id]
        frame = _open(root, im["path"])
        signs = [crop_box(o["bbox"], 0.0, frame.width, frame.height) for o in im["objects"]]
        for box in patch_boxes(frame.width, frame.height, signs, min(per_frame, n - len(xs)), rng, patch, central):
            xs.append(np.asarray(frame.crop(box).resize((size, size), Image.BILINEAR)))
            ids.append(img_id)
            boxes.append(box)
    return {"x": np.stack(xs) if xs else np.zeros((0, size, size, 3), np.uint8), "image": np.array(ids),
            "box": np.array(boxes, dtype=int).reshape(-1, 4)}


# --- ready-made crops (TT100K_Cropped) --------------------------------------------------------------------
def load_cropped(folder, split: str = "train") -> dict:
    """The array bundle ``tt100k_cropped_<split>_32x32.npz``: ``{"x": uint8 NHWC, "labels": str array}``."""
    path = Path(folder) / f"tt100k_cropped_{split}_32x32.npz"
    if not path.is_file():
        raise DataNotFoundError("tt100k_cropped", str(path), "Copy TT100K_Cropped (see its README.txt) there")
    try:
        with np.load(path, allow_pickle=False) as z:
            x, y, classes = z["x"], z["y"].astype(int), [str(c) for c in z["classes"]]
    except KeyError as exc:
        raise DataFormatError(f"{path}: expected arrays x, y, classes ({exc})") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataFormatError(f"{path}: truncated or corrupt .npz ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}; {path.stat().st_size} bytes); "
                              "replace it with a fresh copy") from None
    if x.ndim != 4 or x.shape[-1] != 3 or len(x) != len(y) or (y < 0).any() or (y >= len(classes)).any():
        raise DataFormatError(f"{path}: x must be (N, H, W, 3) with one label in 0..{len(classes) - 1} per image")
    return {"x": x, "labels": np.array(classes)[y]}


def cropped_background(folder, n: int, size: int = 32, seed: int = 0, patch=(24, 64), split: str | None = None) -> np.ndarray:
    """``n`` sign-sized sub-patches (side in ``patch``, resized to ``size``) cut at random from the genuine
    256×256 background patches of ``tt100k_background_256.zip`` (optionally only ``split``'s files)."""
    path = Path(folder) / "tt100k_background_256.zip"
    if not path.is_file():
        raise DataNotFoundError("tt100k_background", str(path), "Copy TT100K_Cropped (see its README.txt) there")
    rng = np.random.default_rng(seed)
    try:
        return _background_patches(path, n, size, rng, patch, split)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DataFormatError(f"{path}: truncated or corrupt zip archive ({type(exc).__name__}: {exc}, "
                              f"{path.stat().st_size} bytes); replace it with a fresh copy") from None


def _background_patches(path: Path, n: int, size: int, rng, patch, split) -> np.ndarray:
    from PIL import Image

    out = []
    with zipfile.ZipFile(path) as zf:
        names = sorted(m for m in zf.namelist() if m.lower().endswith(".jpg") and (split is None or f"/{split}_" in m))
        if not names:
            raise DataFormatError(f"{path}: no .jpg background patch{'' if split is None else f' of split {split!r}'}")
        for i in range(n):
            with zf.open(names[int(rng.integers(len(names)))]) as f:
                img = Image.open(f).convert("RGB")
            side = int(rng.integers(patch[0], patch[1] + 1))
            x0, y0 = int(rng.integers(0, img.width - side + 1)), int(rng.integers(0, img.height - side + 1))
            out.append(np.asarray(img.crop((x0, y0, x0 + side, y0 + side)).resize((size, size), Image.BILINEAR)))
    return np.stack(out)


# --- the protocol as data ----------------------------------------------------------------------------------
def group_table() -> pd.DataFrame:
    """The grouping of near-identical classes (``tt100k_groups.csv``: group, pattern (a regular expression
    matched against the whole class name), note)."""
    with resources.files(__package__).joinpath("tt100k_groups.csv").open() as f:
        return pd.read_csv(f, comment="#")


def drop_rare(labels, min_images: int = MIN_IMAGES) -> list[str]:
    """The classes with at least ``min_images`` images (odm: classes with < 10 images are dropped), sorted."""
    if isinstance(min_images, bool) or not isinstance(min_images, (int, np.integer)) or min_images < 1:
        raise ParameterError(f"parameter 'min_images' = {min_images!r} is not accepted; use an integer >= 1")
    names, counts = np.unique(np.asarray(labels), return_counts=True)
    return sorted(str(c) for c, k in zip(names, counts) if k >= min_images)


def group_classes(classes, table: pd.DataFrame | None = None) -> dict[str, str]:
    """Class → group: the first row of ``table`` whose pattern matches the whole class name; a class no
    pattern matches is a group of its own (named after it)."""
    table = group_table() if table is None else table
    pats = [(g, re.compile(p)) for g, p in zip(table["group"], table["pattern"])]
    return {c: next((g for g, p in pats if p.fullmatch(c)), c) for c in classes}


def _sizes(n: int, fractions) -> tuple[int, int, int]:
    n_in, n_seen = int(np.floor(fractions[0] * n + 0.5)), int(np.floor(fractions[1] * n + 0.5))
    return n_in, n_seen, n - n_in - n_seen


def split_groups(groups, fractions=FRACTIONS, seed: int = 0, fixed: dict | None = None) -> dict[str, list[str]]:
    """Split the groups into ``in`` / ``seen`` / ``unseen`` (sizes ``⌊0.5 G + ½⌋``, ``⌊0.2 G + ½⌋``, the
    rest) at random with ``seed``; ``fixed`` pins named groups to a part (``{"in": ["speed limit"]}``)."""
    groups = sorted(set(groups))
    fixed = fixed or {}
    pinned = {}
    for part, names in fixed.items():
        if part not in PARTS:
            raise ParameterError(f"unknown part {part!r} in 'fixed'; use {', '.join(PARTS)}")
        for g in names:
            if g not in groups:
                raise ParameterError(f"unknown class group {g!r}; known: {', '.join(groups)}")
            pinned[g] = part
    sizes = dict(zip(PARTS, _sizes(len(groups), fractions)))
    rng = np.random.default_rng(seed)
    free = [groups[i] for i in rng.permutation(len(groups)) if groups[i] not in pinned]
    out = {p: [g for g, q in pinned.items() if q == p] for p in PARTS}
    for p in PARTS:
        while len(out[p]) < sizes[p] and free:
            out[p].append(free.pop(0))
    out["unseen"] += free
    return {p: sorted(v) for p, v in out.items()}


def protocol_split(labels, seed: int = 0, grouped: bool = True, min_images: int = MIN_IMAGES,
                   table: pd.DataFrame | None = None, fixed: dict | None = None) -> dict:
    """odm's split of the classes: drop rare classes, group (unless ``grouped=False``, Table 4's random
    splits), split the groups 50/20/30. Returns ``{"in"|"seen"|"unseen": [classes], "groups": {class: group}}``."""
    classes = drop_rare(labels, min_images)
    groups = group_classes(classes, table) if grouped else {c: c for c in classes}
    parts = split_groups(set(groups.values()), seed=seed, fixed=fixed)
    return {p: sorted(c for c in classes if groups[c] in parts[p]) for p in PARTS} | {"groups": groups}


def random_splits(labels, n: int = 10, seed: int = 0, min_images: int = MIN_IMAGES) -> list[dict]:
    """Table 4's ``n`` random splits of the ungrouped classes (seeds ``seed … seed + n − 1``)."""
    return [protocol_split(labels, seed + i, grouped=False, min_images=min_images) for i in range(n)]
