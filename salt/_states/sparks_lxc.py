"""
LXC guests and lxc-net, idempotently, with the LXC tools themselves (Salt 3008 removed the core lxc state).

``sparks_lxc.present`` creates a guest from its template once, keeps the few settings sparks owns in its
config (bridge, autostart, memory limit), writes its static address, DNS server and root's authorized keys into
its root file system, installs what salt-ssh needs (python3, openssh-server) and starts it. Every step first
checks, so a second run changes nothing, and ``test=True`` reports exactly the steps a real run would take.

``sparks_lxc.net_running`` / ``net_dead`` bring lxc-net's bridge up or down (systemd's unit where systemd
runs, lxc-net's own script elsewhere); a ``watch`` restarts it.

.. code-block:: yaml

    lxc-guest-web1-present:
      sparks_lxc.present:
        - name: web1
        - release: bookworm
        - address: 10.213.77.11/24
        - gateway: 10.213.77.1
        - bridge: lxcbr0
        - autostart: true
        - memory_limit: 512M
        - authorized_keys: ["ssh-ed25519 AAAA... admin@example"]
"""

import ipaddress
import os
import time

import salt.utils.path

__virtualname__ = "sparks_lxc"

MANAGED_HEADER = "# Managed by sparks (formula lxc)."
LXC_NET_SCRIPT = "/usr/libexec/lxc/lxc-net"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
LXC_NET_UP_FLAG = "/run/lxc/network_up"
# A cold template cache means a debootstrap from the mirror: minutes, more on a loaded machine or a slow mirror.
CREATE_TIMEOUT = 1800
TAIL_LINES = 20


def __virtual__():
    # Always load: the same run usually installs lxc (a package state) before these states execute.
    return __virtualname__


# ------------------------------------------------------------------------------------------------ helpers
def _run(cmd, **kwargs):
    return __salt__["cmd.run_all"](cmd, python_shell=False, ignore_retcode=True, **kwargs)


def _systemd_booted():
    return os.path.isdir("/run/systemd/system")


def _lxcpath():
    # Before the lxc package is installed (a dry run of the first apply), LXC's default path.
    if not salt.utils.path.which("lxc-config"):
        return "/var/lib/lxc"
    result = _run(["lxc-config", "lxc.lxcpath"])
    return (result["stdout"].strip() if result["retcode"] == 0 else "") or "/var/lib/lxc"


def _config_path(name):
    return os.path.join(_lxcpath(), name, "config")


def _exists(name):
    return os.path.isfile(_config_path(name))


def _guest_state(name):
    """RUNNING, STOPPED, ... or None when LXC does not know the guest."""
    if not salt.utils.path.which("lxc-info"):
        return None
    result = _run(["lxc-info", "-n", name, "-s", "-H"])
    return result["stdout"].strip() if result["retcode"] == 0 else None


def _rootfs(name):
    """The guest's root directory (``dir`` backing store: ``lxc.rootfs.path = dir:/var/lib/lxc/NAME/rootfs``)."""
    for key, value in _read_config(name):
        if key == "lxc.rootfs.path":
            return value.split(":", 1)[1] if value.startswith("dir:") else value
    return os.path.join(_lxcpath(), name, "rootfs")


def _read_config(name):
    pairs = []
    with open(_config_path(name), encoding="utf-8") as handle:
        for line in handle:
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                pairs.append((key.strip(), value.strip()))
    return pairs


def _memory_key():
    """The config key of the memory limit for this host's cgroup layout (v1 memory controller or cgroup v2)."""
    if os.path.isdir("/sys/fs/cgroup/memory"):
        return "lxc.cgroup.memory.limit_in_bytes"
    return "lxc.cgroup2.memory.max"


def _wanted_config(bridge, autostart, memory_limit):
    wanted = {
        "lxc.net.0.type": "veth",
        "lxc.net.0.link": bridge,
        "lxc.net.0.flags": "up",
        "lxc.start.auto": "1" if autostart else "0",
    }
    if memory_limit:
        wanted[_memory_key()] = str(memory_limit)
    return wanted


def _config_changes(name, wanted, memory_limit):
    """Keys of the guest's config to set (key -> (old, new)); a memory limit no longer wanted is removed."""
    current = dict(_read_config(name))
    changes = {key: (current.get(key), value) for key, value in wanted.items() if current.get(key) != value}
    if not memory_limit:
        for key in ("lxc.cgroup.memory.limit_in_bytes", "lxc.cgroup2.memory.max"):
            if key in current:
                changes[key] = (current[key], None)
    return changes


def _write_config(name, changes):
    path = _config_path(name)
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    kept = [line for line in lines if line.split("=", 1)[0].strip() not in changes or line.lstrip().startswith("#")]
    kept += [f"{key} = {new}" for key, (_, new) in sorted(changes.items()) if new is not None]
    _write_file(path, "\n".join(kept) + "\n", 0o640)


