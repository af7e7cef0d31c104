"""Upgrading a fleet from Salt 3007 to 3008 in place, master first: the README's procedure, on real targets.

A 3007 fleet (a Debian 13 and a Debian 12 minion from the harness's 3007 minion layer, roles as grains) converges
through a 3007 salt-master: a venv of its own (salt-factories runs only the test's Salt), a plain process started
with a timeout and stopped by its PID. The master is then upgraded in place: the repository's own 3008 salt-master
(salt-factories' daemon, the .venv) starts on the very same configuration file, keys and cache; grain targeting
finds nothing until the grains are refreshed. The minions are upgraded with the `salt_minion` formula by both
documented paths at once, one each: through the master (the minion applies it in its own job) and with salt-ssh.
Then the fleet is highstated through the master: nothing changes, and Salt is 3008.4 everywhere, installed as
the constraints pin it.

Each phase is a test, in order, each depending on the ones before (pytest --durations shows what each costs).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import leaks
from tests.support.cache import cache_dir, cached_entry
from tests.support.fleet import wait_for_ping
from tests.support.saltrun import REPO_ROOT, repo_config
from tests.support.targets import UPGRADE_FROM_SALT

pytestmark = pytest.mark.integration
ROLES = {"up13": ["dev_mini"], "up12": ["local_perms"]}
PLATFORM = {"up13": "debian13", "up12": "debian12"}
# Each documented minion path upgrades one minion (at the same time: the pip installs overlap).
THROUGH_MASTER, THROUGH_SALT_SSH = "up13", "up12"
NOTHING = {name: {} for name in ROLES}  # no failed or changed states on any minion
# What Salt 3007.16 needs and 3008.4 does not: an upgrade in place leaves it in the venv (see the README).
LEFT_BY_3007 = {"contextvars", "immutables"}
CONSTRAINTS = REPO_ROOT / "requirements" / "constraints.txt"
VENV = "/opt/sparks/venv"  # the salt_minion formula's default, and the minion layer's
# salt-factories' own additions to the master's configuration file: its engine and log handler live in
# salt-factories, which the 3007 master's venv has not.
FACTORIES_KEYS = ("engines", "engines_dirs", "log_handlers_dirs", "pytest-master")


def pinned_salt():
    import salt.version

    return salt.version.__version__


# --------------------------------------------------------------------------------------------------- masters
def salt_venv(version):
    """A venv with ``salt==version`` of the Python the test's own venv was made from, made once and cached (keyed
    by both). Not with the constraints file: its pins are the pinned Salt's."""
    python = Path(sys.base_prefix) / "bin" / "python3"
    venv = cache_dir("salt-venvs") / f"salt-{version}-py{sys.version_info.major}.{sys.version_info.minor}"
    return cached_entry(venv, lambda path: _make_salt_venv(python, path, version))


def _make_salt_venv(python, venv, version):
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin/pip"), "install", "--quiet", "--disable-pip-version-check", f"salt=={version}"]
    installed = subprocess.run(pip, timeout=900, capture_output=True, text=True, check=False)
    if installed.returncode != 0:
        pytest.fail(f"pip could not install salt=={version}: {installed.stderr[-3000:]}")


