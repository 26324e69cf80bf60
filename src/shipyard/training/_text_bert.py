"""``text-bert``: fine-tune a BERT-family encoder end to end for sequence classification.

The encoder comes from the hub (``model``, default all-MiniLM-L6-v2, a 6-layer BERT),
loaded offline from its package's folder with transformers'
``AutoModelForSequenceClassification`` (safetensors only); a fresh classification head
goes on top and every weight above the ``freeze_layers`` lowest encoder layers (and the
embeddings, when any layer is frozen) trains with AdamW, a linear warm-up over
``warmup_ratio`` of the steps and a linear decay to 0, gradients clipped at norm 1. PyTorch
on CPU, ``torch.set_num_threads(num_cpus())``; seeded (head, dropout, batch order), so a
run is reproducible on the same machine.

It reads only the text column (``text_column``, or the one free-text column:
:mod:`shipyard.training._text_column`), as raw strings: its recipe hands that column to the
model as it is (:func:`shipyard.features.raw_text_recipe`) and the tokenizer, part of the
bundle, runs where the model runs. The other columns are not used (said in the log).

Curves: ``train.loss`` at every optimizer step, ``validation.loss`` and
``validation.accuracy`` (or ``validation.rmse``) at the end of each epoch, logged live.
Checkpoints (in a job): every tenth of the steps and at most one per ``checkpoint_seconds``,
``text-bert-<step>.safetensors`` holds the weights, AdamW's moments and the torch RNG state
(safetensors tensors, never a pickle) and ``text-bert-<step>.json`` the fingerprint and
history; a retried job continues from the last one at the exact batch it stopped at, with
its optimizer state, so it trains as if never stopped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.hub import CATALOG, DEFAULT_TEXT_MODEL, model_dir
from shipyard.training._algorithms import (
    Algorithm,
    AlgorithmInfo,
    FitData,
    FitResult,
    num_cpus,
    register,
)
from shipyard.training._checkpoints import BoostingCheckpoints, checkpoints_for, resuming
from shipyard.training._hyperparameters import Hyperparameter as H
from shipyard.training._text_column import resolve_text_column

NAME = "text-bert"
#: Hub models text-bert fine-tunes (their catalog entry names it).
FINE_TUNABLE = tuple(sorted(m.name for m in CATALOG.values() if m.fine_tune_algorithm == NAME))
#: Gradients are clipped to this norm (the usual BERT fine-tuning recipe).
MAX_GRAD_NORM = 1.0
#: Rows per forward pass when scoring the validation split.
EVAL_ROWS = 64


def _layers(model: str) -> int:
    """The encoder layers of hub model ``model`` (its config.json), without torch."""
    config = json.loads((model_dir(model) / "config.json").read_text(encoding="utf-8"))
    return int(config.get("num_hidden_layers", 0))


@register
class TextBert(Algorithm):
    info = AlgorithmInfo(
        name=NAME, problem_types=frozenset({"binary", "multiclass", "regression"}),
        needs_scaling=False, categorical="onehot", framework="transformers", text=True,
        description="Fine-tunes a BERT-family encoder from the hub (default all-MiniLM-L6-v2) "
                    "end to end on one text column (PyTorch on CPU).",
        size_drivers="model (the encoder's weights: about 90 MB for all-MiniLM-L6-v2)",
        hyperparameters=(
            H("text_column", "str", None,
              description="the column of text to learn from; null: the one free-text column"),
            H("model", "categorical", DEFAULT_TEXT_MODEL, choices=FINE_TUNABLE or
              (DEFAULT_TEXT_MODEL,), tuned=False,
              description="the hub model to fine-tune (shipyard hub list)"),
            H("epochs", "int", 3, 1, 100, search=(1, 5, False),
              description="passes over the training rows"),
            H("learning_rate", "float", 5e-5, 1e-7, 1e-2, log=True, search=(1e-5, 2e-4, True),
              description="AdamW's peak learning rate"),
            H("max_seq_length", "int", 128, 8, 512, tuned=False,
              description="word pieces per text; longer texts are truncated"),
            H("batch_size", "int", 16, 1, 512, search=(8, 64, True),
              description="rows per optimizer step"),
            H("warmup_ratio", "float", 0.1, 0.0, 0.9, search=(0.0, 0.2, False),
              description="share of the steps over which the learning rate rises from 0"),
            H("weight_decay", "float", 0.01, 0.0, 1.0, search=(0.0, 0.1, False),
              description="AdamW's decoupled weight decay (not on biases and LayerNorm)"),
            H("freeze_layers", "int", 0, 0, 48, search=(0, 4, False),
              description="lowest encoder layers kept frozen (with the embeddings when > 0)"),
        ),
    )

    def check_data(self, frame: pd.DataFrame, target: str | None,
                   hyperparameters: Mapping[str, Any],
                   recipe: Mapping[str, Any] | None = None) -> None:
        if recipe is not None:
            raise InvalidRequest(
                "text-bert reads its text column as it is (its tokenizer is part of the "
                "model) and takes no recipe; drop the recipe (and --drop), or choose another "
                "algorithm.")
        resolve_text_column(frame.drop(columns=[target], errors="ignore")
                            if target else frame, hyperparameters)
        model = str(hyperparameters.get("model") or DEFAULT_TEXT_MODEL)
        layers = _layers(model)  # the hub says how to install it when absent
        frozen = int(hyperparameters.get("freeze_layers") or 0)
        if frozen > layers:
            raise InvalidRequest(f"freeze_layers is {frozen} but {model} has {layers} encoder "
                                 f"layers; use 0 to {layers}.")

    def own_recipe(self, train: pd.DataFrame, target: str | None,
                   hyperparameters: Mapping[str, Any], notes: list[str],
                   ) -> tuple[Any, pd.DataFrame]:
        from shipyard.features import raw_text_recipe

        inputs = train.drop(columns=[target], errors="ignore") if target else train
        column = resolve_text_column(inputs, hyperparameters)
        others = [str(c) for c in inputs.columns if c != column]
        notes.append(f"recipe: text-bert reads only the text column {column!r}, as raw text "
                     "(its tokenizer is part of the model)"
                     + (f"; not used: {others}" if others else ""))
        return raw_text_recipe(train, column, target)

    def fit(self, data: FitData) -> FitResult:
        return _Fine(data).run()


def _torch() -> Any:
    from shipyard.bundle._transformers import import_transformers

    import_transformers()
    import torch

    return torch


def lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    """The learning rate of optimizer step ``step`` (0-based): linear warm-up, linear decay."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * max(0.0, (total - step) / max(1, total - warmup))


