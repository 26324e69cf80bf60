"""Framework adapters of the text built-ins: TF-IDF pipelines, and a sentence encoder + head.

``scikit-learn-text`` (``text-linear``): one scikit-learn ``Pipeline`` (a
``ColumnTransformer`` of ``TfidfVectorizer`` over the raw text column, the recipe's
other features passed through, then a linear model) in a ``.skops`` file, checked
against the same allow-list as every scikit-learn model.

``sentence-embedding`` (``text-embedding``): the bundle holds the pre-trained encoder's
own files under ``encoder/`` (safetensors weights, config, tokenizer, pooling config),
the head under ``head.skops`` (logistic or ridge regression) or ``head.txt`` (a LightGBM
booster), and ``model.json`` that says which, and how long a text may be. The encoder
tokenises and embeds in the process that serves: mean pooling over the tokens, then unit
length, as all-MiniLM-L6-v2's pooling config says. Loading reads safetensors and JSON
only (``use_safetensors=True``, no torch pickle is ever read); every file was
checked against its SHA-256 by the bundle loader first.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.bundle._frameworks import (
    Framework,
    LightGBMFramework,
    Outputs,
    register_framework,
)
from shipyard.bundle._manifest import BundleError
from shipyard.bundle._skops import check_types, dumps_skops, load_skops

#: The encoder files a bundle keeps (all that loading needs; the model card is left out).
ENCODER_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "vocab.txt", "special_tokens_map.json", "modules.json",
                 "sentence_bert_config.json", "1_Pooling/config.json")
ENCODER_DIR = "encoder"
#: Head kind → its file. ``embedding`` (the vector itself) and ``similarity`` (the cosine
#: of two texts' vectors) have no head: the hub serves the encoder as it is.
HEADS: dict[str, str | None] = {"linear": "head.skops", "boosting": "head.txt",
                                "embedding": None, "similarity": None}
TEXT_EXTRA = "pip install 'shipyard[text]'"


def _threads() -> int:
    value = os.environ.get("SHIPYARD_NUM_CPUS", "")
    try:
        return max(1, int(float(value)))
    except ValueError:
        return os.cpu_count() or 1


def _text_features(model_columns: list[str], X: pd.DataFrame, text_column: str) -> pd.Series:
    if text_column not in X.columns:
        raise BundleError(f"The features have no text column {text_column!r}; the model "
                          f"reads it raw (its features are {model_columns[:5]}...).")
    return X[text_column]


class TextSklearnFramework(Framework):
    """``text-linear``'s models: a scikit-learn Pipeline over the raw text (``.skops``)."""

    name, package, extension = "scikit-learn-text", "sklearn", ".skops"
    magic = b"PK\x03\x04"

    def check(self, path: Path) -> None:
        check_types(path.read_bytes(), path.name)

    def dumps(self, model: Any) -> bytes:
        return dumps_skops(model)

    def load(self, path: Path) -> Any:
        return load_skops(path)

    def outputs(self, model: Any, X: pd.DataFrame, task: str, n_classes: int = 0) -> Outputs:
        if task == "classification":
            proba = np.zeros((len(X), n_classes))
            proba[:, np.asarray(model.classes_, dtype=int)] = model.predict_proba(X)
            return {"proba": proba}
        return {"value": np.asarray(model.predict(X), dtype="float64")}


def encoder_files(folder: Path) -> dict[str, Path]:
    """The encoder's files to copy into a bundle (relative name → source path)."""
    missing = [f for f in ENCODER_FILES if not (folder / f).is_file()]
    if missing:
        raise BundleError(f"The encoder folder {folder} lacks {missing}; reinstall the "
                          f"package that ships it ({TEXT_EXTRA}).")
    return {f"{ENCODER_DIR}/{f}": folder / f for f in ENCODER_FILES}


