"""One serving instance: load the bundle, warm it, serve it under uvicorn until SIGTERM.

``python -m shipyard.serving BUNDLE_DIR --host 127.0.0.1 --port N`` runs it; the
endpoint supervisor (control plane) starts one such process per instance. On
SIGTERM uvicorn stops accepting, finishes the requests in flight, then the app's
shutdown writes the pending capture.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from shipyard.bundle import load_bundle
from shipyard.runtime._failure import SERVING_FAILURE_MARK, error_line, exception_line
from shipyard.serving._app import DEFAULT_MAX_BODY_BYTES, AppConfig, ServingApp
from shipyard.serving._capture import CaptureWriter, capture_schema
from shipyard.serving._predictor import Predictor

log = logging.getLogger("shipyard.serving")


@dataclass(frozen=True)
class ServingOptions:
    """Everything one instance needs (the command line's flags, as data)."""

    bundle: Path
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    capture_dir: Path | None = None
    capture_percent: float = 0.0
    capture_flush_seconds: float = 1.0
    variant: str | None = None
    model_group: str | None = None
    model_version: str | None = None
    instance: str = ""
    fast_path: bool = True
    graceful_seconds: float = 30.0
    #: allow | warn | refuse: a category the model never saw in training.
    unseen_categories: str = "warn"


def build_app(options: ServingOptions) -> ServingApp:
    """Load and warm the bundle, and wire the ASGI app (with capture when asked)."""
    pipeline = load_bundle(options.bundle)  # SHA-256 checked, never unpickles
    predictor = Predictor(pipeline, fast=options.fast_path, unseen=options.unseen_categories)
    predictor.warm_up()
    instance = options.instance or f"{os.getpid()}-{secrets.token_hex(3)}"
    capture = None
    if options.capture_dir is not None and options.capture_percent > 0:
        names = [e["name"] for e in pipeline.input_signature]
        schema = capture_schema(pipeline.input_signature, predictor.task, predictor.classes)
        capture = CaptureWriter(options.capture_dir, options.capture_percent, schema=schema,
                                inputs=names, instance=instance, variant=options.variant,
                                flush_seconds=options.capture_flush_seconds)
    model = {"group": options.model_group, "version": options.model_version,
             "variant": options.variant}
    config = AppConfig(max_body_bytes=options.max_body_bytes, model=model, instance=instance)
    return ServingApp(predictor, config, capture)


def serve(options: ServingOptions) -> None:
    """Run one instance in the foreground until SIGTERM/SIGINT."""
    import uvicorn

    app = build_app(options)
    config = uvicorn.Config(app, host=options.host, port=options.port, http="httptools",
                            loop="auto", lifespan="on", access_log=False, log_level="warning",
                            timeout_graceful_shutdown=int(options.graceful_seconds))
    log.warning("serving %s on http://%s:%d (fast path: %s)", options.bundle, options.host,
                options.port, app.predictor.fast_reason)
    uvicorn.Server(config).run()


def parse_args(argv: list[str] | None = None) -> ServingOptions:
    parser = argparse.ArgumentParser(prog="python -m shipyard.serving",
                                     description="Serve one model bundle over HTTP.")
    parser.add_argument("bundle", type=Path, help="the model bundle folder (holds MODEL.json)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument("--capture-dir", type=Path, default=None)
    parser.add_argument("--capture-percent", type=float, default=0.0)
    parser.add_argument("--capture-flush-seconds", type=float, default=1.0,
                        help="write captured rows at least this often")
    parser.add_argument("--variant", default=None)
    parser.add_argument("--model-group", default=None)
    parser.add_argument("--model-version", default=None)
    parser.add_argument("--instance", default="", help="instance name in capture file names")
    parser.add_argument("--no-fast-path", dest="fast_path", action="store_false",
                        help="serve through the general pipeline only")
    parser.add_argument("--unseen-categories", choices=("allow", "warn", "refuse"),
                        default="warn", help="a category the model never saw in training: "
                        "answer (allow), answer and say so (warn), or refuse with 422")
    args = parser.parse_args(argv)
    if not 0 <= args.capture_percent <= 100:
        parser.error("--capture-percent must be between 0 and 100")
    if args.capture_percent > 0 and args.capture_dir is None:
        parser.error("--capture-percent needs --capture-dir")
    return ServingOptions(bundle=args.bundle, host=args.host, port=args.port,
                          max_body_bytes=args.max_body_bytes, capture_dir=args.capture_dir,
                          capture_percent=args.capture_percent,
                          capture_flush_seconds=args.capture_flush_seconds, variant=args.variant,
                          model_group=args.model_group, model_version=args.model_version,
                          instance=args.instance, fast_path=args.fast_path,
                          unseen_categories=args.unseen_categories)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = parse_args(argv)
    try:
        serve(options)
    except Exception as exc:  # noqa: BLE001 - one clear sentence, non-zero exit
        log.error("could not serve %s: %s", options.bundle, exc)
        # One line the control plane reads into the endpoint's reason: the cause, no stack.
        print(f"{SERVING_FAILURE_MARK}{exception_sentence(exc)}", file=sys.stderr, flush=True)
        return 1
    return 0


def exception_sentence(exc: BaseException) -> str:
    """The cause of a failure to serve: a Shipyard error's message, else ``Type: cause``."""
    from shipyard.errors import ShipyardError

    if isinstance(exc, ShipyardError):
        return error_line(exc.message)
    return exception_line(exc)
