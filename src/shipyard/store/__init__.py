"""The metadata store: SQLAlchemy over SQLite (default) or PostgreSQL.

One repository per domain (tokens, datasets, jobs, events); they share a
:class:`Database` and never reach into each other's tables.
"""

from shipyard.store._autolabel import Applied, AutolabelRepository, AutolabelRun, MachineItem
from shipyard.store._catalog import CatalogRepository, LocationRecord, NewTable, TableRecord
from shipyard.store._common import canonical_hash, iso, utcnow
from shipyard.store._datasets import DatasetRecord, DatasetRepository, NewVersion, VersionRecord
from shipyard.store._endpoints import EndpointRecord, EndpointRepository
from shipyard.store._engine import Database, make_engine
from shipyard.store._events import EventLog, EventRecord
from shipyard.store._experiments import ExperimentRecord, ExperimentRepository
from shipyard.store._job_tokens import JobTokenRecord, JobTokenRepository
from shipyard.store._jobs import JobRecord, JobRepository, MetricPoint
from shipyard.store._labeling import (
    AssignmentRecord,
    ItemCounts,
    LabelingJobRecord,
    LabelingRepository,
    NewItem,
    NewLabelingJob,
)
from shipyard.store._leader import Election, LeaderInfo, LeaderLock, leader_lock
from shipyard.store._migrate import current_revisions, head_revision, upgrade
from shipyard.store._monitors import MonitorRecord, MonitorRepository, MonitorRunRecord
from shipyard.store._pipelines import (
    CacheRecord,
    ExecutionRecord,
    PipelineRecord,
    PipelineRepository,
    PipelineVersionRecord,
    StepRecord,
    TriggerRecord,
)
from shipyard.store._registry import ModelGroupRecord, ModelVersionRecord, RegistryRepository
from shipyard.store._schedules import ScheduleRecord, ScheduleRepository
from shipyard.store._tokens import TokenRecord, TokenRepository

__all__ = [
    "AssignmentRecord",
    "ItemCounts",
    "Applied",
    "AutolabelRepository",
    "AutolabelRun",
    "MachineItem",
    "LabelingJobRecord",
    "LabelingRepository",
    "NewItem",
    "NewLabelingJob",
    "CacheRecord",
    "ExecutionRecord",
    "PipelineRecord",
    "PipelineRepository",
    "PipelineVersionRecord",
    "StepRecord",
    "TriggerRecord",
    "CatalogRepository",
    "Database",
    "DatasetRecord",
    "DatasetRepository",
    "Election",
    "EndpointRecord",
    "EndpointRepository",
    "EventLog",
    "EventRecord",
    "ExperimentRecord",
    "ExperimentRepository",
    "JobRecord",
    "JobTokenRecord",
    "JobTokenRepository",
    "JobRepository",
    "LeaderInfo",
    "LeaderLock",
    "LocationRecord",
    "MetricPoint",
    "ModelGroupRecord",
    "MonitorRecord",
    "MonitorRepository",
    "MonitorRunRecord",
    "ModelVersionRecord",
    "RegistryRepository",
    "NewTable",
    "NewVersion",
    "ScheduleRecord",
    "ScheduleRepository",
    "TableRecord",
    "TokenRecord",
    "TokenRepository",
    "VersionRecord",
    "canonical_hash",
    "current_revisions",
    "head_revision",
    "iso",
    "leader_lock",
    "make_engine",
    "upgrade",
    "utcnow",
]
