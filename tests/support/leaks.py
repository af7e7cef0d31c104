"""One leak check for the whole integration suite: every value the pillar declares secret (``secret: true`` in a
formula's parameters/schema.yaml) must show up nowhere it should not.

Each integration test module gets a ``LeakCheck`` (tests/integration/conftest.py, autouse). It learns the secrets
of every pillar the module uses (``SaltSSH.set_pillar`` and the pillar files salt-ssh and the masters read), and
looks for them in:

- the output of every salt-ssh call (``SaltSSH.run``) and whatever else a test hands it (``saw``);
- the command line of every process started on this machine and inside the targets while the module runs:
  the kernel's exec events (the proc connector, ``ExecWatch``), each command line read as the event arrives, so a
  50 ms process is not missed; a process gone before its command line could be read is counted and reported;
- on every target, just before it shuts down: salt-ssh's thin and caches (``/var/tmp``, ``/tmp``), Salt's cache,
  logs and configuration, and the journal;
- on this machine, at the module's end: salt-ssh's working directory (caches, logs; not its pillar) and every
  directory a test registered (``watch_dir``: a master's root, its job cache and logs).

Where a secret is meant to be (the file a template wrote from pillar, the pillar files themselves) is not looked
at. A finding names the secret's key path and the place, never the value.
"""

import contextlib
import functools
import os
import socket
import struct
import threading
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
MIN_LENGTH = 8  # shorter values (a port, "yes") would match by chance
# On a target: where salt-ssh, salt-call and the minion keep what they were sent, and what they log.
TARGET_PLACES = ("/var/tmp", "/tmp", "/var/cache/salt", "/var/log/salt", "/etc/salt", "/opt/sparks/venv/var")

_current = None


def current():
    """The running module's check, or None outside the integration tests."""
    return _current


@functools.cache
def _pillar_checker():
    """salt/_pillar/sparks.py and the schema of every formula (loaded on first use: loadmod imports saltrun)."""
    from tests.support.loadmod import load

    checker = load("_pillar", "sparks")
    return checker, {**checker.TOP_LEVEL_KEYS, **checker.load_schemas([str(REPO_ROOT / "formulas")])}


def secret_values(data):
    """``{value: key path}`` of every declared secret in a pillar ``data`` (``{"sparks": {...}}``)."""
    found = {}
    if isinstance(data, dict) and isinstance(data.get("sparks"), dict):
        _walk(data["sparks"], _pillar_checker()[1], "sparks", found)
    return found


def _walk(value, schema, path, found):
    schema, secret = _pillar_checker()[0].secret_leaf(schema)
    if secret:
        for text in _leaves(value):
            if len(text) >= MIN_LENGTH:
                found[text] = path
                # A multi-line secret (a private key) is looked for line by line too: logs cut it at newlines.
                found.update({line: path for line in text.splitlines() if len(line.strip()) >= 40})
    elif isinstance(schema, dict) and isinstance(value, dict):
        for key, item in value.items():
            sub = schema.get(key, schema.get("*"))
            if sub is not None:
                _walk(item, sub, f"{path}:{key}", found)
    elif isinstance(schema, list) and schema and isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, schema[0], f"{path}[{index}]", found)


def _leaves(value):
    if isinstance(value, dict):
        return [text for item in value.values() for text in _leaves(item)]
    if isinstance(value, list):
        return [text for item in value for text in _leaves(item)]
    return [] if value is None or isinstance(value, bool) else [str(value)]


