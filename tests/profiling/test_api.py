"""Profiles of dataset versions through the real server: REST, SDK, CLI and the demo step."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import shipyard as sy
from shipyard.errors import InvalidRequest, NotFound
from shipyard.profiling import Profile, cache_key, profile
from shipyard.testing import LocalServer

from .helpers import assert_close

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def sdk(server: LocalServer, churn: pd.DataFrame) -> Iterator[sy.Client]:
    """The SDK as admin, with the churn table as dataset 'churn' (version 1)."""
    client = sy.connect(url=server.url, token=server.token())
    sy.Dataset.create("churn", churn)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def http(server: LocalServer, sdk: sy.Client) -> httpx.Client:
    return server.client()


def _cli(server: LocalServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipyard.cli", *args], env=server.sdk_env(),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _stats(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "memory_bytes"} for c in doc["columns"]]


@pytest.mark.slow
def test_profile_is_computed_once_then_cached(http: httpx.Client, server: LocalServer,
                                              churn: pd.DataFrame) -> None:
    first = http.post("/api/v1/datasets/churn/profile", json={"target": "churn", "version": 1})
    assert first.status_code == 200, first.text
    doc = first.json()
    version = http.get("/api/v1/datasets/churn/versions/1").json()
    assert doc["source"] == {"kind": "dataset", "dataset": "churn", "version": 1,
                             "content_hash": version["content_hash"], "cached": False}
    local = profile(churn, target="churn").to_dict()
    assert_close(_stats(doc), _stats(local))  # the version's Parquet parts, same figures
    assert doc["target"]["problem_type"] == "classification"
    assert [w["kind"] for w in doc["warnings"]] == [w["kind"] for w in local["warnings"]]

    again = http.post("/api/v1/datasets/churn/profile", json={"target": "churn", "version": 1})
    assert again.json()["source"]["cached"] is True
    assert again.json()["columns"] == doc["columns"]
    stored = server.home / "artifacts" / "named" / cache_key(version["content_hash"], "churn")
    assert json.loads(stored.read_text())["format_version"] == doc["format_version"]

    # Equal content under another name shares the profile; no target is another profile.
    sy.Dataset.create("churn-copy", churn)
    copy = http.post("/api/v1/datasets/churn-copy/profile", json={"target": "churn"}).json()
    assert copy["source"]["cached"] is True and copy["source"]["dataset"] == "churn-copy"
    plain = http.post("/api/v1/datasets/churn-copy/profile").json()
    assert plain["source"]["cached"] is False and plain["target"] is None


def test_versions_and_mistakes(http: httpx.Client, server: LocalServer,
                               churn: pd.DataFrame) -> None:
    sy.Dataset("churn").append(churn.head(100))
    latest = http.post("/api/v1/datasets/churn/profile", json={}).json()
    first = http.post("/api/v1/datasets/churn/profile", json={"version": 1}).json()
    assert (latest["dataset"]["rows"], first["dataset"]["rows"]) == (7143, 7043)
    assert latest["source"]["version"] == 2

    bad = http.post("/api/v1/datasets/churn/profile", json={"target": "Churn"})
    assert bad.status_code == 400
    assert "The target column 'Churn' is not in churn:2" in bad.json()["error"]["message"]
    kind = http.post("/api/v1/datasets/churn/profile",
                     json={"target": "contract", "problem_type": "regression"})
    assert kind.status_code == 400 and "not numeric" in kind.json()["error"]["message"]
    assert http.post("/api/v1/datasets/nope/profile", json={}).status_code == 404
    assert http.post("/api/v1/datasets/churn/profile", json={"version": 0}).status_code == 422
    assert http.post("/api/v1/datasets/churn/profile", json={"version": 9}).status_code == 404


def test_permissions_and_report(server: LocalServer, http: httpx.Client) -> None:
    viewer = server.client("viewer")
    assert viewer.post("/api/v1/datasets/churn/profile", json={"version": 1}).status_code == 200
    assert server.client(None).post("/api/v1/datasets/churn/profile").status_code == 401
    spec = http.get("/api/v1/openapi.json").json()["paths"]
    assert spec["/api/v1/datasets/{name}/profile"]["post"]["x-shipyard-permission"] == "read"
    page = viewer.get("/api/v1/datasets/churn/profile.html", params={"version": 1})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<title>Profile of churn v1</title>" in page.text and "<script" not in page.text
    missing = viewer.get("/api/v1/datasets/churn/profile.html", params={"target": "x"})
    assert missing.status_code == 400 and "'x'" in missing.json()["error"]["message"]


def test_sdk_profile(sdk: sy.Client) -> None:
    p = sy.Dataset("churn").profile(target="churn", version=1)
    assert isinstance(p, Profile) and p.rows == 7043
    assert p.target is not None and p.target.column == "churn"
    assert p.warnings and all(w.message.endswith(".") for w in p.warnings)
    assert "<style>" in p._repr_html_()
    with pytest.raises(InvalidRequest, match="'nope' is not in churn:1"):
        sy.Dataset("churn").profile(target="nope", version=1)
    with pytest.raises(NotFound):
        sy.Dataset("churn").profile(version=99)


def test_cli_profile(server: LocalServer, sdk: sy.Client, tmp_path: Path) -> None:
    human = _cli(server, "datasets", "profile", "churn", "--version", "1", "--target", "churn",
                 "--html", str(tmp_path / "report.html"))
    assert human.returncode == 0, human.stderr
    assert "Dataset churn version 1: 7,043 rows × 20 columns" in human.stdout
    assert "Warnings (" in human.stdout and "Most predictive of churn" in human.stdout
    assert "contract" in human.stdout
    assert (tmp_path / "report.html").read_text().startswith("<!doctype html>")

    doc = json.loads(_cli(server, "datasets", "profile", "churn", "-v", "1", "--json").stdout)
    assert doc["dataset"]["rows"] == 7043 and doc["target"] is None
    wrong = _cli(server, "datasets", "profile", "churn", "--target", "zz")
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1 and "'zz'" in wrong.stderr


def test_demo_step_returns_recipe_steps(sdk: sy.Client) -> None:
    spec = importlib.util.spec_from_file_location("_profile_demo", EXAMPLES / "_profile_demo.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    steps = demo.run(sy.Dataset("churn"))
    assert steps and all(set(s) == {"step", "columns", "params"} for s in steps)
    assert {"step": "drop", "columns": ["phone_service"], "params": {}} in steps
