"""The serving instance's ASGI app: ``POST /invocations``, ``GET /health`` and
``POST /capture/flush`` (write the captured rows now; a manual monitor run asks for it).

Plain ASGI (no framework on the hot path). The body's media type is checked before
a byte is read (415), its size before and while reading (413); client mistakes are
4xx JSON errors ``{"error": {"code", "message", "details"}}`` naming the field, an
unexpected failure a 500 with a log line — the process keeps serving.

Each answered row has an inference id: the caller's (an ``inference_id`` column, see
:mod:`shipyard.serving._codec`) or a UUIDv7 made here; the response, its
``x-inference-id`` header (one row) and the capture carry it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidRequest, PayloadTooLarge, ShipyardError
from shipyard.serving._capture import CaptureWriter, new_inference_id
from shipyard.serving._codec import encode_json, media_kind, parse_body
from shipyard.serving._explain import OnlineExplainer, wants_explanations
from shipyard.serving._predictor import Predictor

log = logging.getLogger("shipyard.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024
#: Requests with more rows than this are predicted off the event loop.
INLINE_ROWS = 64
#: How long a capture flush waits for the invocations already in flight to be recorded.
FLUSH_WAIT_SECONDS = 10.0
#: Unseen categories kept per column in the instance's counts (the rest are only counted).
UNSEEN_VALUES_KEPT = 20
_JSON = [(b"content-type", b"application/json")]


@dataclass
class UnseenCounts:
    """Categories the model never saw, as this instance met them since it started."""

    mode: str = "warn"
    rows: int = 0
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, request: dict[str, dict[str, int]], rows: int) -> None:
        self.rows += rows
        for column, values in request.items():
            entry = self.columns.setdefault(column, {"rows": 0, "values": {}})
            entry["rows"] += sum(values.values())
            kept = entry["values"]
            for value, n in values.items():
                if value in kept or len(kept) < UNSEEN_VALUES_KEPT:
                    kept[value] = kept.get(value, 0) + n

    def to_dict(self, checked: list[str]) -> dict[str, Any]:
        return {"mode": self.mode, "checked_columns": checked, "rows": self.rows,
                "columns": {c: {"rows": e["rows"], "values": dict(e["values"])}
                            for c, e in self.columns.items()}}


@dataclass
class AppConfig:
    """What an instance serves and how; ``model`` is echoed in every response."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    model: dict[str, Any] = field(default_factory=dict)
    instance: str = ""


