"""The services one server process holds, built once at start."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from shipyard.artifacts import ArtifactStore
from shipyard.catalog import CatalogService, SqlService, register_crawl_kind
from shipyard.datasets import DatasetService
from shipyard.endpoints import EndpointService, EndpointSupervisor
from shipyard.events import EventDispatcher
from shipyard.experiments import ExperimentService
from shipyard.home import secure_home
from shipyard.jobs import JobService, Supervisor, job_user, load_plugins, make_executor
from shipyard.labeling import LabelingService
from shipyard.lineage import LineageService, register_provider
from shipyard.monitoring import MonitorService, register_monitor_kind
from shipyard.pipelines import (
    PIPELINE_LINEAGE,
    GitWatcher,
    PipelineEngine,
    PipelineService,
    TriggerService,
    register_pipeline_kind,
)
from shipyard.references import References, register_builtin
from shipyard.registry import RegistryService
from shipyard.scheduling import Scheduler, ScheduleService, register_job_kind
from shipyard.settings import Settings
from shipyard.store import Database, EndpointRepository, EventLog, ScheduleRepository, upgrade
from shipyard.tokens import TokenService


@dataclass
class Services:
    settings: Settings
    db: Database
    events: EventLog
    artifacts: ArtifactStore
    tokens: TokenService
    datasets: DatasetService
    jobs: JobService
    supervisor: Supervisor
    experiments: ExperimentService
    registry: RegistryService
    dispatcher: EventDispatcher
    endpoints: EndpointService
    endpoint_supervisor: EndpointSupervisor
    scheduler: Scheduler
    schedules: ScheduleService
    catalog: CatalogService
    sql: SqlService
    monitors: MonitorService
    #: Who still uses a dataset, model group or endpoint (asked before each delete).
    references: References
    pipelines: PipelineService
    #: Advances pipeline executions (a leader duty, like the supervisors).
    pipeline_engine: PipelineEngine
    #: What made an object and what it made (``GET /lineage``).
    lineage: LineageService
    #: What starts pipeline executions on its own (schedules, commits, events).
    pipeline_triggers: TriggerService
    #: Polls the branch heads of git triggers (a leader duty).
    git_watcher: GitWatcher
    #: Labeling jobs, the annotators' queue, status and export (docs/labeling.md).
    labeling: LabelingService

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Open the stores (migrating the schema) and build every service; start nothing."""
        for d in (settings.home, settings.jobs_dir, settings.tmp_dir, settings.venvs_dir):
            d.mkdir(parents=True, exist_ok=True)
        db = Database(settings.db_url)
        upgrade(db)
        user = job_user(settings) if settings.executor == "local" else None
        secure_home(settings, user.gid if user else None)  # after the database exists
        events = EventLog(db)
        artifacts = ArtifactStore(settings.artifacts_url, tmp_dir=settings.tmp_dir)
        datasets = DatasetService(db, events, artifacts, settings)
        store_root = artifacts.backend.local_path("objects")
        catalog = CatalogService(db, events, settings,
                                 protected=[store_root.parent] if store_root else [])
        load_plugins(settings.plugins)  # job kinds from outside shipyard.jobs
        jobs = JobService(db, events, artifacts, datasets, settings, catalog=catalog,
                          executor=make_executor(settings, artifacts))
        registry = RegistryService(db, events, artifacts)
        endpoints = EndpointService(EndpointRepository(db, events), registry)
        scheduler = Scheduler(ScheduleRepository(db, events))
        register_job_kind(scheduler, jobs)
        register_crawl_kind(scheduler, catalog)
        schedules = ScheduleService(scheduler.repo, scheduler)
        monitors = MonitorService(db, events, artifacts, datasets, jobs, endpoints, registry,
                                  schedules, settings)
        register_monitor_kind(scheduler, monitors)
        pipelines = PipelineService(db, events, jobs, registry, endpoints, datasets, settings)
        references = register_builtin(References(), db, events)
        labeling = LabelingService(db, events, datasets, jobs=jobs, artifacts=artifacts)
        references.register("dataset", "labeling job", labeling.referrers)
        register_provider(PIPELINE_LINEAGE)  # execution:ID nodes in every lineage walk
        triggers = TriggerService(pipelines, schedules, registry, monitors, datasets, jobs,
                                  protected=catalog.protected)
        register_pipeline_kind(scheduler, triggers)
        return cls(
            settings=settings, db=db, events=events, artifacts=artifacts,
            tokens=TokenService(db, events), datasets=datasets, jobs=jobs,
            supervisor=Supervisor(jobs, settings),
            experiments=ExperimentService(db, events),
            registry=registry,
            dispatcher=EventDispatcher(events),
            endpoints=endpoints,
            endpoint_supervisor=EndpointSupervisor(endpoints, registry, artifacts, settings),
            scheduler=scheduler, schedules=schedules,
            catalog=catalog, sql=SqlService(catalog, datasets), monitors=monitors,
            references=references, lineage=LineageService(db, events, references),
            pipelines=pipelines, pipeline_engine=PipelineEngine(pipelines),
            pipeline_triggers=triggers,
            git_watcher=GitWatcher(triggers, settings.git_poll_seconds),
            labeling=labeling,
        )


def services(request: Request) -> Services:
    return request.app.state.services
