"""Where webhooks may be sent: only to the outside world.

A webhook URL is an admin's input, and the worker posts from inside the service's network:
without a check, ``http://127.0.0.1:5432/``, ``http://[::1]/``, ``http://2130706433/`` or a
name that resolves to ``10.0.0.5`` would let the service reach what only it should. Every
address a URL's host resolves to must be public: not loopback, private, link-local,
multicast, unspecified or reserved (IPv4-mapped IPv6 addresses are judged as the IPv4 they
carry). The resolver does the parsing, so the legacy forms the operating system accepts
(``0177.0.0.1``, ``127.1``, ``0x7f.1``) are judged as the address they mean.

The operator may allow given hosts (``KOPDES_WEBHOOK_ALLOWED_HOSTS``): the demo's and the
tests' receivers on loopback, or a partner's receiver inside a private network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def internal_kind(address: str) -> str | None:
    """Why an IP address is not on the public internet, or None when it is."""
    ip: Address = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("not public", not ip.is_global),
    ):
        if flag:
            return kind
    return None


class InternalAddress(ValueError):
    """The URL's host is, or resolves to, an address inside a network."""


# getaddrinfo's entries: (family, type, proto, canonname, sockaddr); sockaddr[0] the address.
AddressInfo = tuple[object, object, object, object, tuple[object, ...]]


def _addresses(infos: Iterable[AddressInfo]) -> list[str]:
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_addresses(host: str, addresses: list[str]) -> None:
    for address in addresses:
        kind = internal_kind(address)
        if kind is not None:
            raise InternalAddress(
                f"host {host!r} menunjuk ke alamat internal {address} ({kind}); "
                "webhook hanya boleh ke alamat publik"
            )


def is_allowed(host: str, allowed_hosts: Collection[str]) -> bool:
    return host.lower().rstrip(".") in {h.lower().rstrip(".") for h in allowed_hosts}


def check_url(url: str, allowed_hosts: Collection[str]) -> None:
    """At registration: refuse a URL whose host resolves to an internal address.

    A name that does not resolve (yet) is accepted; the worker checks again at delivery.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if is_allowed(host, allowed_hosts):
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return
    check_addresses(host, _addresses(infos))


@dataclass(frozen=True)
class Target:
    """The request to send: to the checked address itself, so that DNS cannot answer
    differently between the check and the connection."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]


async def resolve_target(url: str, allowed_hosts: Collection[str]) -> Target:
    """At delivery: the pinned request, or InternalAddress / OSError (cannot resolve)."""
    parsed = httpx.URL(url)
    host = parsed.host
    if is_allowed(host, allowed_hosts):
        return Target(parsed, {}, {})
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    addresses = _addresses(infos)
    check_addresses(host, addresses)
    extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
    return Target(
        parsed.copy_with(host=addresses[0]), {"Host": parsed.netloc.decode("ascii")}, extensions
    )
