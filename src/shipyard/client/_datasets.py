"""``sy.Dataset``: versioned tables on the server, as pandas DataFrames in the notebook."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client import _render
from shipyard.client._client import Client, Resource, default_client
from shipyard.client._sources import SQL, ProgressFile, Upload, prepare
from shipyard.humanize import count

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from shipyard.profiling import Profile

#: Called with (bytes sent, total bytes) while an upload runs.
ProgressCallback = Callable[[int, int], None]


def _latest(doc: dict[str, Any]) -> dict[str, Any]:
    """The latest version of a dataset document (nested under ``latest`` or flattened)."""
    latest = doc.get("latest")
    return latest if isinstance(latest, dict) else doc


def _schema_frame(schema: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(schema)
    if frame.empty:
        return pd.DataFrame(columns=["name", "dtype", "semantic_type"])
    first = [c for c in ("name", "dtype", "semantic_type") if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def upload(client: Client, path: str, upload: Upload, fields: dict[str, Any], *,
           idempotency_key: str | None = None,
           progress: ProgressCallback | None = None) -> dict[str, Any]:
    """POST the files of ``upload`` as repeated ``file`` parts with ``fields``; return the JSON."""
    data = {k: (json.dumps(v) if isinstance(v, dict) else str(v))
            for k, v in fields.items() if v is not None and k != "format"}
    if upload.format:
        # The upload knows best: a DataFrame or a query result is always Parquet.
        data["format"] = upload.format
    if upload.source is not None:
        data["source"] = json.dumps(upload.source)
    total, sent = upload.total_bytes, 0

    def advance(n: int) -> None:
        nonlocal sent
        sent = min(total, sent + n)
        if progress:
            progress(sent, total)

    handles = [open(f, "rb") for f in upload.files]  # noqa: SIM115 - closed below
    try:
        files = [("file", (f.name, ProgressFile(h, advance), "application/octet-stream"))
                 for f, h in zip(upload.files, handles, strict=True)]
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return client.request(
            "POST", path, data=data, files=files, headers=headers
        ).json()
    finally:
        for h in handles:
            h.close()


class Dataset(Resource):
    """A dataset on the server: ``sy.Dataset("churn")`` loads it, ``Dataset.create`` makes one.

    Versions are immutable; :meth:`append` adds one. Tables come back as pandas
    DataFrames.
    """

    def __init__(self, name: str, *, client: Client | None = None,
                 _doc: dict[str, Any] | None = None) -> None:
        self.name = name
        #: Files :meth:`from_images` left out because they are not images.
        self.skipped: list[str] = []
        self._attach(client, _doc)

    def _path(self, suffix: str = "") -> str:
        return f"/datasets/{quote(self.name, safe='')}{suffix}"

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def get(cls, name: str, *, client: Client | None = None) -> Dataset:
        """Load the dataset ``name`` (raises :class:`~shipyard.errors.NotFound` if absent)."""
        return cls(name, client=client)

    @classmethod
    def create(
        cls, name: str, data: Any, *, format: str | None = None,
        column_types: dict[str, str] | None = None, description: str | None = None,
        db: str | None = None, append: bool = False, idempotency_key: str | None = None,
        client: Client | None = None, progress: ProgressCallback | None = None,
        sep: str | None = None, decimal: str | None = None, encoding: str | None = None,
    ) -> Dataset:
        """Create dataset ``name`` (version 1) from ``data``, or append to it with ``append=True``.

        Args:
            data: a pandas DataFrame; a path, glob or folder of CSV/TSV/Parquet/JSON/JSONL
                files (several files are concatenated); a list of those; a :class:`SQL`
                query, or a query string with ``db``.
            format: the files' format when their suffix does not say it.
            column_types: column → semantic type, overriding inference.
            db: a SQLAlchemy URL to run ``data`` (a query) against, here on the client.
            sep: the delimiter of CSV/TSV files (``","``, ``";"``, ``"|"``, ``"tab"``);
                sniffed by the server when not given.
            decimal: the decimal mark of their numbers, ``"."`` or ``","`` (sniffed).
            encoding: the text encoding of the files (``"latin-1"``, ``"cp1252"``…; UTF-8).
        """
        c = client or default_client()
        fields: dict[str, Any] = {"description": description, "column_types": column_types,
                                  "sep": sep, "decimal": decimal, "encoding": encoding}
        with prepare(data, db=db, format=format) as up:
            if append:
                path = f"/datasets/{quote(name, safe='')}/versions"
            else:
                path, fields["name"] = "/datasets", name
            upload(c, path, up, fields, idempotency_key=idempotency_key, progress=progress)
        return cls(name, client=c)

    @classmethod
    def from_images(cls, name: str, folder: str | Path, *, append: bool = False,
                    description: str | None = None, client: Client | None = None,
                    progress: ProgressCallback | None = None) -> Dataset:
        """Create dataset ``name`` from a folder of image files, or add a version with
        ``append=True`` (what ``shipyard datasets create NAME --files DIR`` does).

        Each image is stored once by its content (sha256); the version is a manifest with
        a row per file: ``path`` (relative to ``folder``), ``sha256``, ``width``, ``height``.
        Files that are not images are left out; :attr:`skipped` on the returned dataset
        lists them. An image task of a labeling job (:class:`LabelingJob`) labels it.

        Raises:
            InvalidRequest: ``folder`` is not a folder or holds no image.
        """
        from shipyard.client._files import scan, upload_folder

        c = client or default_client()
        found = scan(folder)
        upload_folder(c, name, found, mode="append" if append else "create",
                      description=description, progress=progress)
        made = cls(name, client=c)
        made.skipped = list(found.skipped)
        return made

    @classmethod
    def list(cls, *, client: Client | None = None) -> pd.DataFrame:
        """Every dataset with its latest version, as a DataFrame."""
        import pandas as pd

        docs = (client or default_client()).get("/datasets")
        rows = []
        for d in docs:
            v = _latest(d)
            rows.append({"name": d.get("name"), "version": v.get("version"),
                         "num_rows": v.get("num_rows"), "num_columns": v.get("num_columns"),
                         "description": d.get("description"),
                         "updated_at": d.get("updated_at") or v.get("created_at")})
        return pd.DataFrame(rows, columns=["name", "version", "num_rows", "num_columns",
                                           "description", "updated_at"])

    # -- properties -------------------------------------------------------------------------
    @property
    def doc(self) -> dict[str, Any]:
        """The dataset document as the server sent it."""
        return self._doc

    @property
    def version(self) -> int:
        """The latest version number."""
        return int(_latest(self._doc)["version"])

    @property
    def num_rows(self) -> int:
        return int(_latest(self._doc).get("num_rows", 0))

    @property
    def num_columns(self) -> int:
        latest = _latest(self._doc)
        return int(latest.get("num_columns", len(latest.get("schema") or [])))

    @property
    def description(self) -> str | None:
        return self._doc.get("description")

    @property
    def schema(self) -> pd.DataFrame:
        """One row per column: name, dtype, semantic type, missing values…"""
        return _schema_frame(_latest(self._doc).get("schema") or [])

    # -- data -------------------------------------------------------------------------------
    def to_pandas(self, version: int | None = None) -> pd.DataFrame:
        """The whole table of ``version`` (default: the latest) as a DataFrame."""
        import pandas as pd

        raw = self.client.fetch(self._path("/download"),
                                _params(version=version, format="parquet"),
                                what=f"dataset {self.name!r}")
        return pd.read_parquet(io.BytesIO(raw))

    def head(self, n: int = 10, version: int | None = None) -> pd.DataFrame:
        """The first ``n`` rows."""
        import pandas as pd

        body = self.client.get(self._path("/head"), n=n, version=version)
        return pd.DataFrame(body["data"], columns=body["columns"])

    def download(self, dest: str | Path, format: str = "parquet",
                 version: int | None = None) -> Path:
        """Write ``version`` to the file ``dest`` as Parquet or CSV; return the path."""
        dest = Path(dest).expanduser()
        self.client.download(self._path("/download"), dest,
                             _params(version=version, format=format),
                             what=f"dataset {self.name!r}")
        return dest

    def versions(self) -> pd.DataFrame:
        """Every version, oldest first."""
        import pandas as pd

        docs = self.client.get(self._path("/versions"))
        frame = pd.DataFrame(docs)
        for heavy in ("parts", "schema"):
            if heavy in frame.columns:
                frame = frame.drop(columns=heavy)
        return frame

    def profile(self, target: str | None = None, version: int | None = None,
                problem_type: str | None = None) -> Profile:
        """The profile of ``version`` (default: the latest), computed on the server and cached.

        Args:
            target: a column to analyse the others against (distribution, associations,
                predictive power, leaks).
            problem_type: ``classification`` or ``regression`` [inferred from the target].

        Returns a :class:`~shipyard.profiling.Profile`: ``.warnings``, ``.suggestions()``,
        ``.to_html()``; it renders as the report in a notebook.
        """
        from shipyard.profiling import Profile

        body = _params(version=version, target=target, problem_type=problem_type)
        return Profile.from_dict(self.client.post(self._path("/profile"), json=body))

    def append(self, data: Any, *, format: str | None = None, db: str | None = None,
               column_types: dict[str, str] | None = None,
               progress: ProgressCallback | None = None, sep: str | None = None,
               decimal: str | None = None, encoding: str | None = None) -> Dataset:
        """Add a version made of the latest rows plus those of ``data``; return self.

        ``sep``, ``decimal`` and ``encoding`` are as for :meth:`create`.
        """
        Dataset.create(self.name, data, format=format, db=db, column_types=column_types,
                       append=True, client=self.client, progress=progress, sep=sep,
                       decimal=decimal, encoding=encoding)
        return self.refresh()

    def delete(self, force: bool = False) -> dict[str, Any]:
        """Delete the dataset and every version (its creator or an admin).

        Returns:
            The API's one DELETE answer: ``{"kind": "dataset", "name", "status": "Deleted",
            "forced", "deleted": {...counts}}``.

        Raises:
            Conflict: something still uses it (a model's lineage, a monitor, an unfinished
                job, a schedule); the message names each. An admin may pass ``force=True``,
                which is recorded with those referrers in the audit log.
        """
        return dict(self.client.delete(self._path(), force=force or None))

    # -- display ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        cols = ", ".join(f"{s.get('name')}: {s.get('semantic_type') or s.get('dtype')}"
                         for s in (_latest(self._doc).get("schema") or [])[:8])
        more = "…" if self.num_columns > 8 else ""
        return (f"<Dataset {self.name!r} v{self.version}: {count(self.num_rows, 'row')} × "
                f"{count(self.num_columns, 'column')} ({cols}{more})>")

    def _repr_html_(self) -> str:
        return _render.dataset_html(self.name, self.version, self.num_rows, self.num_columns,
                                    self.description, _latest(self._doc).get("schema") or [])


def _params(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


__all__ = ["SQL", "Dataset"]
