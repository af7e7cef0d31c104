"""
Throwaway Debian 12 and Debian 13 machines for real-target tests and benchmarks.

Each target is a systemd-nspawn container booting real systemd on an overlayfs over one cached image of its
Debian release (``PLATFORMS``), with sshd on a private bridge that this run creates (with NAT, so targets reach
the package mirrors). Nothing here depends on pytest: `tests/integration/conftest.py` wraps it in fixtures and
`bench/*.py` use it directly; ``python -m tests.support.targets build`` builds the images ahead of a test run.

Everything a run creates is recorded under ``STATE_DIR/<run id>/``; `reap_stale_runs()` removes what a killed run
left behind (processes, mounts, the bridge and its firewall rules), so a crash never poisons the next run.
Only one test session or benchmark at a time boots targets on a machine (``targets_lock``): they share its cores.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import leaks
from tests.support.cache import cache_dir

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
BUILD_SCRIPT = REPO_ROOT / "tests" / "targets" / "build-image.sh"
MINION_LAYER_SCRIPT = REPO_ROOT / "tests" / "targets" / "build-minion-layer.sh"
CONSTRAINTS = REPO_ROOT / "requirements" / "constraints.txt"
STATE_DIR = Path("/run/sparks-tests")
LOCK_FILE = Path("/run/sparks-targets.lock")
# Set (to "held") by a process that holds targets_lock() for its children: pytest's xdist workers, say.
LOCK_HELD_ENV = "SPARKS_TARGETS_LOCK"
# Names the targets must resolve without a DNS server of their own: the package registries we may reach.
REGISTRY_HOSTS = ("deb.debian.org", "pypi.org", "files.pythonhosted.org", "registry.npmjs.org")
BOOT_TIMEOUT = 90
# systemd-nspawn's exit status when the machine inside asked for a reboot (`systemctl reboot`).
NSPAWN_REBOOT_EXIT = 133


@dataclass(frozen=True)
class Platform:
    """A Debian release targets can run: its image is built by build-image.sh with ``suite``."""

    name: str
    suite: str
    python: str  # the release's python3 (major.minor)


PLATFORMS = {
    "debian13": Platform("debian13", "trixie", "3.13"),
    "debian12": Platform("debian12", "bookworm", "3.11"),
}
DEFAULT_PLATFORM = "debian13"  # Debian's stable release
# The Salt that tests/integration/test_fleet_upgrade.py upgrades a fleet from (3007 is out of support: nothing else
# runs it). 3007.17 needs a certifi the package index here lacks. Its minion layers are built ahead with the others.
UPGRADE_FROM_SALT = "3007.16"


class TargetError(RuntimeError):
    """A target could not be built, booted or reached."""


def _run(cmd, check=True, **kwargs):
    return subprocess.run(cmd, check=check, text=True, capture_output=True, **kwargs)


def harness_available():
    """Return None if real targets can run here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "real targets need root"
    for tool in ("systemd-nspawn", "debootstrap", "iptables", "ssh", "zstd"):
        if not shutil.which(tool):
            return f"{tool} is not installed (see .ci/run)"
    return None


