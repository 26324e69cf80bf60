"""``sy.hub.fine_tune``: fine-tune a hub model on a dataset, as a training job.

The hub's catalog (``shipyard.hub``) names, per model, the training algorithm that
fine-tunes it (``fine_tune_algorithm``: all-MiniLM-L6-v2 → text-bert); this submits that
algorithm's training job with the model named in its hyperparameters::

    job = sy.hub.fine_tune("all-minilm-l6-v2", "reviews", "score", text_column="review",
                           hyperparameters={"epochs": 2}, wait=True)
    job.register("reviews")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.client._client import Client
from shipyard.client._jobs import Job
from shipyard.errors import InvalidRequest


def fine_tune(model: str, train: Any, target: str, *, text_column: str | None = None,
              hyperparameters: Mapping[str, Any] | None = None, wait: bool = False,
              client: Client | None = None, **options: Any) -> Job:
    """Submit the training job that fine-tunes hub model ``name`` on ``train``.

    Args:
        model: a hub model (``shipyard hub list``) that names a fine-tune algorithm.
        train: the dataset (a name, ``"name:version"`` or a :class:`Dataset`).
        target: the column to predict.
        text_column: the column of text (None: the one free-text column).
        hyperparameters: the algorithm's others (``shipyard algorithms show text-bert``).
        wait: wait for the job to end (raises :class:`JobFailed` if it fails).
        options: passed to :meth:`Job.train` (``validation``, ``test``, ``split``,
            ``experiment``, ``name``, ...).

    Raises:
        NotFound: no such hub model. InvalidRequest: it cannot be fine-tuned, or the
        hyperparameters name another model.
    """
    from shipyard.hub import get_model

    entry = get_model(model)
    if not entry.fine_tune_algorithm:
        raise InvalidRequest(f"Hub model {model!r} cannot be fine-tuned here (its card names no "
                             "fine-tune algorithm); deploy it as it is instead.")
    hp = dict(hyperparameters or {})
    if hp.get("model", model) != model:
        raise InvalidRequest(f"The hyperparameters name model {hp['model']!r} but the command "
                             f"fine-tunes {model!r}; drop the 'model' hyperparameter.")
    hp["model"] = model
    if text_column is not None:
        hp["text_column"] = text_column
    job = Job.train(entry.fine_tune_algorithm, train, target, hyperparameters=hp,
                    client=client, **options)
    return job.wait() if wait else job
