"""The API's response models: what each route sends, as the OpenAPI document says it.

Every model forbids fields it does not declare (:class:`Out`), so a route can only send
what its model documents; ``tests/api/test_contract.py`` checks every route has one.
"""

from __future__ import annotations

from shipyard.api.schemas._common import (
    Deleted,
    ErrorBody,
    ErrorDetail,
    OpenDoc,
    Out,
    Timestamp,
    binary,
    deleted,
)
from shipyard.api.schemas._data import (
    CatalogColumn,
    CatalogFile,
    Column,
    CrawledLocation,
    CrawlSummary,
    Dataset,
    DatasetVersion,
    Head,
    Location,
    LocationDetail,
    Part,
    QueryAnswer,
    SavedQuery,
    Table,
    TableDetail,
)
from shipyard.api.schemas._hub import HubModelCard
from shipyard.api.schemas._jobs import (
    Algorithm,
    Experiment,
    ExperimentDetail,
    ExperimentSummary,
    Hyperparameter,
    Job,
    JobArtifacts,
    JobDetail,
    JobKind,
    JobMetrics,
    JobOutputs,
    JobProfile,
    MetricPoint,
    Run,
    StoredFile,
    Verdict,
)
from shipyard.api.schemas._lineage import Lineage, LineageEdge, LineageNode
from shipyard.api.schemas._pipelines import (
    Execution,
    ExecutionDetail,
    ExecutionStep,
    Pipeline,
    PipelineDetail,
    PipelineSaved,
    PipelineTrigger,
    PipelineVersion,
)
from shipyard.api.schemas._registry import (
    Bundle,
    ModelCard,
    ModelGroup,
    ModelGroupDetail,
    ModelVerdict,
    ModelVersion,
)
from shipyard.api.schemas._serving import (
    Alert,
    Autoscaling,
    Capture,
    Endpoint,
    EndpointDetail,
    EndpointHealth,
    GroundTruth,
    Instance,
    Monitor,
    MonitoringExecution,
    Schedule,
    Unseen,
    Variant,
    VariantStats,
)
from shipyard.api.schemas._system import ControlPlane, Event, Health, Identity, NewToken, Token

__all__ = [
    "Execution",
    "ExecutionDetail",
    "ExecutionStep",
    "Pipeline",
    "PipelineDetail",
    "PipelineSaved",
    "PipelineTrigger",
    "PipelineVersion",
    "Alert", "Algorithm", "Autoscaling", "Bundle", "CatalogColumn", "CatalogFile", "Capture",
    "Column", "ControlPlane", "CrawlSummary", "CrawledLocation", "Dataset", "DatasetVersion",
    "Deleted", "Endpoint", "EndpointDetail", "EndpointHealth", "ErrorBody", "ErrorDetail",
    "Event", "Experiment", "ExperimentDetail", "ExperimentSummary", "GroundTruth", "Head",
    "HubModelCard",
    "Health", "Hyperparameter", "Identity", "Instance", "Job", "JobArtifacts", "JobDetail",
    "JobKind", "JobMetrics", "JobOutputs", "JobProfile", "Lineage", "LineageEdge", "LineageNode",
    "Location", "LocationDetail",
    "MetricPoint",
    "ModelCard", "ModelGroup", "ModelGroupDetail", "ModelVerdict", "ModelVersion", "Monitor",
    "MonitoringExecution", "NewToken", "OpenDoc", "Out", "Part", "QueryAnswer", "Run",
    "SavedQuery", "Schedule", "StoredFile", "Table", "TableDetail", "Timestamp", "Token",
    "Unseen", "Variant", "VariantStats", "Verdict", "binary", "deleted",
]
