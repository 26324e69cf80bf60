"""The hub's model cards."""

from __future__ import annotations

from pydantic import Field

from shipyard.api.schemas._common import OpenDoc, Out


class HubModelCard(Out):
    name: str
    task: str = Field(description="e.g. sentence-embedding.")
    architecture: str
    parameters: int
    licence: str
    source: str
    package: str = Field(description="The Python distribution that ships the model's files.")
    input: str
    output: str
    dimensions: int
    max_tokens: int
    description: str
    fine_tune_algorithm: str
    tags: list[str]
    installed: bool
    install: str | None = Field(description="The command that installs it; null if installed.")
    size_bytes: int | None = Field(description="Bytes of its files here; null if not installed.")
    deploy_tasks: list[str] = Field(description="What `hub deploy --task` serves.")
    speed: OpenDoc | None = Field(
        description="Measured on this machine (sentences_per_second, single_sentence_ms_p50, "
                    "measured_at, how); null: never measured here (hub show --measure).")
