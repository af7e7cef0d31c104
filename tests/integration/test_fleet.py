"""Fleet sync through a salt-master: minions in real targets, roles as grains, highstate, batches, a minion down;
each minion's pillar its own (pillar/top.sls: nodes/<id>.sls), and a node file that is not YAML named with its line.

The master is pytest-salt-factories' daemon configured from this repository (file_roots, pillar_roots,
our modules and pillar checker), listening on the test bridge; each target runs a salt-minion from the
harness's minion layer and is accepted automatically (auto_accept: tests only).
"""

import hashlib
import time

import pytest

from pathlib import Path

from tests.support import leaks
from tests.support.converge import assert_converged
from tests.support.fleet import wait_for_ping
from tests.support.saltrun import repo_config
from tests.support.secrets import files_holding

pytestmark = pytest.mark.integration
ROLES = {"fleet1": ["dev_mini"], "fleet2": ["local_perms"], "fleet3": ["dev_mini", "local_perms"]}
STATE_PREFIX = {"dev_mini": "dev-mini-", "local_perms": "local-perms-"}
# A mixed fleet, as one is while it moves to the new Debian release.
PLATFORM = {"fleet1": "debian13", "fleet2": "debian12", "fleet3": "debian13"}
# Secrets of fleet1 and fleet2 in the master's pillar (nodes/<id>.sls); fleet3 has no node file.
NODE_SECRETS = {"fleet1": "Fleet1-redis-pa55-2c9e", "fleet2": "Fleet2-redis-pa55-7a41"}


def node_pillar(secret):
    return f"sparks:\n  db_redis:\n    settings:\n      requirepass: {secret}\n"


@pytest.fixture(scope="module")
def master(salt_factories, target_run, tmp_path_factory):
    work = tmp_path_factory.mktemp("master")
    (work / "pillar" / "nodes").mkdir(parents=True)
    for name, secret in NODE_SECRETS.items():
        (work / "pillar" / "nodes" / f"{name}.sls").write_text(node_pillar(secret))
    conf = repo_config(work, work / "pillar")
    overrides = {key: conf[key] for key in conf if key != "root_dir"}
    overrides.update(interface=target_run.network.gateway, auto_accept=True, open_mode=False)
    factory = salt_factories.salt_master_daemon("sparks-master", overrides=overrides)
    leaks.watch_master(factory, work / "pillar")
    with factory.started(start_timeout=120):
        yield factory


@pytest.fixture(scope="module")
def fleet(master, target_run):
    minion_conf = lambda target: {  # noqa: E731
        "master": target_run.network.gateway,
        "master_port": master.config["ret_port"],
        "publish_port": master.config["publish_port"],
        "grains": {"roles": ROLES[target.name]},
        "enable_fqdns_grains": False,
    }
    targets = [
        target
        for platform in sorted(set(PLATFORM.values()))
        for target in target_run.boot(
            *(name for name in ROLES if PLATFORM[name] == platform), platform=platform, minion_config=minion_conf
        )
    ]
    salt = master.salt_cli(timeout=900)
    wait_for_ping(salt, "*", list(ROLES))
    yield {t.name: t for t in targets}, salt
    target_run.shutdown(*targets)


def state_ids(minion_return):
    return {ret["__id__"] for ret in minion_return.values()}


def test_highstate_converges_each_minion_to_its_own_roles(fleet):
    targets, salt = fleet
    ret = salt.run("state.highstate", minion_tgt="*", _timeout=900)
    assert ret.returncode == 0, ret.stdout[-3000:]
    for name, roles in ROLES.items():
        ids = state_ids(ret.data[name])
        assert all(r["result"] is not False for r in ret.data[name].values())
        for role, prefix in STATE_PREFIX.items():
            assert any(i.startswith(prefix) for i in ids) == (role in roles), (name, ids)
    assert "git" in targets["fleet1"].packages() and "git" not in targets["fleet2"].packages()


def test_second_highstate_changes_nothing_anywhere(fleet):
    _, salt = fleet
    ret = salt.run("state.highstate", minion_tgt="*", _timeout=900)
    assert ret.returncode == 0
    for name in ROLES:
        assert {i: r["changes"] for i, r in ret.data[name].items() if r["changes"]} == {}, name


def test_each_minion_gets_only_its_own_node_pillar(fleet):
    targets, salt = fleet
    # Each minion renders a hash of the password its pillar holds: the job's return (kept in the master's job
    # cache and log) must not be the secret itself.
    held = "{{ pillar.get('sparks', {}).get('db_redis', {}).get('settings', {}).get('requirepass', '') | sha256 }}"
    ret = salt.run("slsutil.renderer", f"string={held}", "default_renderer=jinja", minion_tgt="*")
    assert ret.returncode == 0, ret.stdout[-2000:]
    for name in ROLES:
        assert ret.data[name].strip() == hashlib.sha256(NODE_SECRETS.get(name, "").encode()).hexdigest(), name
    # Nor does any minion's cache, configuration or log hold another's secret.
    for name, target in targets.items():
        for other, secret in NODE_SECRETS.items():
            if other != name:
                roots = ("/var/cache/salt", "/etc", "/var/log", "/tmp", "/root")
                assert files_holding(secret, *roots, target=target) == [], (name, other)


