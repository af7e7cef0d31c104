"""The upgrade users do: a Debian 12 machine converged with base, powerline, db_postgres (a role, a database, rows),
db_redis and the `shop` Django project, dist-upgraded to Debian 13 in place, rebooted and converged again.

What must hold: PostgreSQL stays on the existing 15 cluster with its data (the formula follows `pg_lsclusters`,
not Debian 13's default 17) and the run says an upgrade is available; Redis keeps its data; the venvs whose
Python went away (Django's releases, powerline's) are rebuilt on Debian 13's 3.13 and the site answers with its
data; the next apply changes nothing. Then `sparks:db_postgres:upgrade: true` moves the cluster to 17 with
pg_upgradecluster, data and role intact, and the apply after it changes nothing.

Debian 12 only: Debian 13 has nothing to upgrade to. The steps build on each other, in file order, on one
target; each prints how long it took (run with -s to see them). The dist-upgrade downloads trixie's packages
from the Debian mirror (the shared apt cache keeps them for the next run).
"""

import contextlib
import time

import pytest

from tests.support.django_projects import SHOP_REPO, make_shop_repository, shop_pillar
from tests.support.http import get
from tests.support.saltrun import example_pillar

pytestmark = [pytest.mark.integration, pytest.mark.platforms("debian12")]

SLS = "base,powerline,db_postgres,db_redis,django"
ROLE = DATABASE = "shop"
PASSWORD = example_pillar("db_postgres")["sparks"]["db_postgres"]["roles"][ROLE]["password"]
PROD_ROOT = "/srv/django/shop/production"
POWERLINE_VENV = "/opt/sparks/powerline"
ROWS = 3
REDIS_KEY = "sparks:upgrade-probe"
TIMINGS = {}


def pillar(upgrade=False):
    data = shop_pillar()
    data["sparks"].update(example_pillar("base", "powerline")["sparks"])
    if upgrade:
        data["sparks"]["db_postgres"]["upgrade"] = True
    return data


@contextlib.contextmanager
def timed(step):
    """``with timed("dist-upgrade"):`` records the step's seconds in TIMINGS and prints them."""
    started = time.monotonic()
    try:
        yield
    finally:
        TIMINGS[step] = round(time.monotonic() - started, 1)
        print(f"[upgrade in place] {step}: {TIMINGS[step]} s", flush=True)


def apply(salt_ssh, target, data, step):
    salt_ssh.set_pillar(data)
    with timed(step):
        result = salt_ssh.run(target.name, "state.apply", SLS, timeout=1800)
    return result


def why(result, target):
    try:
        failed = result.failed(target.name)
    except AssertionError as exc:
        return str(exc)
    return "\n".join(f"{sid}: {ret['comment'][:1500]}" for sid, ret in failed.items()) or result.stderr[-3000:]


def clusters(target):
    """pg_lsclusters as (version, name, port, status) rows."""
    out = target.run("pg_lsclusters --no-header", check=True).stdout
    return [tuple(line.split()[:4]) for line in out.splitlines() if line.strip()]


def as_role(target, sql):
    """psql over TCP as the example role with its password (given on stdin, never on a command line)."""
    return target.run(f'PGPASSWORD="$(cat)" psql -h 127.0.0.1 -U {ROLE} -d {DATABASE} -Atc "{sql}"', input=PASSWORD)


def venv_python(target, venv):
    return target.run(f"{venv}/bin/python -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'").stdout.strip()


def assert_data_kept(target):
    rows = as_role(target, "SELECT count(*) FROM upgrade_probe")
    assert rows.returncode == 0, rows.stderr
    assert rows.stdout.strip() == str(ROWS)
    assert target.run(f"redis-cli GET {REDIS_KEY}", check=True).stdout.strip() == "kept"
    assert get(target) == (200, "shop v1: hello")