class PlainMaster:
    """A salt-master of another venv than the test's own, run as a process: started with a timeout, stopped by
    its PID (the process group it leads: salt-master's workers are its children)."""

    def __init__(self, venv, config):
        self.venv = Path(venv)
        self.config = config
        self.log = Path(config["root_dir"]) / "plain-master.log"
        self.process = None

    def start(self, timeout=120):
        with open(self.log, "a", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [str(self.venv / "bin/salt-master"), "-c", str(Path(self.config["conf_file"]).parent)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not all(self._listening(port) for port in (self.config["ret_port"], self.config["publish_port"])):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"salt-master of {self.venv} did not start: {self.log.read_text()[-3000:]}")
            time.sleep(0.5)

    def stop(self):
        if self.process is None:
            return
        pgid = self.process.pid
        for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and _group_alive(pgid):
                self.process.poll()  # reap the leader, so that the group can empty
                time.sleep(0.2)
            if not _group_alive(pgid):
                break
        self.process.wait(timeout=10)
        self.process = None

    def salt_cli(self, timeout):
        from saltfactories.cli.salt import Salt

        return Salt(script_name=str(self.venv / "bin/salt"), config=self.config, timeout=timeout)

    def _listening(self, port):
        try:
            with socket.create_connection((self.config["interface"], port), timeout=1):
                return True
        except OSError:
            return False


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def master_3008(salt_factories, target_run, salt_ssh, tmp_path_factory):
    """The repository's 3008 master, not started yet: the configuration file it writes is the one both masters run.

    Its pillar includes salt-ssh's machine-local pillar directory: the master and salt-ssh serve the same
    `sparks:salt_minion` settings to each node."""
    conf = repo_config(tmp_path_factory.mktemp("master"), salt_ssh.pillar_dir)
    overrides = {key: conf[key] for key in conf if key != "root_dir"}
    overrides.update(interface=target_run.network.gateway, auto_accept=True, open_mode=False)
    factory = salt_factories.salt_master_daemon("upgrade-master", overrides=overrides)
    leaks.watch_master(factory, salt_ssh.pillar_dir)
    yield factory
    if factory.is_running():
        factory.terminate()
    salt_ssh.set_pillar({})


@pytest.fixture(scope="module")
def master_3007(master_3008):
    """The 3007 salt-master on master_3008's configuration file (less salt-factories' additions), running."""
    raw = yaml.safe_load(Path(master_3008.config["conf_file"]).read_text())
    for key in FACTORIES_KEYS:
        raw.pop(key, None)
    conf_dir = Path(raw["root_dir"]) / f"conf-{UPGRADE_FROM_SALT}"
    conf_dir.mkdir()
    (conf_dir / "master").write_text(yaml.safe_dump(raw))
    master = PlainMaster(salt_venv(UPGRADE_FROM_SALT), {**raw, "conf_file": str(conf_dir / "master")})
    master.start()
    yield master
    master.stop()


@pytest.fixture(scope="module")
def fleet(master_3007, master_3008, target_run):
    """The 3007 minions, answering the 3007 master."""

    def minion_conf(target):
        return {
            "master": target_run.network.gateway,
            "master_port": master_3008.config["ret_port"],
            "publish_port": master_3008.config["publish_port"],
            "grains": {"roles": ROLES[target.name]},
            "enable_fqdns_grains": False,
        }

    targets = [
        target
        for platform in sorted(set(PLATFORM.values()))
        for target in target_run.boot(
            *(name for name in ROLES if PLATFORM[name] == platform),
            platform=platform,
            minion_config=minion_conf,
            salt_version=UPGRADE_FROM_SALT,
        )
    ]
    wait_for_ping(master_3007.salt_cli(timeout=120), "*", list(ROLES))
    yield {t.name: t for t in targets}
    target_run.shutdown(*targets)


# --------------------------------------------------------------------------------------------------- checks
def versions(salt):
    """Each answering minion's Salt version (a short --timeout: a restarting minion would hold salt for all of it)."""
    ret = salt.run("--timeout=10", "test.version", minion_tgt="*", _timeout=120)
    return ret.data if isinstance(ret.data, dict) else {}


def matched(salt, grain):
    """The minions that grain targeting (``salt -G``) finds, from the master's minion data cache."""
    ret = salt.run("-G", "--timeout=10", "test.ping", minion_tgt=grain, _timeout=120)
    return sorted(ret.data) if isinstance(ret.data, dict) else []


def stray_minions(target):
    """The salt-minion processes on ``target`` outside the unit's process tree: a minion the restart left running
    (its keepalive's child, orphaned) answers the master under the same id as the new one, and the first of the
    two to answer wins each call."""
    main = target.run("systemctl show -p MainPID --value salt-minion", check=True).stdout.strip()
    parent, minion = {}, {}
    for line in target.run("ps -eo pid=,ppid=,lstart=,args=", check=True).stdout.splitlines():
        pid, ppid, rest = line.split(None, 2)
        parent[pid] = ppid
        if f"{VENV}/bin/salt-minion" in rest:
            minion[pid] = f"{pid} (parent {ppid}, main {main}): {rest}"
    stray = []
    for pid, description in minion.items():
        ancestor = pid
        while ancestor not in (main, "0", "1") and ancestor in parent:
            ancestor = parent[ancestor]
        if ancestor != main:
            stray.append(description)  # what it is and since when, for the assertion message
    return stray


def cached_grains(cache):
    """The minions whose grains the 3008 master's cache holds (its `grains` bank, one file per minion)."""
    bank = cache / "grains"
    return sorted(p.stem for p in bank.iterdir()) if bank.is_dir() else []


def failed(minion_return):
    assert isinstance(minion_return, dict), minion_return
    return {i: r.get("comment") for i, r in minion_return.items() if r.get("result") is False}


def changed(minion_return):
    return {r.get("__id__", i): r["changes"] for i, r in minion_return.items() if r.get("changes")}


def constraints_pins(python):
    """The constraints file's ``name -> version`` for one Python (major.minor), markers evaluated."""
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"python_version": python, "python_full_version": python}):
                pins[canonicalize_name(req.name)] = str(req.specifier).removeprefix("==")
    return pins


