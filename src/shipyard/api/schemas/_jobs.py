"""Response models of jobs, algorithms and experiments."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shipyard.api.schemas._common import OpenDoc, Out, Timestamp


class StoredFile(Out):
    """A file in the artifact store, as a job's manifest lists it."""

    path: str = Field(description="As the artifacts route names it: model/…, output/…, job.log.")
    sha256: str
    size: int


class ModelFiles(Out):
    files: list[StoredFile]


class TuningTrial(Out):
    """One trial of a tuning job (a training job)."""

    number: int
    job_id: str
    algorithm: str | None = Field(None, description="The trial's algorithm.")
    hyperparameters: dict[str, Any] = Field(description="The searched hyperparameters.")
    objective: float | None = Field(description="The validation metric it reached.")
    state: str = Field(description="complete, pruned (hyperband stopped it), no_objective, "
                                   "or the trial job's status (running, failed…).")
    duration_seconds: float | None
    pruned_at: dict[str, float] | None = Field(
        None, description="A pruned trial's round and its validation loss there, e.g. "
                          "{\"round\": 370, \"validation.binary_logloss\": 0.61}.")


class TuningBest(Out):
    """The best trial of a tuning job so far; its test metrics once the study is over."""

    trial_job_id: str
    number: int
    algorithm: str | None = None
    hyperparameters: dict[str, Any] = Field(description="All of them, fixed and searched.")
    objective: float | None
    validation: dict[str, float]
    test: dict[str, float] | None = Field(
        description="The best settings scored on test, once (by the scoring job).")
    model_job_id: str | None = Field(
        description="The scoring job: the model `models register --job` takes.")
    scoring_validation: dict[str, float] | None = None


class TuningStudy(Out):
    """Where a tuning job's study stands."""

    objective: dict[str, str] = Field(description="metric (validation.<name>) and direction.")
    state: str = Field(description="running, scoring, completed, failed or stopped.")
    stopped_by: str | None = Field(
        None, description="max_trials, max_runtime, no_improvement or grid_exhausted.")
    trials: list[TuningTrial]
    best: TuningBest | None


class AutoMLCandidate(Out):
    """One candidate of an AutoML job (a training job): a row of its leaderboard."""

    number: int
    job_id: str
    algorithm: str | None
    pipeline: str = Field(description="The recipe variant the candidate's features come from.")
    hyperparameters: dict[str, Any] | None = Field(description="All of them, as trained.")
    source: str = Field(description="portfolio (a fixed first configuration) or search (the "
                                    "sampler's proposal).")
    state: str = Field(description="complete, pruned (successive halving stopped it), "
                                   "no_objective, or the candidate job's status.")
    validation: float | None = Field(description="The validation metric it reached.")
    pruned_at: dict[str, float] | None = Field(
        None, description="A pruned candidate's round and its validation loss there, e.g. "
                          "{\"round\": 38, \"validation.logloss\": 0.47}.")
    fit_seconds: float | None = Field(description="The candidate job's run time.")
    model_bytes: int | None
    predict_seconds_per_1k_rows: float | None = Field(
        None, description="Seconds to predict 1,000 validation rows (in its job's process), "
                          "once the AutoML job ended.")
    weight: float | None = Field(None, description="Its weight in the final model, once "
                                                   "the AutoML job ended (0: left out).")


class AutoMLBest(Out):
    candidate: int
    job_id: str
    algorithm: str | None
    validation: float | None


class AutoMLBoard(Out):
    """Where an AutoML job stands: its leaderboard and, once it ended, its final model."""

    state: str = Field(description="searching, finishing, completed, failed or stopped.")
    problem_type: str
    objective: dict[str, str] = Field(description="metric (validation.<name>) and direction.")
    mode: str = Field(description="ensembling or hpo (auto resolved at submit).")
    time_budget: float
    cv_folds: int | None = Field(None, description="The folds candidates were cross-validated "
                                                   "in (their validation metric is out of "
                                                   "fold); null: one validation split.")
    sample_rows: int | None = Field(None, description="The training rows each candidate "
                                                      "kept, sampled (large data; the final "
                                                      "model refits on all); null: all.")
    prune: bool | None = Field(None, description="Whether the search's boosting candidates "
                                                 "were pruned on rounds (successive halving).")
    pruned: int | None = Field(None, description="How many candidates were pruned.")
    elapsed_seconds: float
    stopped_by: str | None = Field(None, description="time_budget or max_candidates.")
    analysis: dict[str, Any] | None = Field(
        None, description="What the job found before training: leaks (the train version's "
                          "suspected leaks of the target: column, reasons, solo_metric, "
                          "solo_score), dropped (every column the candidates left out: "
                          "column, why = user or leak), kept (leaks kept with keep).")
    candidates: list[AutoMLCandidate]
    best: AutoMLBest | None = Field(description="The best single candidate on validation.")
    final_job_id: str | None = Field(None, description="The ensemble job making the final "
                                                       "model.")
    model_job_id: str | None = Field(description="The final model's job, once Completed: "
                                                 "what `models register --job` takes.")
    validation: float | None = Field(None, description="The final model's validation metric.")
    test: dict[str, float] | None = Field(description="The final model scored on test, once.")
    ensemble: dict[str, Any] | None = Field(
        None, description="members (job ids, heaviest first), selection, best_single, refit "
                          "(the members trained again on train and validation rows).")
    importance: list[dict[str, Any]] | None = Field(
        None, description="The final model's importance of each raw input column on the "
                          "test rows, most important first (at most 20), by "
                          "importance_method: column, importance (shap: mean |SHAP|; "
                          "permutation: loss increase when shuffled, and its std).")
    importance_method: str | None = Field(
        None, description="shap, or permutation when SHAP did not fit in the time budget.")
    permutation_importance: list[dict[str, Any]] | None = Field(
        None, description="The final model's permutation importance (at most 20): column, "
                          "importance (loss increase when shuffled), std.")
    warnings: list[str] | None = Field(
        None, description="Sentences on the final model's test score, as a training job "
                          "gives them: at chance level, or near perfect (a leak?).")


