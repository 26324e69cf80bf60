"""The ``image-cnn`` built-in: a small convolutional network in PyTorch (CPU), classification.

It trains on a table of pixel columns, one row per image, row-major (then channel):
scikit-learn's digits as they are (64 columns, an 8 × 8 grid), or the pixels the
training job decoded from a dataset of image files (:mod:`shipyard.training._image_files`).
The grid is ``image_shape`` (``"8x8"``, ``"28x28x3"``), else inferred: a square number
of columns is a square grayscale image, three times a square a colour one.

The network (:func:`shipyard.bundle._torch_image.build_network`) is two convolution
blocks and a linear layer, trained with Adam on cross-entropy. Inputs are divided by
``pixel_max`` (the value of full intensity: by default the largest training
value), then standardised per channel with the training pixels' mean and deviation;
``image_size`` resizes the grid (bilinear) before the network. ``augmentation``
shifts each training image by up to one pixel per 16 of its side (at least one) each
epoch. A fixed ``seed`` (else the job's) makes a fit
reproducible: the weights' initialisation, the batch order, the shifts and dropout all
draw from it, on a fixed number of threads.

Each epoch logs the training loss and, with a validation split, the validation loss
and accuracy as ``curve.*`` points (the debugger and the experiment pages read them).
The model is saved as safetensors plus its JSON spec (never a pickle).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from shipyard.bundle._torch_image import (
    ImageModel,
    ImageSpec,
    build_network,
    torch_module,
)
from shipyard.errors import InvalidRequest
from shipyard.training._algorithms import (
    Algorithm,
    AlgorithmInfo,
    FitData,
    FitResult,
    num_cpus,
    register,
)
from shipyard.training._hyperparameters import Hyperparameter as H

SHAPE = r"[1-9][0-9]{0,3}x[1-9][0-9]{0,3}(x[13])?"


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"8x8"`` → (8, 8, 1); ``"32x32x3"`` → (32, 32, 3)."""
    if not re.fullmatch(SHAPE, text):
        raise InvalidRequest(f"image_shape must be HEIGHTxWIDTH or HEIGHTxWIDTHxCHANNELS "
                             f"(channels 1 or 3), e.g. '8x8'; got {text!r}.")
    parts = [int(p) for p in text.split("x")]
    return parts[0], parts[1], parts[2] if len(parts) == 3 else 1


