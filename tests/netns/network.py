"""Test networks made of Linux network namespaces, veth pairs and nftables.

The topology of these tests (all addresses are documentation ranges, and no namespace has a
route anywhere else, so nothing leaves the namespaces the test made):

    cli 192.168.7.2 ── 192.168.7.1 cgn 198.51.100.2 ── 198.51.100.1 inet 10.10.0.1 ── 10.10.0.2 srv
    (officers' phones)   (carrier NAT: masquerade)       (the internet)  (1:1 NAT)      (Siaga)
                                                          192.0.2.1
                                                             │
                                                          192.0.2.50 turn (coturn)

* ``inet`` forwards between every link. It is also the cloud provider's 1:1 NAT: the
  server's public address 203.0.113.10 is forwarded to 10.10.0.2, and what the server sends
  leaves from 203.0.113.10; nothing reaches 10.10.0.0/24 but through that NAT.
* ``cgn`` is the carrier's NAT: the officers' addresses leave masqueraded as 198.51.100.2.
  :meth:`Internet.block_client_udp` makes it drop the officers' UDP (all of it, or all
  but what goes to the TURN server).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

SERVER_PRIVATE = "10.10.0.2"
SERVER_PUBLIC = "203.0.113.10"
CARRIER_PUBLIC = "198.51.100.2"
CLIENT = "192.168.7.2"
TURN = "192.0.2.50"

CLONE_NEWNET = 0x40000000


def run(*command: str, stdin: str | None = None) -> str:
    """Run a command to completion; its stderr in the error if it fails."""
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def in_netns(name: str, call: Callable[[], T]) -> T:
    """``call()`` in a new thread that has entered network namespace ``name``: the sockets
    it opens live there (the thread ends with the call, so no other work runs there)."""
    libc = ctypes.CDLL(None, use_errno=True)
    result: list[T] = []
    errors: list[BaseException] = []

    def enter_and_call() -> None:
        fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {name}")
        finally:
            os.close(fd)
        try:
            result.append(call())
        except BaseException as exc:  # handed to the caller
            errors.append(exc)

    thread = threading.Thread(target=enter_and_call, name=f"netns-{name}")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


@dataclass
class Internet:
    """The namespaces above, named ``<prefix>-<role>``; :meth:`close` removes them all."""

    prefix: str
    made: list[str] = field(default_factory=list)

    def ns(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def exec(self, role: str, *command: str) -> list[str]:
        """``command`` run inside the namespace of ``role`` (for subprocesses)."""
        return ["ip", "netns", "exec", self.ns(role), *command]

    def _add(self, role: str) -> None:
        run("ip", "netns", "add", self.ns(role))
        self.made.append(self.ns(role))
        run("ip", "-n", self.ns(role), "link", "set", "lo", "up")

    def _link(self, a: str, a_address: str, b: str, b_address: str) -> None:
        """A veth pair between two namespaces, each end named after the other."""
        run("ip", "link", "add", b, "netns", self.ns(a), "type", "veth",
            "peer", "name", a, "netns", self.ns(b))
        for here, there, address in ((a, b, a_address), (b, a, b_address)):
            run("ip", "-n", self.ns(here), "addr", "add", address, "dev", there)
            run("ip", "-n", self.ns(here), "link", "set", there, "up")

    def _route(self, role: str, *route: str) -> None:
        run("ip", "-n", self.ns(role), "route", "add", *route)

    def _nft(self, role: str, rules: str) -> None:
        run("ip", "netns", "exec", self.ns(role), "nft", "-f", "-", stdin=rules)

    def build(self) -> None:
        for role in ("inet", "srv", "cgn", "cli", "turn"):
            self._add(role)
        self._link("inet", "10.10.0.1/24", "srv", f"{SERVER_PRIVATE}/24")
        self._link("inet", "198.51.100.1/24", "cgn", f"{CARRIER_PUBLIC}/24")
        self._link("inet", "192.0.2.1/24", "turn", f"{TURN}/24")
        self._link("cgn", "192.168.7.1/24", "cli", f"{CLIENT}/24")
        self._route("srv", "default", "via", "10.10.0.1")
        self._route("turn", "default", "via", "192.0.2.1")
        self._route("cgn", "default", "via", "198.51.100.1")
        self._route("cli", "default", "via", "192.168.7.1")
        for router in ("inet", "cgn"):
            run("ip", "netns", "exec", self.ns(router), "sysctl", "-qw",
                "net.ipv4.ip_forward=1")
        self._nft("inet", f"""
table ip cloud {{
  chain prerouting {{ type nat hook prerouting priority dstnat;
    ip daddr {SERVER_PUBLIC} dnat to {SERVER_PRIVATE}
  }}
  chain postrouting {{ type nat hook postrouting priority srcnat;
    ip saddr {SERVER_PRIVATE} snat to {SERVER_PUBLIC}
  }}
  chain forward {{ type filter hook forward priority filter;
    oifname "srv" ct status dnat accept
    oifname "srv" ct state established,related accept
    oifname "srv" drop
  }}
}}""")
        self._nft("cgn", """
table ip carrier {
  chain postrouting { type nat hook postrouting priority srcnat;
    oifname "inet" masquerade
  }
  chain forward { type filter hook forward priority filter;
  }
}""")

    def block_client_udp(self, *, except_to: str | None = None) -> None:
        """The carrier drops the officers' UDP, except to ``except_to`` if given."""
        rules = []
        if except_to is not None:
            rules.append(f'add rule ip carrier forward iifname "cli" ip daddr {except_to} accept')
        rules.append('add rule ip carrier forward iifname "cli" meta l4proto udp drop')
        self._nft("cgn", "\n".join(rules) + "\n")

    def unblock_client_udp(self) -> None:
        """The carrier forwards the officers' UDP again (undoes :meth:`block_client_udp`)."""
        self._nft("cgn", "flush chain ip carrier forward\n")

    def close(self) -> None:
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        self.made.clear()
