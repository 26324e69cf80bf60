"""Script in user text stays text, in a real browser: payloads planted in every free-text
field a user controls (a dataset's description, a column's name and values, a model card,
a model group's and a version's description and decision comment, a job's log, tags and
notes, an experiment's description, a pipeline's, its parameters' and its steps'
descriptions) are shown as text on every page that shows them, and nothing fires: no
dialog, no request to ``/pwned`` or off the machine, no ``window.__pwned``, no element the
payload would have made."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from shipyard.testing import LocalServer

from .conftest import _OPEN, Watched, signed_in, submit_script, wait_for

pytestmark = pytest.mark.slow

#: Each breaks out of a different context: an attribute, element content, a script.
PAYLOADS = ('"><svg onload=alert(1)>', """<img src=x onerror="fetch('/pwned')">""",
            "<script>window.__pwned=1</script>")
ALL = "".join(PAYLOADS)
DATASET, EXPERIMENT, GROUP, PIPELINE = "xss-data", "xss-exp", "xss-model", "xss-pipe"
#: A column named by the payloads (a CSV header may hold anything), and one plain one.
COLUMN = "col " + ALL
#: What a page would hold had a payload been parsed as HTML.
INJECTED = ("img[src=x]", "svg[onload]", "[onerror]", "[onload]")

SCRIPT = f"""from shipyard import runtime
from shipyard.testing.bundles import write_handmade_bundle
print("log says " + {ALL!r}, flush=True)
write_handmade_bundle(runtime.model_dir())
"""


def _csv() -> bytes:
    quoted = COLUMN.replace('"', '""')
    cell = ALL.replace('"', '""')
    return (f'"{quoted}",plain\n"{cell}",1\nsafe,2\n"{cell}",3\nsafe,4\n').encode()


@pytest.fixture(scope="module")
def planted(studio: LocalServer) -> Iterator[dict[str, Any]]:
    """Every object with the payloads in its free text; the job's id and the version."""
    api = studio.client()
    _OPEN.append(api)
    r = api.post("/api/v1/datasets", data={"name": DATASET, "description": ALL},
                 files={"file": ("xss.csv", _csv(), "text/csv")})
    assert r.status_code == 201, r.text
    r = api.post("/api/v1/experiments", json={"name": EXPERIMENT, "description": ALL})
    assert r.status_code == 201, r.text
    job = submit_script(api, SCRIPT, name="xss-job", experiment=EXPERIMENT,
                        tags={"note": ALL}, notes=ALL)
    wait_for(api, job["id"], "Completed", timeout=120)
    r = api.post(f"/api/v1/models/{GROUP}/versions",
                 json={"job_id": job["id"], "description": ALL})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    card = {"intended_use": f"**Bold** {ALL} [click](javascript:alert(1))",
            "limitations": f"<iframe src=/pwned></iframe> {ALL}"}
    r = api.patch(f"/api/v1/models/{GROUP}/versions/{version}/card", json=card)
    assert r.status_code == 200, r.text
    r = api.post(f"/api/v1/models/{GROUP}/versions/{version}/reject", json={"comment": ALL})
    assert r.status_code == 200, r.text
    r = api.patch(f"/api/v1/models/{GROUP}", json={"description": ALL})
    assert r.status_code == 200 and r.json()["description"] == ALL, r.text
    r = api.post("/api/v1/pipelines", json={
        "name": PIPELINE, "description": ALL,
        "parameters": [{"name": "greeting", "type": "string", "default": "hi",
                        "description": ALL}],
        "steps": [{"name": "say", "type": "processing", "description": ALL, "job": {
            "script": {"filename": "step.py", "source": "print('hi')\n"}}}]})
    assert r.status_code == 201, r.text
    yield {"job": job["id"], "version": version}


def test_a_payload_as_a_dataset_name_is_refused(studio: LocalServer) -> None:
    api = studio.client()
    _OPEN.append(api)
    for name in PAYLOADS:
        r = api.post("/api/v1/datasets", data={"name": name},
                     files={"file": ("x.csv", b"a\n1\n", "text/csv")})
        assert r.status_code == 400, r.text
        assert "Invalid dataset name" in r.text
    assert all(d["name"] not in PAYLOADS for d in api.get("/api/v1/datasets").json())


def _inert(w: Watched, dialogs: list[str], where: str) -> None:
    """Nothing the payloads would do has happened on ``w``'s page."""
    page = w.page
    assert not dialogs, (where, dialogs)
    # fetch('/pwned') asks for /pwned, <img src=x> for …/x, <iframe src=/pwned> for /pwned
    # (the payload inside a query string, as a form sends it, is data, not a fetch).
    fired = [u for u in w.requests if urlsplit(u).path.endswith(("/pwned", "/x"))]
    assert not fired, (where, fired)
    assert page.evaluate("typeof window.__pwned") == "undefined", where
    for selector in INJECTED:
        assert page.locator(selector).count() == 0, (where, selector)
    # The only scripts are the studio's own files.
    srcs = page.eval_on_selector_all("script", "els => els.map(e => e.getAttribute('src'))")
    assert all(s and s.startswith("/studio/static/") for s in srcs), (where, srcs)


