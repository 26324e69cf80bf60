"""The ``transformers`` framework: a fine-tuned BERT-family text classifier (text-bert).

Its files in a bundle, all under ``transformer/`` and all SHA-256-listed in MODEL.json::

    transformer/model.safetensors      the weights (safetensors: tensors and a JSON header)
    transformer/config.json            the architecture (Hugging Face config)
    transformer/tokenizer.json, ...    the tokenizer (JSON and text files only)
    transformer/shipyard_text.json     how to read the outputs: task, max_seq_length, the
                                       regression target's scale

Nothing here is a pickle: weights load through ``safetensors`` only (``use_safetensors``),
the rest is JSON or text, and any other kind of companion file is refused. Tokenisation
happens in the process that serves (or evaluates) the model, from the bundle's own
tokenizer files, offline. :meth:`TransformersFramework.check` reads only the safetensors
header and the companions' names, so the control plane checks a bundle at registration
without importing torch.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.bundle._frameworks import _PICKLE, Framework, Outputs
from shipyard.bundle._manifest import BundleError

#: The folder of the model's files inside the bundle.
FOLDER = "transformer"
MODEL_FILE = "model.safetensors"
SPEC_FILE = "shipyard_text.json"
#: Companion files a text model cannot do without.
REQUIRED = ("config.json", "tokenizer.json", SPEC_FILE)
#: The only kinds of companion files accepted (no pickle, no code).
SAFE_SUFFIXES = (".json", ".txt")
#: Rows tokenised and run through the model at once.
BATCH_ROWS = 32
#: Requests of at most this many rows run on one thread: waking torch's thread pool costs
#: more than it saves on a sentence (single-row p50 13 ms on 1 thread, 60+ ms on 2 of a
#: busy 2-core machine); an endpoint scales by instances (processes), not threads.
ONE_THREAD_ROWS = 4
#: A safetensors header larger than this is not a model's (it is a corrupt file).
MAX_HEADER = 100 * 1024 * 1024
INSTALL = "pip install 'shipyard[text]'"


def offline() -> None:
    """Never reach the network: every file is local (the hub's package, or the bundle)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def import_transformers() -> Any:
    """``transformers``, quiet and offline; a BundleError with the install line if absent."""
    offline()
    try:
        import transformers
    except ImportError:
        raise BundleError(f"Text models need torch and transformers; install them with: "
                          f"{INSTALL}") from None
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


@dataclass
class TextModel:
    """A sequence-classification (or regression) transformer with its tokenizer.

    ``mean``/``std`` undo the standardisation of a regression target.
    """

    model: Any
    tokenizer: Any
    max_seq_length: int
    task: str
    mean: float = 0.0
    std: float = 1.0

    def encode(self, texts: list[str]) -> Any:
        return self.tokenizer(texts, truncation=True, max_length=self.max_seq_length,
                              padding=True, return_tensors="pt")

    def logits(self, texts: list[str]) -> np.ndarray:
        """The model's outputs (float64) for ``texts``, in batches, inference mode."""
        import torch

        self.model.eval()
        parts = []
        threads = torch.get_num_threads()
        one = len(texts) <= ONE_THREAD_ROWS and threads > 1
        if one:
            torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                for start in range(0, len(texts), BATCH_ROWS):
                    batch = self.encode(texts[start:start + BATCH_ROWS])
                    parts.append(self.model(**batch).logits.double().numpy())
        finally:
            if one:
                torch.set_num_threads(threads)
        width = int(getattr(self.model.config, "num_labels", 1))
        return np.concatenate(parts) if parts else np.zeros((0, width))

    def spec(self) -> dict[str, Any]:
        return {"format_version": 1, "task": self.task, "max_seq_length": self.max_seq_length,
                "mean": self.mean, "std": self.std}


def texts_of(X: pd.DataFrame) -> list[str]:
    """The text feature (the recipe's one column) as strings; a missing value is ""."""
    if X.shape[1] != 1:
        raise BundleError(f"A text model reads one text column; the recipe gave "
                          f"{list(X.columns)}.")
    return ["" if v is None or (isinstance(v, float) and v != v) else str(v)
            for v in X.iloc[:, 0].tolist()]


class TransformersFramework(Framework):
    name, package, extension = "transformers", "transformers", ".safetensors"
    magic = b""

    def check(self, path: Path) -> None:
        """A safetensors file (an 8-byte length, then a JSON header) with the companions a
        text model needs beside it, each JSON or text: read without torch."""
        with open(path, "rb") as fh:
            head = fh.read(8)
            if head.startswith(_PICKLE):
                raise BundleError(f"Model file {path.name!r} is a Python pickle, which Shipyard "
                                  "never loads; text models are loaded only from safetensors.")
            size = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            header = fh.read(size) if 1 < size <= MAX_HEADER else b""
        try:
            parsed = json.loads(header)
        except (UnicodeDecodeError, ValueError):
            parsed = None
        if not isinstance(parsed, dict):
            raise BundleError(f"Model file {path.name!r} is not a safetensors file (no JSON "
                              "header after its length); text models load only from "
                              "safetensors.")
        folder = path.parent
        for name in REQUIRED:
            if not (folder / name).is_file():
                raise BundleError(f"The text model lacks {FOLDER}/{name}; its bundle needs the "
                                  "config, the tokenizer and shipyard_text.json beside the "
                                  "weights.")
        for item in folder.rglob("*"):
            if item.is_file() and item != path and item.suffix not in SAFE_SUFFIXES:
                raise BundleError(f"{FOLDER}/{item.relative_to(folder).as_posix()} is not a "
                                  f"JSON or text file; a text model's companions are "
                                  f"{SAFE_SUFFIXES} only.")

    def bundle_files(self, model: Any) -> dict[str, bytes | Path]:
        files: dict[str, bytes | Path] = {
            f"{FOLDER}/{MODEL_FILE}": self.dumps(model),
            f"{FOLDER}/config.json": model.model.config.to_json_string().encode()}
        with tempfile.TemporaryDirectory(prefix="tokenizer-") as tmp:
            model.tokenizer.save_pretrained(tmp)
            for item in sorted(Path(tmp).rglob("*")):
                if not item.is_file():
                    continue
                if item.suffix not in SAFE_SUFFIXES:
                    raise BundleError(f"The tokenizer wrote {item.name!r}, which is not JSON "
                                      "or text; a bundle holds no other kind of file.")
                files[f"{FOLDER}/{item.relative_to(tmp).as_posix()}"] = item.read_bytes()
        files[f"{FOLDER}/{SPEC_FILE}"] = json.dumps(model.spec(), sort_keys=True).encode()
        return files

    def dumps(self, model: Any) -> bytes:
        from safetensors.torch import save

        state = {k: v.detach().contiguous() for k, v in model.model.state_dict().items()}
        return bytes(save(state, metadata={"format": "pt"}))

    def load(self, path: Path) -> Any:
        self.check(path)
        transformers = import_transformers()
        folder = path.parent
        spec = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = transformers.AutoModelForSequenceClassification.from_pretrained(
            str(folder), local_files_only=True, use_safetensors=True)
        model.eval()
        return TextModel(model=model, tokenizer=tokenizer,
                         max_seq_length=int(spec["max_seq_length"]), task=str(spec["task"]),
                         mean=float(spec.get("mean", 0.0)), std=float(spec.get("std", 1.0)))

    def outputs(self, model: Any, X: pd.DataFrame, task: str, n_classes: int = 0) -> Outputs:
        raw = model.logits(texts_of(X))
        if task == "classification":
            shifted = raw - raw.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            return {"proba": e / e.sum(axis=1, keepdims=True)}
        return {"value": raw[:, 0] * model.std + model.mean}
