"""Datasets of image files (``datasets create NAME --files DIR``) against a real server.

The images are scikit-learn's digits (1,797 8×8 grey images with their digit), written as
32×32 PNG files in one folder per digit, the per-class layout the manifest's ``label``
column reads.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from shipyard.datasets._images import check_path
from shipyard.errors import InvalidRequest
from shipyard.testing import LocalServer, ok, ok_json, one_sentence_error, run_cli
from shipyard.testing.corpus import TRAVERSAL
from shipyard.testing.images import digits_folder, objects_in, rectangle_png


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return digits_folder(tmp_path_factory.mktemp("digits"))


def _manifest(server: LocalServer, name: str, version: int) -> list[dict[str, object]]:
    r = server.client().get(f"/api/v1/datasets/{name}/head",
                            params={"n": 10_000, "version": version})
    assert r.status_code == 200, r.text
    doc = r.json()
    return [dict(zip(doc["columns"], row, strict=True)) for row in doc["data"]]


def test_create_from_a_folder_through_the_cli(server: LocalServer, digits: Path) -> None:
    env = server.sdk_env("data-scientist")
    (digits / "README.txt").write_text("not an image: skipped by the client")
    before = objects_in(server)
    doc = ok_json(run_cli("datasets", "create", "digits", "--files", str(digits), "--json",
                          env=env, timeout=300))
    files = sorted(p for p in digits.rglob("*.png"))
    assert (doc["num_rows"], doc["source"]["type"]) == (len(files), "files")
    assert [c["name"] for c in doc["schema"]] == ["path", "sha256", "width", "height",
                                                  "format", "bytes", "label"]
    rows = {r["path"]: r for r in _manifest(server, "digits", 1)}
    assert "README.txt" not in rows
    for f in files[::97]:
        row = rows[f.relative_to(digits).as_posix()]
        data = f.read_bytes()
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert (row["width"], row["height"], row["format"]) == (32, 32, "PNG")
        assert (row["bytes"], row["label"]) == (len(data), f.parent.name)
    distinct = {r["sha256"] for r in rows.values()}
    # one object per distinct image, plus the manifest's Parquet part
    assert objects_in(server) - before == len(distinct) + 1

    # the same files again: no new image object (the manifest part is the same bytes too)
    again = ok_json(run_cli("datasets", "create", "digits-again", "--files", str(digits),
                            "--json", env=env, timeout=300))
    assert again["content_hash"] == doc["content_hash"]
    assert objects_in(server) - before == len(distinct) + 1

    # an image is served by its sha, with its type, only from a version that lists it
    some = files[5]
    sha = hashlib.sha256(some.read_bytes()).hexdigest()
    r = server.client().get(f"/api/v1/datasets/digits/versions/1/files/{sha}")
    assert r.status_code == 200 and r.content == some.read_bytes()
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    assert r.headers["content-disposition"].startswith("inline")


def test_a_sha_not_in_the_version_is_404(server: LocalServer, tmp_path: Path) -> None:
    folder = digits_folder(tmp_path / "few", limit=3)
    ok(run_cli("datasets", "create", "few", "--files", str(folder),
               env=server.sdk_env("data-scientist")))
    c = server.client()
    manifest = _manifest(server, "few", 1)
    part = c.get("/api/v1/datasets/few").json()["latest"]["parts"][0]["sha256"]
    # the manifest's own Parquet object is in the store, but not a file of the version
    r = c.get(f"/api/v1/datasets/few/versions/1/files/{part}")
    assert r.status_code == 404, r.text
    r = c.get(f"/api/v1/datasets/few/versions/1/files/{'0' * 64}")
    assert r.status_code == 404
    r = c.get("/api/v1/datasets/few/versions/1/files/..%2F..%2Fcredentials")
    assert r.status_code in (404, 422)
    assert c.get(f"/api/v1/datasets/few/versions/1/files/{manifest[0]['sha256']}"
                 ).status_code == 200
    # a dataset that is a table holds no files
    c.post("/api/v1/datasets", data={"name": "table"},
           files={"file": ("t.csv", b"a,b\n1,2\n")}).raise_for_status()
    r = c.get(f"/api/v1/datasets/table/versions/1/files/{manifest[0]['sha256']}")
    assert r.status_code == 404 and "not a files manifest" in r.json()["error"]["message"]


def _post(server: LocalServer, name: str, files: list[tuple[str, bytes]]) -> httpx.Response:
    return server.client().post(f"/api/v1/datasets/{name}/files",
                                files=[("file", (p, b, "application/octet-stream"))
                                       for p, b in files])


def test_not_an_image_is_refused_by_name_and_nothing_stored(server: LocalServer,
                                                            tmp_path: Path) -> None:
    folder = digits_folder(tmp_path / "bad", limit=4)
    (folder / "3" / "fake.png").write_text("I am text pretending to be a PNG.\n")
    before = objects_in(server)
    err = one_sentence_error(run_cli("datasets", "create", "bad", "--files", str(folder),
                                     env=server.sdk_env("data-scientist")))
    assert "'3/fake.png' is not an image" in err
    assert objects_in(server) == before
    assert server.client().get("/api/v1/datasets/bad").status_code == 404


def test_svg_and_unsafe_paths_are_refused(server: LocalServer, tmp_path: Path) -> None:
    png = next(digits_folder(tmp_path / "one", limit=1).rglob("*.png")).read_bytes()
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
           b"<script>alert(1)</script></svg>")
    r = _post(server, "svg", [("a.png", png), ("evil.svg", svg)])
    assert r.status_code == 400 and "'evil.svg' is not an image" in r.json()["error"]["message"]
    for bad in ("../up.png", "/abs.png", "a/../b.png", "C:/x.png", "a//b.png"):
        r = _post(server, "paths", [(bad, png)])
        assert r.status_code == 400, (bad, r.text)
        assert "relative" in r.json()["error"]["message"] or "control" in r.json()[
            "error"]["message"]
    r = _post(server, "dupes", [("a.png", png), ("a.png", png)])
    assert r.status_code == 400 and "twice" in r.json()["error"]["message"]
    for name in ("svg", "paths", "dupes"):
        assert server.client().get(f"/api/v1/datasets/{name}").status_code == 404


def test_append_adds_files_and_a_viewer_may_not_upload(server: LocalServer,
                                                       tmp_path: Path) -> None:
    folder = digits_folder(tmp_path / "app", limit=2)
    pngs = sorted(folder.rglob("*.png"))
    first = [(p.relative_to(folder).as_posix(), p.read_bytes()) for p in pngs[:1]]
    assert _post(server, "grow", first).status_code == 201
    r = server.client().post("/api/v1/datasets/grow/files", data={"mode": "append"},
                             files=[("file", (p.relative_to(folder).as_posix(), p.read_bytes()))
                                    for p in pngs[1:]])
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["num_rows"]) == (2, 2)
    r = server.client().post("/api/v1/datasets/grow/files", data={"mode": "append"},
                             files=[("file", (first[0][0], first[0][1]))])
    assert r.status_code == 400 and "already in version 2" in r.json()["error"]["message"]
    r = server.client("viewer").post("/api/v1/datasets/v/files", files=[("file", first[0])])
    assert r.status_code == 403


@pytest.mark.parametrize("path", [*TRAVERSAL, "a/../b.png", "a//b.png",
                                  "C:\\x.png", "a\\b.png", "a\x00.png", "a\nb.png", "",
                                  "x" * 1025])
def test_check_path_refuses_what_reads_as_a_path_elsewhere(path: str) -> None:
    with pytest.raises(InvalidRequest):
        check_path(path)


def test_check_path_keeps_relative_posix_paths() -> None:
    assert check_path("3/img-0001.png") == "3/img-0001.png"
    assert check_path("caf\u00e9 au lait.jpg") == "caf\u00e9 au lait.jpg"


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` × ``height`` 1-bit pixels and holds none (a bomb's head)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize(("size", "words"), [((100_000, 100_000), "decompression bomb"),
                                             ((9_000, 9_000), "9000 × 9000 pixels")])
def test_decompression_bombs_are_refused_before_decoding(server: LocalServer,
                                                         size: tuple[int, int],
                                                         words: str) -> None:
    r = _post(server, "bomb", [("big/bomb.png", _png_header(*size))])
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "'big/bomb.png'" in message and words in message
    assert server.client().get("/api/v1/datasets/bomb").status_code == 404


def test_a_table_with_a_manifests_columns_serves_nothing(server: LocalServer,
                                                         tmp_path: Path) -> None:
    """Only versions written from image files serve files: a CSV listing any stored
    object's SHA-256 (here a files dataset's manifest part) gets a 404."""
    folder = digits_folder(tmp_path / "real", limit=1)
    made = _post(server, "real", [(p.relative_to(folder).as_posix(), p.read_bytes())
                                  for p in folder.rglob("*.png")]).json()
    part = made["parts"][0]["sha256"]
    forged = f"path,sha256,width,height,format,bytes\nx.png,{part},1,1,PNG,{made['size_bytes']}\n"
    c = server.client()
    c.post("/api/v1/datasets", data={"name": "forged"},
           files={"file": ("f.csv", forged.encode())}).raise_for_status()
    r = c.get(f"/api/v1/datasets/forged/versions/1/files/{part}")
    assert r.status_code == 404 and "not a files manifest" in r.json()["error"]["message"]


def test_delete_removes_the_images_no_other_version_lists(server: LocalServer,
                                                          tmp_path: Path) -> None:
    # images no other test of the module stores (the store is the module's server's)
    pngs = [rectangle_png(tmp_path / f"r{i}.png", (37, 29), (i, i, 5, 5)) for i in range(3)]
    files = [(p.name, p.read_bytes()) for p in pngs]
    before = objects_in(server)
    assert _post(server, "keep", files[:1]).status_code == 201  # shares the first image
    assert _post(server, "gone", files).status_code == 201
    assert objects_in(server) - before == 3 + 2  # three images, two manifest parts
    r = server.client().delete("/api/v1/datasets/gone")
    assert r.status_code == 200, r.text
    # the manifest of 'gone' and its two own images are removed; the shared image stays
    assert objects_in(server) - before == 1 + 1
    sha = hashlib.sha256(files[0][1]).hexdigest()
    assert server.client().get(f"/api/v1/datasets/keep/versions/1/files/{sha}").content == \
        files[0][1]
