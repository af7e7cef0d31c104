"""
Run this repository's states on targets through salt-ssh, the way a user does, with a timeout on every call.

The configuration is the repository's own (`salt/config/common.conf`), with its relative paths made absolute and
caches moved into a scratch directory; only the pillar gains one directory, where tests write `local.sls`
(the machine-local pillar slot that `pillar/top.sls` already includes). Used by tests and benchmarks alike.
"""

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.support import leaks

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
COMMON_CONF = REPO_ROOT / "salt" / "config" / "common.conf"
MASTER_CONF = REPO_ROOT / "salt" / "config" / "master"
# What salt-ssh takes from salt/config/master beyond common.conf: the roster (tests run salt-ssh through it too).
SSH_KEYS = ("roster",)
SSH_PATH_LISTS = ("roster_dirs",)
PATH_LISTS = ("module_dirs", "states_dirs", "pillar_dirs", "utils_dirs", "runner_dirs", "grains_dirs", "cache_dirs")


def example_pillar(*sections, **overrides):
    """The named sections of pillar.example as a pillar, with ``overrides`` merged over them per section.

    Tests apply the documented example itself, so it cannot drift from what works.
    """
    example = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())["sparks"]
    pillar = {name: example[name] for name in sections}
    for name, values in overrides.items():
        pillar[name] = {**pillar.get(name, {}), **values} if isinstance(values, dict) else values
    return {"sparks": pillar}


def repo_config(work_dir, pillar_dir=None):
    """The repository's Salt settings with absolute paths, for running from anywhere."""
    conf = yaml.safe_load(COMMON_CONF.read_text())
    conf["root_dir"] = str(Path(work_dir) / "salt")
    conf["file_roots"] = {"base": [str(REPO_ROOT / path) for path in conf["file_roots"]["base"]]}
    pillar_roots = [str(REPO_ROOT / "pillar")]
    if pillar_dir:
        pillar_roots.append(str(pillar_dir))
    conf["pillar_roots"] = {"base": pillar_roots}
    for key in PATH_LISTS:
        conf[key] = [str(REPO_ROOT / path) for path in conf[key]]
    return conf


def ssh_config():
    """salt-ssh's own settings from salt/config/master (its roster module), with absolute paths."""
    master = yaml.safe_load(MASTER_CONF.read_text())
    conf = {key: master[key] for key in SSH_KEYS}
    conf.update({key: [str(REPO_ROOT / path) for path in master[key]] for key in SSH_PATH_LISTS})
    return conf


@dataclass
class SaltResult:
    """One salt-ssh call: its exit code, parsed JSON return per target, and raw output."""

    returncode: int
    data: dict
    stdout: str
    stderr: str
    seconds: float

    def target(self, name):
        return self.data.get(name)

    def states(self, name):
        """State results for ``name`` keyed by state id; raises if the call did not run states."""
        ret = self.data.get(name)
        if isinstance(ret, dict) and "return" in ret and isinstance(ret["return"], (dict, list)):
            ret = ret["return"]
        if not isinstance(ret, dict) or not all(isinstance(v, dict) and "result" in v for v in ret.values()):
            raise AssertionError(
                f"{name} did not return state results: {json.dumps(ret, indent=1)[:3000]}\n"
                f"stderr: {self.stderr[-3000:]}"
            )
        return {value.get("__id__", key): value for key, value in ret.items()}

    def failed(self, name):
        return {sid: r for sid, r in self.states(name).items() if r["result"] is False}

    def changed(self, name):
        return {sid: r["changes"] for sid, r in self.states(name).items() if r.get("changes")}


@dataclass
class SaltSSH:
    """salt-ssh against a roster of targets, with the repository's states, modules and pillar."""

    work_dir: Path
    roster: dict = field(default_factory=dict)
    extra_options: dict = field(default_factory=dict)

    def __post_init__(self):
        self.work_dir = Path(self.work_dir)
        self.config_dir = self.work_dir / "config"
        self.pillar_dir = self.work_dir / "pillar"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.pillar_dir.mkdir(parents=True, exist_ok=True)
        conf = repo_config(self.work_dir, self.pillar_dir)
        conf.update(ssh_config())
        conf.update(self.extra_options)
        (self.config_dir / "master").write_text(yaml.safe_dump(conf))
        self.set_roster(self.roster)
        self.set_pillar({})

    def set_roster(self, roster):
        self.roster = dict(roster)
        (self.config_dir / "roster").write_text(yaml.safe_dump(self.roster))

    def set_pillar(self, data):
        """Make ``data`` the machine-local pillar (`local.sls`) of every target."""
        (self.pillar_dir / "local.sls").write_text(yaml.safe_dump(data or {}))
        if (check := leaks.current()) is not None:
            check.pillar(data)

    def command(self, target, fun, *args, **kwargs):
        cmd = [
            str(Path(sys.executable).parent / "salt-ssh"),
            "-c",
            str(self.config_dir),
            "--roster-file",
            str(self.config_dir / "roster"),
            "--out=json",
            "--static",
            "--no-color",
            "--log-level=quiet",
        ]
        if isinstance(target, (list, tuple)):
            cmd += ["-L", ",".join(target)]
        else:
            cmd.append(target)
        cmd.append(fun)
        cmd += [str(arg) for arg in args]
        cmd += [f"{key}={json.dumps(value) if not isinstance(value, str) else value}" for key, value in kwargs.items()]
        return cmd

    def run(self, target, fun, *args, timeout=900, **kwargs):
        cmd = self.command(target, fun, *args, **kwargs)
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.work_dir, check=False)
        seconds = time.monotonic() - started
        if (check := leaks.current()) is not None:
            check.pillar_files(self.pillar_dir)  # node files a test wrote itself, too
            check.pillar(kwargs.get("pillar"))
            check.saw(f"the output of salt-ssh {fun}", proc.stdout + proc.stderr)
        try:
            data = json.loads(proc.stdout) if proc.stdout.strip() else {}
        except json.JSONDecodeError:
            data = {}
        return SaltResult(proc.returncode, data, proc.stdout, proc.stderr, seconds)