class _Fine:
    """One fine-tuning: model, optimizer, batches, curves and checkpoints."""

    def __init__(self, data: FitData) -> None:
        self.data = data
        self.hp = data.hyperparameters
        self.torch = _torch()
        self.regression = data.problem_type == "regression"

    def _model(self) -> tuple[Any, Any]:
        from shipyard.bundle._transformers import import_transformers

        tf = import_transformers()
        folder = str(model_dir(str(self.hp["model"])))
        tokenizer = tf.AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.torch.manual_seed(self.data.seed)  # the head's initial weights
        labels = 1 if self.regression else self.data.n_classes
        model = tf.AutoModelForSequenceClassification.from_pretrained(
            folder, local_files_only=True, use_safetensors=True, num_labels=labels,
            problem_type="regression" if self.regression else "single_label_classification")
        frozen = int(self.hp["freeze_layers"])
        if frozen:
            base = getattr(model, model.base_model_prefix)
            parts = [base.embeddings, *list(base.encoder.layer)[:frozen]]
            for part in parts:
                for p in part.parameters():
                    p.requires_grad_(False)
        return model, tokenizer

    def _optimizer(self, model: Any) -> Any:
        decay: list[Any] = []
        no_decay: list[Any] = []
        for name, p in model.named_parameters():
            if p.requires_grad:
                (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(p)
        return self.torch.optim.AdamW(
            [{"params": decay, "weight_decay": float(self.hp["weight_decay"])},
             {"params": no_decay, "weight_decay": 0.0}], lr=float(self.hp["learning_rate"]))

    def _targets(self, y: np.ndarray) -> Any:
        if self.regression:
            return self.torch.tensor((y - self.mean) / self.std, dtype=self.torch.float32)
        return self.torch.tensor(y, dtype=self.torch.long)

    def run(self) -> FitResult:
        from shipyard.bundle._transformers import TextModel, texts_of

        torch, data, hp = self.torch, self.data, self.hp
        torch.set_num_threads(num_cpus())
        y = np.asarray(data.y_train)
        self.mean = float(y.mean()) if self.regression else 0.0
        self.std = (float(y.std()) or 1.0) if self.regression else 1.0
        model, tokenizer = self._model()
        length = int(hp["max_seq_length"])
        encoded = tokenizer(texts_of(data.X_train), truncation=True, max_length=length)
        rows = len(y)
        batch = min(int(hp["batch_size"]), rows)
        per_epoch = math.ceil(rows / batch)
        total = per_epoch * int(hp["epochs"])
        warmup = int(round(total * float(hp["warmup_ratio"])))
        optimizer = self._optimizer(model)
        targets = self._targets(y)
        data.log(f"[training] text-bert: fine-tuning {hp['model']} ({_trainable(model)} "
                 f"trainable weights) on {rows} rows, {per_epoch} steps per epoch, "
                 f"{total} steps; max_seq_length {length}, {torch.get_num_threads()} threads")
        history: dict[str, dict[str, list[float]]] = {"train": {"loss": []}, "validation": {}}
        progress = data.progress(total, "steps")
        ckpt = checkpoints_for(data, NAME, ".safetensors", total)
        resume = resuming(ckpt, total, data.log)
        start = 0
        if resume is not None:
            start = resume.round
            _restore(resume.model_path, model, optimizer, torch)
            history = {"train": {"loss": []}, "validation": {}, **resume.history}
            progress.resumed_at = start
        model.train()
        for step in range(start, total):
            epoch, index = divmod(step, per_epoch)
            order = torch.randperm(rows, generator=torch.Generator().manual_seed(
                data.seed + epoch)).tolist()
            picked = order[index * batch:(index + 1) * batch]
            inputs = tokenizer.pad({k: [encoded[k][i] for i in picked] for k in encoded},
                                   return_tensors="pt")
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, total, warmup, float(hp["learning_rate"]))
            loss = model(**inputs, labels=targets[picked]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(
                [p for p in model.parameters() if p.requires_grad], MAX_GRAD_NORM)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            history["train"]["loss"].append(float(loss.detach()))
            done = step + 1
            if done % per_epoch == 0 or done == total:
                self._validate(model, tokenizer, length, history, done)
                model.train()
            progress.update(done)
            if progress.curves_due() or done == total:
                progress.curves(_curves(history, done))
            if ckpt is not None and ckpt.due(done):
                _save(ckpt, done, model, optimizer, history, torch)
        progress.finish(total)
        model.eval()
        fitted = TextModel(model=model, tokenizer=tokenizer, max_seq_length=length,
                           task="regression" if self.regression else "classification",
                           mean=self.mean, std=self.std)
        return FitResult(model=fitted, curves=_curves(history, total))

    def _validate(self, model: Any, tokenizer: Any, length: int,
                  history: dict[str, dict[str, list[float]]], done: int) -> None:
        """Loss and accuracy (rmse) on the validation split, at the end of an epoch."""
        from shipyard.bundle._transformers import texts_of

        data, torch = self.data, self.torch
        if data.X_valid is None or not len(data.X_valid) or data.y_valid is None:
            return
        texts, y = texts_of(data.X_valid), np.asarray(data.y_valid)
        model.eval()
        losses, outs = [], []
        with torch.inference_mode():
            for s in range(0, len(texts), EVAL_ROWS):
                enc = tokenizer(texts[s:s + EVAL_ROWS], truncation=True, max_length=length,
                                padding=True, return_tensors="pt")
                out = model(**enc, labels=self._targets(y[s:s + EVAL_ROWS]))
                losses.append(float(out.loss) * len(texts[s:s + EVAL_ROWS]))
                outs.append(out.logits.double().numpy())
        logits = np.concatenate(outs)
        valid = history.setdefault("validation", {})
        valid.setdefault("step", []).append(float(done))
        valid.setdefault("loss", []).append(sum(losses) / len(texts))
        if self.regression:
            pred = logits[:, 0] * self.std + self.mean
            valid.setdefault("rmse", []).append(float(np.sqrt(np.mean((pred - y) ** 2))))
        else:
            valid.setdefault("accuracy", []).append(float(np.mean(logits.argmax(1) == y)))
        data.log(f"[training] step {done}: validation "
                 + ", ".join(f"{k} {v[-1]:.4g}" for k, v in valid.items() if k != "step"))


def _trainable(model: Any) -> str:
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return f"{n / 1e6:.1f}M"


def _curves(history: Mapping[str, Mapping[str, list[float]]],
            steps: int) -> dict[str, list[float | None]]:
    """Per-step curves: the training loss at every step, validation figures at the steps
    they were measured at (None elsewhere)."""
    out: dict[str, list[float | None]] = {"train.loss": list(history["train"]["loss"])}
    valid = history.get("validation") or {}
    at = [int(s) for s in valid.get("step", [])]
    for metric, values in valid.items():
        if metric == "step":
            continue
        series: list[float | None] = [None] * steps
        for s, v in zip(at, values, strict=False):
            if 0 < s <= steps:
                series[s - 1] = v
        out[f"validation.{metric}"] = series
    return out


def _save(ckpt: BoostingCheckpoints, done: int, model: Any, optimizer: Any,
          history: dict[str, dict[str, list[float]]], torch: Any) -> None:
    """The weights, AdamW's moments and the RNG state as safetensors tensors (no pickle)."""
    from safetensors.torch import save_file

    def write(path: Path) -> None:
        tensors = {f"model.{k}": v.detach().contiguous()
                   for k, v in model.state_dict().items()}
        for index, state in optimizer.state_dict()["state"].items():
            for key, value in state.items():
                tensors[f"optimizer.{index}.{key}"] = torch.as_tensor(value).contiguous()
        tensors["rng.torch"] = torch.get_rng_state()
        save_file(tensors, str(path), metadata={"format": "pt", "step": str(done)})

    ckpt.save(done, write, history)


def _restore(path: Path, model: Any, optimizer: Any, torch: Any) -> None:
    """Load what :func:`_save` wrote into the model and the optimizer; restore the RNG."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    saved = optimizer.state_dict()
    optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
