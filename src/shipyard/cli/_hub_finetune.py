"""``shipyard hub fine-tune NAME``: the training job that fine-tunes a hub model.

    shipyard hub fine-tune all-minilm-l6-v2 --input train=reviews --target score \\
        --text-column review --hyperparameter epochs=2 --wait
"""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli._common import (
    WAIT_DEFAULT,
    JsonOpt,
    client,
    fail,
    hp_value,
    out,
    output_mode,
    parse_pairs,
    quiet_option,
    wait_option,
)
from shipyard.cli._hub import app
from shipyard.cli._jobs import follow_submitted


@app.command("fine-tune")
def fine_tune(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The hub model (hub list).")],
    input: Annotated[list[str], typer.Option(
        "--input", "-i", metavar="CHANNEL=DATASET",
        help="train=DATASET (and optionally validation=, test=); repeatable.")],
    target: Annotated[str, typer.Option(
        "--target", metavar="COLUMN", help="The column to predict.")],
    text_column: Annotated[str | None, typer.Option(
        "--text-column", metavar="COLUMN",
        help="The column of text [default: the one free-text column].")] = None,
    hyperparameter: Annotated[list[str] | None, typer.Option(
        "--hyperparameter", "--hp", metavar="KEY=VALUE",
        help="A hyperparameter of the fine-tune algorithm (epochs, learning_rate, "
             "max_seq_length, batch_size, ...); VALUE is read as JSON when it parses; "
             "repeatable.")] = None,
    experiment: Annotated[str | None, typer.Option(
        "--experiment", metavar="NAME", help="The experiment the job is a run of.")] = None,
    job_name: Annotated[str | None, typer.Option(
        "--name", metavar="NAME", help="A name for the job.")] = None,
    wait: Annotated[bool, wait_option(
        "the job ends, following its log (exit 1 if it fails)")] = WAIT_DEFAULT,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, quiet_option(
        "the job id, once the job ends (exit 1 if it fails)")] = False,
) -> None:
    """Fine-tune hub model NAME on a dataset: its training job (text-bert for a text
    encoder), ready to register and deploy once it completes."""
    from shipyard.client._hub_finetune import fine_tune as submit

    output_mode(json_out, quiet)
    inputs = parse_pairs(input, "--input")
    extra = sorted(set(inputs) - {"train", "validation", "test"})
    if "train" not in inputs or extra:
        fail("Give the data as --input train=DATASET (and optionally validation=DATASET, "
             f"test=DATASET); got {sorted(inputs)}.")
    hp = {k: hp_value(v) for k, v in parse_pairs(hyperparameter, "--hyperparameter").items()}
    job = submit(name, inputs["train"], target, text_column=text_column, hyperparameters=hp,
                 validation=inputs.get("validation"), test=inputs.get("test"),
                 experiment=experiment, name=job_name, client=client())
    if not (json_out or quiet):
        out.print(f"Submitted job {job.id} (training, {job.doc['spec'].get('algorithm')}"
                  f" fine-tuning {name}).")
    follow_submitted(job, wait=wait, json_out=json_out, quiet=quiet)
