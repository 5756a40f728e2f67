"""Which network addresses the tracker may connect to: public ones only, by default.

A feed is untrusted input: its entries' links (fetched for ``full_text``
feeds) and its redirects could point the tracker at the machine it runs on
or the network around it (``http://127.0.0.1:…``, a cloud metadata service
at ``169.254.169.254``, a router), and what it fetched would be published.
So every connection -- feeds, linked pages, every redirect hop -- goes to an
address checked here, after the host name was resolved, and the connection is
made to that very address (no second lookup an attacker's DNS could answer
differently). ``[fetch] allow_private_addresses = true`` lifts the rule for
people who follow feeds on their own network; ``allowed_networks`` lifts it
for some networks only (e.g. ``["10.20.0.0/16"]``).

Refused: loopback, private (RFC 1918, unique local), link-local, shared
(100.64/10), multicast, reserved, unspecified and documentation ranges --
IPv4 and IPv6 -- including IPv4 addresses embedded in IPv6 (IPv4-mapped,
IPv4-compatible, 6to4, Teredo, NAT64).
"""

from __future__ import annotations

import ipaddress

from tracker.errors import InvalidURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges Python's is_global lets through but no feed lives on.
_EXTRA_BLOCKED = [ipaddress.ip_network(n) for n in (
    "192.0.0.0/24",  # IETF protocol assignments
)]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class BlockedAddress(InvalidURL):
    """A URL or host that resolves to an address the tracker may not connect to."""


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (and would reach through a gateway)."""
    found = []
    if ip.ipv4_mapped:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour:
        found.append(ip.sixtofour)
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _NAT64 or ip in _NAT64_LOCAL or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def why_not_public(ip: IPAddress) -> str | None:
    """None for a public unicast address, else what kind of address it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in embedded_ipv4(ip):
            reason = why_not_public(inner)
            if reason:
                return f"{reason} ({inner}) inside an IPv6 address"
    for kind in ("loopback", "unspecified", "link_local", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            return f"{kind.replace('_', '-')} address"
    if any(ip in network for network in _EXTRA_BLOCKED if network.version == ip.version):
        return "reserved address"
    if not ip.is_global:
        return "non-public address"
    return None


Networks = tuple  # of ipaddress.IPv4Network / IPv6Network


def parse_networks(values) -> Networks:
    """``["10.0.0.0/8", "fd00::/8"]`` -> networks; raises ValueError for a bad one."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def check_address(ip: IPAddress | str, host: str, allow_private: bool,
                  allowed: Networks = ()) -> None:
    """Raise :class:`BlockedAddress` unless ``ip`` (what ``host`` resolved to) may be used:
    a public address, any address with ``allow_private``, or one inside ``allowed``."""
    if allow_private:
        return
    if isinstance(ip, str):
        ip = ipaddress.ip_address(ip.split("%")[0])
    if any(ip.version == net.version and ip in net for net in allowed):
        return
    reason = why_not_public(ip)
    if reason:
        shown = host if host == str(ip) else f"{host} ({ip})"
        raise BlockedAddress(
            f"refused to connect to {shown}: {reason}; only public addresses are fetched "
            "unless [fetch] allow_private_addresses = true"
        )


def literal_address(host: str) -> IPAddress | None:
    """The address if ``host`` is an IP literal (``[::1]`` brackets allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None
