"""Webhook SSRF checks: a corpus of bad URLs is refused; deliveries go where they were checked."""

from __future__ import annotations

import ipaddress
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shipyard.errors import InvalidRequest, WebhookRefused
from shipyard.monitoring import blocked_reason, check_webhook_url, post_webhook

PUBLIC = "93.184.215.14"


def public(host: str, port: int) -> list[str]:
    """A resolver that answers every name with one public address (no network needed)."""
    return [PUBLIC]


BAD_URLS = [
    # loopback, every spelling
    "http://127.0.0.1/hook", "http://127.1/hook", "http://2130706433/hook",
    "http://0x7f000001/hook", "http://0177.0.0.1/hook", "http://0x7f.0.0.1/hook",
    "http://017700000001/hook", "http://127.0.0.1.:8080/hook", "http://[::1]/hook",
    "http://\uff11\uff12\uff17.0.0.1/hook", "http://\uff10\uff58\uff17\uff46.1/hook",
    "http://[0:0:0:0:0:0:0:1]/hook", "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:7f00:1]/hook", "http://localhost/hook", "http://LOCALHOST:9000/x",
    # link-local and cloud metadata
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook",
    "http://[fe80::1%25eth0]/hook", "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/", "http://[2002:a9fe:a9fe::]/",
    # private, shared and unique-local
    "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/", "http://100.64.0.1/",
    "http://[fc00::1]/", "http://[fd12:3456:789a::1]/", "http://[fec0::1]/",
    "http://[64:ff9b:1::a00:1]/", "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",
    # unspecified, multicast, reserved, documentation, broadcast
    "http://0.0.0.0/", "http://0/", "http://[::]/", "http://224.0.0.1/", "http://[ff02::1]/",
    "http://240.0.0.1/", "http://192.0.2.10/", "http://255.255.255.255/", "http://198.18.0.1/",
    # credentials before the host
    "http://evil@127.0.0.1/", "http://user:pass@hooks.example.com/x",
    "http://hooks.example.com@127.0.0.1/", "http://127.0.0.1#@hooks.example.com/",
    # not http(s), or not a URL
    "file:///etc/passwd", "gopher://127.0.0.1:25/", "ftp://hooks.example.com/",
    "javascript:alert(1)", "dict://127.0.0.1:11211/", "//hooks.example.com/x", "hooks.example.com",
    "http:///path-only", "http://hooks.example.com:99999/", "http://exa mple.com/",
    "http://hooks.example.com\\@127.0.0.1/", "http://bad_host!.com/", "",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(WebhookRefused) as info:
        check_webhook_url(url, resolver=_real_for_localhost)
    assert info.value.code == "webhook_refused" and isinstance(info.value, InvalidRequest)
    assert info.value.message.endswith(".")


def _real_for_localhost(host: str, port: int) -> list[str]:
    """The system resolver for localhost (it never leaves the machine), a public IP otherwise."""
    if host == "localhost":
        import socket

        return [str(i[4][0]) for i in socket.getaddrinfo(host, port)]
    return [PUBLIC]


def test_public_urls_pass_and_record_their_addresses() -> None:
    checked = check_webhook_url("https://Hooks.Example.com/services/T0/B0?x=1", resolver=public)
    assert checked.host == "hooks.example.com" and checked.port == 443
    assert checked.addresses == (PUBLIC,)
    assert check_webhook_url("http://8.8.8.8:8080/x").addresses == ("8.8.8.8",)
    assert check_webhook_url("http://[2606:4700::1111]/").addresses == ("2606:4700::1111",)


def test_one_private_record_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(WebhookRefused, match=r"rebind.example \(10.1.2.3\) is a private"):
        check_webhook_url("https://rebind.example/", resolver=lambda h, p: [PUBLIC, "10.1.2.3"])


def test_unresolvable_hosts_are_refused() -> None:
    with pytest.raises(WebhookRefused, match="does not resolve"):
        check_webhook_url("https://no-such-host.invalid/")


def test_admin_settings_allow_private_targets_but_never_unspecified() -> None:
    assert check_webhook_url("http://10.0.0.5/x", allow_private=True).addresses == ("10.0.0.5",)
    assert check_webhook_url("http://10.0.0.5/x", allowed_networks=["10.0.0.0/8"])
    with pytest.raises(WebhookRefused, match="private"):
        check_webhook_url("http://192.168.0.5/x", allowed_networks=["10.0.0.0/8"])
    with pytest.raises(WebhookRefused, match="unspecified"):
        check_webhook_url("http://0.0.0.0/x", allow_private=True)
    with pytest.raises(WebhookRefused, match="not a CIDR network"):
        check_webhook_url("http://10.0.0.5/x", allowed_networks=["tenish"])


@pytest.mark.parametrize(("address", "reason"), [
    ("8.8.8.8", None), ("2606:4700::1111", None), ("127.0.0.1", "loopback"),
    ("169.254.169.254", "link-local"), ("::ffff:10.0.0.1", "private (inside IPv6)"),
    ("64:ff9b::808:808", None), ("2002:0808:0808::", None), ("100.64.1.1", "non-global"),
])
def test_blocked_reason(address: str, reason: str | None) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


class _Hook(BaseHTTPRequestHandler):
    """Records what it receives; /redirect?to=URL&code=N redirects there, /loop to itself."""

    received: list[dict[str, Any]]

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.received.append({  # type: ignore[attr-defined]
            "method": self.command, "path": self.path, "host": self.headers["host"],
            "body": body})
        if self.path == "/loop":
            self.send_response(307)
            self.send_header("location", "/loop")
            self.send_header("content-length", "0")
            self.end_headers()
            return
        if self.path.startswith("/redirect"):
            query = dict(p.split("=", 1) for p in self.path.split("?", 1)[1].split("&"))
            self.send_response(int(query.get("code", "302")))
            self.send_header("location", query["to"])
            self.send_header("content-length", "0")
            self.end_headers()
            return
        self.send_response(204 if self.path == "/hook" else 500)
        self.send_header("content-length", "0")
        self.end_headers()

    do_POST = do_GET = _handle

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hook() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def base(hook: ThreadingHTTPServer) -> str:
    hook.received.clear()  # type: ignore[attr-defined]
    return f"http://127.0.0.1:{hook.server_port}"


def test_delivery_to_a_real_local_server_when_allowed(hook, base: str) -> None:
    payload = {"alerts": [{"kind": "drift", "column": "month"}]}
    delivery = post_webhook(f"{base}/hook", payload, allow_private=True)
    assert delivery.ok and delivery.status_code == 204 and delivery.redirects == ()
    got = hook.received[-1]
    assert got["method"] == "POST" and json.loads(got["body"]) == payload
    failed = post_webhook(f"{base}/broken", payload, allow_private=True)
    assert not failed.ok and failed.status_code == 500


def test_the_same_server_is_refused_without_the_setting(hook, base: str) -> None:
    with pytest.raises(WebhookRefused, match="loopback"):
        post_webhook(f"{base}/hook", {})
    assert hook.received == []


def test_redirect_to_loopback_is_refused_before_it_is_requested(hook, base: str) -> None:
    port = hook.server_port
    for target in (f"http://127.0.0.2:{port}/hook", "http://169.254.169.254/latest/meta-data/",
                   f"http://[::1]:{port}/hook", f"http://10.0.0.1:{port}/hook"):
        with pytest.raises(WebhookRefused):
            post_webhook(f"{base}/redirect?to={target}", {},
                         allowed_networks=["127.0.0.1/32"], resolver=_real_for_localhost)
    assert [r["path"].split("?")[0] for r in hook.received] == ["/redirect"] * 4


def test_allowed_redirects_are_followed_and_rechecked(hook, base: str) -> None:
    delivery = post_webhook(f"{base}/redirect?to=/hook&code=307", {"a": 1},
                            allowed_networks=["127.0.0.1/32"])
    assert delivery.ok and delivery.redirects == (f"{base}/hook",)
    assert [r["method"] for r in hook.received] == ["POST", "POST"]
    assert json.loads(hook.received[-1]["body"]) == {"a": 1}  # 307 keeps the body
    hook.received.clear()
    post_webhook(f"{base}/redirect?to=/hook&code=303", {"a": 1}, allow_private=True)
    assert [r["method"] for r in hook.received] == ["POST", "GET"]


def test_redirect_loops_stop(hook, base: str) -> None:
    delivery = post_webhook(f"{base}/loop", {}, allow_private=True, max_redirects=3)
    assert not delivery.ok and delivery.error == "more than 3 redirects"
    assert len(hook.received) == 4


def test_the_checked_address_is_the_one_connected_to(hook, base: str) -> None:
    # "hook.test" exists nowhere: the delivery can only arrive because the request goes
    # to the address the check resolved, with the name kept in the Host header.
    port = hook.server_port
    delivery = post_webhook(f"http://hook.test:{port}/hook", {"x": 1},
                            allowed_networks=["127.0.0.1/32"], resolver=lambda h, p: ["127.0.0.1"])
    assert delivery.ok
    assert hook.received[-1]["host"] == f"hook.test:{port}"


def test_transport_failures_are_reported_not_raised() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    delivery = post_webhook(f"http://127.0.0.1:{port}/hook", {}, allow_private=True, timeout=2)
    assert not delivery.ok and delivery.status_code is None and "ConnectError" in delivery.error


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_goes_to_the_checked_address_and_verifies_the_name(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, "hook.test")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received = []  # type: ignore[attr-defined]
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_port
        trust = ssl.create_default_context(cafile=str(cert))
        settings = {"allowed_networks": ["127.0.0.1/32"], "resolver": lambda h, p: ["127.0.0.1"],
                    "verify": trust}
        delivery = post_webhook(f"https://hook.test:{port}/hook", {"ok": 1}, **settings)
        assert delivery.ok and server.received[-1]["host"] == f"hook.test:{port}"
        # The same server under another name: its certificate does not match, so no delivery.
        other = post_webhook(f"https://other.test:{port}/hook", {"ok": 1}, **settings)
        assert not other.ok and "certificate" in other.error.lower()
    finally:
        server.shutdown()
        server.server_close()