# --------------------------------------------------------------------------------------------------- locking
@contextlib.contextmanager
def targets_lock():
    """Hold the machine's target lock: one test session or benchmark at a time boots targets here.

    A process whose parent already holds it (``$SPARKS_TARGETS_LOCK=held``, e.g. an xdist worker of a pytest run
    that took it) does not take it again. The lock is an flock: it is released when its holder dies.
    """
    if os.environ.get(LOCK_HELD_ENV) == "held":
        yield
        return
    handle = open(LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 (held for the whole block)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            print(f"waiting for the targets lock ({LOCK_FILE}, held by {handle.read().strip()})", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}: {' '.join(sys.argv)[:200]}\n")
        handle.flush()
        os.environ[LOCK_HELD_ENV] = "held"
        try:
            # Only the lock's holder cleans up: an xdist worker doing it would race its siblings' boots.
            reap_stale_runs()
            yield
        finally:
            os.environ.pop(LOCK_HELD_ENV, None)
            _remove_empty_payload_cgroups()
    finally:
        handle.close()


# --------------------------------------------------------------------------------------------------- image
def image_dir(platform=DEFAULT_PLATFORM):
    """The unpacked image of ``platform`` that its targets' overlays sit on; built and cached on first use.

    The cache key is a hash of the build script and the suite: editing the recipe rebuilds the images.
    """
    suite = PLATFORMS[platform].suite
    digest = hashlib.sha256(BUILD_SCRIPT.read_bytes() + suite.encode()).hexdigest()[:12]
    return _cached_build(f"{platform}-{digest}", ["bash", str(BUILD_SCRIPT), suite])


def minion_layer_dir(platform=DEFAULT_PLATFORM, salt_version=None):
    """A layer over ``platform``'s image with a salt-minion that starts when configured.

    Its Salt is ``salt_version``, by default the host's own (the pinned one): the layer is keyed by both, and the
    pinned Salt's by requirements/constraints.txt too (it installs with that file; another version ignores it, so
    a new pin of a test tool does not rebuild the upgrade test's 3007 layers).
    """
    if salt_version is None:
        import salt.version

        salt_version = salt.version.__version__
    base = image_dir(platform)
    constraints = CONSTRAINTS.read_bytes()
    recipe = MINION_LAYER_SCRIPT.read_bytes()
    # The same test as build-minion-layer.sh's: the version on the constraints' salt== line installs with them.
    if re.search(rb"^salt==" + re.escape(salt_version.encode()) + rb"\s*$", constraints, re.MULTILINE):
        recipe += constraints
    key = hashlib.sha256(recipe + base.name.encode() + salt_version.encode()).hexdigest()
    return _cached_build(
        f"minion-{platform}-{_slug(salt_version)}-{key[:12]}",
        ["bash", str(MINION_LAYER_SCRIPT), str(base), salt_version],
    )


def build_images(platforms=tuple(PLATFORMS), minion=True):
    """Build (or find cached) every image a test run needs, so that the tests themselves do not wait on them."""
    for platform in platforms:
        image_dir(platform)
        if minion:
            minion_layer_dir(platform)
            minion_layer_dir(platform, UPGRADE_FROM_SALT)


def _slug(text):
    return "".join(c if c.isalnum() else "_" for c in text)


def _cached_build(name, build_command):
    """Build (``build_command`` + output tarball) once, keep the tarball and its unpacked tree in the cache.

    ``name`` is ``<prefix>-<key>``: a build with a new key replaces the older ones of the same prefix.
    """
    images = cache_dir("images")
    tarball = images / f"{name}.tar.zst"
    unpacked = images / name
    ready = unpacked / ".sparks-image-ready"
    if ready.exists():
        return unpacked
    prefix = name.rsplit("-", 1)[0]
    with _file_lock(images / ".lock"):
        if ready.exists():
            return unpacked
        if not tarball.exists():
            for old in images.glob(f"{prefix}-*"):
                _remove_tree(old)
            result = _run([*build_command, str(tarball)], check=False)
            if result.returncode != 0:
                raise TargetError(f"{name} build failed:\n{result.stdout}\n{result.stderr}")
        _remove_tree(unpacked)
        unpacked.mkdir()
        _run(["tar", "--zstd", "-C", str(unpacked), "--numeric-owner", "--xattrs", "-xf", str(tarball)])
        ready.touch()
    return unpacked


@contextlib.contextmanager
def _file_lock(path):
    with open(path, "w", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _remove_tree(path):
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


# --------------------------------------------------------------------------------------------------- network
class Network:
    """A bridge with NAT to the outside, owned by one run. Targets get addresses .10, .11, ... on it.

    Runs can overlap (a benchmark while tests run): each takes the first free slot, bridge ``sparksbrN`` with
    subnet 192.168.(231+N).0/24. These private ranges are used by nothing else on these machines.
    """

    SLOTS = 8

    @classmethod
    def claim(cls, run_dir):
        for slot in range(cls.SLOTS):
            network = cls(run_dir, f"sparksbr{slot}", f"192.168.{231 + slot}")
            if _run(["ip", "link", "add", network.name, "type", "bridge"], check=False).returncode == 0:
                network._record()  # from here on, the reaper knows this bridge is ours
                try:
                    return network.up()
                except BaseException:
                    network.down()
                    raise
        raise TargetError(f"no free test network: sparksbr0..{cls.SLOTS - 1} all exist")

    def __init__(self, run_dir, name, subnet):
        self.run_dir = Path(run_dir)
        self.name = name
        self.subnet = subnet
        self.gateway = f"{subnet}.1"
        self._next_host = 10
        self._rules = [
            ["-t", "nat", "POSTROUTING", "-s", f"{subnet}.0/24", "!", "-o", name, "-j", "MASQUERADE"],
            ["FORWARD", "-i", name, "-j", "ACCEPT"],
            ["FORWARD", "-o", name, "-j", "ACCEPT"],
        ]

    def up(self):
        """Configure the bridge (already created by ``claim``), forwarding and NAT."""
        _run(["ip", "addr", "add", f"{self.gateway}/24", "dev", self.name])
        _run(["ip", "link", "set", self.name, "up"])
        forward = Path("/proc/sys/net/ipv4/ip_forward")
        (self.run_dir / "ip_forward.before").write_text(forward.read_text())
        forward.write_text("1\n")
        for rule in self._rules:
            _run(["iptables", *self._table(rule), "-A", *self._chain_and_spec(rule), *self._comment()])
        return self

    def down(self):
        for rule in self._rules:
            while (
                _run(
                    ["iptables", *self._table(rule), "-D", *self._chain_and_spec(rule), *self._comment()], check=False
                ).returncode
                == 0
            ):
                pass
        _run(["ip", "link", "del", self.name], check=False)
        before = self.run_dir / "ip_forward.before"
        # Concurrent runs (xdist workers, a bench) share the host's forwarding switch: the last one out restores it.
        if before.exists() and not _other_live_runs(self.run_dir):
            Path("/proc/sys/net/ipv4/ip_forward").write_text(before.read_text())

    def allocate_address(self):
        address = f"{self.subnet}.{self._next_host}"
        self._next_host += 1
        return address

    def _record(self):
        (self.run_dir / "network.json").write_text(json.dumps({"name": self.name, "subnet": self.subnet}))

    @staticmethod
    def _table(rule):
        return rule[:2] if rule[0] == "-t" else []

    @staticmethod
    def _chain_and_spec(rule):
        return rule[2:] if rule[0] == "-t" else rule

    def _comment(self):
        return ["-m", "comment", "--comment", f"sparks-tests {self.run_dir.name}"]


# --------------------------------------------------------------------------------------------------- targets
class Target:
    """One booted Debian machine: ``run()`` executes inside it, ``address`` reaches its sshd."""

    def __init__(self, run, name, address, platform=DEFAULT_PLATFORM):
        self.run_ = run
        self.name = name
        self.address = address
        self.platform = PLATFORMS[platform]
        # nspawn's own name for it (host-side veth vb-<machine>, /run/systemd/nspawn/propagate/<machine>): unique on
        # this machine, since other runs (xdist workers) boot targets of the same test name, and short (IFNAMSIZ).
        self.machine = f"sp{run.network.name.removeprefix('sparksbr')}-{address.rsplit('.', 1)[1]}"
        self.dir = run.dir / "targets" / name
        self.root = self.dir / "root"
        self.log = self.dir / "console.log"
        self.pid = None

    # -- lifecycle
    def boot(self, extra_files=None, minion=False, salt_version=None):
        for sub in ("upper", "work", "root", "archives", "pip"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        image = image_dir(self.platform.name)
        lower = f"{minion_layer_dir(self.platform.name, salt_version)}:{image}" if minion else str(image)
        _run(
            [
                "mount",
                "-t",
                "overlay",
                "overlay",
                "-o",
                f"lowerdir={lower},upperdir={self.dir / 'upper'},workdir={self.dir / 'work'}",
                str(self.root),
            ]
        )
        self._configure(extra_files or {})
        (self.root / "root/.cache/pip").mkdir(parents=True, exist_ok=True)  # nspawn makes only the last level
        self._start()
        return self

    def reboot(self):
        """Power the machine off and boot it again on the same disk (its overlay's upper layer is kept)."""
        _stop_process(self.pid, self._process)
        self._start()
        return self

    def _boot_again_after_reboot(self, process):
        """A reboot asked for inside the machine ends its nspawn with status 133: boot it again on the same disk,
        as a real machine's firmware would (our own stops end it with another status, and are left alone)."""
        if process.wait() != NSPAWN_REBOOT_EXIT or self._process is not process:
            return
        with open(self.log, "a", encoding="utf-8") as log:
            log.write("[sparks harness] rebooted from inside: booting it again\n")
        with contextlib.suppress(TargetError):
            self._start()

    def _start(self):
        with open(self.log, "a", encoding="utf-8") as log:
            process = subprocess.Popen(
                [
                    "systemd-nspawn",
                    "-D",
                    str(self.root),
                    "-M",
                    self.machine,
                    "--boot",
                    "--register=no",
                    "--keep-unit",
                    f"--network-bridge={self.run_.network.name}",
                    "--console=read-only",
                    # Every target sees the .debs and root's pip downloads of earlier targets of its release, and
                    # writes (and locks) only its own upper layer, so targets can run apt and pip at the same time;
                    # shutdown() harvests the new files into the shared caches.
                    f"--overlay={self._shared_cache('apt')}:{self.dir / 'archives'}:/var/cache/apt/archives",
                    f"--overlay={self._shared_cache('pip')}:{self.dir / 'pip'}:/root/.cache/pip",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = process.pid
        self._process = process
        (self.dir / "nspawn.pid").write_text(str(self.pid))
        threading.Thread(target=self._boot_again_after_reboot, args=(process,), daemon=True).start()
        self.wait_for_ssh()

    def shutdown(self):
        if self.pid is not None:
            process, self._process = getattr(self, "_process", None), None  # no boot again after this stop
            _stop_process(self.pid, process)
            self.pid = None
        _harvest(self.dir / "archives", self._shared_cache("apt"), "*.deb")
        _harvest(self.dir / "pip", self._shared_cache("pip"), "**/*")
        _unmount(self.root)
        _remove_tree(self.dir)

    def _shared_cache(self, kind):
        """The shared download cache of this target's release (created on first use: boot mounts it)."""
        return cache_dir(f"{kind}-{self.platform.suite}")

    def wait_for_ssh(self, timeout=BOOT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise TargetError(f"{self.name}: systemd-nspawn exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                with socket.create_connection((self.address, 22), timeout=1) as sock:
                    if sock.recv(4).startswith(b"SSH"):
                        return
            time.sleep(0.3)
        raise TargetError(f"{self.name}: sshd did not answer within {timeout}s: {self.log.read_text()[-2000:]}")

    # -- inside the target
    def leader_pid(self):
        """PID (host view) of the target's init, for nsenter."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        if not children:
            raise TargetError(f"{self.name}: container init not found")
        return int(children[0])

    def run(self, command, check=False, timeout=120, input=None):  # pylint: disable=redefined-builtin
        """Run a shell command inside the target as root; returns CompletedProcess (text)."""
        result = subprocess.run(
            [
                "nsenter",
                "-t",
                str(self.leader_pid()),
                "-m",
                "-u",
                "-i",
                "-n",
                "-p",
                "-C",
                "env",
                "-i",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME=/root",
                "LANG=C.UTF-8",
                "/bin/sh",
                "-c",
                command,
            ],
            text=True,
            capture_output=True,
            timeout=timeout,
            input=input,
            check=False,
        )
        if check and result.returncode != 0:
            raise TargetError(f"{self.name}: {command!r} exited {result.returncode}: {result.stderr}{result.stdout}")
        return result

    def read(self, path):
        return (self.root / path.lstrip("/")).read_text()

    def packages(self):
        """Installed package names (dpkg's view)."""
        out = self.run("dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n'", check=True).stdout
        return {line.split()[1] for line in out.splitlines() if line.startswith("ii")}

    def roster_entry(self):
        return {
            "host": self.address,
            "user": "root",
            "priv": str(self.run_.ssh_key),
            # Throwaway hosts get new keys every boot; scp (used by state.*) must not stop at a prompt.
            "ssh_options": ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR"],
            "set_path": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        }

    def _configure(self, extra_files):
        hosts = ["127.0.0.1 localhost", f"127.0.1.1 {self.name}"]
        hosts += [f"{address} {name}" for name, address in self.run_.registry_addresses.items()]
        files = {
            "etc/hostname": f"{self.name}\n",
            "etc/hosts": "\n".join(hosts) + "\n",
            "etc/resolv.conf": "",
            "root/.ssh/authorized_keys": self.run_.ssh_public_key,
            "etc/systemd/network/10-host0.network": (
                f"[Match]\nName=host0\n\n[Network]\nAddress={self.address}/24\n"
                f"Gateway={self.run_.network.gateway}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n"
            ),
        }
        files.update(extra_files)
        for relative, content in files.items():
            path = self.root / relative
            if path.is_symlink():
                path.unlink()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        (self.root / "root/.ssh").chmod(0o700)


class TargetRun:
    """Everything one test session or benchmark owns: the image, the bridge, the SSH key and its targets."""

    def __init__(self):
        reason = harness_available()
        if reason:
            raise TargetError(reason)
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=STATE_DIR))
        (self.dir / "owner.pid").write_text(str(os.getpid()))
        self.targets = []
        self.network = None
        self._lock = targets_lock()
        self._lock.__enter__()
        try:
            self.ssh_key = self.dir / "id_ed25519"
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.ssh_key)])
            self.ssh_public_key = (self.dir / "id_ed25519.pub").read_text()
            self.registry_addresses = _resolve(REGISTRY_HOSTS)
            self.network = Network.claim(self.dir)
        except BaseException:
            self.close()
            raise

    def boot(self, *names, platform=DEFAULT_PLATFORM, extra_files=None, minion_config=None, salt_version=None):
        """Boot targets of ``platform`` (in parallel) and return them in the order of ``names``.

        ``minion_config(target) -> dict`` makes them salt-minions (of ``salt_version``, default the host's): the
        dict is written as /etc/salt/minion.d/sparks.conf (``id`` defaults to the target's name).
        """
        new = [Target(self, name, self.network.allocate_address(), platform) for name in names]
        self.targets.extend(new)
        from concurrent.futures import ThreadPoolExecutor

        def boot_one(target):
            files = dict(extra_files or {})
            if minion_config:
                import yaml

                conf = {"id": target.name, **minion_config(target)}
                files["etc/salt/minion.d/sparks.conf"] = yaml.safe_dump(conf)
            target.boot(files, minion=bool(minion_config), salt_version=salt_version)

        image_dir(platform)  # build once, before the parallel boots
        if minion_config:
            minion_layer_dir(platform, salt_version)
        with ThreadPoolExecutor(max_workers=len(new) or 1) as pool:
            list(pool.map(boot_one, new))
        return new

    def shutdown(self, *targets):
        for target in targets:
            if (check := leaks.current()) is not None and target.pid is not None:
                check.scan_target(target)  # its thin, caches, logs and journal: gone once it is down
            target.shutdown()
            self.targets.remove(target)

    def roster(self, targets=None):
        return {target.name: target.roster_entry() for target in (targets or self.targets)}

    def close(self):
        for target in list(self.targets):
            with contextlib.suppress(Exception):
                target.shutdown()
        self.targets = []
        if self.network:
            self.network.down()
        _remove_tree(self.dir)
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------------------- cleanup
def reap_stale_runs():
    """Tear down what runs whose owner process is gone left behind (a killed pytest, a crashed bench)."""
    if not STATE_DIR.is_dir():
        return
    for run_dir in STATE_DIR.glob("run-*"):
        owner = run_dir / "owner.pid"
        with contextlib.suppress(ValueError, OSError):
            if _alive(int(owner.read_text())):
                continue
        for pid_file in run_dir.glob("targets/*/nspawn.pid"):
            with contextlib.suppress(ValueError, OSError):
                _stop_process(int(pid_file.read_text()))
        for root in run_dir.glob("targets/*/root"):
            _unmount(root)
        network_file = run_dir / "network.json"
        if network_file.exists():
            info = json.loads(network_file.read_text())
            network = Network(run_dir, info["name"], info["subnet"])
            network.down()
        _remove_tree(run_dir)
    _remove_empty_payload_cgroups()


def _other_live_runs(run_dir):
    """Runs other than ``run_dir`` whose owner process is still alive."""
    others = []
    for other in STATE_DIR.glob("run-*"):
        if other == run_dir:
            continue
        with contextlib.suppress(ValueError, OSError):
            if _alive(int((other / "owner.pid").read_text())):
                others.append(other)
    return others


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_process(pid, process=None):
    """Stop an nspawn supervisor: SIGTERM asks the container's systemd to power off; SIGKILL after 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return
        if process is None and not _alive(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    if process is not None:
        process.wait(timeout=10)


def _harvest(upper, shared, pattern):
    """Copy the files a target added to an overlay's upper layer into the shared cache below it.

    Atomically (other targets may be reading the cache), never over an existing file, and only regular files:
    an upper layer also holds overlayfs whiteouts (character devices) for what the target deleted.
    """
    for path in upper.glob(pattern) if upper.is_dir() else ():
        if path.is_symlink() or not path.is_file():
            continue
        dest = shared / path.relative_to(upper)
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}")
        shutil.copyfile(path, tmp)
        os.replace(tmp, dest)


def _unmount(path):
    if os.path.ismount(path):
        if _run(["umount", str(path)], check=False).returncode != 0:
            _run(["umount", "-l", str(path)], check=False)


def _remove_empty_payload_cgroups():
    # nspawn without systemd as PID 1 leaves its (empty) payload cgroups behind.
    for base in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"):
        # Bottom up; a cgroup that still has processes refuses rmdir, one that vanished meanwhile is skipped.
        for parent, _dirs, _files in os.walk(Path(base) / "payload", topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(parent)


def _resolve(names):
    addresses = {}
    for name in names:
        with contextlib.suppress(OSError):
            addresses[name] = socket.gethostbyname(name)
    return addresses


def main(argv=None):
    """``python -m tests.support.targets build [PLATFORM...]``: build the cached images and minion layers."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.support.targets")
    parser.add_argument("command", choices=["build"])
    parser.add_argument("platforms", nargs="*", metavar="PLATFORM", help=f"default: all of {', '.join(PLATFORMS)}")
    args = parser.parse_args(argv)
    unknown = set(args.platforms) - set(PLATFORMS)
    if unknown:
        parser.error(f"unknown platform(s) {', '.join(sorted(unknown))}")
    started = time.monotonic()
    build_images(args.platforms or list(PLATFORMS))
    print(f"images ready under {cache_dir('images')} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
