"""Alert webhooks that cannot be turned against the server's own network (SSRF).

:func:`check_webhook_url` refuses, with one sentence saying why: schemes other
than http(s); credentials in the URL (``http://evil@127.0.0.1``); hosts spelled as
bare or non-canonical numbers (``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
``127.1``), which parsers disagree on; and any host that resolves (every A and
AAAA record) to a loopback, link-local (``169.254.169.254`` included), private,
unique-local, site-local, shared, multicast, unspecified, reserved or otherwise
non-global address, looking through IPv4-mapped, NAT64, 6to4 and Teredo IPv6
forms to the IPv4 address inside. An admin setting may allow private targets
(``allow_private``) or a few networks (``allowed_networks``); unspecified and
multicast addresses are never allowed.

:func:`post_webhook` sends to the address that was checked, not to whatever a
second DNS lookup says (DNS rebinding): the request goes to the IP itself with
the original ``Host`` header and, for https, the original name as TLS SNI, so
the certificate is still verified against the name. Redirects are not followed
by httpx; each ``Location`` (at most ``max_redirects``) is checked the same way
before it is requested. Environment proxies are ignored, as a proxy would
connect on its own terms.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from shipyard.errors import WebhookRefused

if TYPE_CHECKING:
    import httpx

#: Resolves (host, port) to IP address strings; :func:`socket.getaddrinfo` by default.
Resolver = Callable[[str, int], Sequence[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2048
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$")
_HOST_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class CheckedURL:
    """A webhook URL that passed the checks, and the addresses its host resolved to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class WebhookDelivery:
    """The outcome of one delivery: status, final URL, redirects followed, or the error."""

    ok: bool
    status_code: int | None
    url: str
    redirects: tuple[str, ...] = ()
    error: str | None = None