class ServingApp:
    """ASGI callable for one serving instance."""

    def __init__(self, predictor: Predictor, config: AppConfig,
                 capture: CaptureWriter | None = None) -> None:
        self.predictor = predictor
        self.config = config
        self.capture = capture
        self.started = time.time()
        self._model = {k: v for k, v in config.model.items() if v is not None}
        self.unseen = UnseenCounts(mode=predictor.unseen_mode)
        #: Invocations being answered now (a capture flush waits for those it finds).
        self._active: set[int] = set()
        self._next = 0
        #: Built on the first ``?explain=true`` (plain invocations never touch it).
        self._explainer: OnlineExplainer | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.capture is not None:
                    self.capture.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.capture is not None:
                    await asyncio.to_thread(self.capture.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == "/invocations":
            if method != "POST":
                await _error(send, 405, "method_not_allowed", "Use POST for /invocations.")
                return
            await self._invoke(scope, receive, send)
        elif path in ("/health", "/ping"):
            if method not in ("GET", "HEAD"):
                await _error(send, 405, "method_not_allowed", f"Use GET for {path}.")
                return
            await _respond(send, 200, encode_json(self.health()))
        elif path == "/capture/flush":
            if method != "POST":
                await _error(send, 405, "method_not_allowed", "Use POST for /capture/flush.")
                return
            await _respond(send, 200, encode_json(await self.flush_capture()))
        else:
            await _error(send, 404, "not_found",
                         f"No route {path!r}; this endpoint serves POST /invocations and "
                         "GET /health.")

    async def flush_capture(self) -> dict[str, Any]:
        """Write the captured rows now, including those of the invocations in flight.

        A manual monitor run asks every instance for this, so its window holds everything
        answered before it asked (a scheduled run instead reads up to a few seconds ago).
        """
        if self.capture is None:
            return {"capture": False, "file": None}
        pending = set(self._active)
        deadline = time.monotonic() + FLUSH_WAIT_SECONDS
        while pending & self._active and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        written = await asyncio.to_thread(self.capture.flush)
        return {"capture": True, "file": written.name if written else None}

    def health(self) -> dict[str, Any]:
        p = self.predictor
        return {"status": "ok", "model": self._model, "instance": self.config.instance,
                "task": p.task, "classes": p.classes or None,
                "algorithm": p.pipeline.manifest.get("algorithm"),
                "framework": p.pipeline.manifest.get("framework"),
                "inputs": [{"name": e["name"], "semantic_type": e["semantic_type"],
                            "required": e.get("required", True)} for e in p.schema.signature],
                "fast_path": p.fast_reason,
                "capture_percent": self.capture.percent if self.capture else 0.0,
                "unseen_categories": self.unseen.to_dict(sorted(p.schema.seen)),
                "capture_rows_written": self.capture.rows_written if self.capture else 0,
                "capture_rows_skipped": self.capture.rows_skipped if self.capture else 0,
                "uptime_seconds": round(time.time() - self.started, 3)}

    async def _invoke(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = self._next
        self._next += 1
        self._active.add(token)
        try:
            await self._answer(scope, receive, send)
        finally:
            self._active.discard(token)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = length = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-length":
                length = value
        explanations = None
        try:
            kind = media_kind(content_type)  # before a byte of the body is read
            explain = wants_explanations(scope.get("query_string") or b"")
            if explain:
                if self._explainer is None:
                    self._explainer = OnlineExplainer(self.predictor.pipeline)
                self._explainer.check()
            body = await read_body(receive, length, self.config.max_body_bytes)
            table = parse_body(kind, body, self.predictor.image_reader)
            if len(table) <= INLINE_ROWS:
                prediction = self.predictor.predict(table)
            else:
                prediction = await asyncio.to_thread(self.predictor.predict, table)
            if explain and self._explainer is not None:
                if len(table) <= INLINE_ROWS:
                    explanations = self._explainer.explain(self.predictor, prediction.rows,
                                                           prediction.proba)
                else:
                    explanations = await asyncio.to_thread(
                        self._explainer.explain, self.predictor, prediction.rows,
                        prediction.proba)
        except ShipyardError as exc:
            status = exc.http_status
            if status >= 500:
                log.error("invocation failed: %s", exc.message)
            await _respond(send, status, encode_json(exc.to_dict()))
            return
        except Exception:  # noqa: BLE001 - the model's own failure: answer 500, keep serving
            log.exception("invocation failed")
            await _error(send, 500, "internal",
                         "The model failed on this request; see the endpoint's log.")
            return
        now = time.time()
        # The caller's own ids (an inference_id column) when it gave them, so ground truth
        # keyed by them joins; else ids made here.
        ids = list(table.ids) if table.ids is not None else [
            new_inference_id() for _ in prediction.predictions]
        doc: dict[str, Any] = {"inference_ids": ids, "predictions": prediction.predictions}
        if prediction.probabilities is not None:
            doc["probabilities"] = prediction.probabilities
            doc["labels"] = self.predictor.classes
        doc["model"] = self._model
        if explanations is not None:
            doc["explanations"] = explanations
        headers = [(b"x-inference-id", ids[0].encode())] if len(ids) == 1 else []
        if prediction.unseen is not None:
            counts = prediction.unseen_counts()
            rows = sum(1 for cols in prediction.unseen if cols)
            self.unseen.add(counts, rows)
            if self.unseen.mode == "warn":
                # Answered, and said so: {column: {category: rows}} and the rows in a header.
                doc["unseen_categories"] = counts
                headers.append((b"x-shipyard-unseen-categories", str(rows).encode()))
        await _respond(send, 200, encode_json(doc), headers)
        if self.capture is not None:
            self.capture.record(ids, now, prediction.rows, prediction.predictions,
                                prediction.proba, self.predictor.classes,
                                unseen=prediction.unseen)


async def read_body(receive: Receive, length: bytes | None, cap: int) -> bytes:
    """The request body, refused with 413 past ``cap`` bytes (declared or as it arrives).

    A disconnect before the last chunk raises instead of predicting half a body.
    """
    too_large = PayloadTooLarge(
        f"The body is larger than this endpoint's limit of {cap} bytes; send fewer rows "
        "per request.", limit=cap)
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            declared = 0
        if declared > cap:
            raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left (or was cut off) mid-body
            raise InvalidRequest("The client closed the connection before the body was "
                                 "complete; nothing was predicted.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes,
                   headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*_JSON, (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, status: int, code: str, message: str) -> None:
    await _respond(send, status, encode_json({"error": {"code": code, "message": message}}))