def _write_file(path, content, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.sparks-tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(tmp, mode)
    if os.path.islink(path):
        os.unlink(path)
    os.replace(tmp, path)


def _read_file(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, IsADirectoryError):
        return None


def _guest_files(address, gateway, authorized_keys, template, release, mirror, security_mirror):
    """Files sparks owns inside a guest (relative to its root) -> (content, mode)."""
    interfaces = (
        f"{MANAGED_HEADER} Static address on the LXC host's bridge.\n"
        "auto lo\niface lo inet loopback\n\n"
        f"auto eth0\niface eth0 inet static\n    address {address}\n    gateway {gateway}\n"
    )
    files = {
        "etc/network/interfaces": (interfaces, 0o644),
        # lxc-net's dnsmasq on the bridge answers DNS for the guests.
        "etc/resolv.conf": (f"nameserver {gateway}\n", 0o644),
    }
    if template == "debian":
        # The debian template points security updates at "<release>/updates", which no longer exists since
        # bullseye: apt-get update fails in the guest until this is right.
        mirror = mirror or DEBIAN_MIRROR
        files["etc/apt/sources.list"] = (
            f"{MANAGED_HEADER}\ndeb {mirror} {release} main\ndeb {mirror} {release}-updates main\n"
            f"deb {security_mirror or DEBIAN_SECURITY_MIRROR} {release}-security main\n",
            0o644,
        )
    if authorized_keys:
        files["root/.ssh/authorized_keys"] = ("".join(f"{key.strip()}\n" for key in authorized_keys), 0o600)
    return files


def _missing_packages(rootfs, packages):
    """Packages not installed in the guest, read from its dpkg database from the host (the guest may be down)."""
    admindir = os.path.join(rootfs, "var/lib/dpkg")
    missing = []
    for package in packages:
        result = _run(["dpkg-query", f"--admindir={admindir}", "-W", "-f=${Status}", package])
        if result["retcode"] != 0 or "install ok installed" not in result["stdout"]:
            missing.append(package)
    return missing


def _tail(text, lines=TAIL_LINES):
    return "\n".join((text or "").rstrip().splitlines()[-lines:])


def _create_failure(cmd, result, config):
    """The comment of a failed ``lxc-create``: the command, how it ended, and the end of what it printed.

    The templates print their own errors on stdout ("Failed to download the rootfs"), LXC its own on stderr,
    so both tails are shown."""
    command = " ".join(cmd)
    if result["retcode"] == 0:
        how = f"exited 0 but left no {config}"
    else:
        how = f"exited {result['retcode']}"
    parts = [f"{command} {how}"]
    for stream in ("stderr", "stdout"):
        if (result.get(stream) or "").strip():
            parts.append(f"{stream} (last {TAIL_LINES} lines):\n{_tail(result[stream])}")
    return "\n".join(parts)


def _attach(name, command, timeout=600):
    return _run(
        [
            "lxc-attach",
            "-n",
            name,
            "--clear-env",
            "--set-var",
            "DEBIAN_FRONTEND=noninteractive",
            "--set-var",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--",
            *command,
        ],
        timeout=timeout,
    )


def _start(name, timeout=60):
    result = _run(["lxc-start", "-n", name])
    if result["retcode"] != 0:
        return f"lxc-start failed: {result['stderr'] or result['stdout']}"
    wait = _run(["lxc-wait", "-n", name, "-s", "RUNNING", "-t", str(timeout)])
    if wait["retcode"] != 0:
        return f"{name} did not reach RUNNING within {timeout}s"
    return None


def _wait_for_network(name, timeout=60):
    """Wait until the guest's networking is up (its default route is set): package installs need it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _attach(name, ["ip", "-4", "route", "show", "default"], timeout=10)["stdout"].strip():
            return True
        time.sleep(1)
    return False


# ------------------------------------------------------------------------------------------------ guests
def present(
    name,
    address,
    gateway,
    bridge="lxcbr0",
    template="debian",
    release="bookworm",
    autostart=True,
    memory_limit=None,
    running=True,
    packages=("python3", "openssh-server"),
    authorized_keys=(),
    mirror=None,
    security_mirror=None,
    subnet=None,
):
    """A guest exists, is configured as declared, can be reached by salt-ssh, and runs (unless ``running: false``).

    address
        ``IP/prefix``, static, inside ``subnet`` when given; gateway is the bridge's address (lxc-net's).
    packages
        installed in the guest with ``lxc-attach`` + apt after its first start (the debian template's own
        ``--packages`` runs apt against its broken security line and installs nothing)
    mirror / security_mirror
        the debian template's mirror and the guest's security updates (default: deb.debian.org for both)
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    packages, authorized_keys = list(packages or []), list(authorized_keys or [])
    try:
        interface = ipaddress.ip_interface(address)
        if subnet and interface.ip not in ipaddress.ip_network(subnet):
            raise ValueError(f"{address} is outside the bridge's subnet {subnet}")
    except ValueError as exc:
        ret.update(result=False, comment=f"bad address for {name}: {exc}")
        return ret
    test = __opts__["test"]
    planned = []  # what a real run does, in order: the test=True report and the real run share it
    changes = ret["changes"]

    exists = _exists(name)
    if not exists:
        changes["created"] = f"{template} {release}"
        if test:
            planned = [
                f"created from {template} {release}",
                "configured",
                "given its address and keys",
                "started" if running else None,
                f"given {', '.join(packages)}" if packages else None,
            ]
            ret.update(result=None, comment=f"{name} would be " + ", ".join(p for p in planned if p))
            if running:
                changes["state"] = {"old": None, "new": "RUNNING"}
            return ret
        cmd = ["lxc-create", "-n", name, "-t", template, "--", "-r", release]
        if mirror:
            cmd.append(f"--mirror={mirror}")
        created = _run(cmd, timeout=CREATE_TIMEOUT)
        # Exit code 0 without a config is a failure too: every later step reads that file.
        if created["retcode"] != 0 or not _exists(name):
            ret.update(result=False, changes={}, comment=_create_failure(cmd, created, _config_path(name)))
            return ret

    state_before = _guest_state(name) or "STOPPED"
    config_changes = _config_changes(name, _wanted_config(bridge, autostart, memory_limit), memory_limit)
    if config_changes:
        changes["config"] = {key: {"old": old, "new": new} for key, (old, new) in config_changes.items()}
    rootfs = _rootfs(name)
    file_changes = {}
    for relative, (content, mode) in _guest_files(
        str(interface), gateway, authorized_keys, template, release, mirror, security_mirror
    ).items():
        path = os.path.join(rootfs, relative)
        if _read_file(path) != content or (os.stat(path).st_mode & 0o777) != mode:
            file_changes[relative] = (content, mode)
    if file_changes:
        changes["files"] = sorted(file_changes)
    missing = _missing_packages(rootfs, packages)
    if missing:
        changes["packages"] = {"installed": missing}
    # A running guest reads its config and its network settings only when it starts.
    restart = (
        state_before == "RUNNING" and running and bool(config_changes or set(file_changes) & {"etc/network/interfaces"})
    )
    start = running and (state_before != "RUNNING" or restart)
    stop = (not running and state_before == "RUNNING") or restart
    if start or stop:
        changes["state"] = {"old": state_before, "new": "RUNNING" if running else "STOPPED"}
        if restart:
            changes["state"]["restarted"] = True

    if not changes:
        ret["comment"] = f"{name} is {state_before.lower()} and as declared"
        return ret
    if test:
        ret.update(result=None, comment=f"{name} would change: {', '.join(sorted(changes))}")
        return ret

    if stop:
        stopped = _run(["lxc-stop", "-n", name, "-t", "30"])
        if stopped["retcode"] != 0 and _guest_state(name) == "RUNNING":
            ret.update(result=False, comment=f"lxc-stop {name} failed: {stopped['stderr']}")
            return ret
    if config_changes:
        _write_config(name, config_changes)
    for relative, (content, mode) in file_changes.items():
        path = os.path.join(rootfs, relative)
        if relative.startswith("root/.ssh/"):
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            os.chmod(os.path.dirname(path), 0o700)
        _write_file(path, content, mode)
    if start:
        error = _start(name)
        if error:
            ret.update(result=False, comment=error)
            return ret
    if missing:
        if _guest_state(name) != "RUNNING":
            error = _start(name)
            if error:
                ret.update(result=False, comment=f"cannot start {name} to install packages: {error}")
                return ret
        _wait_for_network(name)
        install = _attach(
            name,
            [
                "sh",
                "-c",
                "apt-get -o Acquire::Retries=3 update -q && apt-get -o "
                "Acquire::Retries=3 install -y -q --no-install-recommends " + " ".join(missing),
            ],
            timeout=900,
        )
        if install["retcode"] != 0:
            ret.update(
                result=False,
                comment=f"installing {', '.join(missing)} in {name} failed:\n"
                f"{(install['stderr'] or install['stdout'])[-3000:]}",
            )
            return ret
        if not running:
            _run(["lxc-stop", "-n", name, "-t", "30"])
    ret["comment"] = f"{name}: " + ", ".join(sorted(changes))
    return ret