def test_a_node_file_that_is_not_yaml_is_named_through_the_master(fleet, master):
    targets, salt = fleet
    node = Path(master.config["pillar_roots"]["base"][-1]) / "nodes" / "fleet2.sls"
    node.write_text("sparks:\n  db_redis:\n    port: 6380\n  base: packages: htop\n")
    before = targets["fleet2"].run("ls -la --time-style=full-iso /root", check=True).stdout
    try:
        ret = salt.run("state.apply", "local_perms", minion_tgt="fleet2", _timeout=300)
    finally:
        node.write_text(node_pillar(NODE_SECRETS["fleet2"]))
    assert ret.returncode != 0
    assert f"invalid pillar: {node}: line 4, column 17: mapping values are not allowed" in ret.stdout, ret.stdout
    assert targets["fleet2"].run("ls -la --time-style=full-iso /root", check=True).stdout == before


def test_rolling_batch_by_role(fleet):
    """`salt -G roles:dev_mini -b 1 state.highstate`: one machine of a role at a time (how web nodes roll)."""
    _, salt = fleet
    ret = salt.run("-G", "-b", "1", "state.highstate", minion_tgt="roles:dev_mini", _timeout=900)
    assert ret.returncode == 0, ret.stdout[-2000:]
    assert "fleet1" in ret.stdout and "fleet3" in ret.stdout and "fleet2" not in ret.stdout


def test_minion_down_during_highstate_catches_up_next_time(fleet):
    targets, salt = fleet
    down = targets["fleet3"]
    down.run("systemctl stop salt-minion", check=True)
    down.run("rm -rf /root/.ssh", check=True)  # drift that its next highstate must repair
    # salt waits --timeout for a minion that does not answer, then names it.
    ret = salt.run("--timeout=20", "state.highstate", minion_tgt="*", _timeout=300)
    assert ret.returncode != 0
    assert "fleet3" in ret.stdout and "Minion did not return" in ret.stdout
    assert ret.data["fleet1"] and ret.data["fleet2"]
    down.run("systemctl start salt-minion", check=True)
    wait_for_ping(salt, "fleet3", ["fleet3"])
    again = salt.run("state.highstate", minion_tgt="fleet3", _timeout=600)
    assert again.returncode == 0
    assert down.run("stat -c %a /root/.ssh", check=True).stdout.strip() == "700"


def test_agentless_node_joins_the_master_through_salt_minion_state(master, target_run, salt_ssh, platform):
    """The documented path from salt-ssh to a master: `salt-ssh node state.apply salt_minion`, then highstate.

    On both releases (the one test of the `salt_minion` formula itself: the fleet above has Salt from the
    harness's minion layer); each is its own xdist group. A worker that runs both groups keeps one master for the
    module, which has accepted the first node's key: each release's node has a minion id of its own."""
    (node,) = target_run.boot(f"agentless{platform.removeprefix('debian')}", platform=platform)
    try:
        salt_ssh.set_pillar(
            {
                "sparks": {
                    "salt_minion": {
                        "master": target_run.network.gateway,
                        "master_port": master.config["ret_port"],
                        "publish_port": master.config["publish_port"],
                        "roles": ["local_perms"],
                        "version": _salt_version(),
                    }
                }
            }
        )
        applied = salt_ssh.run(node.name, "state.apply", "salt_minion")
        assert applied.failed(node.name) == {}, applied.stdout[-3000:]
        salt = master.salt_cli(timeout=600)
        try:
            wait_for_ping(salt, node.name, [node.name])
        except BaseException:
            diagnostics = node.run(
                "systemctl status salt-minion --no-pager; journalctl -u salt-minion --no-pager"
                " | tail -30; cat /etc/salt/minion.d/sparks.conf"
            )
            print(diagnostics.stdout, diagnostics.stderr)
            raise
        ret = salt.run("state.highstate", minion_tgt=node.name, _timeout=600)
        assert ret.returncode == 0
        assert all(i.startswith("local-perms-") for i in state_ids(ret.data))
        again = salt_ssh.run(node.name, "state.apply", "salt_minion")
        assert_converged(applied, again, node.name)
        # And back: salt_minion.clean stops the minion and removes its unit and configuration (twice: no change).
        clean = salt_ssh.run(node.name, "state.apply", "salt_minion.clean")
        assert clean.failed(node.name) == {}, clean.stdout[-3000:]
        # Salt stops the salt-minion unit with --no-block (since 3006.15: a minion stopping itself would deadlock),
        # so the state returns while it is still deactivating.
        deadline = time.monotonic() + 60
        while node.run("systemctl is-active salt-minion").stdout.strip() == "deactivating":
            assert time.monotonic() < deadline, "salt-minion still deactivating after 60 s"
            time.sleep(0.5)
        assert node.run("systemctl is-active salt-minion").stdout.strip() in ("inactive", "unknown")
        assert not (node.root / "etc/systemd/system/salt-minion.service").exists()
        assert not (node.root / "etc/salt/minion.d/sparks.conf").exists()
        assert_converged(clean, salt_ssh.run(node.name, "state.apply", "salt_minion.clean"), node.name)
    finally:
        salt_ssh.set_pillar({})
        target_run.shutdown(node)


def _salt_version():
    import salt.version

    return salt.version.__version__
