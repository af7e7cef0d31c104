"""`db_redis`, `db_memcached` and `db_sqlite` applied for real to one fresh Debian target per release (13 and 12) with
pillar.example's sections, then checked on the target: redis answers PING with the pillar's settings, memcached
answers `stats` with its memory and port, sqlite3 runs; a second apply changes nothing; a changed setting restarts
only the service whose configuration changed.

Redis gets a password the documented way (`sparks:db_redis:settings:requirepass`, declared secret): it refuses
clients without it, and the password is in no state output, in no job cache and in no file salt-ssh leaves behind,
on this machine or on the target, other than redis' own settings file (0640, redis).
"""

import copy

import pytest
import yaml

from tests.support import secrets
from tests.support.converge import assert_converged
from tests.support.saltrun import REPO_ROOT

pytestmark = pytest.mark.integration
EXAMPLE = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())["sparks"]
FORMULAS = ["db_redis", "db_memcached", "db_sqlite"]
SLS = ",".join(FORMULAS)
REDIS_PASSWORD = "Redis-pa55-from-pillar-7f3c"
NEW_REDIS_PASSWORD = "Redis-pa55-changed-91d2"

# `stats` over a plain socket, from the target's own Python (what salt-ssh runs on anyway).
MEMCACHED_STATS = """
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as s:
    s.sendall(b"stats\\r\\nquit\\r\\n")
    data = b""
    while not data.endswith(b"END\\r\\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
print(data.decode())
"""


def pillar(**sections):
    data = {name: copy.deepcopy(EXAMPLE[name]) for name in FORMULAS if name in EXAMPLE}
    data["db_redis"]["settings"] = {"requirepass": REDIS_PASSWORD}
    for name, changes in sections.items():
        data[name].update(changes)
    return {"sparks": data}


def redis_cli(target, args, port=None, password=REDIS_PASSWORD):
    return secrets.redis_cli(target, args, password, port or EXAMPLE["db_redis"]["port"])


def memcached_stats(target, port):
    out = target.run(f"python3 - {port}", input=MEMCACHED_STATS, check=True).stdout
    return {parts[1]: parts[2] for parts in (line.split() for line in out.splitlines()) if parts[:1] == ["STAT"]}


def main_pid(target, unit):
    return target.run(f"systemctl show -p MainPID --value {unit}", check=True).stdout.strip()


@pytest.fixture(scope="module")
def cache(target_run, platform, salt_ssh):
    """One target with redis, memcached and sqlite applied once with the example pillar."""
    (target,) = target_run.boot("cache1", platform=platform)
    salt_ssh.set_pillar(pillar())
    first = salt_ssh.run("cache1", "state.apply", SLS)
    yield target, first
    salt_ssh.set_pillar({})
    target_run.shutdown(target)


def test_first_apply_succeeds(cache):
    target, first = cache
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert first.failed(target.name) == {}
    assert {"db-redis-package-installed", "db-memcached-package-installed", "db-sqlite-package-installed"} <= set(
        first.changed(target.name)
    )


def test_redis_answers_ping_with_pillar_settings(cache):
    target, _ = cache
    redis = EXAMPLE["db_redis"]
    assert redis_cli(target, "PING").strip() == "PONG"
    config = redis_cli(target, "CONFIG GET '*'").splitlines()
    config = dict(zip(config[::2], config[1::2], strict=True))
    assert config["maxmemory"] == str(64 * 1024 * 1024)
    assert config["maxmemory-policy"] == redis["maxmemory_policy"]
    assert config["appendonly"] == "yes"
    assert config["save"] == " ".join(redis["save"])
    assert target.read("/etc/redis/redis.conf").rstrip().endswith("include /etc/redis/sparks.conf")


def test_redis_refuses_clients_without_the_pillar_password(cache):
    target, _ = cache
    assert "NOAUTH" in redis_cli(target, "PING", password="")
    assert "NOAUTH" in redis_cli(target, "PING", password="not-the-password")  # the AUTH failed (on stderr)
    assert target.run("stat -c '%a %U' /etc/redis/sparks.conf", check=True).stdout.split() == ["640", "redis"]


