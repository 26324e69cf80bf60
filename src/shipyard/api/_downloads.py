"""Serving a stored object as a download: checked while it streams, never a bad 200.

Objects are named by their SHA-256, and :meth:`ArtifactStore.iter_chunks` checks it
as it reads, holding the last chunk back until the whole object is hashed. Here the
first chunk is taken before the response starts, so a missing object, or a damaged
one that fits in a chunk (most files), is a clean JSON error; a larger damaged one is
cut off before its last bytes, so the client sees a broken transfer of fewer bytes
than ``Content-Length``, never a complete 200. ``X-Shipyard-SHA256`` lets the client
check what it got (the SDK does). ``?verify=true`` checks the whole object before
the first byte, for a client that wants a clear error instead of a broken transfer
(the SDK retries a broken download that way). A damaged object is logged and
recorded as an ``artifact.damaged`` event.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from fastapi.responses import StreamingResponse

from shipyard.api._context import Services
from shipyard.errors import IntegrityError

log = logging.getLogger("shipyard.api")
#: What may stay of a file name in Content-Disposition (anything else becomes "_").
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def damaged(what: str, sha: str) -> IntegrityError:
    return IntegrityError(
        f"The stored file {what} failed its SHA-256 check (object {sha[:12]}…): the artifact "
        "store holds a damaged copy, so it is not served; restore the store from a backup "
        "or re-create the file.")


def _record(svc: Services, what: str, sha: str) -> None:
    log.error("artifact %s (%s) failed its SHA-256 check; not served", sha, what)
    with svc.db.write() as conn:
        svc.events.record(conn, "artifact.damaged", "artifact", sha, None, file=what)


def verify_stored(svc: Services, sha: str, what: str) -> None:
    """Check the whole object before anything is sent (``?verify=true``)."""
    try:
        svc.artifacts.verify(sha)
    except IntegrityError:
        _record(svc, what, sha)
        raise damaged(what, sha) from None


def checked(svc: Services, chunks: Iterator[bytes], what: str, sha: str) -> Iterator[bytes]:
    """``chunks`` of object ``sha`` with its first chunk already read (see the module doc)."""
    try:
        first = next(chunks, None)
    except IntegrityError:
        _record(svc, what, sha)
        raise damaged(what, sha) from None

    def rest() -> Iterator[bytes]:
        try:
            if first is not None:
                yield first
            yield from chunks
        except IntegrityError:
            _record(svc, what, sha)
            raise damaged(what, sha) from None  # aborts the response mid-body

    return rest()


def stored_file(svc: Services, sha: str, size: int, *, what: str, filename: str,
                verify: bool = False,
                media_type: str = "application/octet-stream") -> StreamingResponse:
    """The download response of object ``sha`` (``size`` bytes), named ``filename``.

    ``what`` names the file in errors, e.g. ``"'model/weights.json' of job 0193…"``;
    ``filename`` is reduced to safe ASCII for the header.
    """
    if verify:
        verify_stored(svc, sha, what)
    body = checked(svc, svc.artifacts.iter_chunks(sha), what, sha)
    return StreamingResponse(body, media_type=media_type, headers={
        "Content-Length": str(size), "X-Shipyard-SHA256": sha,
        "Content-Disposition": f'attachment; filename="{_SAFE.sub("_", filename)}"'})


#: An image shown by the browser may run nothing and fetch nothing, whatever its bytes.
IMAGE_CSP = "default-src 'none'; sandbox"


def image_file(svc: Services, sha: str, size: int, media_type: str, *,
               what: str) -> StreamingResponse:
    """An image object shown inline: its checked bytes with the type found at upload.

    ``nosniff`` and the CSP keep a browser from reading the bytes as anything but the
    image type Pillow recognised (SVG, which can carry script, is never accepted).
    """
    body = checked(svc, svc.artifacts.iter_chunks(sha), what, sha)
    ext = media_type.rsplit("/", 1)[-1]
    return StreamingResponse(body, media_type=media_type, headers={
        "Content-Length": str(size), "X-Shipyard-SHA256": sha,
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": IMAGE_CSP,
        "Cache-Control": "private, max-age=3600",
        "Content-Disposition": f'inline; filename="{sha[:16]}.{ext}"'})