class LeakCheck:
    def __init__(self, name):
        self.name = name
        self.secrets = {}  # value -> key path
        self.findings = set()
        self.dirs = []  # (directory on this machine, directories under it not to look at)
        self.watch = ExecWatch.instance()
        self.watch.reset()

    # -- what the secrets are
    def pillar(self, data):
        self.secrets.update(secret_values(data))

    def pillar_files(self, directory):
        """Learn the secrets of every plain pillar file under ``directory`` (encrypted ones hold none in clear)."""
        for path in Path(directory).rglob("*.sls"):
            with contextlib.suppress(OSError, yaml.YAMLError, UnicodeDecodeError):
                text = path.read_text()
                if "-----BEGIN PGP MESSAGE-----" not in text:
                    self.pillar(yaml.safe_load(text))

    # -- where they must not be
    def saw(self, where, text):
        for value, path in self.secrets.items():
            if value in text:
                self.findings.add(f"{path} in {where}")

    def watch_dir(self, directory, exclude=()):
        self.dirs.append((Path(directory), tuple(Path(e) for e in exclude)))

    def scan_target(self, target):
        """Look inside ``target`` (running) for every secret learned so far: grep prints each match with its file,
        the values come on its stdin (never on a command line)."""
        patterns = sorted({value for value in self.secrets if "\n" not in value and value.strip()})
        if not patterns:
            return
        stdin = "\n".join(patterns) + "\n"
        places = " ".join(TARGET_PLACES)
        found = target.run(f"grep -rsoF -f - {places} | sort -u || true", input=stdin, timeout=300)
        for line in found.stdout.splitlines():
            path, _, match = line.partition(":")
            if match in self.secrets:
                self.findings.add(f"{self.secrets[match]} in {target.name}:{path}")
        journal = target.run("journalctl --no-pager -o cat | grep -oF -f - | sort -u || true", input=stdin, timeout=300)
        for match in journal.stdout.splitlines():
            if match in self.secrets:
                self.findings.add(f"{self.secrets[match]} in {target.name}'s journal")

    def finish(self, extra_dirs=()):
        """Every finding, after the last look at this machine's directories and the process list."""
        for directory, exclude in [*self.dirs, *extra_dirs]:
            for path in _files(directory, exclude):
                with contextlib.suppress(OSError):
                    text = path.read_bytes().decode(errors="replace")
                    self.saw(str(path), text)
        for cmdline in self.watch.take():
            self.saw("a process's command line", cmdline)
        return sorted(self.findings)


def _files(directory, exclude):
    if not directory.is_dir():
        return
    for root, dirs, files in os.walk(directory):
        here = Path(root)
        dirs[:] = [d for d in dirs if here / d not in exclude]
        for name in files:
            path = here / name
            if not path.is_symlink() and path.is_file():
                yield path


def watch_master(factory, pillar_dir=None):
    """A salt-master of the running module: its pillar's secrets learned, its root (job cache, minion data cache,
    logs) looked at when the module ends."""
    check = current()
    if check is None:
        return
    if pillar_dir is not None:
        check.pillar_files(pillar_dir)
    check.watch_dir(factory.config["root_dir"], exclude=[pillar_dir] if pillar_dir else ())


def start(name):
    global _current
    _current = LeakCheck(name)
    return _current


def stop():
    global _current
    _current = None


class ExecWatch:
    """The command line of every process exec'd on this machine (the kernel's proc connector), from the moment
    ``instance()`` first runs: one listening thread per process, reading ``/proc/<pid>/cmdline`` on each event."""

    _instance = None
    NETLINK_CONNECTOR, CN_IDX_PROC, CN_VAL_PROC = 11, 1, 1
    PROC_CN_MCAST_LISTEN, PROC_EVENT_EXEC, NLMSG_DONE = 1, 2, 3

    @classmethod
    def instance(cls):
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def __init__(self):
        self._lock = threading.Lock()
        self._seen, self.missed, self.events = set(), 0, 0
        self.socket = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, self.NETLINK_CONNECTOR)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 2**20)
        self.socket.bind((0, self.CN_IDX_PROC))
        op = struct.pack("=I", self.PROC_CN_MCAST_LISTEN)
        message = struct.pack("=IIIIHH", self.CN_IDX_PROC, self.CN_VAL_PROC, 0, 0, len(op), 0) + op
        self.socket.send(struct.pack("=IHHII", 16 + len(message), self.NLMSG_DONE, 0, 0, 0) + message)
        threading.Thread(target=self._listen, name="exec-watch", daemon=True).start()

    def _listen(self):
        while True:
            try:
                data = self.socket.recv(65536)
            except OSError:  # the receive buffer overflowed (ENOBUFS): events were lost
                with self._lock:
                    self.missed += 1
                continue
            offset = 0
            while offset + 16 <= len(data):
                length = struct.unpack_from("=I", data, offset)[0]
                # nlmsghdr (16), cn_msg (20), proc_event: what, cpu, timestamp (16), exec: pid, tgid
                if length >= 60 and struct.unpack_from("=I", data, offset + 36)[0] == self.PROC_EVENT_EXEC:
                    self._read(struct.unpack_from("=I", data, offset + 52)[0])
                offset += max((length + 3) & ~3, 16)

    def _read(self, pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmdline = None
        with self._lock:
            self.events += 1
            if cmdline is None:
                self.missed += 1
            else:
                self._seen.add(cmdline)

    def reset(self):
        with self._lock:
            self._seen, self.missed, self.events = set(), 0, 0

    def take(self):
        with self._lock:
            seen, self._seen = self._seen, set()
        return seen