def infer_shape(n_columns: int, given: str | None) -> tuple[int, int, int]:
    """The pixel grid of ``n_columns`` features: ``given``, or a square (× 1 or 3 channels).

    Raises:
        InvalidRequest: the shape does not account for the columns, or none can be inferred.
    """
    if given:
        h, w, c = parse_shape(given)
        if h * w * c != n_columns:
            raise InvalidRequest(
                f"image_shape {given!r} holds {h * w * c} pixel values, but the recipe leaves "
                f"{n_columns} feature columns; give the shape of the images, or keep only the "
                "pixel columns (one per pixel, row-major).")
        return h, w, c
    for channels in (1, 3):
        side = math.isqrt(n_columns // channels)
        if n_columns % channels == 0 and side * side * channels == n_columns:
            return side, side, channels
    raise InvalidRequest(
        f"image-cnn reads the {n_columns} feature columns as pixels, but {n_columns} is not a "
        "square (nor three times one); give image_shape, e.g. '8x8' or '28x28x3', or drop "
        "the columns that are not pixels.")


@register
class ImageCNN(Algorithm):
    info = AlgorithmInfo(
        name="image-cnn", problem_types=frozenset({"binary", "multiclass"}),
        needs_scaling=False, categorical="onehot", framework="torch-image",
        description="A small convolutional network (PyTorch, CPU) for image classification, "
                    "on pixel columns or a dataset of image files.",
        size_drivers="channels (the convolution width; weights grow with its square)",
        recipe={"steps": []},
        hyperparameters=(
            H("epochs", "int", 20, 1, 1000, search=(5, 60, False),
              description="passes over the training images"),
            H("learning_rate", "float", 0.003, 1e-5, 1.0, log=True,
              search=(3e-4, 1e-2, True), description="Adam's step size"),
            H("batch_size", "int", 64, 1, 4096, search=(16, 256, True),
              description="images per step"),
            H("image_size", "int", None, 4, 512, tuned=False,
              description="side the network sees (the grid is resized to it); null: the "
                          "pixel grid's own size, 32 for image files"),
            H("image_shape", "str", None, pattern=SHAPE,
              description="the pixel grid, HEIGHTxWIDTH[xCHANNELS] such as '8x8'; null: "
                          "inferred from a square number of columns"),
            H("pixel_max", "float", None, 1e-6, 1e9, tuned=False,
              description="the value a full-intensity pixel has in the columns (255 for "
                          "8-bit pixels; image files set it); null: the largest training "
                          "value (16 for the digits)"),
            H("channels", "int", 32, 4, 256, search=(8, 64, True),
              description="convolution width (filters in the first block)"),
            H("dropout", "float", 0.25, 0.0, 0.9, search=(0.0, 0.5, False),
              description="dropout before the last layer"),
            H("augmentation", "bool", True, description="random shifts of the training images"),
            H("seed", "int", None, 0, 2**31 - 1, tuned=False,
              description="random seed of the fit; null: the job's seed"),
            H("color", "categorical", "auto", choices=("auto", "grayscale", "rgb"),
              tuned=False, description="how image files are decoded (auto: grayscale when "
                                       "every file is); pixel columns ignore it"),
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        torch = torch_module()
        hp = data.hyperparameters
        seed = int(hp["seed"] if hp["seed"] is not None else data.seed)
        X = data.X_train.to_numpy(dtype="float32")
        h, w, c = infer_shape(X.shape[1], hp["image_shape"])
        torch.set_num_threads(num_cpus())
        torch.manual_seed(seed)
        spec = _spec(X, h, w, c, hp, data.n_classes, [str(col) for col in data.X_train.columns])
        network = build_network(spec)
        model = ImageModel(spec, network)
        x_train = model.tensor(X)
        y_train = torch.from_numpy(np.asarray(data.y_train, dtype="int64"))
        valid = data.X_valid is not None and len(data.X_valid) > 0 and data.y_valid is not None
        x_valid = model.tensor(data.X_valid.to_numpy(dtype="float32")) \
            if valid and data.X_valid is not None else None
        y_valid = np.asarray(data.y_valid) if valid else None
        background = model.tensor(np.zeros((1, X.shape[1]), "float32"))[0, :, 0, 0]
        generator = torch.Generator().manual_seed(seed)
        optimiser = torch.optim.Adam(network.parameters(), lr=hp["learning_rate"])
        loss_fn = torch.nn.CrossEntropyLoss()
        epochs, batch = int(hp["epochs"]), int(hp["batch_size"])
        shift = max(1, spec.image_size // 16) if hp["augmentation"] else 0
        curves: dict[str, list[float | None]] = {"train.loss": []}
        if valid:
            curves.update({"validation.loss": [], "validation.accuracy": []})
        progress = data.progress(epochs, "epochs")
        for epoch in range(epochs):
            network.train()
            order = torch.randperm(len(x_train), generator=generator)
            total = 0.0
            for start in range(0, len(order), batch):
                idx = order[start:start + batch]
                xb = x_train[idx]
                if shift:
                    xb = _shifted(torch, xb, shift, background, generator)
                optimiser.zero_grad()
                loss = loss_fn(network(xb), y_train[idx])
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(idx)
            network.eval()
            curves["train.loss"].append(total / len(x_train))
            if valid:
                with torch.inference_mode():
                    logits = network(x_valid)
                    vloss = float(loss_fn(logits, torch.from_numpy(
                        np.asarray(y_valid, dtype="int64"))))
                    hits = (logits.argmax(dim=1).numpy() == y_valid).mean()
                curves["validation.loss"].append(vloss)
                curves["validation.accuracy"].append(float(hits))
            progress.update(epoch + 1)
            if progress.curves_due() or epoch + 1 == epochs:
                progress.curves(curves)
        progress.finish(epochs)
        network.eval()
        return FitResult(model=model, curves=curves, notes=[
            f"image-cnn: {h}×{w}×{c} pixel grid, network input {spec.image_size}×"
            f"{spec.image_size}, {sum(p.numel() for p in network.parameters()):,} weights"])


def _spec(X: np.ndarray, h: int, w: int, c: int, hp: Any, n_classes: int,
          columns: list[str]) -> ImageSpec:
    """Preprocessing measured on the training pixels, and the network's shape."""
    top = float(np.nanmax(X)) if X.size and np.isfinite(np.nanmax(X)) else 1.0
    value_max = float(hp["pixel_max"]) if hp["pixel_max"] else (top if top > 0 else 1.0)
    scaled = np.nan_to_num(X, nan=0.0).reshape(len(X), h, w, c) / value_max
    mean = scaled.mean(axis=(0, 1, 2))
    std = scaled.std(axis=(0, 1, 2))
    size = int(hp["image_size"] or max(h, w))
    if size < 4:
        raise InvalidRequest(f"A {h}×{w} grid is too small for the network's pooling; give "
                             "image_size of at least 4 (it resizes the grid).")
    return ImageSpec(height=h, width=w, channels=c, columns=tuple(columns),
                     value_max=value_max, mean=tuple(float(m) for m in mean),
                     std=tuple(float(s) if s > 1e-6 else 1.0 for s in std), image_size=size,
                     filters=int(hp["channels"]), dropout=float(hp["dropout"]),
                     n_classes=max(2, n_classes))


def _shifted(torch: Any, xb: Any, shift: int, background: Any, generator: Any) -> Any:
    """Each image moved by up to ``shift`` pixels each way, the edge filled with background."""
    n, c, hh, ww = xb.shape
    padded = background.reshape(1, c, 1, 1).expand(n, c, hh + 2 * shift, ww + 2 * shift).clone()
    padded[:, :, shift:shift + hh, shift:shift + ww] = xb
    offsets = torch.randint(0, 2 * shift + 1, (n, 2), generator=generator).tolist()
    return torch.stack([padded[i, :, dy:dy + hh, dx:dx + ww]
                        for i, (dy, dx) in enumerate(offsets)])

