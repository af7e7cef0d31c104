"""`db_postgres` applied for real to a fresh Debian 13 and a fresh Debian 12 target with pillar.example's section,
checked on the target.

The checks run in file order on one module-scoped target: they build on each other (a changed password, a
changed setting, a refused pg_hba.conf), each restoring the example pillar afterwards.
"""

import copy

import pytest
import yaml

from tests.support.converge import assert_converged
from tests.support.saltrun import REPO_ROOT

pytestmark = pytest.mark.integration
EXAMPLE = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())["sparks"]["db_postgres"]
ROLE = "shop"
DATABASE = "shop"
PASSWORD = EXAMPLE["roles"][ROLE]["password"]
NEW_PASSWORD = "n3w-Secret-'quoted'-$HOME"


def pg_version(target):
    """The PostgreSQL major the formula installs on this target's release: its per-OS parameter file says."""
    release = target.platform.name.removeprefix("debian")
    layer = REPO_ROOT / f"formulas/db_postgres/parameters/osfinger/Debian-{release}.yaml"
    return yaml.safe_load(layer.read_text())["version"]


def hba_path(target):
    return f"/etc/postgresql/{pg_version(target)}/main/pg_hba.conf"


def pillar(**changes):
    """pillar.example's db_postgres section with ``changes`` merged over it (one level deep)."""
    section = copy.deepcopy(EXAMPLE)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(section.get(key), dict):
            section[key] = {**section[key], **value}
        else:
            section[key] = value
    return {"sparks": {"db_postgres": section}}


def tcp_login(target, password, sql="SELECT current_user, current_database()"):
    """psql over TCP to 127.0.0.1 as the example role, password in the environment (never on a command line)."""
    return target.run(
        f'PGPASSWORD="$(cat)" psql -h 127.0.0.1 -U {ROLE} -d {DATABASE} -Atc "{sql}"',
        input=password,
    )


def postmaster_pid(target):
    return target.run(
        f"head -1 /var/lib/postgresql/{pg_version(target)}/main/postmaster.pid", check=True
    ).stdout.strip()


def apply(salt_ssh, target, data):
    salt_ssh.set_pillar(data)
    try:
        return salt_ssh.run(target.name, "state.apply", "db_postgres")
    finally:
        salt_ssh.set_pillar(pillar())


@pytest.fixture(scope="module")
def pg(target_run, platform, salt_ssh):
    """One target with db_postgres applied once with the example pillar."""
    (target,) = target_run.boot("pg1", platform=platform)
    salt_ssh.set_pillar(pillar())
    first = salt_ssh.run("pg1", "state.apply", "db_postgres")
    yield target, first
    salt_ssh.set_pillar({})
    target_run.shutdown(target)


def test_first_apply_creates_the_role_and_database(pg):
    target, first = pg
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert first.failed(target.name) == {}
    changed = first.changed(target.name)
    assert changed[f"db-postgres-role-{ROLE}-present"] == {
        "role": "created",
        "login": True,
        "createdb": True,
        "password": "set",
    }
    assert changed[f"db-postgres-database-{DATABASE}-present"] == {
        "database": "created",
        "extensions": ["pg_trgm", "unaccent"],
    }
    assert PASSWORD not in first.stdout + first.stderr
    # The distribution's own major (Debian 12: 15, Debian 13: 17), and its one cluster runs.
    clusters = target.run("pg_lsclusters --no-header", check=True).stdout.split()
    assert clusters[:4] == [str(pg_version(target)), "main", "5432", "online"], clusters


def test_role_logs_in_over_tcp_with_its_password_and_sees_its_database(pg):
    target, _ = pg
    login = tcp_login(target, PASSWORD)
    assert login.returncode == 0, login.stderr
    assert login.stdout.strip() == f"{ROLE}|{DATABASE}"
    owner = tcp_login(
        target,
        PASSWORD,
        "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding) "
        "FROM pg_database WHERE datname = current_database()",
    )
    assert owner.stdout.strip() == f"{ROLE}|UTF8"
    extensions = tcp_login(target, PASSWORD, "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension")
    assert extensions.stdout.strip() == "pg_trgm,plpgsql,unaccent"
    assert tcp_login(target, "wrong password").returncode != 0


def test_settings_and_pg_hba_come_from_pillar(pg):
    target, _ = pg
    show = target.run("runuser -u postgres -- psql -Atc 'SHOW log_min_duration_statement'", check=True)
    assert show.stdout.strip() == "500ms"
    hba = target.read(hba_path(target))
    assert hba.splitlines()[3].split() == ["local", "all", "postgres", "peer"]
    assert ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"] in [line.split() for line in hba.splitlines()]
    errors = target.run(
        "runuser -u postgres -- psql -Atc 'SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL'", check=True
    )
    assert errors.stdout.strip() == "0"


def test_second_apply_changes_nothing(pg, salt_ssh):
    target, first = pg
    again = salt_ssh.run(target.name, "state.apply", "db_postgres")
    assert_converged(first, again, target.name)


