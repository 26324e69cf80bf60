"""The stable invocation URL: pick a healthy instance, forward the request, account for it.

One function serves both ways in: the auth middleware's fast path (which skips
FastAPI's routing and dependency threads, since this is on the hot path of every
prediction) and the documented FastAPI route. The control plane never parses the
rows: the body and its content type go to the instance byte for byte, and the
instance's answer (prediction, or its 4xx naming the field) comes back as is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from shipyard.endpoints._forward import Answer, Forwarder, ForwardError
from shipyard.endpoints._supervisor import IN_SERVICE, UPDATING, EndpointSupervisor, Instance
from shipyard.errors import NotFound, ServerUnavailable
from shipyard.store import EndpointRecord

#: Answer headers of an instance that are not passed on (hop by hop, or set again).
DROP_HEADERS = frozenset({b"content-length", b"transfer-encoding", b"connection",
                          b"keep-alive", b"date", b"server"})
#: Instances tried for one request before it fails with 503.
ATTEMPTS = 3

#: Shadow copies in flight (a reference keeps each task alive until it ends).
_shadow_tasks: set[asyncio.Task[None]] = set()

FindRecord = Callable[[str], Awaitable[EndpointRecord | None]]


async def invoke(sup: EndpointSupervisor, forwarder: Forwarder, find: FindRecord, name: str,
                 body: bytes, content_type: bytes, query: bytes = b"") -> Answer:
    """Forward one invocation of endpoint ``name``; the answer carries variant and instance.

    ``query`` is the request's query string: only ``explain`` reaches the instance
    (``?explain=true``: each row's SHAP values too); shadow variants get the plain request.

    Raises:
        NotFound: there is no such endpoint.
        ServerUnavailable: it exists but has no healthy instance (status and reason said).
    """
    headers = [(b"content-type", content_type)]
    path = forwarded_path(query)
    for shadow in sup.pick_shadows(name):
        task = asyncio.create_task(_shadow(sup, forwarder, shadow, body, headers))
        _shadow_tasks.add(task)
        task.add_done_callback(_shadow_tasks.discard)
    for _ in range(ATTEMPTS):
        inst = sup.pick(name)
        if inst is None:
            break
        t0 = time.perf_counter()
        try:
            answer = await forwarder.post(inst.port, path, body, headers)
        except ForwardError:
            sup.release(inst, None, time.perf_counter() - t0)
            sup.mark_unhealthy(inst)
            forwarder.forget(inst.port)
            continue
        except BaseException:
            sup.release(inst, None, time.perf_counter() - t0)
            raise
        sup.release(inst, answer.status, time.perf_counter() - t0)
        out = [(k, v) for k, v in answer.headers if k not in DROP_HEADERS]
        out.append((b"x-shipyard-variant", inst.variant.encode()))
        out.append((b"x-shipyard-instance", inst.name.encode()))
        return Answer(answer.status, out, answer.body)
    status = sup.status(name)
    if status is None or status not in (IN_SERVICE, UPDATING):
        rec = await find(name)
        if rec is None:
            raise NotFound(f"No endpoint named {name!r}; `shipyard endpoints list` shows them.")
        raise ServerUnavailable(unavailable(name, rec.status, rec.reason))
    raise ServerUnavailable(unavailable(name, status, None))


def forwarded_path(query: bytes) -> str:
    """The instance's path for a request with ``query``: the ``explain`` parameter only
    (URL-quoted again, so nothing else of the caller's query reaches the instance)."""
    if not query or b"explain" not in query:
        return "/invocations"
    from urllib.parse import parse_qsl, urlencode

    kept = [(k, v) for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            if k == "explain"]
    return f"/invocations?{urlencode(kept)}" if kept else "/invocations"


def unavailable(name: str, status: str, reason: str | None) -> str:
    """Why endpoint ``name`` cannot take invocations now, in one sentence."""
    if status == IN_SERVICE:
        return (f"Endpoint {name!r} has no healthy instance right now; it is being restarted, "
                "retry in a few seconds.")
    why = f" ({' '.join(reason.split()).rstrip('.')})" if reason else ""
    return f"Endpoint {name!r} is {status}{why}, so it cannot take invocations yet."


async def _shadow(sup: EndpointSupervisor, forwarder: Forwarder, inst: Instance,
                  body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """Send a shadow variant its copy; only its status and latency are recorded."""
    t0 = time.perf_counter()
    code: int | None = None
    try:
        code = (await forwarder.post(inst.port, "/invocations", body, headers)).status
    except ForwardError:
        sup.mark_unhealthy(inst)
        forwarder.forget(inst.port)
    finally:
        sup.release(inst, code, time.perf_counter() - t0)
