"""What a dataset is made from, turned into the files of one upload.

A source is a pandas DataFrame, a path, a glob, a folder, a list of these, or a
SQL query (:class:`SQL`, or a query string with ``db=``). Queries run here, on
the client, with SQLAlchemy; the server only ever receives files.
"""

from __future__ import annotations

import glob as globlib
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from shipyard.errors import InvalidRequest

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: File suffixes the server ingests, and the format each one means.
SUPPORTED_SUFFIXES: dict[str, str] = {
    ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
    ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
}
_GLOB_CHARS = set("*?[")
#: pyarrow's note naming the column a DataFrame could not convert.
_CONVERSION = re.compile(r"Conversion failed for column (.+?) with type")


@dataclass(frozen=True)
class SQL:
    """A query run on the client against ``db`` (a SQLAlchemy URL) to make a dataset."""

    query: str
    db: str

    def __repr__(self) -> str:
        return f"SQL({self.query!r}, db={mask_password(self.db)!r})"


@dataclass
class Upload:
    """The files of one upload, the format to declare, and the lineage to record."""

    files: list[Path]
    format: str | None = None
    source: dict[str, Any] | None = None
    _tmp: list[Path] = field(default_factory=list, repr=False)

    @property
    def total_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def mask_password(db: str) -> str:
    """The database URL with its password replaced by ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(db).render_as_string(hide_password=True)
    except ArgumentError:
        return db


def looks_like_sql(text: str) -> bool:
    head = text.lstrip().split(None, 1)[0].upper() if text.strip() else ""
    return head in {"SELECT", "WITH"}


def expand_paths(spec: str | Path) -> list[Path]:
    """Files named by a path, a glob (``data/*.csv``, ``**`` allowed) or a folder."""
    text = str(spec)
    expanded = str(Path(text).expanduser())
    if _GLOB_CHARS & set(text):
        found = [Path(p) for p in sorted(globlib.glob(expanded, recursive=True))]
        files = [p for p in found if p.is_file()]
        if not files:
            raise InvalidRequest(f"No files match {text!r}; check the pattern and the folder.")
        return files
    path = Path(expanded)
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
        if not files:
            raise InvalidRequest(
                f"Folder {text!r} holds no supported files "
                f"({', '.join(sorted(SUPPORTED_SUFFIXES))})."
            )
        return files
    if not path.is_file():
        raise InvalidRequest(f"No such file: {text!r}.")
    return [path]


def _write_parquet(df: pd.DataFrame, folder: Path, stem: str) -> Path:
    import pandas as pd
    import pyarrow as pa

    if not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()
    path = folder / f"{stem}.parquet"
    try:
        df.to_parquet(path, index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        # An object column holding several types (1, "two", 3.0) cannot be one Parquet column.
        found = _CONVERSION.search(str(exc))
        what = f"Column {found.group(1)!r} of the DataFrame" if found else "The DataFrame"
        detail = " ".join(str(exc.args[0] if exc.args else exc).split())
        raise InvalidRequest(
            f"{what} cannot be stored as one column type ({detail}); make its values one type, "
            "e.g. df[col] = df[col].astype(str) for text, or pd.to_numeric(df[col], "
            "errors='coerce') for numbers.") from None
    return path


def run_query(sql: SQL) -> pd.DataFrame:
    """Run ``sql`` with SQLAlchemy and return its result as a DataFrame."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    masked = mask_password(sql.db)
    try:
        engine = create_engine(sql.db)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise InvalidRequest(
            f"Cannot use database URL {masked!r}: {exc}. Use a SQLAlchemy URL such as "
            "'sqlite:///data.db' or 'postgresql://user@host/db'."
        ) from exc
    except ModuleNotFoundError as exc:
        raise InvalidRequest(
            f"The driver for {masked!r} is not installed ({exc.name}); install it, e.g. "
            "pip install 'shipyard[postgres]' for PostgreSQL."
        ) from exc
    try:
        with engine.connect() as conn:
            result = conn.execute(text(sql.query))
            columns = list(result.keys())
            rows = result.fetchall()
    except SQLAlchemyError as exc:
        # The driver's own message is the useful part.
        detail = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise InvalidRequest(f"The SQL query failed on {masked}: {detail.rstrip('.')}.") from exc
    finally:
        engine.dispose()
    return _frame(rows, columns)


def _frame(rows: Sequence[Any], columns: list[str]) -> pd.DataFrame:
    """The rows as pandas' ``read_sql`` makes them, but whole numbers stay whole numbers.

    pandas turns an integer column with a NULL into float64, which silently rounds every
    value past 2**53 (a 64-bit id 9007199254740993 became ...992): such columns are Int64.
    """
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)
    for i in range(len(columns)):
        column = frame.iloc[:, i]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            frame.isetitem(i, column.dt.tz_convert("UTC"))  # as read_sql answers them
        elif column.dtype.kind == "f" and column.isna().any():
            values = [row[i] for row in rows]
            if all(v is None or (type(v) is int and -2**63 <= v < 2**63) for v in values):
                frame.isetitem(i, pd.array(values, dtype="Int64"))
    return frame


def _is_dataframe(data: object) -> bool:
    # Not importing pandas just to ask: if it is not loaded, ``data`` is no DataFrame.
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(data, pd.DataFrame)


@contextmanager
def prepare(data: Any, *, db: str | None = None, format: str | None = None,
            on_query: Callable[[SQL], None] | None = None) -> Iterator[Upload]:
    """Turn ``data`` into an :class:`Upload`; temporary files live until the block ends."""
    with ExitStack() as stack:
        def tmpdir() -> Path:
            return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shipyard-")))

        if isinstance(data, str) and (db is not None or looks_like_sql(data)):
            if db is None:
                raise InvalidRequest("A SQL query needs the database too: pass db='sqlite:///…'.")
            data = SQL(data, db)
        elif db is not None:
            raise InvalidRequest("db= applies only to a SQL query; pass the query as the data.")
        if isinstance(data, SQL):
            if on_query:
                on_query(data)
            df = run_query(data)
            path = _write_parquet(df, tmpdir(), "query")
            yield Upload([path], "parquet",
                         {"type": "sql", "query": data.query, "db": mask_password(data.db)})
        elif _is_dataframe(data):
            yield Upload([_write_parquet(data, tmpdir(), "dataframe")], "parquet",
                         {"type": "dataframe"})
        elif isinstance(data, str | Path):
            yield Upload(expand_paths(data), format, {"type": "path", "pattern": str(data)})
        elif isinstance(data, Sequence) and data and all(isinstance(d, str | Path) for d in data):
            files = [f for d in data for f in expand_paths(d)]
            yield Upload(files, format, {"type": "path", "patterns": [str(d) for d in data]})
        else:
            raise InvalidRequest(
                f"Cannot make a dataset from {type(data).__name__}; pass a pandas DataFrame, "
                "a path, a glob, a folder, or a SQL query with db=."
            )


class ProgressFile:
    """A read-only file that reports how many bytes were read (for upload progress)."""

    def __init__(self, fh: IO[bytes], callback: Callable[[int], None]) -> None:
        self._fh = fh
        self._callback = callback

    def read(self, size: int = -1) -> bytes:
        chunk = self._fh.read(size)
        if chunk:
            self._callback(len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def fileno(self) -> int:
        return self._fh.fileno()
