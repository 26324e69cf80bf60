"""image-cnn benchmark: digits accuracy, training wall time, single-image endpoint latency.

Starts a real server in a temporary home, uploads scikit-learn's digits (1,797 8×8 images
as 64 pixel columns), trains image-cnn in a job (a fixed 25% test holdout, seed 0), deploys
the model, and sends one PNG per request (a test digit upscaled to 64×64) through the
stable URL and to the instance directly. Prints the test accuracy, the job's wall time
(submit to Completed) and the fit time inside it, and the latency p50/p95 of each path,
plus the same for a JSON row of 64 pixels, for comparison.

    .venv/bin/python benchmarks/bench_image_cnn.py [--requests 200] [--epochs 20]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from shipyard.testing import LocalServer

SPLIT = {"fractions": [0.75, 0.0, 0.25], "seed": 0}


def png(pixels: np.ndarray) -> bytes:
    grid = np.round(pixels.reshape(8, 8) * 255 / 16).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(grid, mode="L").resize((64, 64), Image.Resampling.NEAREST).save(out, "PNG")
    return out.getvalue()


def wait(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def latency(client: httpx.Client, url: str, bodies: list[dict], n: int) -> tuple[float, float]:
    for body in bodies[:5]:  # warm the connection and the model
        client.post(url, **body).raise_for_status()
    times = []
    for i in range(n):
        started = time.perf_counter()
        client.post(url, **bodies[i % len(bodies)]).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    digits = load_digits(as_frame=True).frame
    with tempfile.TemporaryDirectory(prefix="bench-image-cnn-") as tmp:
        server = LocalServer.start(Path(tmp) / "home")
        try:
            c = server.client()
            r = c.post("/api/v1/datasets", data={"name": "digits"},
                       files={"file": ("d.csv", digits.to_csv(index=False).encode(), "text/csv")})
            r.raise_for_status()
            started = time.monotonic()
            r = c.post("/api/v1/jobs", json={
                "kind": "training", "algorithm": "image-cnn", "inputs": {"train": "digits"},
                "target": "target", "split": SPLIT,
                "hyperparameters": {"epochs": args.epochs, "seed": 0}})
            r.raise_for_status()
            job_id = r.json()["id"]
            job = wait(lambda: (j := c.get(f"/api/v1/jobs/{job_id}").json())["status"]
                       in ("Completed", "Failed", "Stopped") and j, 900, "the training job")
            wall = time.monotonic() - started
            if job["status"] != "Completed":
                raise SystemExit(f"training {job['status']}: {job.get('reason')}")
            r = c.post("/api/v1/models/digits/versions", json={"job_id": job_id})
            r.raise_for_status()
            version = r.json()["version"]
            c.post(f"/api/v1/models/digits/versions/{version}/approve",
                   json={"comment": "bench"}).raise_for_status()
            manifest = c.get(f"/api/v1/models/digits/versions/{version}/files/MODEL.json").json()
            c.post("/api/v1/endpoints", json={"name": "digits", "model": f"digits:{version}"}
                   ).raise_for_status()
            doc = wait(lambda: (d := c.get("/api/v1/endpoints/digits").json())["status"]
                       == "InService" and d, 180, "the endpoint")
            instance = doc["variants"][0]["instance_list"][0]["url"] + "/invocations"
            test = digits.sample(frac=0.25, random_state=0).drop(columns="target").to_numpy()
            images = [{"content": png(row), "headers": {"content-type": "image/png"}}
                      for row in test[:50]]
            rows = [{"json": [dict(zip(digits.columns[:64], map(float, row), strict=True))]}
                    for row in test[:50]]
            stable = "/api/v1/endpoints/digits/invocations"
            metrics = manifest["metrics"]["test"]
            print(f"image-cnn on digits ({args.epochs} epochs, 2 cores shared)")
            print(f"  test accuracy          {metrics['accuracy']:.4f} "
                  f"(n={int(metrics['n_samples'])}, 25% holdout, seed 0)")
            print(f"  training job wall time {wall:.1f} s submit→Completed; fit "
                  f"{manifest['training']['fit_seconds']:.1f} s")
            for name, client, url in (("stable URL", c, stable),
                                      ("instance", httpx.Client(), instance)):
                p50, p95 = latency(client, url, images, args.requests)
                q50, q95 = latency(client, url, rows, args.requests)
                print(f"  {name:<10} PNG 64×64: p50 {p50:.2f} ms, p95 {p95:.2f} ms; "
                      f"JSON row: p50 {q50:.2f} ms, p95 {q95:.2f} ms")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
