"""A small **synthetic** traffic-sign set written in TT100K's release format (frames + ``annotations.json``), the
offline stand-in for odm's Tsinghua experiment: :func:`oodrepro.data.tt100k.crop_signs` reads it exactly as
it reads the real release.

Each class is drawn as TT100K's family looks (red-ringed discs for prohibitions and limits, blue discs for
indications, yellow triangles for warnings) with a class-specific glyph; frames are 512 × 512 (the real ones
are 2048 × 2048) with a sky-to-road gradient, noise and a few signs each, never overlapping. One class has
fewer than 10 instances, so the < 10 rule has something to drop. It is a stand-in, not TT100K: the pages say so.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

VERSION = 1
#: (class, shape, fill, ring, glyph): shapes disc / triangle / square; glyph text drawn in the middle.
CLASSES = [(f"pl{v}", "disc", "white", "red", str(v)) for v in (20, 30, 40, 50, 60, 80)] + \
    [(f"il{v}", "disc", "blue", None, str(v)) for v in (60, 80, 100)] + \
    [("ph4", "disc", "white", "red", "4m"), ("ph4.5", "disc", "white", "red", "4.5"), ("pw3", "disc", "white", "red", "3m"),
     ("pm20", "disc", "white", "red", "20t"), ("pm30", "disc", "white", "red", "30t"),
     ("i10", "disc", "blue", None, ">"), ("i12", "disc", "blue", None, "<"), ("i13", "disc", "blue", None, "^"),
     ("i2", "disc", "blue", None, "o"), ("i4", "disc", "blue", None, "#"), ("i5", "disc", "blue", None, "/"),
     ("ip", "square", "blue", None, "P"), ("w55", "triangle", "yellow", "black", "!"),
     ("w57", "triangle", "yellow", "black", "x"), ("w59", "triangle", "yellow", "black", "="),
     ("w13", "triangle", "yellow", "black", "+"), ("p5", "disc", "white", "red", "U"), ("p10", "disc", "white", "red", "T"),
     ("p11", "disc", "white", "red", "H"), ("p26", "disc", "white", "red", "V"), ("pn", "disc", "blue", "red", "\\"),
     ("pne", "disc", "red", None, "-"), ("pr40", "disc", "white", "black", "40")]
RARE = "pr40"


def _sign(draw, box, spec, rng):
    shape, fill, ring, glyph = spec[1:]
    x0, y0, x1, y1 = box
    jitter = tuple(int(v) for v in rng.integers(-20, 21, 3))
    col = {"white": (235, 235, 235), "blue": (30, 70, 180), "yellow": (240, 200, 40), "red": (200, 30, 30),
           "black": (20, 20, 20)}
    f = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(col[fill], jitter))
    w = max(2, (x1 - x0) // 8)
    if shape == "disc":
        draw.ellipse(box, fill=f, outline=col[ring] if ring else None, width=w)
    elif shape == "triangle":
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=f, outline=col[ring])
    else:
        draw.rectangle(box, fill=f)
    tc = (20, 20, 20) if fill in ("white", "yellow") else (245, 245, 245)
    draw.text(((x0 + x1) / 2, (y0 + y1) / 2 + (y1 - y0) / 10), glyph, fill=tc, anchor="mm")


def _frame(rng, size: int):
    from PIL import Image

    t = np.linspace(0, 1, size)[:, None, None]
    sky, road = np.array([150, 180, 215]), np.array([95, 95, 90])
    img = (1 - t) * sky + t * road + rng.normal(0, 18, (size, size, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def write_synthetic(root, n_frames: int = 240, per_frame: int = 4, size: int = 512, seed: int = 0) -> Path:
    """Write the synthetic set under ``root`` (``annotations.json``, ``train/<id>.jpg``, ``train/ids.txt``) and
    return ``root``; a set already written by this version with these arguments is reused."""
    from PIL import ImageDraw

    root = Path(root)
    stamp = {"version": VERSION, "n_frames": n_frames, "per_frame": per_frame, "size": size, "seed": seed}
    if (root / "synthetic.json").is_file() and json.loads((root / "synthetic.json").read_text()) == stamp:
        return root
    (root / "train").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    common = [c for c in CLASSES if c[0] != RARE]
    imgs, rare_left = {}, 6
    for i in range(n_frames):
        frame = _frame(rng, size)
        draw, objects, boxes = ImageDraw.Draw(frame), [], []
        for _ in range(per_frame):
            side = int(rng.integers(24, 72))
            x0, y0 = int(rng.integers(0, size - side)), int(rng.integers(0, size - side))
            box = (x0, y0, x0 + side, y0 + side)
            if any(x0 < b[2] and b[0] < box[2] and y0 < b[3] and b[1] < box[3] for b in boxes):
                continue
            spec = CLASSES[-1] if rare_left and i % 7 == 0 and not objects else common[int(rng.integers(len(common)))]
            rare_left -= spec[0] == RARE
            _sign(draw, box, spec, rng)
            boxes.append(box)
            objects.append({"category": spec[0], "bbox": dict(zip(("xmin", "ymin", "xmax", "ymax"), map(float, box)))})
        img_id = str(10000 + i)
        frame.save(root / "train" / f"{img_id}.jpg", quality=90)
        imgs[img_id] = {"path": f"train/{img_id}.jpg", "id": int(img_id), "objects": objects}
    (root / "train" / "ids.txt").write_text("\n".join(imgs) + "\n")
    (root / "annotations.json").write_text(json.dumps({"types": [c[0] for c in CLASSES], "imgs": imgs}))
    (root / "synthetic.json").write_text(json.dumps(stamp))
    return root
