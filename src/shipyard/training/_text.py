"""Text built-ins: ``text-linear`` (TF-IDF n-grams + a linear model) and ``text-embedding``
(a pre-trained sentence encoder's embeddings + a linear or boosting head).

Both read one free-text column raw (``text_column``, see :mod:`._text_column`): the
training entry has the recipe keep it as strings (a ``raw_text`` step) instead of the
default's few hundred TF-IDF columns, and the model tokenises it itself, so the serving
instance runs the very same code. The recipe's other features (numbers scaled, labels
one-hot) go to the model beside the text.

``text-linear`` is the fast baseline, as BlazingText's supervised mode is: word n-grams
(and, if asked, character n-grams) weighted by TF-IDF, then L2-regularised logistic
regression (ridge for a number). ``text-embedding`` embeds the text with
all-MiniLM-L6-v2 (located offline through :func:`shipyard.hub.model_dir`), whose files
the bundle then carries (:mod:`shipyard.bundle._sentence`). Nothing is cached on disk
between jobs: each job embeds its own rows.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

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
from shipyard.training._text_column import TEXT_COLUMN

SUPERVISED = frozenset({"binary", "multiclass", "regression"})

_TEXT = H(TEXT_COLUMN, "str", None, tuned=False,
          description="the column of free text; null: the one column that reads as free text")
_CLASS_WEIGHT = H("class_weight", "categorical", "none", choices=("none", "balanced"),
                  description="weigh classes by inverse frequency (classification)")


def text_column_of(data: FitData) -> str:
    """The raw text column among the features (the one the recipe kept as strings)."""
    name = data.hyperparameters.get(TEXT_COLUMN)
    if isinstance(name, str) and name in data.X_train.columns:
        return name
    found = [str(c) for c in data.X_train.columns if data.X_train[c].dtype == object]
    if len(found) != 1:
        raise InvalidRequest(
            "A text algorithm needs its text column kept raw by the recipe; the features "
            f"have {found or 'no'} text column(s). Pass text_column, and leave the text "
            "column out of any tfidf or drop step of a custom recipe.")
    return found[0]


def _class_weight(value: str) -> str | None:
    return None if value == "none" else value


def _converged(model: Any, fit: Any, what: str, max_iter: int) -> list[str]:
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit()
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        return [f"the {what} solver did not converge in {max_iter} iterations; raise max_iter "
                "or lower C"]
    return []


@register
class TextLinear(Algorithm):
    info = AlgorithmInfo(
        name="text-linear", problem_types=SUPERVISED, needs_scaling=True,
        categorical="onehot", framework="scikit-learn-text", text=True,
        description="Text: TF-IDF word n-grams (optionally character n-grams) of the raw text "
                    "column and a linear model (logistic or ridge regression); the fast "
                    "baseline, as BlazingText's supervised mode.",
        size_drivers="max_features (the vocabulary kept, per word and character analyser)",
        hyperparameters=(
            _TEXT,
            H("ngram_max", "int", 2, 1, 3, description="longest word n-gram (1: words only)"),
            H("min_df", "int", 2, 1, 100, search=(1, 10, True),
              description="a term must appear in this many training texts"),
            H("max_features", "int", 50_000, 100, 1_000_000, nullable=True,
              search=(5_000, 200_000, True),
              description="terms kept per analyser, the most frequent first; null: all"),
            H("char_ngrams", "bool", False,
              description="add character 2- to 5-grams (within words): robust to typos"),
            H("sublinear_tf", "bool", True, description="weigh a term by 1 + log(count)"),
            H("C", "float", 4.0, 1e-3, 1e3, log=True, search=(0.1, 100.0, True),
              description="inverse L2 regularisation strength (ridge: alpha = 1/C)"),
            _CLASS_WEIGHT,
            H("max_iter", "int", 2000, 10, 100_000, tuned=False,
              description="solver iterations"),
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        from sklearn.compose import ColumnTransformer
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import Pipeline

        hp = data.hyperparameters
        text = text_column_of(data)
        tabular = [str(c) for c in data.X_train.columns if c != text]
        common = {"min_df": hp["min_df"], "max_features": hp["max_features"],
                  "sublinear_tf": hp["sublinear_tf"], "dtype": np.float64}
        parts: list[tuple[str, Any, Any]] = [
            ("words", TfidfVectorizer(ngram_range=(1, hp["ngram_max"]), **common), text)]
        if hp["char_ngrams"]:
            parts.append(("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                                   **common), text))
        if tabular:
            parts.append(("tabular", "passthrough", tabular))
        model: Any
        if data.problem_type == "regression":
            model = Ridge(alpha=1.0 / hp["C"], max_iter=hp["max_iter"])
        else:
            model = LogisticRegression(C=hp["C"], max_iter=hp["max_iter"],
                                       class_weight=_class_weight(hp["class_weight"]))
        pipeline = Pipeline([("features", ColumnTransformer(parts)), ("model", model)])
        try:
            notes = _converged(pipeline, lambda: pipeline.fit(data.X_train, data.y_train),
                               "linear", hp["max_iter"])
        except ValueError as exc:
            if "vocabulary" not in str(exc):
                raise
            raise InvalidRequest(
                f"Text column {text!r} gives no terms ({exc}); lower min_df or check that "
                "the column holds text.") from None
        vocab = len(pipeline.named_steps["features"].named_transformers_["words"].vocabulary_)
        data.log(f"[training] text-linear: {vocab} word n-grams of {text!r}"
                 + (f", {len(tabular)} other features" if tabular else ""))
        return FitResult(model=pipeline, notes=notes)


@register
class TextEmbedding(Algorithm):
    info = AlgorithmInfo(
        name="text-embedding", problem_types=SUPERVISED, needs_scaling=True,
        categorical="onehot", framework="sentence-embedding", text=True,
        description="Text: sentence embeddings of the raw text column from a pre-trained "
                    "encoder (all-MiniLM-L6-v2, offline), with a linear (logistic/ridge) or "
                    "boosting (LightGBM) head over them and the other columns.",
        size_drivers="the encoder's weights (about 87 MB), carried in the bundle",
        hyperparameters=(
            _TEXT,
            H("encoder", "categorical", "all-minilm-l6-v2", choices=("all-minilm-l6-v2",),
              tuned=False, description="the hub model that embeds the text"),
            H("head", "categorical", "linear", choices=("linear", "boosting"),
              description="linear: logistic/ridge regression; boosting: LightGBM"),
            H("max_seq_length", "int", 128, 16, 256, tuned=False,
              description="word pieces per text at most; the rest is truncated"),
            H("batch_size", "int", 32, 1, 512, tuned=False, description="texts embedded at once"),
            H("C", "float", 1.0, 1e-3, 1e3, log=True, search=(0.01, 100.0, True),
              description="linear head: inverse L2 regularisation (ridge: alpha = 1/C)"),
            _CLASS_WEIGHT,
            H("n_estimators", "int", 300, 10, 5000, search=(50, 1000, True),
              description="boosting head: rounds"),
            H("learning_rate", "float", 0.05, 1e-3, 1.0, log=True, search=(0.01, 0.3, True),
              description="boosting head: shrinkage"),
            H("num_leaves", "int", 15, 2, 1024, search=(4, 64, True),
              description="boosting head: leaves per tree"),
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        from shipyard.bundle import TextEncoder
        from shipyard.bundle._sentence import SentenceModel
        from shipyard.hub import model_dir

        hp = data.hyperparameters
        text = text_column_of(data)
        tabular = [str(c) for c in data.X_train.columns if c != text]
        encoder = TextEncoder(model_dir(hp["encoder"]), hp["max_seq_length"])
        started = time.perf_counter()
        model = SentenceModel(encoder=encoder, text_column=text, tabular=tabular,
                              head_kind=hp["head"], head=None, batch_size=hp["batch_size"])
        Z = model.features(data.X_train)
        seconds = time.perf_counter() - started
        data.log(f"[training] text-embedding: embedded {len(Z)} texts of {text!r} in "
                 f"{seconds:.1f}s ({len(Z) / max(seconds, 1e-9):.0f} texts/s, "
                 f"{encoder.dimensions} dimensions"
                 + (f", plus {len(tabular)} other features)" if tabular else ")"))
        notes: list[str] = []
        if hp["head"] == "linear":
            model.head, notes = _linear_head(data, Z)
        else:
            model.head = _boosting_head(data, Z)
        return FitResult(model=model, notes=notes)


def _linear_head(data: FitData, Z: np.ndarray) -> tuple[Any, list[str]]:
    from sklearn.linear_model import LogisticRegression, Ridge

    hp = data.hyperparameters
    head: Any
    if data.problem_type == "regression":
        head = Ridge(alpha=1.0 / hp["C"])
        head.fit(Z, data.y_train)
        return head, []
    head = LogisticRegression(C=hp["C"], max_iter=5000,
                              class_weight=_class_weight(hp["class_weight"]))
    return head, _converged(head, lambda: head.fit(Z, data.y_train), "logistic", 5000)


def _boosting_head(data: FitData, Z: np.ndarray) -> Any:
    import lightgbm as lgb

    hp = data.hyperparameters
    objective = {"binary": "binary", "multiclass": "multiclass",
                 "regression": "regression"}[data.problem_type]
    params: dict[str, Any] = {
        "objective": objective, "learning_rate": hp["learning_rate"],
        "num_leaves": hp["num_leaves"], "min_child_samples": 10, "feature_fraction": 0.5,
        "seed": data.seed, "num_threads": data.n_jobs or num_cpus(), "verbosity": -1,
        "deterministic": True, "force_row_wise": True,
    }
    if objective == "binary" and hp["class_weight"] == "balanced":
        params["is_unbalance"] = True
    if data.problem_type == "multiclass":
        params["num_class"] = data.n_classes
    frame = pd.DataFrame(Z, columns=[f"f{i}" for i in range(Z.shape[1])])
    progress = data.progress(hp["n_estimators"], "boosting rounds")

    def report(env: Any) -> None:
        progress.update(env.iteration + 1)

    booster = lgb.train(params, lgb.Dataset(frame, label=data.y_train),
                        num_boost_round=hp["n_estimators"], callbacks=[report])
    progress.finish(booster.current_iteration())
    return booster
