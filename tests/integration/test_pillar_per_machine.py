"""Each machine gets only its own secrets, through salt-ssh on two real targets (Debian 13).

Both machines' pillar files sit in one pillar tree on this machine (`nodes/<id>.sls`, pillar/top.sls), each with
its own Redis password; `db_redis` is applied to both in one salt-ssh call. Then each target's Redis takes its own
password only, and nothing on a target (salt-ssh's thin and caches, /etc, /var, /tmp, /root) holds the other's.
"""

import pytest

from tests.support.secrets import files_holding, redis_cli

pytestmark = [pytest.mark.integration, pytest.mark.platforms("debian13")]
PASSWORDS = {"own-a1": "Own-a1-redis-pa55-0b7e", "own-b1": "Own-b1-redis-pa55-c44d"}
ROOTS = ("/etc", "/var", "/tmp", "/root", "/opt")


@pytest.fixture(scope="module")
def machines(target_run, platform, salt_ssh):
    targets = target_run.boot(*PASSWORDS, platform=platform)
    nodes = salt_ssh.pillar_dir / "nodes"
    nodes.mkdir(exist_ok=True)
    for name, password in PASSWORDS.items():
        (nodes / f"{name.replace('.', '_')}.sls").write_text(
            # masterauth too (a replica's password for its master): every secret the formula takes is applied.
            f"sparks:\n  db_redis:\n    settings:\n      requirepass: {password}\n      masterauth: {password}-m\n"
        )
    salt_ssh.set_pillar({})
    ret = salt_ssh.run(list(PASSWORDS), "state.apply", "db_redis")
    yield targets, ret
    for path in nodes.iterdir():
        path.unlink()
    nodes.rmdir()
    target_run.shutdown(*targets)


def test_each_redis_takes_its_own_password_only(machines):
    targets, ret = machines
    assert ret.returncode == 0, ret.stdout[-3000:] + ret.stderr[-3000:]
    for target in targets:
        assert ret.failed(target.name) == {}
        other = next(name for name in PASSWORDS if name != target.name)
        assert redis_cli(target, "PING", PASSWORDS[target.name]).strip() == "PONG"
        assert "NOAUTH" in redis_cli(target, "PING", PASSWORDS[other])


def test_no_machine_holds_the_other_ones_secret(machines):
    targets, ret = machines
    assert not any(password in ret.stdout + ret.stderr for password in PASSWORDS.values())
    for target in targets:
        other = next(name for name in PASSWORDS if name != target.name)
        assert files_holding(PASSWORDS[other], *ROOTS, target=target) == [], target.name
        assert files_holding(PASSWORDS[target.name], *ROOTS, target=target) == ["/etc/redis/sparks.conf"], target.name


def test_a_node_file_that_is_not_yaml_is_named_and_nothing_runs(machines, salt_ssh):
    """Through salt-ssh too, the error names the file, line and column (Salt alone says "see master log")."""
    targets, _ = machines
    node = salt_ssh.pillar_dir / "nodes" / "own-a1.sls"
    good = node.read_text()
    node.write_text("sparks:\n  db_redis:\n    port: 6380\n  base: packages: htop\n")
    before = targets[0].run("sha256sum /etc/redis/sparks.conf", check=True).stdout
    try:
        ret = salt_ssh.run("own-a1", "state.apply", "db_redis")
    finally:
        node.write_text(good)
    out = ret.stdout + ret.stderr
    assert f"invalid pillar: {node}: line 4, column 17: mapping values are not allowed" in out, out[-3000:]
    assert targets[0].run("sha256sum /etc/redis/sparks.conf", check=True).stdout == before