def _shows(w: Watched, where: str, selector: str = "main") -> None:
    """Every payload is on the page as the text it was written as."""
    shown = w.page.inner_text(selector)
    for payload in PAYLOADS:
        assert payload in shown, (where, payload, shown[:2000])


def test_payloads_render_as_text_on_every_page(signed_in_page: Any, studio: LocalServer,
                                               planted: dict[str, Any]) -> None:
    w = signed_in_page("admin")
    page = w.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    base = studio.url + "/studio"
    job, version = planted["job"], planted["version"]

    pages = [("datasets", f"{base}/datasets"), ("dataset", f"{base}/datasets/{DATASET}"),
             ("jobs", f"{base}/jobs"), ("experiments", f"{base}/experiments"),
             ("experiment", f"{base}/experiments/{EXPERIMENT}"), ("models", f"{base}/models"),
             ("model group", f"{base}/models/{GROUP}"),
             ("model version", f"{base}/models/{GROUP}/{version}"),
             ("canvas data", f"{base}/canvas/data/{DATASET}"), ("home", base),
             ("pipelines", f"{base}/pipelines"), ("pipeline", f"{base}/pipelines/{PIPELINE}")]
    for where, url in pages:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        _inert(w, dialogs, where)
    # Where each text is shown, it is shown whole, as text.
    page.goto(f"{base}/datasets/{DATASET}")
    _shows(w, "dataset page")
    page.goto(f"{base}/canvas/data/{DATASET}")
    _shows(w, "canvas data")
    page.goto(f"{base}/experiments/{EXPERIMENT}")
    _shows(w, "experiment")
    page.goto(f"{base}/pipelines")
    _shows(w, "pipelines")
    page.goto(f"{base}/pipelines/{PIPELINE}")
    _shows(w, "pipeline")
    assert page.inner_text("main").count(PAYLOADS[1]) >= 3  # its, a parameter's, a step's
    page.goto(f"{base}/models/{GROUP}/{version}")
    _shows(w, "model version")
    assert page.inner_text("#card-section-intended_use strong") == "Bold"
    assert page.locator("main a[href^='javascript']").count() == 0
    assert "<iframe src=/pwned></iframe>" in page.inner_text("#card-section-limitations")
    w.shot("inert-model-version")

    # The job: its notes and tags, and its log, which htmx fetches and swaps in.
    page.goto(f"{base}/jobs/{job}")
    page.locator("#log", has_text="log says").wait_for(timeout=30_000)
    page.wait_for_load_state("networkidle")
    _inert(w, dialogs, "job")
    _shows(w, "job log", "#log")
    _shows(w, "job notes", "#job-notes")
    _shows(w, "job tags", "#job-tags")
    w.shot("inert-job")

    # SQL: the column selected by its name; its name and values come back as a table.
    page.goto(f"{base}/sql")
    quoted = COLUMN.replace('"', '""')
    page.fill("#sql-query", f'SELECT "{quoted}" FROM datasets."{DATASET}"')
    page.click("#sql-run")
    page.locator("#sql-table tbody tr").nth(3).wait_for(timeout=30_000)
    _inert(w, dialogs, "sql")
    _shows(w, "sql header", "#sql-table thead")
    assert ALL[:60] in page.inner_text("#sql-table tbody")  # long cells are cut short
    w.shot("inert-sql")

    # Canvas: the payload column as the target, described in a fragment.
    page.goto(f"{base}/canvas/data/{DATASET}")
    page.select_option("#canvas-target", label=COLUMN)
    page.locator("#target-about", has_text="category").wait_for(timeout=30_000)
    _inert(w, dialogs, "canvas target")
    _shows(w, "canvas target", "#target-about")

    # The profile report, on its own (the dataset page shows it in a sandboxed frame).
    page.goto(f"{base}/datasets/{DATASET}/profile.html")
    page.wait_for_load_state("networkidle")
    _inert(w, dialogs, "profile report")
    assert "col " + PAYLOADS[0] in page.inner_text("body")
    w.shot("inert-profile")
    w.clean()


def test_the_payload_column_is_text_in_every_studio_answer(studio: LocalServer,
                                                           planted: dict[str, Any]) -> None:
    """Over HTTP too: no page or fragment holds the raw payload, only its escaped form."""
    b, _ = signed_in(studio, "viewer")
    for path in (f"/studio/datasets/{DATASET}",
                 f"/studio/datasets/{DATASET}/profile.html", f"/studio/jobs/{planted['job']}",
                 f"/studio/jobs/{planted['job']}/log?offset=0",
                 f"/studio/experiments/{EXPERIMENT}",
                 f"/studio/models/{GROUP}/{planted['version']}",
                 f"/studio/canvas/data/{DATASET}", "/studio/pipelines",
                 f"/studio/pipelines/{PIPELINE}"):
        r = b.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        for payload in PAYLOADS:
            assert payload not in r.text, (path, payload)
        assert "&lt;img src=x onerror=" in r.text, path