class JobOutputs(Out):
    """What a job left in the artifact store (empty until it ends)."""

    model: ModelFiles | None = None
    datasets: dict[str, Any] | None = Field(
        None, description="Output dataset name → the version the job wrote.")
    data: dict[str, list[StoredFile]] | None = None
    files: list[StoredFile] | None = None
    log: StoredFile | None = None
    study: TuningStudy | None = Field(None, description="A tuning job's study.")
    automl: AutoMLBoard | None = Field(None, description="An AutoML job's leaderboard.")


class Job(Out):
    id: str
    kind: str
    name: str | None
    status: str = Field(description="Pending, Starting, Running, Completed, Failed, Stopping, "
                        "Stopped.")
    reason: str | None = Field(description="Why it failed: script_error, memory_limit, …")
    message: str | None = Field(description="The failure in one sentence.")
    attempts: int
    max_attempts: int
    pid: int | None
    spec: OpenDoc = Field(description="The job spec as stored (pinned at submit).")
    outputs: JobOutputs
    created_at: Timestamp
    started_at: Timestamp | None
    ended_at: Timestamp | None
    updated_at: Timestamp
    created_by: str | None
    experiment: str | None
    tags: dict[str, str]
    notes: str | None
    executor: str | None
    heartbeat_at: Timestamp | None
    trials: list[TuningTrial] | None = Field(None, description="A tuning job's trials.")
    best: TuningBest | None = Field(None, description="A tuning job's best trial.")


class RuleFinding(Out):
    """A debugger rule that fired on the job (an event ``job.rule_fired``)."""

    rule: str
    action: str = Field(description="record, alert or stop")
    message: str
    params: dict[str, Any]
    at: Timestamp


class JobDetail(Job):
    metrics: dict[str, Any] = Field(
        description="Last value of each metric, nested by split: metrics.test.roc_auc.")
    findings: list[RuleFinding] = Field(
        default_factory=list, description="What the job's debugger rules found, oldest first.")


class JobKind(Out):
    name: str
    summary: str
    entry: str
    warm: bool
    builtin: bool
    schema_: OpenDoc = Field(alias="schema", description="The JSON schema of this kind's spec.")


class MetricPoint(Out):
    step: int | None
    value: float
    timestamp: float = Field(description="Seconds since the epoch.")


class JobMetrics(Out):
    job_id: str
    metrics: dict[str, list[MetricPoint]]


class ProfilePoint(Out):
    second: int
    value: float


class ProfileFinding(Out):
    code: str = Field(description="single_core, mostly_idle, read_bound, memory_near_limit")
    message: str


class JobProfile(Out):
    """A job's resource profile: samples the supervisor took while it ran (``system.*``),
    the seconds in each phase the job reported, and what they suggest."""

    job_id: str
    cpus: int
    memory_limit_bytes: int
    duration_seconds: float
    summary: dict[str, float | int | None]
    phases: dict[str, float]
    series: dict[str, list[ProfilePoint]]
    findings: list[ProfileFinding]


class JobArtifacts(Out):
    job_id: str
    files: list[StoredFile]
    datasets: dict[str, Any]


class Hyperparameter(Out):
    name: str
    type: str
    default: Any
    low: float | None
    high: float | None
    log: bool
    choices: list[Any] | None
    description: str
    nullable: bool
    search: dict[str, Any] | None = Field(
        None, description="What tuning searches when no --range names it: {low, high, log} "
                          "or {choices}; null: not searched by default.")
    pattern: str | None = Field(
        None, description="A text hyperparameter's form: the regular expression its value "
                          "matches (an image shape such as '8x8').")


class Algorithm(Out):
    name: str
    problem_types: list[str]
    framework: str
    description: str
    needs_scaling: bool
    categorical: str = Field(description="onehot or native.")
    hyperparameters: list[Hyperparameter]


class Experiment(Out):
    name: str
    description: str | None
    problem_statement: str | None
    success_criteria: list[Any]
    success_criteria_text: list[str]
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None


class Verdict(Out):
    """Pass/fail against the experiment's success criteria."""

    passed: bool | None = Field(description="None when there are no criteria.")
    results: list[dict[str, Any]] = Field(description="One entry per criterion.")


class Run(Out):
    """A training job seen inside an experiment."""

    job_id: str
    name: str | None
    kind: str
    status: str
    algorithm: str | None
    target: str | None
    hyperparameters: OpenDoc
    metrics: dict[str, float]
    tags: dict[str, str]
    notes: str | None
    criteria: Verdict
    created_at: Timestamp
    ended_at: Timestamp | None


class ExperimentSummary(Experiment):
    runs: int = Field(description="How many runs it holds.")


class ExperimentDetail(Experiment):
    runs: list[Run]
