"""
Refuse a firewall that would keep out the SSH clients connected right now.

``sparks_firewall.ssh_kept`` runs before the ruleset is written (the formula's file state requires it) and fails,
changing nothing, when:

- sshd does not listen on the port the ruleset opens for SSH (``sparks:firewall:ssh:port``): nobody would get in;
- a client connected to sshd now (every established connection to its port, and this run's own session from
  ``SSH_CONNECTION``) is not in ``sparks:firewall:ssh:sources`` while SSH is not public: that admin could not
  reconnect.

Connections are read from ``/proc/net/tcp`` and ``/proc/net/tcp6`` (no ``ss`` needed); sshd's ports from
``sshd -T``. The ruleset itself accepts established connections first, so even a session left out would live on;
this check keeps the *next* login possible.
"""

import ipaddress
import os
import socket
import struct

__virtualname__ = "sparks_firewall"

ESTABLISHED = "01"


def __virtual__():
    return __virtualname__


def _address(hex_address):
    """An address from /proc/net/tcp{,6} notation (host-order 32-bit words in hex), IPv4-mapped made IPv4."""
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ipaddress.ip_address(socket.inet_ntop(socket.AF_INET, struct.pack("<I", struct.unpack(">I", raw)[0])))
    words = struct.unpack(">4I", raw)
    packed = struct.pack("<4I", *words)
    address = ipaddress.ip_address(socket.inet_ntop(socket.AF_INET6, packed))
    return address.ipv4_mapped or address


def established_peers(ports, proc_files=("/proc/net/tcp", "/proc/net/tcp6")):
    """Remote addresses of the established TCP connections to any local port in ``ports``."""
    peers = set()
    for path in proc_files:
        try:
            with open(path, encoding="ascii") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != ESTABLISHED:
                continue
            local_port = fields[1].split(":")[1]
            remote_address, _ = fields[2].split(":")
            if int(local_port, 16) in ports:
                peers.add(_address(remote_address))
    return peers


def sshd_ports():
    """The ports sshd listens on, from its effective configuration."""
    ret = __salt__["cmd.run_all"](["/usr/sbin/sshd", "-T"], python_shell=False, ignore_retcode=True)
    if ret["retcode"] != 0:
        return None, ret["stderr"].strip()
    ports = {int(line.split()[1]) for line in ret["stdout"].splitlines() if line.startswith("port ")}
    return ports, ""


def left_out(peers, sources, public):
    """The peers that rules with these ``sources`` (or ``public``) would not let in."""
    if public:
        return []
    networks = [ipaddress.ip_network(source, strict=False) for source in sources]
    return sorted(
        (str(peer) for peer in peers if not any(peer.version == net.version and peer in net for net in networks)),
        key=str,
    )


def ssh_kept(name, port=22, sources=(), public=True):
    """Succeed when sshd listens on ``port`` and the new SSH rule lets every connected SSH client in (see above)."""
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    listening, error = sshd_ports()
    if listening is None:
        ret.update(result=False, comment=f"Refused: cannot read sshd's configuration (sshd -T): {error}")
        return ret
    if int(port) not in listening:
        ret.update(
            result=False,
            comment=(
                f"Refused: the firewall would open SSH on port {port} (sparks:firewall:ssh:port) but sshd listens "
                f"on {', '.join(str(p) for p in sorted(listening))}. The ruleset in use is kept."
            ),
        )
        return ret
    peers = established_peers(listening)
    own = os.environ.get("SSH_CONNECTION", "").split()
    if own:
        peers.add(ipaddress.ip_address(own[0]))
    missing = left_out(peers, sources, public)
    if missing:
        ret.update(
            result=False,
            comment=(
                f"Refused: SSH clients connected now ({', '.join(missing)}) are not in sparks:firewall:ssh:sources "
                f"({', '.join(sources) or 'none'}) and SSH is not public: they could not log in again. "
                "The ruleset in use is kept."
            ),
        )
        return ret
    who = ", ".join(sorted(str(peer) for peer in peers)) or "none"
    ret["comment"] = f"sshd listens on {port}; the SSH clients connected now ({who}) stay allowed"
    return ret