class TextEncoder:
    """A BERT-family sentence encoder from a folder of safetensors, JSON and tokenizer files.

    ``encode`` tokenises (truncating to ``max_seq_length`` word pieces), runs the
    transformer, mean-pools the token vectors over the attention mask and scales each
    to unit length. Texts are embedded in batches of similar length (less padding); the
    output keeps the input order.
    """

    def __init__(self, folder: Path, max_seq_length: int = 128) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:
            raise BundleError(f"The text models need torch and transformers ({exc}); install "
                              f"them with: {TEXT_EXTRA}") from None
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bars in job logs
        torch.set_num_threads(_threads())
        self.folder = Path(folder)
        self.max_seq_length = int(max_seq_length)
        pooling = json.loads((self.folder / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise BundleError("The encoder's pooling config is not mean pooling; Shipyard's "
                              "text encoder pools by the mean of the tokens only.")
        self.dimensions = int(pooling["word_embedding_dimension"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.folder), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.folder), local_files_only=True,
                                               use_safetensors=True)
        self.model.eval()

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length embeddings of ``texts`` (n × dimensions, float64)."""
        import torch

        out = np.zeros((len(texts), self.dimensions), dtype="float64")
        order = np.argsort([len(t) for t in texts], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                idx = order[start:start + batch_size]
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                       max_length=self.max_seq_length, return_tensors="pt")
                tokens = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.numpy().astype("float64")
        return out


@dataclass
class SentenceModel:
    """``text-embedding``'s model: an encoder, a head, and which features the head reads."""

    encoder: TextEncoder
    text_column: str
    #: The recipe's other features, in the order the head reads them after the embedding.
    tabular: list[str]
    head_kind: str  # "linear" | "boosting"
    head: Any
    batch_size: int = 32
    #: ``similarity``: the second text of each pair.
    second_text_column: str | None = None

    def features(self, X: pd.DataFrame) -> np.ndarray:
        """The head's input: the text's embedding, then the tabular features."""
        embedded = self.embed(X, self.text_column)
        if not self.tabular:
            return embedded
        return np.hstack([embedded, X[self.tabular].to_numpy(dtype="float64")])

    def embed(self, X: pd.DataFrame, column: str) -> np.ndarray:
        texts = [str(v) for v in _text_features(list(X.columns), X, column)]
        return self.encoder.encode(texts, self.batch_size)

    def config(self) -> dict[str, Any]:
        return {"format": 1, "encoder": ENCODER_DIR, "text_column": self.text_column,
                "second_text_column": self.second_text_column,
                "tabular": self.tabular, "head": self.head_kind, "head_file": HEADS[self.head_kind],
                "max_seq_length": self.encoder.max_seq_length, "batch_size": self.batch_size,
                "dimensions": self.encoder.dimensions}


class SentenceFramework(Framework):
    """``text-embedding``'s bundles: ``model.json`` + ``encoder/`` + ``head.skops|head.txt``."""

    name, package, extension = "sentence-embedding", "transformers", ".json"
    magic = b"{"

    def check(self, path: Path) -> None:
        """``model.json`` names a known head whose file is in its native format, and the
        encoder's files are there (their SHA-256 were checked with the bundle's)."""
        config = self._config(path)
        head_file = HEADS[config["head"]]
        if head_file is not None:
            head = path.parent / head_file
            if config["head"] == "linear":
                check_types(head.read_bytes(), head.name)
            else:
                LightGBMFramework().check(head)
        for name in ENCODER_FILES:
            if not (path.parent / ENCODER_DIR / name).is_file():
                raise BundleError(f"The bundle lacks the encoder file {ENCODER_DIR}/{name}.")

    @staticmethod
    def _config(path: Path) -> dict[str, Any]:
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"Model file {path.name!r} is not JSON: {exc}.") from None
        if not isinstance(config, dict) or config.get("head") not in HEADS or \
                config.get("encoder") != ENCODER_DIR or \
                not isinstance(config.get("text_column"), str) or \
                not isinstance(config.get("tabular"), list) or \
                (config["head"] == "similarity"
                 and not isinstance(config.get("second_text_column"), str)):
            raise BundleError(f"Model file {path.name!r} is not a sentence-embedding model "
                              f"config (head one of {sorted(HEADS)}, encoder "
                              f"{ENCODER_DIR!r}, text_column, tabular).")
        return config

    def dumps(self, model: SentenceModel) -> bytes:
        return json.dumps(model.config(), indent=2, sort_keys=True).encode("utf-8")

    def extra_files(self, model: SentenceModel) -> dict[str, bytes | Path]:
        """The head in its native format and the encoder's files, beside ``model.json``."""
        files: dict[str, bytes | Path] = dict(encoder_files(model.encoder.folder))
        head_file = HEADS[model.head_kind]
        if head_file is not None:
            files[head_file] = (dumps_skops(model.head) if model.head_kind == "linear"
                                else LightGBMFramework().dumps(model.head))
        return files

    def load(self, path: Path) -> SentenceModel:
        self.check(path)
        config = self._config(path)
        head_file, head = HEADS[config["head"]], None
        if head_file is not None:
            head = (load_skops(path.parent / head_file) if config["head"] == "linear"
                    else LightGBMFramework().load(path.parent / head_file))
        encoder = TextEncoder(path.parent / ENCODER_DIR, int(config.get("max_seq_length", 128)))
        return SentenceModel(encoder=encoder, text_column=config["text_column"],
                             tabular=[str(c) for c in config["tabular"]],
                             head_kind=config["head"], head=head,
                             batch_size=int(config.get("batch_size", 32)),
                             second_text_column=config.get("second_text_column"))

    def outputs(self, model: SentenceModel, X: pd.DataFrame, task: str,
                n_classes: int = 0) -> Outputs:
        if model.head_kind == "embedding":
            return {"components": model.embed(X, model.text_column)}
        if model.head_kind == "similarity":
            a = model.embed(X, model.text_column)
            b = model.embed(X, str(model.second_text_column))
            return {"value": np.clip(np.sum(a * b, axis=1), -1.0, 1.0)}  # unit vectors
        Z = model.features(X)
        if model.head_kind == "boosting":
            raw = np.asarray(model.head.predict(Z), dtype="float64")
            if task == "classification":
                return {"proba": np.column_stack([1.0 - raw, raw]) if n_classes == 2 else raw}
            return {"value": raw}
        if task == "classification":
            proba = np.zeros((len(Z), n_classes))
            proba[:, np.asarray(model.head.classes_, dtype=int)] = model.head.predict_proba(Z)
            return {"proba": proba}
        return {"value": np.asarray(model.head.predict(Z), dtype="float64")}


register_framework(TextSklearnFramework())
register_framework(SentenceFramework())
