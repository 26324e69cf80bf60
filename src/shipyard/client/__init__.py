"""The Python SDK: Shipyard over HTTP, with pandas DataFrames where a table is the answer.

::

    import shipyard as sy

    sy.connect()                                   # SHIPYARD_URL, or a local server
    ds = sy.Dataset.create("churn", df)
    job = sy.Job.run("processing", "clean.py", inputs={"raw": "churn"},
                     outputs=["churn-clean"]).wait(logs=True)
    job.metrics()

    run = sy.Job.train("xgboost", "churn", target="churned").wait()
    automl = sy.AutoML("churn", "churned", time_budget=60).wait()
    automl.leaderboard()                           # every candidate, best first
    sy.bias("churn", label="churned", positive="yes", facet="senior=1", model="churn:3")
    sy.explain("churn:3", "churn").importance()    # SHAP: what drives the model
    run.evaluation()                               # metrics per split and plots
    sy.Experiment("churn").compare("roc_auc")      # runs side by side, best first
    version = run.register("churn")                # waits for approval
    sy.ModelGroup("churn").latest()                # the newest Approved version
    print(sy.Lineage("endpoint:churn-ep", direction="upstream"))  # back to its data

    prep = sy.steps.Processing("prep", "prep.py", inputs={"raw": "churn"},
                               outputs=["churn-clean"])
    train = sy.steps.Training("train", algorithm="xgboost", train=prep.outputs["churn-clean"],
                              target="churned")
    sy.Pipeline("retrain", steps=[train]).start(wait=True)   # docs/pipelines.md
    sy.LabelingJob.create("reviews", "reviews", "text_classification", ["great", "other"],
                          column="review").export("reviews-labels")  # docs/labeling.md
"""

from __future__ import annotations

from shipyard.client import _hub as hub
from shipyard.client import _pipeline_dsl as steps
from shipyard.client._automl import AutoML
from shipyard.client._catalog import Catalog, sql
from shipyard.client._client import Client, connect, default_client
from shipyard.client._datasets import Dataset
from shipyard.client._endpoints import Endpoint, EndpointFailed, EndpointUpdateFailed
from shipyard.client._evaluation import Evaluation
from shipyard.client._experiments import Experiment
from shipyard.client._jobs import Job, JobFailed, WaitTimeout
from shipyard.client._labeling import LabelingJob
from shipyard.client._lineage import Lineage
from shipyard.client._models import (
    ModelCard,
    ModelGroup,
    ModelVersion,
    algorithms,
    hyperparameters,
)
from shipyard.client._monitors import Monitor, MonitoringExecution, Report
from shipyard.client._pipeline_refs import Parameter
from shipyard.client._pipelines import Execution, ExecutionFailed, Pipeline
from shipyard.client._reports import BiasReport, ExplainReport, bias, explain
from shipyard.client._schedules import Schedule
from shipyard.client._sources import SQL
from shipyard.errors import CriteriaNotMet

__all__ = ["SQL", "AutoML", "BiasReport", "ExplainReport", "bias", "explain",
           "Catalog", "Client", "CriteriaNotMet", "Dataset", "Endpoint", "EndpointFailed",
           "EndpointUpdateFailed", "Monitor", "MonitoringExecution", "Report",
           "Evaluation", "Execution", "ExecutionFailed", "Experiment", "Job", "JobFailed",
           "LabelingJob",
           "Lineage", "ModelCard", "ModelGroup", "ModelVersion", "Parameter", "Pipeline",
           "Schedule", "WaitTimeout", "algorithms", "connect", "default_client",
           "hub", "hyperparameters", "sql", "steps"]
