"""The ``torch-image`` framework: a small convolutional network as safetensors plus a JSON spec.

An image model's bundle holds two files for it:

``model.safetensors``
    the network's weights (safetensors: a JSON header and raw tensors; nothing in it
    runs code when read, unlike ``torch.save``'s pickles, which Shipyard never loads);
``architecture.json``
    :class:`ImageSpec`: the network's shape (convolution width, dropout, classes) and the
    preprocessing (the pixel grid the input columns spell, its value range, the
    normalisation). The network is rebuilt from it by code here, never from the file.

Both are listed with their SHA-256 in MODEL.json like every bundle file, and
:meth:`TorchImageFramework.check` reads both headers without importing torch, so the
control plane checks a bundle at registration.

The model's input is always a table: one row per image, one numeric column per pixel
(row-major, then channel: ``pixel_<row>_<col>`` for one channel,
``pixel_<row>_<col>_<channel>`` for three). scikit-learn's digits are such a table
already; image files are decoded to it (in the training job and, for PNG or JPEG sent
to an endpoint, in the serving instance: :meth:`TorchImageFramework.image_input`).
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.bundle._frameworks import Framework, Outputs
from shipyard.bundle._manifest import BundleError

SPEC_FILE = "architecture.json"
SPEC_VERSION = 1
#: A safetensors header larger than this is not one of ours (ours are a few KB).
MAX_HEADER = 16 << 20
INSTALL = "pip install 'shipyard[text]'"
#: Requests of at most this many images are predicted on one thread.
SMALL_BATCH = 16


def torch_module() -> Any:
    """``torch``, or BundleError with the install command when it is absent."""
    try:
        import torch
    except ModuleNotFoundError:
        raise BundleError(f"Image models (image-cnn) need PyTorch, which is not installed; "
                          f"run {INSTALL}.") from None
    return torch


def pixel_columns(height: int, width: int, channels: int) -> list[str]:
    """The input columns of a ``height`` × ``width`` grid of ``channels`` (row-major)."""
    if channels == 1:
        return [f"pixel_{r}_{c}" for r in range(height) for c in range(width)]
    return [f"pixel_{r}_{c}_{k}" for r in range(height) for c in range(width)
            for k in range(channels)]


@dataclass(frozen=True)
class ImageSpec:
    """The architecture and preprocessing of an image-cnn model (``architecture.json``)."""

    height: int
    width: int
    channels: int
    columns: tuple[str, ...]
    #: The largest pixel value of the training data: inputs are divided by it (16 for
    #: the digits, 255 for decoded image files).
    value_max: float
    #: Mean and standard deviation of the scaled training pixels, one per channel.
    mean: tuple[float, ...]
    std: tuple[float, ...]
    #: The side the network sees: the grid is resized (bilinear) to it when it differs.
    image_size: int
    #: Convolution width of the first block (the second has twice as many).
    filters: int
    dropout: float
    n_classes: int

    def to_dict(self) -> dict[str, Any]:
        return {"format": "shipyard.image-cnn", "version": SPEC_VERSION,
                **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}

    @classmethod
    def from_dict(cls, d: Any) -> ImageSpec:
        """Read and check a spec; BundleError names the field that is wrong."""
        if not isinstance(d, dict) or d.get("format") != "shipyard.image-cnn":
            raise BundleError(f"{SPEC_FILE} is not an image-cnn spec (no 'format': "
                              "'shipyard.image-cnn').")
        if d.get("version") != SPEC_VERSION:
            raise BundleError(f"{SPEC_FILE} is version {d.get('version')!r}; this Shipyard "
                              f"reads version {SPEC_VERSION}. Upgrade Shipyard.")
        try:
            spec = cls(
                height=_int(d["height"]), width=_int(d["width"]), channels=_int(d["channels"]),
                columns=tuple(str(c) for c in d["columns"]), value_max=float(d["value_max"]),
                mean=tuple(float(v) for v in d["mean"]), std=tuple(float(v) for v in d["std"]),
                image_size=_int(d["image_size"]), filters=_int(d["filters"]),
                dropout=float(d["dropout"]), n_classes=_int(d["n_classes"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{SPEC_FILE} is missing or has a bad field: {exc}.") from None
        if spec.channels not in (1, 3) or len(spec.columns) != \
                spec.height * spec.width * spec.channels or len(spec.mean) != spec.channels \
                or len(spec.std) != spec.channels or min(spec.std) <= 0 \
                or spec.value_max <= 0 or spec.n_classes < 2:
            raise BundleError(f"{SPEC_FILE} is inconsistent: the columns, channels, mean, "
                              "std, value range or classes do not agree.")
        return spec


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 100_000:
        raise ValueError(f"{value!r} is not a positive integer")
    return value


def build_network(spec: ImageSpec) -> Any:
    """The network of ``spec``: two convolution blocks, a pooled 2 × 2 map, dropout, linear."""
    nn = torch_module().nn
    w = spec.filters
    return nn.Sequential(
        nn.Conv2d(spec.channels, w, 3, padding=1), nn.ReLU(),
        nn.Conv2d(w, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dropout(spec.dropout),
        nn.Linear(8 * w, spec.n_classes))


class ImageModel:
    """A network and its spec: pixel rows in, class probabilities out."""

    def __init__(self, spec: ImageSpec, network: Any) -> None:
        self.spec = spec
        self.network = network.eval()

    def tensor(self, pixels: np.ndarray) -> Any:
        """Pixel rows (n × columns) → the network's input (n × C × S × S), normalised.

        A missing pixel counts as background (0)."""
        torch = torch_module()
        s = self.spec
        a = np.nan_to_num(np.asarray(pixels, dtype="float32"), nan=0.0)
        a = a.reshape(len(a), s.height, s.width, s.channels).transpose(0, 3, 1, 2)
        a = a / np.float32(s.value_max)
        mean = np.asarray(s.mean, "float32").reshape(1, -1, 1, 1)
        std = np.asarray(s.std, "float32").reshape(1, -1, 1, 1)
        x = torch.from_numpy(np.ascontiguousarray((a - mean) / std))
        if (s.height, s.width) != (s.image_size, s.image_size):
            x = torch.nn.functional.interpolate(x, size=(s.image_size, s.image_size),
                                                mode="bilinear", align_corners=False)
        return x

    def predict_proba(self, pixels: np.ndarray, batch: int = 512) -> np.ndarray:
        torch = torch_module()
        out = []
        threads = torch.get_num_threads()
        # A few images are 0.3 ms on one thread; more threads only wait for each other
        # (100 ms on a busy 2-core machine), so small requests run on one.
        if len(pixels) <= SMALL_BATCH and threads > 1:
            torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                for i in range(0, len(pixels), batch):
                    logits = self.network(self.tensor(pixels[i:i + batch]))
                    out.append(torch.softmax(logits, dim=1).double().numpy())
        finally:
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
        if not out:
            return np.zeros((0, self.spec.n_classes))
        return np.concatenate(out)


class TorchImageFramework(Framework):
    """Adapter for :class:`ImageModel` (built-in ``image-cnn``)."""

    name, package, extension = "torch-image", "torch", ".safetensors"
    magic = b""  # safetensors starts with its header's length: see check()

    def check(self, path: Path) -> None:
        """A safetensors header (JSON of tensor names, dtypes, shapes) and a readable spec."""
        with open(path, "rb") as fh:
            head = fh.read(9)
            size = struct.unpack("<Q", head[:8])[0] if len(head) == 9 else 0
            if not 2 <= size <= MAX_HEADER or head[8:9] != b"{":
                what = ("a Python pickle, which Shipyard never loads" if head.startswith(b"\x80")
                        else "not a safetensors file")
                raise BundleError(f"Model file {path.name!r} is {what}; image models are "
                                  "loaded only from safetensors.")
            try:
                header = json.loads(head[8:] + fh.read(size - 1))
            except ValueError:
                raise BundleError(f"Model file {path.name!r} has a damaged safetensors "
                                  "header.") from None
        if not isinstance(header, dict):
            raise BundleError(f"Model file {path.name!r} has a damaged safetensors header.")
        self.spec(path)

    @staticmethod
    def spec(model_path: Path) -> ImageSpec:
        """The spec beside a model file (``architecture.json``, hashed in MODEL.json)."""
        try:
            return ImageSpec.from_dict(json.loads(
                (model_path.parent / SPEC_FILE).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise BundleError(f"An image model's bundle needs {SPEC_FILE} beside "
                              f"{model_path.name!r}; it is missing.") from None
        except ValueError as exc:
            raise BundleError(f"{SPEC_FILE} is not valid JSON: {exc}.") from None

    def version(self) -> str:
        return str(torch_module().__version__)

    def dumps(self, model: Any) -> bytes:
        from safetensors.torch import save

        state = {k: v.detach().contiguous() for k, v in model.network.state_dict().items()}
        # One metadata key: safetensors writes a map of several in no fixed order.
        return bytes(save(state, metadata={"format": "pt"}))

    def extra_files(self, model: Any) -> dict[str, bytes | Path]:
        return {SPEC_FILE: json.dumps(model.spec.to_dict(), indent=2,
                                      sort_keys=True).encode("utf-8")}

    def load(self, path: Path) -> Any:
        torch_module()  # the install command when torch is absent
        from safetensors.torch import load_file

        spec = self.spec(path)
        network = build_network(spec)
        try:
            network.load_state_dict(load_file(str(path)), strict=True)
        except (RuntimeError, ValueError) as exc:
            raise BundleError(f"Model file {path.name!r} does not fit the network its "
                              f"{SPEC_FILE} describes: {str(exc).splitlines()[0]}") from None
        return ImageModel(spec, network)

    def outputs(self, model: Any, X: pd.DataFrame, task: str, n_classes: int = 0) -> Outputs:
        if task != "classification":
            raise BundleError(f"image-cnn models classify; a {task} bundle cannot use them.")
        return {"proba": model.predict_proba(X.to_numpy(dtype="float64"))}

    def image_input(self, model: Any) -> dict[str, Any] | None:
        s = model.spec
        return {"height": s.height, "width": s.width, "channels": s.channels,
                "columns": list(s.columns), "value_max": s.value_max}
