"""A registered data location: a local folder or an fsspec URL, and the files under it.

A local folder is resolved (symlinks included) when it is registered, and a
listing never follows a symlinked folder nor takes a symlinked file whose target
lies outside the location. Names starting with ``.`` or ``_`` (``.git``,
``_SUCCESS``, ``_delta_log``) are skipped, as Spark and Hive writers expect.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidRequest

_LOCATION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/@:\s]*:)[^/@\s]+@")
#: Schema names the SQL sandbox uses itself (or DuckDB has): never a location's name.
RESERVED_NAMES = frozenset({"datasets", "main", "information_schema", "pg_catalog", "temp",
                            "system", "memory"})


def check_location_name(name: object) -> str:
    """A location name is a SQL schema name too: lower-case letters, digits and ``_``."""
    if not isinstance(name, str) or not _LOCATION_NAME.fullmatch(name):
        raise InvalidRequest(
            f"Invalid location name {name!r}: use 1-63 lower-case letters, digits or '_', "
            "starting with a letter (it is the schema of its tables in SQL, e.g. lake.flights)."
        )
    if name in RESERVED_NAMES:
        raise InvalidRequest(f"The location name {name!r} is reserved; choose another, e.g. "
                             f"{name}_data.")
    return name


@dataclass(frozen=True)
class FileEntry:
    """A file under a location: its path relative to the root (``/``-separated) and size."""

    rel: str
    size: int


@dataclass(frozen=True)
class Listing:
    files: list[FileEntry]
    skipped: list[str]


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


@dataclass(frozen=True)
class Location:
    """Where a location's files are: ``kind`` "local" (``url`` a resolved folder) or
    "fsspec" (``url`` such as ``s3://bucket/prefix`` or ``memory://lake``)."""

    name: str
    url: str
    kind: str

    # -- fsspec ---------------------------------------------------------------------------
    def _fs(self) -> tuple[Any, str]:
        import fsspec

        try:
            fs, root = fsspec.core.url_to_fs(self.url)
        except ImportError as exc:
            raise InvalidRequest(f"Reading {self.url!r} needs a package that is not installed: "
                                 f"{exc} (pip install it on the server).") from None
        except ValueError as exc:
            raise InvalidRequest(f"Cannot open {self.url!r}: {exc}.") from None
        return fs, str(root).rstrip("/") or str(fs.root_marker or "/")

    @property
    def protocol(self) -> str:
        return self.url.split("://", 1)[0]

    # -- what the sandbox needs -----------------------------------------------------------
    def absolute(self, rel: str) -> str:
        """The path (local) or URL (fsspec) DuckDB opens for the file ``rel``."""
        if self.kind == "local":
            return str(Path(self.url) / rel)
        fs, root = self._fs()
        return str(fs.unstrip_protocol(f"{root.rstrip('/')}/{rel}"))

    def allowed_directories(self) -> tuple[str, ...]:
        """The folder prefixes DuckDB may read (both spellings of a URL's root)."""
        if self.kind == "local":
            return (self.url,)
        fs, root = self._fs()
        spelled = str(fs.unstrip_protocol(root))
        bare = f"{self.protocol}://{root.lstrip('/')}"
        return tuple(dict.fromkeys([spelled, bare]))

    def filesystems(self) -> tuple[Any, ...]:
        return () if self.kind == "local" else (self._fs()[0],)

    # -- listing --------------------------------------------------------------------------
    def check(self) -> None:
        """Raise :class:`InvalidRequest` unless the location is a folder that can be read."""
        if self.kind == "local":
            if not Path(self.url).is_dir():
                raise InvalidRequest(f"Location {self.name!r}: {self.url!r} is no longer a "
                                     "folder; register the new place, or restore it.")
            return
        fs, root = self._fs()
        try:
            ok = fs.isdir(root)
        except Exception as exc:  # noqa: BLE001 - any backend error means "cannot read it"
            raise InvalidRequest(f"Cannot read {self.url!r}: {exc}.") from None
        if not ok:
            raise InvalidRequest(f"{self.url!r} is not a folder that exists; give the URL of "
                                 "an existing folder (prefix).")

    def list_files(self) -> Listing:
        """Every data-candidate file under the location (hidden ones and folders skipped)."""
        self.check()
        return self._list_local() if self.kind == "local" else self._list_fsspec()

    def _list_local(self) -> Listing:
        root = Path(self.url)
        files, skipped = [], []
        for folder, dirs, names in os.walk(root, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not _hidden(d))
            for name in sorted(names):
                if _hidden(name):
                    continue
                path = Path(folder) / name
                rel = path.relative_to(root).as_posix()
                if path.is_symlink():
                    real = Path(os.path.realpath(path))
                    if not real.is_relative_to(root) or not real.is_file():
                        skipped.append(f"{rel} (a symlink to outside the location)")
                        continue
                try:
                    size = path.stat().st_size
                except OSError:
                    skipped.append(f"{rel} (cannot be read)")
                    continue
                files.append(FileEntry(rel, size))
        return Listing(files, skipped)

    def _list_fsspec(self) -> Listing:
        fs, root = self._fs()
        prefix = root.rstrip("/") + "/"
        files = []
        for path, info in sorted(fs.find(root, detail=True).items()):
            text = str(path)
            if not text.startswith(prefix) and not ("/" + text).startswith(prefix):
                continue
            rel = text[len(prefix):] if text.startswith(prefix) else ("/" + text)[len(prefix):]
            if any(_hidden(part) for part in rel.split("/")):
                continue
            files.append(FileEntry(rel, int(info.get("size") or 0)))
        return Listing(files, [])


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return tuple(protocol) if isinstance(protocol, tuple | list) else (str(protocol),)


def redact_url(url: str) -> str:
    """``s3://key:secret@bucket`` → ``s3://key:***@bucket`` (for showing, never for opening)."""
    return _URL_PASSWORD.sub(r"\g<head>***@", url)


def resolve_location(name: str, target: str, protected: list[Path]) -> Location:
    """Check a location an admin registers and resolve it (a folder path or an fsspec URL).

    Args:
        protected: folders a location may neither be inside of nor contain (the Shipyard
            home with its credentials and database, the artifact store).

    Raises:
        InvalidRequest: a bad name, a path that is not a folder, or a protected place.
    """
    check_location_name(name)
    if not isinstance(target, str) or not target.strip():
        raise InvalidRequest("Give the location as a folder path or an fsspec URL such as "
                             "s3://bucket/prefix.")
    target = target.strip()
    if "::" in target:
        raise InvalidRequest(f"Chained fsspec URLs such as {target!r} cannot be a location; "
                             "give the URL of the data itself.")
    raw = target[len("file://"):] if target.startswith("file://") else target
    if "://" in raw:
        location = Location(name, raw.rstrip("/"), "fsspec")
        fs, root = location._fs()
        if "file" not in _protocols(fs):
            location.check()
            return location
        raw = root  # a local folder spelled as a URL: the local rules apply
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise InvalidRequest(f"Give the folder {raw!r} as an absolute path (the server resolves "
                             "it on its own machine).")
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidRequest(f"No folder {raw!r} on the server; give an existing folder.") \
            from None
    if not real.is_dir():
        raise InvalidRequest(f"{raw!r} is not a folder; register the folder that holds the "
                             "data files.")
    if real == Path(real.anchor):
        raise InvalidRequest("The root of the file system cannot be a location; register the "
                             "folder that holds the data.")
    for place in protected:
        p = place.resolve()
        if real == p or real.is_relative_to(p) or p.is_relative_to(real):
            raise InvalidRequest(f"{raw!r} holds or is inside Shipyard's own folder {str(p)!r} "
                                 "(credentials, metadata, artifacts); register a data folder "
                                 "apart from it.")
    return Location(name, str(real), "local")