@pytest.fixture(scope="module")
def machine(target_run, platform, salt_ssh):
    """A Debian 12 target converged once, with rows in PostgreSQL and a key in Redis."""
    with timed("boot"):
        (target,) = target_run.boot("inplace1", platform=platform)
    make_shop_repository(target.root / SHOP_REPO.lstrip("/"))
    first = apply(salt_ssh, target, pillar(), "converge on Debian 12")
    assert first.returncode == 0, why(first, target)
    created = as_role(
        target,
        f"CREATE TABLE upgrade_probe (n int); INSERT INTO upgrade_probe SELECT generate_series(1, {ROWS})",
    )
    assert created.returncode == 0, created.stderr
    target.run(f"redis-cli SET {REDIS_KEY} kept && redis-cli SAVE", check=True)
    yield target
    print(f"[upgrade in place] timings: {TIMINGS}", flush=True)
    salt_ssh.set_pillar({})
    target_run.shutdown(target)


def test_converged_on_debian12(machine):
    assert clusters(machine) == [("15", "main", "5432", "online")]
    assert venv_python(machine, f"{PROD_ROOT}/current/venv") == "3.11"
    assert venv_python(machine, POWERLINE_VENV) == "3.11"
    assert_data_kept(machine)


def test_dist_upgrade_to_trixie_and_reboot(machine):
    with timed("dist-upgrade to trixie"):
        machine.run("sed -i 's/bookworm/trixie/g' /etc/apt/sources.list", check=True)
        # Keep every changed configuration file (sparks' own drop-ins stay), wait for apt's daily timers.
        noninteractive = (
            "DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a apt-get -y -q -o DPkg::Lock::Timeout=600 "
            "-o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef"
        )
        machine.run(f"{noninteractive} update", check=True, timeout=600)
        # Debian's release notes: a minimal upgrade first, then the full one; then what is left over goes.
        machine.run(f"{noninteractive} upgrade --without-new-pkgs", check=True, timeout=1800)
        machine.run(f"{noninteractive} dist-upgrade", check=True, timeout=1800)
        machine.run(f"{noninteractive} autoremove --purge", check=True, timeout=600)
    assert machine.run(". /etc/os-release && echo $VERSION_ID", check=True).stdout.strip() == "13"
    # Python 3.11 is gone: the venvs made with it no longer run.
    assert machine.run("test -e /usr/bin/python3.11").returncode != 0
    with timed("reboot"):
        machine.reboot()


def test_reapply_keeps_the_15_cluster_and_rebuilds_the_venvs(machine, salt_ssh):
    result = apply(salt_ssh, machine, pillar(), "re-apply on Debian 13")
    assert result.returncode == 0, why(result, machine)
    states = result.states(machine.name)
    notice = states["db-postgres-upgrade-cluster-upgraded"]
    assert "PostgreSQL 17 is available" in notice["comment"], notice
    assert "sparks:db_postgres:upgrade: true" in notice["comment"]
    # No empty 17/main beside the data: nothing installed postgresql-17.
    assert clusters(machine) == [("15", "main", "5432", "online")]
    changed = result.changed(machine.name)
    rebuilt = changed["django-shop-venvs-sparks-django-venvs-current"]["venvs"]
    assert {change["new"] for change in rebuilt.values()} == {"3.13"}, rebuilt
    assert "powerline-venv-built" in changed
    assert venv_python(machine, f"{PROD_ROOT}/current/venv") == "3.13"
    assert venv_python(machine, POWERLINE_VENV) == "3.13"
    assert machine.run(f"{POWERLINE_VENV}/bin/powerline-shell --help").returncode == 0
    assert_data_kept(machine)


def test_second_apply_on_debian13_changes_nothing(machine, salt_ssh):
    again = apply(salt_ssh, machine, pillar(), "zero-change apply")
    assert again.returncode == 0, why(again, machine)
    assert again.changed(machine.name) == {}


def test_upgrade_pillar_moves_the_cluster_to_17(machine, salt_ssh):
    result = apply(salt_ssh, machine, pillar(upgrade=True), "apply with upgrade: true")
    assert result.returncode == 0, why(result, machine)
    upgraded = result.changed(machine.name)["db-postgres-upgrade-cluster-upgraded"]
    assert upgraded == {"cluster": {"old": "15/main", "new": "17/main"}, "dropped": "15/main"}
    assert clusters(machine) == [("17", "main", "5432", "online")]
    assert as_role(machine, "SHOW server_version_num").stdout.strip().startswith("17")
    assert_data_kept(machine)
    again = apply(salt_ssh, machine, pillar(upgrade=True), "zero-change apply after the upgrade")
    assert again.returncode == 0, why(again, machine)
    assert again.changed(machine.name) == {}
