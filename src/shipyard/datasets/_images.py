"""Datasets of image files: each file checked by Pillow, and a manifest table of them.

A files dataset is still a table (so schema, head, profile and download work as for any
version): its manifest has one row per file, ``path`` (relative, POSIX), ``sha256``,
``width``, ``height``, ``format``, ``bytes`` and, when every file sits in a folder, a
``label`` column with the folder's name (the common per-class layout,
``digits/3/img-17.png``). The bytes are stored once each, content-addressed by their
SHA-256, in the artifact store.

Files are recognised by content, never by extension, and only as PNG, JPEG, GIF, BMP,
WebP or TIFF: SVG is not an image here (it can carry script), and Pillow's other
plugins (EPS runs Ghostscript) are never tried. Images over :data:`MAX_PIXELS` are
refused before decoding (decompression bombs).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.datasets._ingest import PARQUET_COMPRESSION, Part
from shipyard.errors import InvalidRequest, ServerUnavailable

#: Pillow format name → media type served for it; nothing else is accepted.
MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif",
               "BMP": "image/bmp", "WEBP": "image/webp", "TIFF": "image/tiff"}
#: 80 megapixels (a 10,000 × 8,000 photo); Pillow's own default warns at 89 M.
MAX_PIXELS = 80_000_000
MAX_PATH = 1024
MAX_FILES = 100_000
#: The manifest's columns, ``label`` only when every file sits in a folder.
MANIFEST_COLUMNS = ("path", "sha256", "width", "height", "format", "bytes")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\:]")
#: A percent-escape (``%2e``, ``%252e``): a tool that decodes names would read another path.
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


@dataclass(frozen=True)
class ImageFile:
    """One checked image: where it sits in the upload and what it is."""

    path: str
    local: Path
    sha256: str
    width: int
    height: int
    format: str
    bytes: int


def check_sha(sha: str) -> str:
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise InvalidRequest(f"{str(sha)[:80]!r} is not a SHA-256 (64 lowercase hex digits).")
    return sha


def check_path(path: str) -> str:
    """A file's path inside the uploaded folder: relative, POSIX, no ``..``.

    It is a name in the manifest only (never a path on the server), but a name that
    reads as a path elsewhere (``../x``, ``/etc/x``, ``C:\\x``, ``%2e%2e/x``, ``~/x``)
    would mislead whoever unpacks the dataset again, so it is refused.
    """
    if not isinstance(path, str) or not path or len(path) > MAX_PATH:
        raise InvalidRequest(f"A file's path must be 1-{MAX_PATH} characters; got "
                             f"{str(path)[:80]!r}.")
    if _BAD_CHARS.search(path):
        raise InvalidRequest(f"File path {path[:200]!r} holds a control character, a "
                             "backslash or a colon; send POSIX paths relative to the folder.")
    if _ESCAPE.search(path):
        raise InvalidRequest(f"File path {path[:200]!r} holds a percent-escape; send the "
                             "file's name as it is, not URL-encoded.")
    # NFKC folds look-alikes ('\u2025' is '..'); '~' is a home folder to a shell.
    parts = unicodedata.normalize("NFKC", path).split("/")
    if path.startswith("/") or parts[0].startswith("~") or any(
            p in ("", ".", "..") for p in parts):
        raise InvalidRequest(f"File path {path[:200]!r} must be relative to the uploaded "
                             "folder, without '..', '.', empty parts or a leading '/'.")
    return str(PurePosixPath(path))


def inspect_image(path: str, local: Path, sha256: str, size: int) -> ImageFile:
    """Check that ``local`` is a whole image of an accepted format; its size and format.

    Raises:
        InvalidRequest: not an image (naming ``path``), an unaccepted format, too many pixels.
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ModuleNotFoundError:
        raise ServerUnavailable("Datasets of image files need Pillow on the server: "
                                "pip install 'shipyard[images]' there.") from None
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    formats = list(MEDIA_TYPES)
    try:
        with Image.open(local, formats=formats) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise InvalidRequest(
                    f"{path!r} is {width} × {height} pixels, more than the {MAX_PIXELS:,} "
                    "accepted; scale it down.")
            img.verify()
        # verify() leaves the image unusable; reopening reads the header again, cheaply.
        with Image.open(local, formats=formats) as img:
            fmt = str(img.format)
            width, height = img.size
    except InvalidRequest:
        raise
    except Image.DecompressionBombError:
        raise InvalidRequest(f"{path!r} declares more than {2 * MAX_PIXELS:,} pixels (a "
                             "decompression bomb, or a huge image); scale it down.") from None
    except UnidentifiedImageError as exc:
        raise InvalidRequest(
            f"{path!r} is not an image Shipyard accepts (PNG, JPEG, GIF, BMP, WebP or "
            f"TIFF, recognised by content): {exc}. Remove it from the folder.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidRequest(f"{path!r} is a damaged image ({exc}); fix or remove it.") from None
    if fmt not in MEDIA_TYPES:
        raise InvalidRequest(f"{path!r} is a {fmt} image; accepted: PNG, JPEG, GIF, BMP, "
                             "WebP, TIFF.")
    return ImageFile(path, local, sha256, int(width), int(height), fmt, size)


def manifest_part(images: list[ImageFile], out: Path) -> Part:
    """The manifest of ``images`` (sorted by path) as one Parquet part."""
    rows = sorted(images, key=lambda i: i.path)
    seen: set[str] = set()
    for img in rows:
        if img.path in seen:
            raise InvalidRequest(f"File path {img.path!r} is uploaded twice; paths must be "
                                 "unique.")
        seen.add(img.path)
    columns: dict[str, pa.Array] = {
        "path": pa.array([i.path for i in rows], pa.string()),
        "sha256": pa.array([i.sha256 for i in rows], pa.string()),
        "width": pa.array([i.width for i in rows], pa.int32()),
        "height": pa.array([i.height for i in rows], pa.int32()),
        "format": pa.array([i.format for i in rows], pa.string()),
        "bytes": pa.array([i.bytes for i in rows], pa.int64()),
    }
    folders = [PurePosixPath(i.path).parent.name for i in rows]
    if all(folders):
        columns["label"] = pa.array(folders, pa.string())
    table = pa.table(columns)
    pq.write_table(table, out, compression=PARQUET_COMPRESSION)
    return Part(out, "manifest", "parquet", table.num_rows, table.schema)