def salt_minion_pillar(master):
    """Each node's `sparks:salt_minion` as a user's pillar gives it: its master, and its own roles (the formula
    writes the minion's whole configuration, its roles grain included). One SLS for the master and salt-ssh."""
    settings = {
        name: {
            "master": master.config["interface"],
            "master_port": master.config["ret_port"],
            "publish_port": master.config["publish_port"],
            "roles": roles,
        }
        for name, roles in ROLES.items()
    }
    return f"sparks:\n  salt_minion: {{{{ {json.dumps(settings)}[grains.id] | json }}}}\n"


# --------------------------------------------------------------------------------------------------- phases
def test_3007_fleet_converges_through_its_master(fleet, master_3007):
    salt = master_3007.salt_cli(timeout=900)
    assert versions(salt) == dict.fromkeys(ROLES, UPGRADE_FROM_SALT)
    ret = salt.run("state.highstate", minion_tgt="*", _timeout=900)
    assert ret.returncode == 0, ret.stdout[-3000:]
    assert {name: failed(ret.data[name]) for name in ROLES} == NOTHING
    # The 3007 master's minion data cache holds their grains: grain targeting finds each role.
    assert matched(salt, "roles:dev_mini") == ["up13"] and matched(salt, "roles:local_perms") == ["up12"]


def test_master_upgraded_in_place_grain_targeting_finds_nothing_until_grains_are_refreshed(
    fleet, master_3007, master_3008
):
    master_3007.stop()
    master_3008.start(start_timeout=120)
    salt = master_3008.salt_cli(timeout=120)
    # Same keys: the 3007 minions answer the 3008 master without being accepted again.
    wait_for_ping(salt, "*", list(ROLES))
    assert versions(salt) == dict.fromkeys(ROLES, UPGRADE_FROM_SALT)
    # 3007 kept each minion's grains in the cache's minions/<id>/data; 3008 reads a `grains` bank, which it fills
    # only when a minion sends its grains again. Until then grain targeting matches nothing (the release notes).
    cache = Path(master_3008.config["cachedir"])
    assert sorted(p.name for p in (cache / "minions").iterdir()) == sorted(ROLES)
    assert not (cache / "grains").exists()
    assert matched(salt, "roles:dev_mini") == [] and matched(salt, "roles:local_perms") == []
    refreshed = salt.run("saltutil.refresh_grains", minion_tgt="*", _timeout=120)
    assert refreshed.data == dict.fromkeys(ROLES, True), refreshed.stdout
    # refresh_grains returns at once; each minion then sends its grains with a pillar request of its own.
    deadline = time.monotonic() + 60
    while cached_grains(cache) != sorted(ROLES) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert cached_grains(cache) == sorted(ROLES)
    assert matched(salt, "roles:dev_mini") == ["up13"] and matched(salt, "roles:local_perms") == ["up12"]


