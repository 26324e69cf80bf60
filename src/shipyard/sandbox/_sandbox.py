"""The SQL sandbox: one locked-down, in-memory DuckDB connection per query.

The caller says which tables exist (:class:`View`: a name over a list of files)
and which files and folders may be read at all (:class:`Sources`). A query is
run only if DuckDB's own parser finds exactly one statement, of type SELECT
(which covers ``WITH``, ``VALUES``, ``FROM t``, ``DESCRIBE`` and ``SUMMARIZE``).
Then DuckDB itself holds the line: external access is off, so the only files it
opens are those under ``allowed_directories`` and the exact ``allowed_paths``
(symlinks are resolved before the check), extensions are neither installed nor
loaded, Python variables are not scanned, and the configuration is locked so the
query cannot undo any of it. A timer interrupts a query that runs too long.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.errors import InvalidRequest

#: Rows a query returns by default; more are cut and the result says it was truncated.
DEFAULT_MAX_ROWS = 10_000
DEFAULT_TIMEOUT_SECONDS = 120.0
DEFAULT_MEMORY_LIMIT = "2GB"
MAX_QUERY_CHARS = 1_000_000
BATCH_ROWS = 64 * 1024
FORMATS = ("parquet", "csv", "json")
_ALLOWED_TYPES = {duckdb.StatementType.SELECT}
_SPACE = re.compile(r"\s+")
_DENIED = re.compile(r'Cannot access (?:file|directory) "([^"]*)"')
_CSV_FILE = re.compile(r"\bfile = (\S+)")
_NO_TABLE = re.compile(r'Table with name "?([^"!]+?)"? does not exist')
_LEADING_WORDS = re.compile(r"[A-Za-z_]+")
#: First words named with what follows them (``CREATE VIEW``), and words between them.
_TAKES_OBJECT = frozenset({"CREATE", "DROP", "ALTER", "FORCE"})
_MODIFIERS = frozenset({"OR", "REPLACE", "TEMP", "TEMPORARY", "UNIQUE", "IF", "NOT", "EXISTS"})


class UnknownTable(InvalidRequest):
    """The query names a table that is none of its views (nor one of DuckDB's own)."""

    def __init__(self, table: str, views: Sequence[str]) -> None:
        self.table = table
        known = ", ".join(repr(v) for v in dict.fromkeys(views))
        super().__init__(f"The query reads table {table!r}, which does not exist here; "
                         + (f"its tables are {known}." if known else "it was given no tables."))


def quote_identifier(name: str) -> str:
    """``name`` as a DuckDB identifier (double quotes, doubled inside)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class View:
    """A table the query may use: ``schema.name`` over ``files`` of one format."""

    name: str
    files: tuple[str, ...]
    format: str = "parquet"
    schema: str | None = None
    hive_partitioning: bool = False

    def sql(self) -> str:
        """The ``CREATE VIEW`` statement (run by the sandbox itself, never by a user)."""
        if self.format not in FORMATS:
            raise InvalidRequest(f"Unknown table format {self.format!r}; use one of "
                                 f"{', '.join(FORMATS)}.")
        if not self.files:
            raise InvalidRequest(f"Table {self.name!r} has no files; crawl its location again.")
        files = "[" + ", ".join(quote_literal(f) for f in self.files) + "]"
        hive = "true" if self.hive_partitioning else "false"
        reader = {"parquet": "read_parquet", "csv": "read_csv", "json": "read_json"}[self.format]
        target = quote_identifier(self.name)
        if self.schema:
            target = f"{quote_identifier(self.schema)}.{target}"
        return (f"CREATE VIEW {target} AS SELECT * FROM {reader}({files}, "
                f"hive_partitioning={hive}, union_by_name=true)")


@dataclass(frozen=True)
class Sources:
    """What a query may see: its views, and the only files and folders it may read."""

    views: tuple[View, ...] = ()
    #: Folders (and everything under them) a query may read, e.g. catalog locations.
    allowed_directories: tuple[str, ...] = ()
    #: Single files a query may read, e.g. the Parquet parts of a dataset version.
    allowed_paths: tuple[str, ...] = ()
    #: fsspec filesystems to register (for locations such as ``s3://`` or ``memory://``).
    filesystems: tuple[Any, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Limits:
    max_rows: int = DEFAULT_MAX_ROWS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    threads: int | None = None
    #: A folder DuckDB may spill to (a private subfolder per query); None: no spilling.
    temp_directory: Path | None = None


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    truncated: bool
    seconds: float

    @property
    def num_rows(self) -> int:
        return self.table.num_rows


def _one_line(text: str) -> str:
    """DuckDB's message on one line, without the sniffer's settings and "Possible Solution"
    lines it appends to a CSV error (a screenful naming options the caller cannot set)."""
    line = _SPACE.sub(" ", text).strip()
    found = _CSV_FILE.search(line)
    cut = line.find(" Possible Solution:")
    if cut < 0 or found is None:
        return line
    line, file = line[:cut].rstrip(), found.group(1)
    if "not utf-8 encoded" in line:
        return (f"{line} Read it by path with read_csv('{file}', encoding='latin-1') "
                "(or 'utf-16'), or save it as UTF-8.")
    return line if file in line else f"{line} (file {file})"


def _new_connection() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                              "autoload_known_extensions": False})


class _Spares:
    """Fresh, unconfigured connections made ahead of time: opening one takes ~20 ms."""

    def __init__(self) -> None:
        self.size = 0
        self._ready: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._filling = False

    def keep(self, size: int) -> None:
        self.size = size
        self._fill()

    def take(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            con = self._ready.pop() if self._ready else None
            refill = self.size > 0 and not self._filling
            self._filling = self._filling or refill
        if refill:
            threading.Thread(target=self._fill, name="sandbox-spares", daemon=True).start()
        return con if con is not None else _new_connection()

    def _fill(self) -> None:
        try:
            while True:
                with self._lock:
                    if len(self._ready) >= self.size:
                        return
                con = _new_connection()
                with self._lock:
                    self._ready.append(con)
        finally:
            with self._lock:
                self._filling = False


_spares = _Spares()
_parser: duckdb.DuckDBPyConnection | None = None
_parser_lock = threading.Lock()


def keep_warm(connections: int = 1) -> None:
    """Keep ``connections`` fresh DuckDB connections ready, so a query does not wait for one
    (a server does this; a one-off query in a job does not need to)."""
    _spares.keep(connections)


def check_query(query: str) -> str:
    """The one read-only statement of ``query``, as DuckDB's parser sees it.

    Raises:
        InvalidRequest: empty, unparseable, several statements, or not a SELECT.
    """
    if not isinstance(query, str) or not query.strip():
        raise InvalidRequest("The query is empty; send one SELECT statement.")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidRequest(f"The query is longer than {MAX_QUERY_CHARS} characters.")
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise InvalidRequest(f"The query does not parse: {_one_line(str(exc))}") from None
    if len(statements) != 1:
        raise InvalidRequest(f"Send exactly one statement; the query holds {len(statements)}.")
    statement = statements[0]
    if statement.type not in _ALLOWED_TYPES:
        kind = statement_name(str(statement.query), statement.type.name)
        article = "an" if kind[:1] in "AEIOU" else "a"
        raise InvalidRequest(
            f"Only read-only queries run here (SELECT, WITH, VALUES, DESCRIBE, SUMMARIZE); "
            f"this is {article} {kind} statement, which is refused."
        )
    return str(statement.query).strip().rstrip(";")


def statement_name(text: str, kind: str) -> str:
    """The statement as the user wrote it (``INSTALL``, ``FORCE INSTALL``, ``CREATE OR
    REPLACE VIEW``), not DuckDB's statement type, which files INSTALL under LOAD and BEGIN
    under TRANSACTION; ``kind`` when the text starts otherwise (``WITH … INSERT``)."""
    words = [w.upper() for w in _LEADING_WORDS.findall(text.lstrip(" \t\r\n("))[:6]]
    if not words or words[0] in ("WITH", "FROM"):
        return kind
    name = [words[0]]
    if words[0] in _TAKES_OBJECT:
        for word in words[1:]:
            name.append(word)
            if word not in _MODIFIERS:
                break
    return " ".join(name)


def table_references(query: str) -> set[tuple[str, str]]:
    """The ``(schema, table)`` names ``query`` refers to (schema ``""`` when unqualified).

    Read from DuckDB's parse tree (``json_serialize_sql``), which binds nothing and
    opens no file; names of common table expressions are among them, which is
    harmless to a caller that only looks names up.
    """
    tree = _parse_tree(check_query(query))
    found: set[tuple[str, str]] = set()
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and node.get("table_name"):
                found.add((str(node.get("schema_name") or ""), str(node["table_name"])))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def path_references(query: str) -> set[str]:
    """Every string in ``query`` that names a file or folder: the arguments of file readers
    (``read_csv('/srv/lake/x.csv')``, ``glob(…)``, lists of paths) and paths used as
    tables (``FROM '/srv/lake/x.csv'``).

    Read from the parse tree, like :func:`table_references`; nothing is opened. The
    caller decides which of them may be read (by allowing the folders of the catalog
    locations they lie in); DuckDB then refuses anything outside those folders.
    """
    tree = _parse_tree(check_query(query))
    found: set[str] = set()
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            literal = node.get("literal")
            if node.get("class") == "CONSTANT" and isinstance(literal, dict) \
                    and isinstance(literal.get("text"), str) and _looks_like_path(literal["text"]):
                found.add(literal["text"])
            if node.get("type") == "BASE_TABLE" and _looks_like_path(str(node.get("table_name"))):
                found.add(str(node["table_name"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "~", "./", "../")) or "://" in text


def _parse_tree(statement: str) -> dict[str, Any]:
    global _parser
    with _parser_lock:
        if _parser is None:
            con = _new_connection()
            con.execute("SET enable_external_access=false")
            con.execute("SET lock_configuration=true")
            _parser = con
        # The statement is a bound parameter of a parse-only function: it never runs.
        row = _parser.execute("SELECT json_serialize_sql(?)", [statement]).fetchone()
    tree = json.loads(row[0]) if row else {}
    if tree.get("error"):
        raise InvalidRequest(f"The query does not parse: {tree.get('error_message')}.")
    return dict(tree)


def _directory(path: str) -> str:
    """A folder as DuckDB's allow-list wants it: with a trailing slash, so that
    ``/data/lake`` does not also allow ``/data/lake2``."""
    return path if path.endswith("/") else path + "/"


def _allow_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(quote_literal(i) for i in items) + "]"


@contextlib.contextmanager
def _connection(sources: Sources, limits: Limits) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that sees ``sources`` and nothing else; closed (and its spill folder
    removed) on exit."""
    spill = None
    if limits.temp_directory is not None:
        limits.temp_directory.mkdir(parents=True, exist_ok=True)
        spill = Path(tempfile.mkdtemp(prefix="sql-", dir=limits.temp_directory))
    con = _spares.take()
    try:
        for fs in sources.filesystems:
            con.register_filesystem(fs)
        directories = [_directory(d) for d in sources.allowed_directories]
        settings = [
            ("python_enable_replacements", "false"),
            ("autoinstall_known_extensions", "false"),
            ("autoload_known_extensions", "false"),
            ("allow_community_extensions", "false"),
            ("enable_progress_bar", "false"),
            ("memory_limit", quote_literal(limits.memory_limit)),
            ("temp_directory", quote_literal(str(spill) if spill else "")),
            ("allowed_directories", _allow_list(directories)),
            ("allowed_paths", _allow_list(list(sources.allowed_paths))),
            ("enable_external_access", "false"),
        ]
        if limits.threads:
            settings.append(("threads", str(int(limits.threads))))
        for name, value in settings:
            con.execute(f"SET {name}={value}")
        schemas = sorted({v.schema for v in sources.views if v.schema})
        for schema in schemas:
            con.execute(f"CREATE SCHEMA {quote_identifier(schema)}")
        for view in sources.views:
            try:
                con.execute(view.sql())
            except duckdb.Error as exc:
                where = f"{view.schema}.{view.name}" if view.schema else view.name
                raise InvalidRequest(f"Table {where} cannot be read: "
                                     f"{_one_line(str(exc))}") from None
        con.execute("SET lock_configuration=true")
        yield con
    finally:
        con.close()
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)


