"""image-cnn end to end: a real server trains it in a job subprocess on scikit-learn's digits
(1,797 real 8×8 images as 64 pixel columns), a real endpoint serves it PNG, JPEG, base64 JSON
and pixel rows, the bundle round-trips, and bad images are 4xx.

One training job (a fixed 25% test holdout, seed 0) and one endpoint are shared by the
module; a second, small job trains on a dataset of image files.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch", reason="image-cnn needs PyTorch: pip install 'shipyard[text]'")
pytest.importorskip("safetensors", reason="image-cnn bundles need safetensors (the text extra)")
pytest.importorskip("PIL", reason="serving images needs Pillow: pip install 'shipyard[images]'")

from PIL import Image  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from shipyard.bundle import BundleError, load_bundle  # noqa: E402
from shipyard.errors import InvalidRequest  # noqa: E402
from shipyard.evaluation import SplitSpec, split_frame  # noqa: E402
from shipyard.testing import LocalServer, ok_json, run_cli, wait_until  # noqa: E402
from shipyard.testing.images import digits_folder  # noqa: E402
from shipyard.training import TrainingContext, run_training  # noqa: E402

TERMINAL = {"Completed", "Failed", "Stopped"}
SPLIT = {"fractions": [0.75, 0.0, 0.25], "seed": 0}
HP = {"epochs": 15, "seed": 0}
URL = "/api/v1/endpoints/digits-ep/invocations"



def _until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    return wait_until(check, timeout, what, every=0.3)


def _digits() -> pd.DataFrame:
    return load_digits(as_frame=True).frame


def _test_rows() -> pd.DataFrame:
    """The job's test split, rebuilt as the training flow cuts it (same spec, same seed)."""
    df = _digits()
    cut = split_frame(df, SplitSpec.from_dict(SPLIT), target="target",
                      problem_type="multiclass")
    return cut.frames(df)[2].reset_index(drop=True)


