"""The ASGI app in process: a failing model answers 500 and the app keeps serving."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np

from shipyard.bundle import load_bundle
from shipyard.serving import AppConfig, Predictor, ServingApp


def test_a_model_failure_is_a_500_and_serving_goes_on(bundles: dict, frames: dict,
                                                      caplog) -> None:
    predictor = Predictor(load_bundle(bundles[("churn", "xgboost")]))
    assert predictor.fast is not None
    app = ServingApp(predictor, AppConfig())
    row = frames["churn"].drop(columns="churn").head(1).to_json(orient="records")
    real = predictor.fast.predict_raw

    def broken(X: np.ndarray) -> np.ndarray:
        raise RuntimeError("booster exploded")

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = {"content-type": "application/json"}
            object.__setattr__(predictor.fast, "predict_raw", broken)
            first = await client.post("/invocations", content=row, headers=headers)
            object.__setattr__(predictor.fast, "predict_raw", real)
            second = await client.post("/invocations", content=row, headers=headers)
            return [first, second]

    first, second = asyncio.run(run())
    assert first.status_code == 500 and first.json()["error"]["code"] == "internal"
    assert "booster exploded" not in first.text
    assert "booster exploded" in caplog.text
    assert second.status_code == 200 and second.json()["predictions"][0] in ("Yes", "No")