def _failure(exc: duckdb.Error, limits: Limits, sources: Sources) -> InvalidRequest:
    text = _one_line(str(exc))
    missing = _NO_TABLE.search(text) if isinstance(exc, duckdb.CatalogException) else None
    if missing:  # DuckDB's "Did you mean" names its own system views, never the user's
        return UnknownTable(missing.group(1), [
            f"{v.schema}.{v.name}" if v.schema else v.name for v in sources.views])
    if isinstance(exc, duckdb.InterruptException):
        return InvalidRequest(f"The query ran longer than {limits.timeout_seconds:g} s and was "
                              "stopped; filter or aggregate more, or raise the timeout.")
    if isinstance(exc, duckdb.PermissionException):
        m = _DENIED.search(text)
        what = f"it reads {m.group(1)!r}, which is" if m else "it reads a file"
        return InvalidRequest(f"The query was refused: {what} outside the registered catalog "
                              "locations (symbolic links and '..' are followed first); query "
                              "catalog tables and datasets by name, or name a file inside a "
                              "registered location by its path.")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return InvalidRequest(f"The query needs more than the sandbox's {limits.memory_limit} of "
                              f"memory: {text}")
    return InvalidRequest(f"The query failed: {text}")


@contextlib.contextmanager
def _batches(query: str, sources: Sources,
             limits: Limits) -> Iterator[tuple[pa.Schema, Iterator[pa.RecordBatch]]]:
    statement = check_query(query)
    with _connection(sources, limits) as con:
        timer = threading.Timer(limits.timeout_seconds, con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            try:
                reader = con.sql(statement).to_arrow_reader(BATCH_ROWS)
            except duckdb.Error as exc:
                raise _failure(exc, limits, sources) from None
            if reader is None:  # not a query that returns rows
                raise InvalidRequest("The statement returns no rows; send a SELECT.")

            def stream() -> Iterator[pa.RecordBatch]:
                try:
                    yield from reader
                except duckdb.Error as exc:
                    raise _failure(exc, limits, sources) from None
                except pa.ArrowException as exc:  # DuckDB errors may surface through Arrow
                    if "interrupt" in str(exc).lower():
                        raise _failure(duckdb.InterruptException(str(exc)), limits,
                                       sources) from None
                    raise InvalidRequest(f"The query failed: {_one_line(str(exc))}") from None

            yield reader.schema, stream()
        finally:
            timer.cancel()


def run(query: str, sources: Sources, limits: Limits | None = None) -> QueryResult:
    """Run ``query`` and return at most ``limits.max_rows`` rows as an Arrow table.

    Raises:
        InvalidRequest: the query is refused, fails, or runs out of time or memory.
    """
    limits = limits or Limits()
    start = time.monotonic()
    kept: list[pa.RecordBatch] = []
    rows, truncated = 0, False
    with _batches(query, sources, limits) as (schema, batches):
        for batch in batches:
            room = limits.max_rows - rows
            if batch.num_rows > room:
                kept.append(batch.slice(0, room))
                truncated = True
                break
            kept.append(batch)
            rows += batch.num_rows
    table = pa.Table.from_batches([b for b in kept if b.num_rows], schema=schema)
    return QueryResult(table, truncated, time.monotonic() - start)


def write_parquet(query: str, sources: Sources, dest: Path, limits: Limits | None = None) -> int:
    """Run ``query`` and write every row of its result to the Parquet file ``dest``.

    Returns:
        The number of rows written.
    """
    limits = limits or Limits()
    rows = 0
    with _batches(query, sources, limits) as (schema, batches):
        _check_savable(schema.names)
        with pq.ParquetWriter(dest, schema, compression="zstd") as writer:
            for batch in batches:
                if batch.num_rows:
                    writer.write_batch(batch)
                    rows += batch.num_rows
    return rows


def _check_savable(names: Sequence[str]) -> None:
    """A result a dataset can hold: DuckDB answers ``SELECT * FROM a JOIN b USING (k)`` with
    both tables' other columns, so two may share a name (or differ only in case)."""
    counts = Counter(n.casefold() for n in names)
    clashes = list(dict.fromkeys(n for n in names if counts[n.casefold()] > 1))
    if clashes:
        listed = ", ".join(repr(n) for n in clashes[:8])
        raise InvalidRequest(
            f"The query's result has columns that share a name ({listed}; names are matched "
            "without case), which a dataset cannot hold; give each its own name with AS in "
            "the SELECT (e.g. p.year AS plane_year), or select fewer columns.")


def pinned_sources(plan: Mapping[str, Any]) -> tuple[list[View], list[Any]]:
    """The views of a query plan's pinned catalog tables (``plan["tables"]``: ``name``,
    ``files``, ``format``, ``schema``, ``hive_partitioning``) and the fsspec filesystems
    of its pinned URLs (``plan["filesystems"]``): a wrangle job opens them so, and the
    check that binds its query at submit opens them the same way."""
    views = [View(name=t["name"], files=tuple(t["files"]), format=t["format"],
                  schema=t.get("schema"), hive_partitioning=bool(t.get("hive_partitioning")))
             for t in plan.get("tables") or []]
    filesystems: list[Any] = []
    if plan.get("filesystems"):
        import fsspec

        filesystems = [fsspec.core.url_to_fs(url)[0] for url in plan["filesystems"]]
    return views, filesystems