def check_webhook_url(url: str, *, allow_private: bool = False,
                      allowed_networks: Iterable[str] = (),
                      resolver: Resolver | None = None) -> CheckedURL:
    """Check a webhook URL against SSRF and resolve its host (see the module docstring).

    Args:
        url: the URL to check.
        allow_private: allow loopback, link-local and private targets (an admin setting).
        allowed_networks: CIDR networks allowed even though they are not global.
        resolver: resolves (host, port) to addresses; the system resolver by default.

    Raises:
        WebhookRefused: the URL or one of its host's addresses is not allowed.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise WebhookRefused(f"A webhook URL must be text of 1 to {MAX_URL_LENGTH} characters.")
    if re.search(r"[\x00-\x20\x7f\\]", url):
        raise WebhookRefused("The webhook URL contains spaces, control characters or "
                             "backslashes; percent-encode them.")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise WebhookRefused(f"Webhook URLs must use http or https; got {scheme or 'none'!r}.")
    if "@" in parts.netloc:
        raise WebhookRefused("The webhook URL must not carry credentials before the host "
                             "(user@host); send them in a header instead.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise WebhookRefused(f"The webhook URL {url!r} has no host.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise WebhookRefused(f"The webhook URL {url!r} has an invalid port.") from None
    networks = _networks(allowed_networks)
    literal = _ip_literal(host)
    if literal is not None:
        addresses: Sequence[str] = [str(literal)]
    else:
        host = _hostname(host)
        addresses = _resolve(host, port, resolver)
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        reason = blocked_reason(ip)
        if reason is None:
            continue
        never = reason in ("unspecified", "multicast")
        if never or not (allow_private or any(ip in n for n in networks)):
            shown = host if literal is not None else f"{host} ({ip})"
            raise WebhookRefused(
                f"Webhook target {shown} is a {reason} address; only public addresses are "
                "allowed unless an admin allows private targets."
            )
    return CheckedURL(url=url, scheme=scheme, host=host, port=port,
                      addresses=tuple(str(a) for a in addresses))


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address (None when it is one)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = blocked_reason(inner)
            return f"{reason} (inside IPv6)" if reason else None
        if ip in _LOCAL_NAT64 or ip.is_site_local:
            return "private"
    checks = (
        ("unspecified", ip.is_unspecified), ("multicast", ip.is_multicast),
        ("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
        ("private", ip.is_private), ("reserved", ip.is_reserved),
        ("non-global", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def post_webhook(url: str, payload: Any, *, allow_private: bool = False,
                 allowed_networks: Iterable[str] = (), timeout: float = 10.0,
                 max_redirects: int = 3, headers: Mapping[str, str] | None = None,
                 resolver: Resolver | None = None, verify: ssl.SSLContext | bool = True
                 ) -> WebhookDelivery:
    """POST ``payload`` as JSON to a checked webhook, following redirects only after checking.

    A 307/308 redirect repeats the POST; 301/302/303 continue with a GET, as
    browsers and httpx do. Transport failures and too many redirects come back
    as a delivery with ``ok=False`` and ``error``; they are not raised, so a
    failed alert never fails the monitoring run. ``verify`` is an SSL context for a
    private certificate authority (the certificate is checked against the host name).

    Raises:
        WebhookRefused: the URL, or a redirect target, is not allowed.
    """
    import httpx  # on first delivery: importing the package stays light

    networks = tuple(allowed_networks)

    def check(target: str) -> CheckedURL:
        return check_webhook_url(target, allow_private=allow_private,
                                 allowed_networks=networks, resolver=resolver)

    target = check(url)
    method = "POST"
    body: bytes | None = json.dumps(payload, default=str).encode()
    hops: list[str] = []
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                      verify=verify) as client:
        while True:
            request = _pinned(client, method, target, body, headers)
            try:
                response = client.send(request, stream=True)
                response.close()
            except httpx.HTTPError as exc:
                return WebhookDelivery(False, None, target.url, tuple(hops),
                                       f"{type(exc).__name__}: {exc}")
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or not location:
                return WebhookDelivery(response.is_success, response.status_code, target.url,
                                       tuple(hops))
            if len(hops) >= max_redirects:
                return WebhookDelivery(False, response.status_code, target.url, tuple(hops),
                                       f"more than {max_redirects} redirects")
            target = check(urljoin(target.url, location))
            hops.append(target.url)
            if response.status_code in (301, 302, 303):
                method, body = "GET", None


def _pinned(client: httpx.Client, method: str, target: CheckedURL, body: bytes | None,
            headers: Mapping[str, str] | None) -> httpx.Request:
    """A request to the checked IP itself, with the original Host header and TLS name."""
    import httpx

    original = httpx.URL(target.url)
    default_port = {"http": 80, "https": 443}[target.scheme]
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port != default_port:
        host_header += f":{target.port}"
    pinned = original.copy_with(host=target.addresses[0].split("%", 1)[0], port=target.port)
    merged = {"content-type": "application/json", "user-agent": "shipyard-monitoring",
              **(headers or {}), "host": host_header}
    extensions = {}
    if target.scheme == "https" and _ip_literal(target.host) is None:
        extensions["sni_hostname"] = target.host
    return client.build_request(method, pinned, content=body, headers=merged,
                                extensions=extensions)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's (obfuscated-back) IPv4 address
    return None


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _hostname(host: str) -> str:
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise WebhookRefused(f"The webhook host {host!r} is not a valid host name.") from None
    # After IDNA too: fullwidth digits fold to ASCII ones.
    if _NUMERIC_HOST.match(host) or _NUMERIC_HOST.match(ascii_host):
        raise WebhookRefused(
            f"The webhook host {host!r} is a number but not a dotted-quad IP address; write "
            "the address in its usual form, or use a host name."
        )
    if not all(_HOST_LABEL.match(label) for label in ascii_host.split(".")):
        raise WebhookRefused(f"The webhook host {host!r} is not a valid host name.")
    return ascii_host


def _resolve(host: str, port: int, resolver: Resolver | None) -> list[str]:
    try:
        if resolver is not None:
            found = list(resolver(host, port))
        else:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found = [str(info[4][0]) for info in infos]
    except (OSError, UnicodeError) as exc:
        raise WebhookRefused(f"The webhook host {host!r} does not resolve ({exc}).") from None
    unique = list(dict.fromkeys(found))
    if not unique:
        raise WebhookRefused(f"The webhook host {host!r} does not resolve to any address.")
    for address in unique:
        if _ip_literal(address.split("%", 1)[0]) is None:
            raise WebhookRefused(f"The webhook host {host!r} resolved to {address!r}, which is "
                                 "not an IP address.")
    return unique


def _networks(allowed: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out = []
    for spec in allowed:
        try:
            out.append(ipaddress.ip_network(spec, strict=False))
        except ValueError:
            raise WebhookRefused(f"Allowed webhook network {spec!r} is not a CIDR network such "
                                 "as '10.0.0.0/8'.") from None
    return out