# Reload logic and password changes are the formula's and our state's own, the same on both releases, and cost two
# applies each: Debian 13 only. The refused pg_hba.conf runs on both: the check is that release's PostgreSQL parser.
@pytest.mark.platforms("debian13")
def test_setting_change_reloads_without_restart(pg, salt_ssh):
    target, _ = pg
    before = postmaster_pid(target)
    ret = apply(salt_ssh, target, pillar(settings={"log_min_duration_statement": 250}))
    assert ret.failed(target.name) == {}
    assert "db-postgres-config-settings-file-managed" in ret.changed(target.name)
    show = target.run("runuser -u postgres -- psql -Atc 'SHOW log_min_duration_statement'", check=True)
    assert show.stdout.strip() == "250ms"
    assert postmaster_pid(target) == before
    # Back to the example's settings, for the checks that follow.
    back = salt_ssh.run(target.name, "state.apply", "db_postgres")
    assert list(back.changed(target.name)) == [
        "db-postgres-config-settings-file-managed",
        "db-postgres-service-running",
    ]
    assert postmaster_pid(target) == before


@pytest.mark.platforms("debian13")
def test_changed_password_is_applied_and_never_shown(pg, salt_ssh):
    target, _ = pg
    # Sample every process's command line while the state runs: neither the password nor its verifier may show.
    target.run(
        'nohup sh -c \'while :; do cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " " >>/root/ps.log;'
        " echo >>/root/ps.log; sleep 0.02; done' >/dev/null 2>&1 & echo $! >/root/ps.pid",
        check=True,
    )
    try:
        ret = apply(salt_ssh, target, pillar(roles={ROLE: {**EXAMPLE["roles"][ROLE], "password": NEW_PASSWORD}}))
    finally:
        target.run("kill $(cat /root/ps.pid)")
    assert ret.returncode == 0, ret.stderr
    assert ret.changed(target.name) == {f"db-postgres-role-{ROLE}-present": {"password": "changed"}}
    assert tcp_login(target, NEW_PASSWORD).returncode == 0
    old = tcp_login(target, PASSWORD)
    assert old.returncode != 0 and "password authentication failed" in old.stderr
    samples = target.read("/root/ps.log")
    assert "psql" in samples or samples.count("\n") > 10  # the sampler ran
    for secret in (NEW_PASSWORD, "SCRAM-SHA-256$"):
        assert secret not in ret.stdout + ret.stderr
        assert secret not in samples
    assert NEW_PASSWORD not in target.run("cat /var/log/postgresql/*.log").stdout
    # Back to the example's password, for the checks that follow.
    back = salt_ssh.run(target.name, "state.apply", "db_postgres")
    assert back.changed(target.name) == {f"db-postgres-role-{ROLE}-present": {"password": "changed"}}
    assert tcp_login(target, PASSWORD).returncode == 0


def test_pg_hba_that_postgres_would_not_parse_is_refused_and_old_file_stays(pg, salt_ssh):
    target, _ = pg
    before = target.read(hba_path(target))
    bad_rules = EXAMPLE["hba"] + [
        {"type": "host", "database": "all", "user": "all", "address": "10.0.0.0/99", "method": "scram-sha-256"}
    ]
    ret = apply(salt_ssh, target, pillar(hba=bad_rules))
    assert ret.returncode != 0
    failed = ret.failed(target.name)
    assert "db-postgres-config-hba-file-managed" in failed
    comment = failed["db-postgres-config-hba-file-managed"]["comment"]
    assert "check_cmd" in comment and 'invalid CIDR mask in address "10.0.0.0/99"' in comment
    assert target.read(hba_path(target)) == before
    # The cluster was not reloaded with it and still takes password logins.
    assert tcp_login(target, PASSWORD).returncode == 0


# db_postgres.clean's logic (paths from the map) does not depend on the release: Debian 13 only, last (it undoes
# what the checks above read).
@pytest.mark.platforms("debian13")
def test_clean_stops_the_cluster_removes_the_server_and_keeps_the_data(pg, salt_ssh):
    target, _ = pg
    version = pg_version(target)
    ret = salt_ssh.run(target.name, "state.apply", "db_postgres.clean")
    assert ret.returncode == 0, ret.stdout[-3000:] + ret.stderr[-3000:]
    assert ret.failed(target.name) == {}
    assert {f"postgresql-{version}", f"postgresql-client-{version}"} & target.packages() == set()
    assert ":5432 " not in target.run("ss -Hltn", check=True).stdout
    assert not (target.root / f"etc/postgresql/{version}/main/conf.d/sparks.conf").exists()
    assert not (target.root / "usr/local/lib/sparks/pg-hba-check").exists()
    assert (target.root / f"var/lib/postgresql/{version}/main/PG_VERSION").exists()  # the databases stay
    again = salt_ssh.run(target.name, "state.apply", "db_postgres.clean")
    assert_converged(ret, again, target.name)
