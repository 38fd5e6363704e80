from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def image_tree():
    """``image_tree(base, n=3, size=(10, 12))`` writes ``base/cat`` and ``base/dog``, n random PNG images each."""

    def write(base: Path, n=3, size=(10, 12)):
        r = np.random.default_rng(1)
        for cls in ("cat", "dog"):
            (base / cls).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(r.integers(0, 255, size=(*size, 3), dtype=np.uint8)).save(base / cls / f"{i}.png")

    return write