def test_redis_password_is_in_no_output_cache_or_leftover_file(cache, salt_ssh):
    target, first = cache
    assert REDIS_PASSWORD not in first.stdout + first.stderr
    # The settings file was written: its state says so, and shows no contents.
    assert first.changed(target.name)["db-redis-config-settings-file-managed"]["diff"] == "New file"
    # This machine: salt-ssh's caches, job cache and logs (its root_dir); only the pillar file itself holds it.
    here = secrets.files_holding(REDIS_PASSWORD, salt_ssh.work_dir)
    assert here == [str(salt_ssh.pillar_dir / "local.sls")], here
    # The target: salt's thin, caches and logs, /tmp and the journal; only redis' settings file holds it.
    there = secrets.files_holding(
        REDIS_PASSWORD, "/var/tmp", "/var/cache", "/var/log", "/tmp", "/root", "/etc", target=target
    )
    assert there == ["/etc/redis/sparks.conf"], there


def test_memcached_answers_stats_with_pillar_memory_and_port(cache):
    target, _ = cache
    memcached = EXAMPLE["db_memcached"]
    stats = memcached_stats(target, memcached["port"])
    assert int(stats["limit_maxbytes"]) == memcached["memory"] * 1024 * 1024
    assert "-m 128" in target.read("/etc/memcached.conf").splitlines()


def test_sqlite3_runs(cache):
    target, _ = cache
    assert target.run("sqlite3 :memory: 'select 6*7'", check=True).stdout.strip() == "42"


def test_second_apply_changes_nothing(cache, salt_ssh):
    target, first = cache
    again = salt_ssh.run(target.name, "state.apply", SLS)
    assert_converged(first, again, target.name)


@pytest.mark.platforms("debian13")  # the formulas' restart logic, the same on both releases: an extra apply
def test_changed_setting_restarts_only_the_service_it_belongs_to(cache, salt_ssh):
    target, _ = cache
    redis_before, memcached_before = main_pid(target, "redis-server"), main_pid(target, "memcached")
    changed = {"port": 6380, "maxmemory_policy": "volatile-lru", "settings": {"requirepass": NEW_REDIS_PASSWORD}}
    salt_ssh.set_pillar(pillar(db_redis=changed))
    try:
        ret = salt_ssh.run(target.name, "state.apply", SLS)
    finally:
        salt_ssh.set_pillar(pillar())
    assert ret.failed(target.name) == {}
    assert set(ret.changed(target.name)) == {"db-redis-config-settings-file-managed", "db-redis-service-running"}
    # A changed password shows that the file changed, never the old or the new value.
    assert ret.changed(target.name)["db-redis-config-settings-file-managed"] == {"diff": "<show_changes=False>"}
    assert REDIS_PASSWORD not in ret.stdout + ret.stderr and NEW_REDIS_PASSWORD not in ret.stdout + ret.stderr
    assert main_pid(target, "redis-server") != redis_before
    assert main_pid(target, "memcached") == memcached_before
    assert redis_cli(target, "CONFIG GET maxmemory-policy", port=6380, password=NEW_REDIS_PASSWORD).split() == [
        "maxmemory-policy",
        "volatile-lru",
    ]


# Each formula's clean state, applied once for real and then again with zero changes: its logic (the same package
# names and paths from the map) does not depend on the release, so Debian 13 only. Last in the module: it undoes
# what the checks above read.
@pytest.mark.platforms("debian13")
def test_clean_stops_and_removes_redis_memcached_and_sqlite(cache, salt_ssh):
    target, _ = cache
    clean = ",".join(f"{name}.clean" for name in FORMULAS)
    ret = salt_ssh.run(target.name, "state.apply", clean)
    assert ret.returncode == 0, ret.stdout[-3000:] + ret.stderr[-3000:]
    assert ret.failed(target.name) == {}
    assert {"redis-server", "redis-tools", "memcached", "sqlite3"} & target.packages() == set()
    listening = target.run("ss -Hltn", check=True).stdout
    assert ":6379 " not in listening and ":6380 " not in listening and ":11211 " not in listening, listening
    assert not (target.root / "etc/redis/sparks.conf").exists()
    assert not (target.root / "etc/memcached.conf").exists()  # purged with its package
    again = salt_ssh.run(target.name, "state.apply", clean)
    assert_converged(ret, again, target.name)
