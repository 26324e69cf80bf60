"""Real images for the tests of files datasets and image labeling: scikit-learn's digits
(they ship with scikit-learn, so the tests download nothing), and figures drawn with Pillow
where a test must know exactly where an object is."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.testing import LocalServer

SIZE = 32


def digits_folder(root: Path, limit: int | None = None) -> Path:
    """The digits as 32×32 grey PNG files, ``root/<digit>/img-<n>.png`` (``limit``: the
    first ``limit`` images only)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    root.mkdir(parents=True, exist_ok=True)
    images, targets = digits.images, digits.target
    count = len(images) if limit is None else limit
    for n in range(count):
        pixels = (images[n] * (255 / 16)).astype(np.uint8)
        img = Image.fromarray(pixels, mode="L").resize((SIZE, SIZE), Image.Resampling.NEAREST)
        folder = root / str(int(targets[n]))
        folder.mkdir(exist_ok=True)
        img.save(folder / f"img-{n:04d}.png")
    return root


def objects_in(server: LocalServer) -> int:
    """How many content-addressed objects the server's artifact store holds."""
    return sum(1 for p in (server.home / "artifacts" / "objects").rglob("*") if p.is_file())


def rectangle_png(path: Path, size: tuple[int, int], box: tuple[int, int, int, int]) -> Path:
    """A grey ``size`` PNG with a white filled rectangle at ``box`` = (x, y, width, height)."""
    from PIL import Image, ImageDraw

    img = Image.new("L", size, 40)
    x, y, w, h = box
    ImageDraw.Draw(img).rectangle([x, y, x + w - 1, y + h - 1], fill=230)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
