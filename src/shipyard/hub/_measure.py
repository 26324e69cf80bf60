"""Measured speed of a hub model on this machine: sentences per second, and one sentence's time.

``shipyard hub show NAME --measure`` asks the server, which runs this module in a
subprocess (``python -m shipyard.hub._measure NAME``: torch never loads into the control
plane) and keeps the figures in ``<home>/hub/speed.json``; the card then shows them with
when and how they were measured. Nothing here is a guess: a model never measured on
this machine says so.

The sentences are a fixed set of review-like English lines (10 to 40 words), embedded in
batches of 32 for the throughput and one at a time for the latency (the median of 20).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SPEED_FILE = Path("hub") / "speed.json"
_OPENINGS = ("This tea", "The coffee I ordered", "My dog's new food", "These crackers",
             "The hot sauce", "This olive oil", "The protein bars", "The green tea")
_MIDDLES = ("tastes far better than the brand I used to buy at the store",
            "arrived quickly and was packed well, with nothing broken at all",
            "was stale and bland, and I would not buy it again for any price",
            "has a strong flavour that the whole family liked from the first try",
            "is fine but a little too sweet for my taste, so I mix it with water",
            "costs less here than anywhere else I have looked in town or online",
            "came in a smaller box than the picture shows, which was disappointing",
            "is now a staple in our kitchen and we order it every single month")


def sentences(n: int = 128) -> list[str]:
    """``n`` fixed review-like sentences (the same on every machine)."""
    out = []
    for i in range(n):
        a, b = _OPENINGS[i % len(_OPENINGS)], _MIDDLES[(i * 3 + i // 8) % len(_MIDDLES)]
        tail = " I recommend it." if i % 3 == 0 else (" Not again." if i % 3 == 1 else "")
        out.append(f"{a} {b}.{tail}")
    return out


def measure(name: str, *, rows: int = 128, batch_size: int = 32) -> dict[str, Any]:
    """Embed :func:`sentences` with hub model ``name``; the figures, with how they were got."""
    from shipyard.bundle import TextEncoder
    from shipyard.hub._catalog import model_dir

    encoder = TextEncoder(model_dir(name), 128)
    texts = sentences(rows)
    encoder.encode(texts[:batch_size], batch_size)  # warm-up: first calls allocate
    started = time.perf_counter()
    encoder.encode(texts, batch_size)
    seconds = time.perf_counter() - started
    single = []
    for text in texts[:20]:
        t0 = time.perf_counter()
        encoder.encode([text], 1)
        single.append(time.perf_counter() - t0)
    import torch

    return {"sentences_per_second": round(rows / seconds, 1),
            "single_sentence_ms_p50": round(statistics.median(single) * 1000, 1),
            "rows": rows, "batch_size": batch_size, "max_seq_length": 128,
            "threads": int(torch.get_num_threads()), "cpus": os.cpu_count(),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "how": "shipyard hub show --measure (shipyard.hub._measure, in a subprocess "
                   "of the server)"}


def read_speeds(home: Path) -> dict[str, dict[str, Any]]:
    """The speeds measured in this home, by model name ({} when none)."""
    try:
        data = json.loads((home / SPEED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_speed(home: Path, name: str, figures: dict[str, Any]) -> None:
    """Keep ``figures`` as model ``name``'s measured speed in this home (atomically)."""
    path = home / SPEED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    speeds = {**read_speeds(home), name: figures}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(speeds, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1])), flush=True)