def test_minions_upgraded_by_salt_minion_through_the_master_and_with_salt_ssh(fleet, master_3008, salt_ssh):
    (salt_ssh.pillar_dir / "local.sls").write_text(salt_minion_pillar(master_3008))
    salt = master_3008.salt_cli(timeout=900)
    with ThreadPoolExecutor(max_workers=2) as pool:
        # Through the master by role (grain targeting works again), as a rolling upgrade would go.
        through_master = pool.submit(
            salt.run, "-G", "state.apply", "salt_minion", minion_tgt=f"roles:{ROLES[THROUGH_MASTER][0]}", _timeout=900
        )
        with_ssh = pool.submit(salt_ssh.run, THROUGH_SALT_SSH, "state.apply", "salt_minion")
        through_master, with_ssh = through_master.result(), with_ssh.result()
    # The minion's own job returned, whole: the restart came after it, from systemd.
    assert through_master.returncode == 0, through_master.stdout[-3000:]
    assert sorted(through_master.data) == [THROUGH_MASTER]
    assert failed(through_master.data[THROUGH_MASTER]) == {}
    assert with_ssh.failed(THROUGH_SALT_SSH) == {}, with_ssh.stdout[-3000:]
    # Through the master the minion runs the job itself: it keeps running and systemd restarts it afterwards.
    ran = changed(through_master.data[THROUGH_MASTER])
    assert {"salt-minion-salt-installed", "salt-minion-service-restart-scheduled"} <= set(ran), sorted(ran)
    assert "salt-minion-service-running" not in ran
    # With salt-ssh the minion is stopped before pip replaces its files (a running minion imports from the half
    # removed tree, and pip failed with "Directory not empty"), then started: no restart to schedule.
    ran = with_ssh.changed(THROUGH_SALT_SSH)
    assert {"salt-minion-salt-installed", "salt-minion-service-running"} <= set(ran), sorted(ran)
    assert "salt-minion-service-restart-scheduled" not in ran
    deadline = time.monotonic() + 180
    while (answered := versions(salt)) != dict.fromkeys(ROLES, pinned_salt()) and time.monotonic() < deadline:
        time.sleep(3)
    assert answered == dict.fromkeys(ROLES, pinned_salt())
    # Each machine has one minion: the old one did not outlive its restart.
    assert {name: stray_minions(target) for name, target in fleet.items()} == {name: [] for name in ROLES}


def test_fleet_converges_on_3008_with_zero_changes(fleet, master_3008):
    salt = master_3008.salt_cli(timeout=900)
    # No second refresh: a restarted minion sends its grains again.
    assert matched(salt, "roles:dev_mini") == ["up13"] and matched(salt, "roles:local_perms") == ["up12"]
    first = salt.run("state.highstate", minion_tgt="*", _timeout=900)
    assert first.returncode == 0, first.stdout[-3000:]
    assert {name: failed(first.data[name]) for name in ROLES} == NOTHING
    # The 3007 highstate converged them already: Salt's upgrade changed nothing that our states manage.
    assert {name: changed(first.data[name]) for name in ROLES} == NOTHING
    second = salt.run("state.highstate", minion_tgt="*", _timeout=900)
    assert second.returncode == 0
    assert {name: changed(second.data[name]) for name in ROLES} == NOTHING
    # salt_minion itself through the master: its stamp says installed, nothing restarts.
    again = salt.run("state.apply", "salt_minion", minion_tgt="*", _timeout=300)
    assert {name: changed(again.data[name]) for name in ROLES} == NOTHING
    assert versions(salt) == dict.fromkeys(ROLES, pinned_salt())
    for name, target in fleet.items():
        listed = target.run(f"{VENV}/bin/pip list --format=json --disable-pip-version-check", check=True).stdout
        installed = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listed)}
        pins = constraints_pins(target.platform.python)
        # Every package the constraints pin is at its pin, and Salt's requirements are all there.
        assert {p: (v, pins[p]) for p, v in installed.items() if p in pins and v != pins[p]} == {}, name
        check = target.run(f"{VENV}/bin/pip check --disable-pip-version-check")
        assert check.returncode == 0, (name, check.stdout)
        # pip never uninstalls what only the old Salt needed (nor what a user added, such as a Salt extension).
        assert set(installed) - set(pins) - {"pip"} <= LEFT_BY_3007, (name, sorted(set(installed) - set(pins)))
