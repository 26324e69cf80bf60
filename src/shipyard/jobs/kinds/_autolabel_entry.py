"""The in-job entry of an ``autolabel`` job: train on a labeling job's human labels, label
what the model is sure of, order the rest for people.

Runs in the job process (``shipyard.jobs.kinds._autolabel_entry:main``); never the server.
Reads ``input/config/autolabel.json`` (task, column, target accuracy, …), the human labels
in ``input/labels/labels.json`` (``{item: label}``, the consolidated answers of the
complete items), the labeled dataset version in ``input/data/items/`` (item = row number)
and, for an image task, the images in ``input/images/<sha256>``.

The model per task: ``text_classification`` the labeling core's
:func:`~shipyard.labeling.auto_label` (TF-IDF of words and characters and VADER sentiment
scores + logistic regression; ``text_features`` drops either block, or adds or uses alone
all-MiniLM-L6-v2 sentence embeddings, computed once over every text of the job with
progress lines);
``tabular_classification`` histogram gradient boosting over the row's columns;
``image_classification`` grayscale pixels + logistic regression
(:mod:`shipyard.labeling._autolabel`). The threshold comes from out-of-fold predictions
of the human-labeled items, never in-sample ones.

Writes only JSON and Parquet, which is all the server reads back (nothing to unpickle):
``output/autolabel.json`` (the summary), ``output/machine_labels.parquet`` (``item``,
``label``, ``confidence``) and ``output/uncertain.parquet`` (``item``, ``rank``: most
uncertain first).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from shipyard.errors import InvalidRequest
from shipyard.runtime import _contract as c

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.labeling import LabelerConfig

CONFIG_NAME = "autolabel.json"
#: The input channel of the labeled dataset version.
CHANNEL = "items"
#: Where the human labels and the images are staged (relative to the job folder).
LABELS_FILE = "input/labels/labels.json"
IMAGES_DIR = "input/images"
SUMMARY_FILE = "autolabel.json"
MACHINE_FILE = "machine_labels.parquet"
UNCERTAIN_FILE = "uncertain.parquet"
#: A text task's features unless the job says otherwise (``text_features``).
TEXT_FEATURES: Final = "words+chars+sentiment"


#: ``text_features`` → what the summary's ``model`` calls them.
_MODEL_FEATURES: Final = {
    "words": "tfidf(words)", "words+chars": "tfidf(words+chars)",
    "words+sentiment": "tfidf(words+sentiment)",
    "words+chars+sentiment": "tfidf(words+chars+sentiment)",
    "embeddings": "minilm_embeddings",
    "words+chars+sentiment+embeddings": "tfidf(words+chars+sentiment)+minilm_embeddings",
}


def labeler_config(text_features: str) -> LabelerConfig:
    """The :class:`~shipyard.labeling.LabelerConfig` of a ``text_features`` choice."""
    from shipyard.labeling import LabelerConfig

    if text_features not in _MODEL_FEATURES:
        raise InvalidRequest(f"Unknown text_features {text_features!r}; expected one of "
                             f"{', '.join(_MODEL_FEATURES)}.")
    parts = set(text_features.split("+"))
    alone = parts == {"embeddings"}
    # Alone, the embeddings' weight only scales C: 1 (unit vectors, C = 10) measured no
    # worse than 3 (docs/labeling.md); beside the n-grams, the config's measured 0.3.
    return LabelerConfig(word_ngrams=(1, 2) if "words" in parts else None,
                         char_ngrams=(2, 5) if "chars" in parts else None,
                         sentiment="sentiment" in parts, embeddings="embeddings" in parts,
                         embedding_weight=1.0 if alone else LabelerConfig.embedding_weight)


def _embedder() -> Any:
    """Embeds texts with progress lines and a ``progress`` metric (a long job must not
    look hung: 4,000 reviews took 6–7 minutes on a busy 2-core machine)."""
    from shipyard import runtime
    from shipyard.labeling._embeddings import embed_texts, progress_printer

    def embed(texts: list[str]) -> Any:
        print(f"[autolabel] embedding {len(texts):,} texts with all-MiniLM-L6-v2", flush=True)
        return embed_texts(texts, on_progress=progress_printer(log_metric=runtime.log_metric))

    return embed


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"{path.name} cannot be read: {exc}.") from None


def _features(config: dict[str, Any], frame: Any, job_dir: Path) -> tuple[Any, Any]:
    """(the features of every row, the classifier factory) for the task; text: (texts, None)."""
    from shipyard.labeling import _autolabel as al

    task = config["task"]
    if task == "text_classification":
        return frame[config["column"]].fillna("").astype(str).tolist(), None
    if task == "tabular_classification":
        return al.tabular_features(frame), al.tabular_classifier
    if task == "image_classification":
        paths = [job_dir / IMAGES_DIR / str(sha) for sha in frame["sha256"]]
        return al.pixel_features(paths), al.pixel_classifier
    raise InvalidRequest(f"Auto-labeling does not do task {task!r}.")


def run(config: dict[str, Any], frame: Any, labels: dict[str, str], job_dir: Path
        ) -> tuple[dict[str, Any], list[tuple[str, str, float]], list[str]]:
    """(summary, machine labels ``(item, label, confidence)``, uncertain items in order)."""
    import numpy as np

    from shipyard.labeling import TextLabeler, auto_label
    from shipyard.labeling import _autolabel as al

    items = [str(i) for i in range(len(frame))]
    known = [i for i in items if i in labels]
    todo = [i for i in items if i not in labels]
    y = [labels[i] for i in known]
    target = float(config.get("target_accuracy") or 0.9)
    folds = int(config.get("folds") or 5)
    min_support = int(config.get("min_support") or 20)
    seed = int(config.get("seed") or 0)
    started = time.monotonic()
    rows, make = _features(config, frame, job_dir)
    lab_idx = np.asarray([int(i) for i in known], dtype=int)
    todo_idx = np.asarray([int(i) for i in todo], dtype=int)
    text_features = str(config.get("text_features") or TEXT_FEATURES)
    if make is None:
        labeler = TextLabeler(labeler_config(text_features), embed=_embedder())
        # Every text of the job is featurised (and embedded) once, before any fold.
        labeler.fit_vocabulary(rows)
        result = auto_label([rows[i] for i in lab_idx], y, [rows[i] for i in todo_idx],
                            target, folds=folds, min_support=min_support,
                            random_state=seed, labeler=labeler)
    else:
        result = al.auto_label_rows(rows[lab_idx], y, rows[todo_idx], make, target,
                                    folds=folds, min_support=min_support, random_state=seed)
    machine = [(todo[int(i)], str(lab), float(conf)) for i, lab, conf in
               zip(result.indices, result.labels, result.confidences, strict=True)]
    order = [todo[int(i)] for i in result.uncertain_order]
    summary = {
        "task": config["task"], "human_labels": len(known), "unlabeled": len(todo),
        "machine_labeled": len(machine),
        "machine_share": len(machine) / len(items) if items else 0.0,
        "threshold": result.threshold, "estimated_accuracy": result.estimated_accuracy,
        "target_accuracy": target, "seconds": round(time.monotonic() - started, 3),
        "model": {"text_classification": f"{_MODEL_FEATURES[text_features]}+"
                                         "logistic_regression",
                  "tabular_classification": "hist_gradient_boosting",
                  "image_classification": "pixels+logistic_regression"}[config["task"]],
    }
    return summary, machine, order


def main(job_dir: Path) -> None:
    """Train, label, order; write the outputs (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shipyard import runtime
    from shipyard.training._entry import read_channel

    job_dir = Path(job_dir).resolve()
    os.environ.setdefault(c.ENV_JOB_DIR, str(job_dir))
    out = job_dir / c.OUTPUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    config = _read_json(job_dir / c.CONFIG_DIR / CONFIG_NAME)
    with runtime.phase("read"):
        frame = read_channel(job_dir / c.INPUT_DATA_DIR / CHANNEL)
        labels = {str(k): str(v) for k, v in _read_json(job_dir / LABELS_FILE).items()}
    print(f"[autolabel] {config['task']} of labeling job {config.get('labeling_job')!r}: "
          f"{len(frame):,} items, {len(labels):,} with human labels", flush=True)
    with runtime.phase("train"):
        summary, machine, order = run(config, frame, labels, job_dir)
    summary["labeling_job"] = config.get("labeling_job")
    for name in ("machine_share", "estimated_accuracy", "threshold"):
        if summary.get(name) is not None:
            runtime.log_metric(f"autolabel.{name}", float(summary[name]))
    print(f"[autolabel] threshold {summary['threshold']}, held-out accuracy above it "
          f"{summary['estimated_accuracy']}; {len(machine):,} machine labels, "
          f"{len(order):,} items left for people", flush=True)
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True,
                                               allow_nan=False), encoding="utf-8")
    pq.write_table(pa.table({
        "item": pa.array([m[0] for m in machine], pa.string()),
        "label": pa.array([m[1] for m in machine], pa.string()),
        "confidence": pa.array([m[2] for m in machine], pa.float64())}), out / MACHINE_FILE)
    pq.write_table(pa.table({"item": pa.array(order, pa.string()),
                             "rank": pa.array(range(len(order)), pa.int64())}),
                   out / UNCERTAIN_FILE)
