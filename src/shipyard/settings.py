"""Process-wide configuration, read once from the environment.

Everything a Shipyard process needs to find its state lives under one home
folder (``SHIPYARD_HOME``, default ``~/.shipyard``):

``shipyard.db``   the SQLite metadata store (unless ``SHIPYARD_DATABASE_URL``)
``artifacts/``    the local artifact store (unless ``SHIPYARD_ARTIFACT_URL``)
``jobs/``         one working folder per job (the runtime contract)
``venvs/``        virtual environments cached by the hash of a requirements list
``credentials``   the admin token written at first start (mode 0600)
``server.json``   where the running server listens, and its PID
``server.lock``   held (``flock``) by the one server of this home, with its PID and URL
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_PORT = 8484
DEFAULT_HOST = "127.0.0.1"
#: What one dataset upload may expand to once decompressed (per file), and its rows (all files).
DEFAULT_MAX_DECOMPRESSED_BYTES = 10 * 1024**3
DEFAULT_MAX_UPLOAD_ROWS = 50_000_000


def _default_home() -> Path:
    return Path(os.environ.get("SHIPYARD_HOME") or Path.home() / ".shipyard").expanduser()


@dataclass(frozen=True)
class Settings:
    """Frozen configuration of one Shipyard home."""

    home: Path = field(default_factory=_default_home)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    database_url: str | None = None
    artifact_url: str | None = None
    max_concurrent_jobs: int = 2
    job_poll_interval: float = 0.2
    cancel_grace_period: float = 10.0
    max_upload_bytes: int = 2 * 1024**3
    #: A compressed upload (``.csv.gz``…) expanding past this is refused with a 413.
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES
    #: An upload holding more rows than this (all its files together) is refused with a 413.
    max_upload_rows: int = DEFAULT_MAX_UPLOAD_ROWS
    #: The largest JSON request body a route takes unless its own limit says otherwise
    #: (``shipyard.api._body``: uploads take ``max_upload_bytes``, a job spec 16 MiB).
    max_json_bytes: int = 1024**2
    #: A request body that sends nothing for this long is answered 408 (seconds).
    body_timeout: float = 30.0
    #: Where other control planes sharing the database reach this one (the leader's URL
    #: that followers forward endpoint requests to); default: ``url``.
    advertise_url: str | None = None
    #: How often a follower tries to become the leader, and the leader re-checks its lock.
    leader_poll_seconds: float = 2.0
    #: How long a browser's sign-in (the /api/v1/docs session cookie) lasts, in seconds.
    session_seconds: float = 8 * 3600.0
    #: More Host header values the studio answers to (comma-separated), e.g. a name a
    #: reverse proxy forwards (SHIPYARD_STUDIO_HOSTS).
    studio_hosts: str = ""
    #: Fork built-in jobs from a warm runtime (see shipyard.runtime._spare).
    warm_runtime: bool = True
    #: Let monitor webhooks reach loopback, link-local and private addresses (admin setting;
    #: off by default so a webhook cannot be used to probe the server's own network).
    webhook_allow_private: bool = False
    #: What runs jobs: ``local`` (subprocesses here) or ``ray`` (see shipyard.jobs._executors).
    executor: str = "local"
    #: The Ray cluster: ``auto``, ``ray://host:port``, or empty to start a local Ray instance.
    ray_address: str = ""
    #: Idle job-runner actors the Ray executor keeps started, so a job starts without
    #: waiting for a new actor (``SHIPYARD_RAY_WARM_RUNNERS``; 0: none; jobs/_executors/
    #: _ray_pool.py).
    ray_warm_runners: int = 1
    #: A running job not seen alive for this many seconds is ``worker_lost`` (and retried).
    heartbeat_timeout: float = 60.0
    #: Modules that register job kinds, imported at server start (``SHIPYARD_PLUGINS``).
    plugins: tuple[str, ...] = ()
    #: Model bundles of built-in training over this many bytes are called out in the job
    #: log and the model card (``SHIPYARD_BUNDLE_SIZE_WARNING_MB``, default 100).
    bundle_size_warning: int = 100 * 1024**2
    #: The OS user local jobs run as when the server runs as root (created at first start
    #: when absent); ``root`` opts out. Ignored when the server is not root: jobs then run
    #: as the server's own user (see shipyard.jobs._identity).
    job_user: str = "shipyard-job"
    #: How often a running job's ``checkpoints/`` folder is synced to the artifact store
    #: (``SHIPYARD_CHECKPOINT_SYNC_SECONDS``; only changed files are stored again).
    checkpoint_sync_seconds: float = 10.0
    #: The built-in boosting algorithms checkpoint at most this often, in seconds
    #: (``SHIPYARD_CHECKPOINT_SECONDS``): a fit shorter than this takes none.
    checkpoint_seconds: float = 2.0
    #: How often the leader reads the branch head of each git pipeline trigger, in seconds
    #: (``SHIPYARD_GIT_POLL_SECONDS``; see shipyard.pipelines._watcher).
    git_poll_seconds: float = 5.0

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Build settings from ``SHIPYARD_*`` variables, then apply ``overrides``."""
        env = os.environ
        s = cls(
            home=_default_home(),
            host=env.get("SHIPYARD_HOST", DEFAULT_HOST),
            port=int(env.get("SHIPYARD_PORT", DEFAULT_PORT)),
            database_url=env.get("SHIPYARD_DATABASE_URL") or None,
            artifact_url=env.get("SHIPYARD_ARTIFACT_URL") or None,
            max_concurrent_jobs=int(env.get("SHIPYARD_MAX_CONCURRENT_JOBS", 2)),
            cancel_grace_period=float(env.get("SHIPYARD_CANCEL_GRACE_PERIOD", 10.0)),
            max_decompressed_bytes=int(env.get("SHIPYARD_MAX_DECOMPRESSED_BYTES",
                                               DEFAULT_MAX_DECOMPRESSED_BYTES)),
            max_upload_rows=int(env.get("SHIPYARD_MAX_UPLOAD_ROWS", DEFAULT_MAX_UPLOAD_ROWS)),
            warm_runtime=env.get("SHIPYARD_WARM_RUNTIME", "1") not in ("0", "false", "no"),
            webhook_allow_private=env.get("SHIPYARD_WEBHOOK_ALLOW_PRIVATE", "0").lower()
            in ("1", "true", "yes"),
            executor=(env.get("SHIPYARD_EXECUTOR") or "local").strip().lower(),
            ray_address=(env.get("SHIPYARD_RAY_ADDRESS") or "").strip(),
            ray_warm_runners=max(0, int(env.get("SHIPYARD_RAY_WARM_RUNNERS") or 1)),
            heartbeat_timeout=float(env.get("SHIPYARD_HEARTBEAT_TIMEOUT") or 60.0),
            plugins=tuple(m.strip() for m in (env.get("SHIPYARD_PLUGINS") or "").split(",")
                          if m.strip()),
            bundle_size_warning=int(float(env.get("SHIPYARD_BUNDLE_SIZE_WARNING_MB", 100))
                                    * 1024**2),
            max_upload_bytes=int(env.get("SHIPYARD_MAX_UPLOAD_BYTES", 2 * 1024**3)),
            max_json_bytes=int(env.get("SHIPYARD_MAX_JSON_BYTES", 1024**2)),
            body_timeout=float(env.get("SHIPYARD_BODY_TIMEOUT", 30.0)),
            advertise_url=env.get("SHIPYARD_ADVERTISE_URL") or None,
            leader_poll_seconds=float(env.get("SHIPYARD_LEADER_POLL_SECONDS", 2.0)),
            session_seconds=float(env.get("SHIPYARD_SESSION_SECONDS", 8 * 3600.0)),
            studio_hosts=env.get("SHIPYARD_STUDIO_HOSTS", ""),
            job_user=(env.get("SHIPYARD_JOB_USER") or "shipyard-job").strip(),
            checkpoint_sync_seconds=float(env.get("SHIPYARD_CHECKPOINT_SYNC_SECONDS")
                                          or 10.0),
            checkpoint_seconds=float(env.get("SHIPYARD_CHECKPOINT_SECONDS") or 2.0),
            git_poll_seconds=float(env.get("SHIPYARD_GIT_POLL_SECONDS") or 5.0),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        if "home" in clean:
            clean["home"] = Path(str(clean["home"])).expanduser()
        return replace(s, **clean)  # type: ignore[arg-type]

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'shipyard.db'}"

    @property
    def artifacts_url(self) -> str:
        return self.artifact_url or str(self.home / "artifacts")

    @property
    def credentials_path(self) -> Path:
        return self.home / "credentials"

    @property
    def server_info_path(self) -> Path:
        return self.home / "server.json"

    @property
    def pid_path(self) -> Path:
        return self.home / "server.pid"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    @property
    def venvs_dir(self) -> Path:
        return self.home / "venvs"

    @property
    def tmp_dir(self) -> Path:
        return self.home / "tmp"

    @property
    def lock_path(self) -> Path:
        return self.home / "server.lock"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def public_url(self) -> str:
        """The URL other control planes use to reach this one."""
        if self.advertise_url:
            return self.advertise_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"