def absent(name, timeout=30):
    """The guest is stopped and destroyed (its root file system is deleted)."""
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if not _exists(name):
        ret["comment"] = f"{name} does not exist"
        return ret
    ret["changes"] = {"destroyed": name}
    if __opts__["test"]:
        ret.update(result=None, comment=f"{name} would be stopped and destroyed")
        return ret
    if _guest_state(name) == "RUNNING":
        _run(["lxc-stop", "-n", name, "-t", str(timeout)])
    result = _run(["lxc-destroy", "-n", name])
    if result["retcode"] != 0:
        ret.update(result=False, changes={}, comment=f"lxc-destroy {name} failed: {result['stderr']}")
        return ret
    ret["comment"] = f"{name} destroyed"
    return ret


# ------------------------------------------------------------------------------------------------ lxc-net
def _bridge_addresses(bridge):
    """``address/prefix`` strings on ``bridge``, or None when there is no such interface."""
    result = _run(["ip", "-o", "-4", "addr", "show", "dev", bridge])
    if result["retcode"] != 0:
        return None
    return [fields[3] for fields in (line.split() for line in result["stdout"].splitlines()) if len(fields) > 3]


def _dnsmasq_args():
    """Command line of lxc-net's dnsmasq, or None when it is not running."""
    try:
        with open("/run/lxc/dnsmasq.pid", encoding="utf-8") as handle:
            pid = int(handle.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [arg.decode() for arg in handle.read().split(b"\0") if arg]
    except (OSError, ValueError):
        return None


def _net_differences(bridge, address, dhcp_range, dhcp_max, domain):
    """What differs between the running lxc-net and the wanted one (empty: up as wanted)."""
    if not os.path.exists(LXC_NET_UP_FLAG):
        return ["lxc-net is down"]
    differences = []
    addresses = _bridge_addresses(bridge)
    if addresses is None:
        return [f"bridge {bridge} is missing"]
    if address not in addresses:
        differences.append(f"{bridge} has {', '.join(addresses) or 'no address'}, not {address}")
    args = _dnsmasq_args()
    if args is None:
        return differences + ["dnsmasq is not running"]
    wanted = {"--dhcp-range": dhcp_range, "--dhcp-lease-max": str(dhcp_max), "--interface": bridge}
    for option, value in wanted.items():
        if value and f"{option}={value}" not in args and not _pair(args, option, value):
            differences.append(f"dnsmasq runs without {option} {value}")
    if domain and not _pair(args, "-s", domain):
        differences.append(f"dnsmasq runs without domain {domain}")
    return differences


def _pair(args, option, value):
    return any(args[i] == option and args[i + 1] == value for i in range(len(args) - 1))


def _net_command(action):
    if _systemd_booted():
        return _run(["systemctl", action, "lxc-net"])
    if action == "restart":
        _run([LXC_NET_SCRIPT, "stop"])
        action = "start"
    return _run([LXC_NET_SCRIPT, action])


def net_running(name, address, dhcp_range=None, dhcp_max=None, domain=None):
    """lxc-net is up as configured: bridge ``name`` has ``address`` (``IP/prefix``), its dnsmasq hands out
    ``dhcp_range``. When the running one differs (its settings file changed), lxc-net is restarted; when it
    already matches, nothing is touched, whatever happened to the file.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    differences = _net_differences(name, address, dhcp_range, dhcp_max, domain)
    if not differences:
        ret["comment"] = f"lxc-net is up: {name} has {address}"
        return ret
    action = "start" if differences == ["lxc-net is down"] else "restart"
    ret["changes"] = {"lxc-net": {"old": "; ".join(differences), "new": f"{name} {address}", "action": action}}
    if __opts__["test"]:
        ret.update(result=None, comment=f"lxc-net would {action}: " + "; ".join(differences))
        return ret
    result = _net_command(action)
    left = _net_differences(name, address, dhcp_range, dhcp_max, domain)
    if left:
        ret.update(
            result=False,
            changes={},
            comment=f"lxc-net {action} did not bring up {name} as configured ({'; '.join(left)}): "
            f"{result['stderr'] or result['stdout']}",
        )
        return ret
    ret["comment"] = f"lxc-net {action}ed: {name} has {address}"
    return ret


def net_dead(name):
    """lxc-net is down: its bridge, dnsmasq and firewall rules are gone."""
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if not os.path.exists(LXC_NET_UP_FLAG) and _bridge_addresses(name) is None:
        ret["comment"] = "lxc-net is down"
        return ret
    ret["changes"] = {"lxc-net": {"old": "up", "new": "down"}}
    if __opts__["test"]:
        ret.update(result=None, comment="lxc-net would be stopped")
        return ret
    result = _net_command("stop")
    if os.path.exists(LXC_NET_UP_FLAG) or _bridge_addresses(name) is not None:
        ret.update(
            result=False,
            changes={},
            comment=f"lxc-net did not stop, or {name} is still there (guests attached?): "
            f"{result['stderr'] or result['stdout']}",
        )
        return ret
    ret["comment"] = "lxc-net stopped"
    return ret
