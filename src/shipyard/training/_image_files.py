"""A dataset of image files as image-cnn reads it: each manifest row decoded to pixel columns.

A files dataset's version is a manifest (``path``, ``sha256``, ``width``, ``height``,
``format``, ``bytes`` and, for the per-class folder layout, ``label``). When image-cnn
trains on one, the job kind pins every image the manifest lists (only a genuine files
manifest, never a table that merely has a ``sha256`` column: that could name any stored
object) and stages each, checked by its SHA-256, as ``input/images/<sha256>``. Here,
in the job, each row's image is decoded with the same function an endpoint uses
(:func:`shipyard.bundle._image_decode.decode_pixels`: PNG or JPEG, size limits), to an
``image_size`` × ``image_size`` grid (32 by default), grayscale when every training
image is (``color`` "auto"), else RGB. The table the training flow then sees holds the
pixel columns and the target only; ``image_shape`` and ``pixel_max`` (255) are set to
match, so the served model reads a PNG or JPEG exactly as training read the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.bundle._image_decode import decode_pixels
from shipyard.bundle._torch_image import pixel_columns
from shipyard.errors import InvalidRequest

#: Where the job's images are staged, relative to the job folder (one file per SHA-256).
IMAGES_DIR = "input/images"
#: The columns a files manifest has (a ``label`` column too when folders name classes).
MANIFEST_COLUMNS = frozenset({"path", "sha256", "width", "height", "format", "bytes"})
DEFAULT_SIZE = 32
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})


def is_manifest(columns: Any) -> bool:
    """Whether a table's columns are those of a files manifest."""
    return {str(c) for c in columns} >= MANIFEST_COLUMNS


def _grayscale(path: Path) -> bool:
    from PIL import Image

    with Image.open(path, formats=["PNG", "JPEG"]) as img:
        if img.mode == "P":  # a palette: grey when every colour it uses is
            used = img.convert("RGB").getcolors(1 << 24) or []
            return all(isinstance(rgb, tuple) and rgb[0] == rgb[1] == rgb[2] for _, rgb in used)
        return img.mode in _GRAY_MODES


def decode_channels(channels: Mapping[str, pd.DataFrame], folder: Path,
                    hyperparameters: Mapping[str, Any], target: str | None,
                    log: Any = print) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Every channel's manifest as a table of pixel columns (plus the target), and the
    hyperparameters that say how they were decoded.

    Raises:
        InvalidRequest: a channel that is not a files manifest, an image missing from the
            job's staged files, or one that is not a whole PNG or JPEG (naming its path).
    """
    hp = dict(hyperparameters)
    size = int(hp.get("image_size") or DEFAULT_SIZE)
    train = channels["train"]
    for name, frame in channels.items():
        if not is_manifest(frame.columns):
            raise InvalidRequest(f"The {name} input is not a files manifest; image-cnn reads "
                                 "either pixel columns in every input or image files in every "
                                 "input.")
    color = hp.get("color") or "auto"
    if color == "auto":
        shas = train["sha256"].astype(str).unique()
        gray = all(_grayscale(_staged(folder, sha, "?")) for sha in shas)
        color = "grayscale" if gray else "rgb"
    depth = 1 if color == "grayscale" else 3
    columns = pixel_columns(size, size, depth)
    out: dict[str, pd.DataFrame] = {}
    for name, frame in channels.items():
        rows = np.zeros((len(frame), len(columns)), dtype="float32")
        for i, (sha, path) in enumerate(zip(frame["sha256"].astype(str),
                                            frame["path"].astype(str), strict=True)):
            data = _staged(folder, sha, path).read_bytes()
            rows[i] = decode_pixels(data, size, size, depth, f"image {path!r}").reshape(-1)
        table = pd.DataFrame(rows, columns=columns)
        if target is not None and target in frame.columns:
            table[target] = frame[target].to_numpy()
        out[name] = table
    hp.update(image_shape=f"{size}x{size}" + ("x3" if depth == 3 else ""), pixel_max=255.0)
    log(f"[training] decoded {sum(len(f) for f in channels.values())} image files of "
        f"{len(train)} training rows to {size}×{size} {color} pixels")
    return out, hp


def _staged(folder: Path, sha: str, path: str) -> Path:
    local = folder / sha
    if len(sha) != 64 or not local.is_file():
        raise InvalidRequest(f"Image {path!r} ({sha[:12]}…) was not staged for this job; "
                             "train on a files dataset version (shipyard datasets create "
                             "NAME --files DIR).")
    return local