def _png(pixels: np.ndarray, scale: int = 8, fmt: str = "PNG") -> bytes:
    """An 8×8 digit (0..16) as an 8-bit image, upscaled ``scale`` times."""
    grid = np.round(np.asarray(pixels, "float64").reshape(8, 8) * 255 / 16).astype(np.uint8)
    img = Image.fromarray(grid, mode="L").resize((8 * scale, 8 * scale),
                                                 Image.Resampling.NEAREST)
    out = io.BytesIO()
    img.save(out, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return out.getvalue()


def _train_job(server: LocalServer, body: dict[str, Any]) -> dict[str, Any]:
    c = server.client()
    r = c.post("/api/v1/jobs", json={"kind": "training", "algorithm": "image-cnn", **body})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    job = _until(lambda: (j := c.get(f"/api/v1/jobs/{job_id}").json())["status"] in TERMINAL
                 and j, 600, "training")
    assert job["status"] == "Completed", (job, c.get(f"/api/v1/jobs/{job_id}/logs").text)
    return job


def _register(server: LocalServer, group: str, job_id: str) -> int:
    c = server.client()
    r = c.post(f"/api/v1/models/{group}/versions", json={"job_id": job_id})
    assert r.status_code == 201, r.text
    version = int(r.json()["version"])
    r = c.post(f"/api/v1/models/{group}/versions/{version}/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.text
    return version


def _bundle(server: LocalServer, group: str, version: int, into: Path) -> Path:
    """The registered version's bundle, downloaded file by file (each SHA-256 checked)."""
    c = server.client()
    raw = c.get(f"/api/v1/models/{group}/versions/{version}/files/MODEL.json").content
    for path in json.loads(raw)["files"]:
        r = c.get(f"/api/v1/models/{group}/versions/{version}/files/{path}")
        assert r.status_code == 200, r.text
        (into / path).parent.mkdir(parents=True, exist_ok=True)
        (into / path).write_bytes(r.content)
    (into / "MODEL.json").write_bytes(raw)
    return into


@pytest.fixture(scope="module")
def trained(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The digits as a table, one image-cnn job on them, its version registered and served."""
    c = server.client()
    csv = _digits().to_csv(index=False).encode()
    r = c.post("/api/v1/datasets", data={"name": "digits"},
               files={"file": ("digits.csv", csv, "text/csv")})
    assert r.status_code == 201, r.text
    started = time.monotonic()
    job = _train_job(server, {"inputs": {"train": "digits"}, "target": "target",
                              "split": SPLIT, "hyperparameters": HP})
    seconds = time.monotonic() - started
    version = _register(server, "digits", job["id"])
    r = c.post("/api/v1/endpoints", json={"name": "digits-ep", "model": f"digits:{version}"})
    assert r.status_code == 202, r.text

    def in_service() -> bool:
        doc = c.get("/api/v1/endpoints/digits-ep").json()
        assert doc["status"] != "Failed", doc.get("reason")
        return doc["status"] == "InService"

    _until(in_service, 180, "endpoint digits-ep InService")
    bundle = _bundle(server, "digits", version, tmp_path_factory.mktemp("bundle"))
    return {"job": job, "version": version, "bundle": bundle, "seconds": seconds}


def test_beats_90_percent_on_the_digits_test_split(trained: dict[str, Any]) -> None:
    manifest = json.loads((trained["bundle"] / "MODEL.json").read_text())
    assert manifest["split"]["row_counts"]["test"] == len(_test_rows()) > 400
    assert manifest["metrics"]["test"]["accuracy"] > 0.90, manifest["metrics"]["test"]
    assert manifest["framework"]["name"] == "torch-image"
    assert manifest["model_files"] == ["model.safetensors"]
    listed = set(manifest["files"])
    assert {"model.safetensors", "architecture.json", "recipe.json"} <= listed
    spec = json.loads((trained["bundle"] / "architecture.json").read_text())
    assert (spec["height"], spec["width"], spec["channels"], spec["value_max"]) == (8, 8, 1, 16)
    assert spec["n_classes"] == 10 and len(spec["columns"]) == 64


def test_training_curves_per_epoch(server: LocalServer, trained: dict[str, Any]) -> None:
    c = server.client()
    metrics = c.get(f"/api/v1/jobs/{trained['job']['id']}/metrics").json()
    text = json.dumps(metrics)
    assert "curve.train.loss" in text
    logs = c.get(f"/api/v1/jobs/{trained['job']['id']}/logs").text
    assert "epochs" in logs and "image-cnn: 8×8×1 pixel grid" in logs


def test_endpoint_serves_png_jpeg_base64_and_rows(server: LocalServer,
                                                  trained: dict[str, Any]) -> None:
    test = _test_rows()
    pixels = test.drop(columns="target")
    c = server.client("viewer")
    rows = json.loads(pixels.head(20).to_json(orient="records"))
    by_rows = c.post(URL, json=rows)
    assert by_rows.status_code == 200, by_rows.text
    row_labels = by_rows.json()["predictions"]
    truth = [str(v) for v in test["target"].head(20)]
    assert sum(a == b for a, b in zip(row_labels, truth, strict=True)) >= 17
    # One PNG per digit, upscaled 8×: the instance decodes it back to the same 8×8 pixels.
    for i in range(5):
        r = c.post(URL, content=_png(pixels.iloc[i].to_numpy()),
                   headers={"content-type": "image/png"})
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == [row_labels[i]]
        assert r.json()["labels"] == [str(d) for d in range(10)]
    first = next(i for i in range(20) if row_labels[i] == truth[i])
    r = c.post(URL, content=_png(pixels.iloc[first].to_numpy(), fmt="JPEG"),
               headers={"content-type": "image/jpeg"})
    assert r.status_code == 200 and r.json()["predictions"] == [truth[first]], r.text
    body = [{"image": base64.b64encode(_png(pixels.iloc[i].to_numpy())).decode(),
             "inference_id": f"digit-{i}"} for i in range(5)]
    r = c.post(URL, json={"instances": body})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == row_labels[:5]
    assert r.json()["inference_ids"] == [f"digit-{i}" for i in range(5)]


def test_bad_images_are_4xx_naming_them(server: LocalServer, trained: dict[str, Any]) -> None:
    c = server.client("viewer")
    png = _png(_digits().drop(columns="target").iloc[0].to_numpy())

    def refused(content: bytes, media: str = "image/png") -> str:
        r = c.post(URL, content=content, headers={"content-type": media})
        assert 400 <= r.status_code < 500, r.text
        return str(r.json()["error"]["message"])

    assert "not a PNG or JPEG" in refused(b"this is text, not an image")
    assert "truncated" in refused(png[: len(png) // 2])
    huge = io.BytesIO()
    Image.new("L", (6000, 6000)).save(huge, "PNG")  # 36 M pixels, a few KB compressed
    assert "more than 20,000,000 pixels" in refused(huge.getvalue())
    assert "empty" in refused(b"")
    r = c.post(URL, json=[{"image": "not base64!"}])
    assert r.status_code == 400 and "row 0" in r.json()["error"]["message"].lower()
    r = c.post(URL, json=[{"image": base64.b64encode(b"GIF89a...").decode()}])
    assert r.status_code == 400 and "image of row 0" in r.json()["error"]["message"]
    r = c.post(URL, content=png, headers={"content-type": "image/gif"})
    assert r.status_code == 415


def test_bundle_round_trips_to_identical_predictions(server: LocalServer,
                                                    trained: dict[str, Any]) -> None:
    pipeline = load_bundle(trained["bundle"])
    pixels = _test_rows().drop(columns="target")
    local = pipeline.predict(pixels)
    rows = json.loads(pixels.to_json(orient="records"))
    served = server.client("viewer").post(URL, json=rows).json()
    assert list(local["prediction"]) == served["predictions"]
    proba = np.array([[p[str(d)] for d in range(10)] for p in served["probabilities"]])
    assert np.allclose(local[[f"probability.{d}" for d in range(10)]].to_numpy(), proba,
                       atol=1e-9)
    assert list(local["prediction"]) == list(load_bundle(trained["bundle"]).predict(pixels)
                                             ["prediction"])


def test_bundle_is_checked_and_never_a_pickle(trained: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    copy = shutil.copytree(trained["bundle"], tmp_path / "b")
    spec = json.loads((copy / "architecture.json").read_text())
    (copy / "architecture.json").write_text(json.dumps({**spec, "filters": 64}))
    with pytest.raises(BundleError, match="architecture.json"):
        load_bundle(copy)  # altered after hashing
    from shipyard.bundle._torch_image import TorchImageFramework

    pickled = tmp_path / "model.safetensors"
    pickled.write_bytes(b"\x80\x04\x95" + b"\x00" * 64)
    with pytest.raises(BundleError, match="pickle"):
        TorchImageFramework().check(pickled)


def test_fixed_seed_reproduces_the_fit(tmp_path: Path) -> None:
    df = _digits().head(300)
    runs = [run_training(TrainingContext(
        train=df, algorithm="image-cnn", target="target", model_dir=tmp_path / str(k),
        hyperparameters={"epochs": 2, "channels": 8, "seed": 7}, split=SPLIT, n_jobs=1,
        plots=False, log=lambda line: None)) for k in range(2)]
    files = [(r.model_dir / "model.safetensors").read_bytes() for r in runs]
    assert files[0] == files[1]


def test_image_files_dataset_trains_and_serves(server: LocalServer,
                                               tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = digits_folder(tmp_path_factory.mktemp("files"), limit=400)  # 32×32 PNGs
    ok_json(run_cli("datasets", "create", "digit-files", "--files", str(folder), "--json",
                    env=server.sdk_env("data-scientist"), timeout=300))
    job = _train_job(server, {"inputs": {"train": "digit-files"}, "target": "label",
                              "split": SPLIT,
                              "hyperparameters": {"epochs": 12, "image_size": 16, "seed": 0}})
    version = _register(server, "digit-files", job["id"])
    bundle = _bundle(server, "digit-files", version, tmp_path_factory.mktemp("files-bundle"))
    manifest = json.loads((bundle / "MODEL.json").read_text())
    spec = json.loads((bundle / "architecture.json").read_text())
    assert (spec["height"], spec["width"], spec["channels"], spec["value_max"]) == \
        (16, 16, 1, 255)
    assert manifest["hyperparameters"]["image_shape"] == "16x16"
    assert manifest["metrics"]["test"]["accuracy"] > 0.8, manifest["metrics"]["test"]
    # The bundle reads a file as the job read it: the same decoder, the same grid.
    from shipyard.serving._predictor import Predictor

    reader = Predictor(load_bundle(bundle)).image_reader
    assert reader is not None
    files = sorted(folder.rglob("*.png"))[:40]
    pipeline = load_bundle(bundle)
    got = pipeline.predict(pd.DataFrame([reader(f.read_bytes(), f.name) for f in files]))
    hits = sum(p == f.parent.name for p, f in zip(got["prediction"], files, strict=True))
    assert hits >= 32, hits


def test_a_rows_model_refuses_an_image_body() -> None:
    from shipyard.errors import UnsupportedMediaType
    from shipyard.serving._codec import IMAGE, media_kind, parse_body

    assert media_kind("image/png") == media_kind("image/jpeg; q=1") == IMAGE
    with pytest.raises(UnsupportedMediaType, match="takes rows, not images"):
        parse_body(IMAGE, b"\x89PNG", None)
    table = parse_body("json", b'[{"image": "abc"}]', None)  # a column like any other
    assert table.records == [{"image": "abc"}]


def test_a_bad_image_shape_is_refused_at_submit(server: LocalServer,
                                                trained: dict[str, Any]) -> None:
    c = server.client()
    r = c.post("/api/v1/jobs", json={"kind": "training", "algorithm": "image-cnn",
                                     "inputs": {"train": "digits"}, "target": "target",
                                     "hyperparameters": {"image_shape": "eight"}})
    assert r.status_code == 400 and "image_shape" in r.text, r.text
    doc = c.get("/api/v1/algorithms/image-cnn")
    assert doc.status_code == 200, doc.text
    shape = next(h for h in doc.json()["hyperparameters"] if h["name"] == "image_shape")
    assert shape["type"] == "str" and shape["pattern"] and shape["search"] is None
    assert c.get("/api/v1/algorithms").status_code == 200


def test_colour_files_decode_to_rgb_pixel_columns(tmp_path: Path) -> None:
    """Files in colour (``color`` auto) become RGB columns, a grid the network reads."""
    from shipyard.training._image_files import decode_channels

    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        red = i % 2 == 0
        grid = rng.integers(0, 60, (20, 20, 3)).astype(np.uint8)
        grid[5:15, 5:15, 0 if red else 2] = 250
        out = io.BytesIO()
        Image.fromarray(grid, mode="RGB").save(out, "PNG")
        sha = hashlib.sha256(out.getvalue()).hexdigest()
        (tmp_path / sha).write_bytes(out.getvalue())
        rows.append({"path": f"{i}.png", "sha256": sha, "width": 20, "height": 20,
                     "format": "PNG", "bytes": len(out.getvalue()),
                     "label": "red" if red else "blue"})
    manifest = pd.DataFrame(rows)
    channels, hp = decode_channels({"train": manifest}, tmp_path, {"image_size": 8}, "label",
                                   log=lambda line: None)
    table = channels["train"]
    assert hp["image_shape"] == "8x8x3" and hp["pixel_max"] == 255.0
    assert list(table.columns[:3]) == ["pixel_0_0_0", "pixel_0_0_1", "pixel_0_0_2"]
    assert table.shape == (12, 8 * 8 * 3 + 1) and list(table["label"]) == list(manifest["label"])
    centre = table[["pixel_4_4_0", "pixel_4_4_2"]].to_numpy()
    assert centre[0][0] == 250 and centre[1][1] == 250  # red square, then blue square
    result = run_training(TrainingContext(
        train=table, algorithm="image-cnn", target="label", model_dir=tmp_path / "m",
        hyperparameters={**hp, "epochs": 3, "channels": 4}, n_jobs=1, plots=False,
        split={"fractions": [0.5, 0.0, 0.5], "seed": 0}, log=lambda line: None))
    spec = json.loads((tmp_path / "m" / "architecture.json").read_text())
    assert (spec["channels"], spec["value_max"]) == (3, 255.0)
    assert set(result.pipeline.predict(table.drop(columns="label"))["prediction"]) <= \
        {"red", "blue"}
    with pytest.raises(InvalidRequest, match="not a files manifest"):
        decode_channels({"train": table}, tmp_path, {}, "label")


def test_without_torch_a_load_says_what_to_install(trained: dict[str, Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from shipyard.bundle import check_bundle

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    assert check_bundle(trained["bundle"])["framework"]["name"] == "torch-image"  # no torch
    with pytest.raises(BundleError, match=r"pip install 'shipyard\[text\]'"):
        load_bundle(trained["bundle"])


def test_cli_and_sdk_send_images(server: LocalServer, trained: dict[str, Any],
                                 tmp_path: Path) -> None:
    import shipyard as sy

    pixels = _test_rows().drop(columns="target")
    rows = json.loads(pixels.head(3).to_json(orient="records"))
    expected = server.client().post(URL, json=rows).json()["predictions"]
    files = [tmp_path / f"digit-{i}.png" for i in range(3)]
    for i, path in enumerate(files):
        path.write_bytes(_png(pixels.iloc[i].to_numpy()))
    got = ok_json(run_cli("endpoints", "invoke", "digits-ep", "--file", str(files[1]),
                          "--json", env=server.sdk_env("viewer")))
    assert got["predictions"] == [expected[1]]
    with sy.connect(url=server.url, token=server.token("viewer"), set_default=False) as c:
        out = sy.Endpoint("digits-ep", client=c).invoke_images(
            [files[1], files[2].read_bytes()])
    assert list(out["prediction"]) == expected[1:3]
    assert list(out.columns[:2]) == ["prediction", "probability.0"]
