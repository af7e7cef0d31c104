"""The database formulas and dev_django_full rendered by a real salt-call, per OS, with pillar.example's sections.

Debian 12 and 13 are also applied for real in tests/integration/test_db_*.py; Ubuntu is only rendered here.
"""

import pytest
import yaml

from tests.support.render import LINUX, arg, show_sls
from tests.support.saltrun import REPO_ROOT

EXAMPLE = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())["sparks"]
FORMULAS = ["db_postgres", "db_redis", "db_memcached", "db_mongodb", "db_mysql", "db_sqlite", "dev_django_full"]


@pytest.mark.parametrize("osname", LINUX)
def test_every_formula_renders_with_the_example_pillar(tmp_path, osname):
    # One salt-call renders them all (a call costs seconds); state IDs start with their formula's name.
    pillar = {formula: EXAMPLE[formula] for formula in FORMULAS if formula in EXAMPLE}
    states = show_sls(tmp_path, ",".join(FORMULAS), LINUX[osname], {"sparks": pillar})
    for formula in FORMULAS:
        prefix = formula.replace("_", "-") + "-"
        assert any(state_id.startswith(prefix) for state_id in states), formula
    assert all(any(state_id.startswith(f.replace("_", "-") + "-") for f in FORMULAS) for state_id in states)


@pytest.mark.parametrize("osname, version", [("Debian-13", 17), ("Debian-12", 15), ("Ubuntu-24.04", 16)])
def test_postgres_version_follows_the_distribution_and_pillar(tmp_path, osname, version):
    states = show_sls(tmp_path, "db_postgres", LINUX[osname], {"sparks": {}})
    assert arg(states["db-postgres-package-installed"], "pkg", "pkgs")[0] == f"postgresql-{version}"
    states = show_sls(tmp_path, "db_postgres", LINUX[osname], {"sparks": {"db_postgres": {"version": 13}}})
    assert arg(states["db-postgres-config-hba-file-managed"], "file", "name") == "/etc/postgresql/13/main/pg_hba.conf"


def test_postgres_passwords_are_not_in_the_rendered_states(tmp_path):
    states = show_sls(tmp_path, "db_postgres", LINUX["Debian-12"], {"sparks": {"db_postgres": EXAMPLE["db_postgres"]}})
    password = EXAMPLE["db_postgres"]["roles"]["shop"]["password"]
    assert password not in yaml.safe_dump(states)
    role = states["db-postgres-role-shop-present"]
    assert arg(role, "sparks_postgres", "password_pillar") == "sparks:db_postgres:roles:shop:password"


@pytest.mark.parametrize(
    "osname, url",
    [
        ("Debian-12", "apt/debian bookworm/"),
        # The vendor has no trixie suite: Debian 13 gets bookworm's (db_mongodb/parameters/osfinger/Debian-13.yaml).
        ("Debian-13", "apt/debian bookworm/"),
        ("Ubuntu-24.04", "apt/ubuntu noble/"),
    ],
)
def test_mongodb_repository_per_os_and_key_required(tmp_path, osname, url):
    states = show_sls(
        tmp_path, "db_mongodb", LINUX[osname], {"sparks": {"db_mongodb": {"repo": {"key_hash": "ab" * 32}}}}
    )
    assert url in arg(states["db-mongodb-repo-list-file-managed"], "file", "contents")
    fetch = arg(states["db-mongodb-repo-key-file-managed"], "cmd", "name")
    assert "https://pgp.mongodb.com/server-7.0.asc" in fetch and "ab" * 32 in fetch
    states = show_sls(tmp_path, "db_mongodb", LINUX[osname], {"sparks": {}})
    assert "test" in states["db-mongodb-repo-key-file-managed"]


def test_every_clean_state_renders(tmp_path):
    states = show_sls(
        tmp_path, ",".join(f"{formula}.clean" for formula in FORMULAS), LINUX["Debian-12"], {"sparks": {}}
    )
    for formula in FORMULAS:
        assert any(state_id.startswith(formula.replace("_", "-") + "-clean-") for state_id in states), formula


def _cluster(version, port, running=True):
    return {"version": version, "cluster": "main", "port": port, "running": running, "owner": "postgres"}


@pytest.mark.parametrize(
    "clusters, upgrade, managed, from_version",
    [
        ([], False, 17, None),  # a fresh machine: the OS default
        ([_cluster(15, 5432)], False, 15, 15),  # Debian 12's cluster after a dist-upgrade stays managed
        ([_cluster(15, 5432), _cluster(17, 5433)], False, 15, 15),  # not the empty 17/main beside it
        ([_cluster(17, 5432), _cluster(15, 5433, running=False)], False, 17, 17),  # after pg_upgradecluster
        ([_cluster(15, 5432)], True, 17, 15),  # upgrade: true manages 17 and upgrades from 15
    ],
)
def test_postgres_version_follows_the_existing_cluster(tmp_path, clusters, upgrade, managed, from_version):
    grains = {**LINUX["Debian-13"], "postgres_clusters": clusters}
    states = show_sls(tmp_path, "db_postgres", grains, {"sparks": {"db_postgres": {"upgrade": upgrade}}})
    assert arg(states["db-postgres-package-installed"], "pkg", "pkgs")[:2] == [
        f"postgresql-{managed}",
        f"postgresql-client-{managed}",
    ]
    assert (
        arg(states["db-postgres-config-hba-file-managed"], "file", "name")
        == f"/etc/postgresql/{managed}/main/pg_hba.conf"
    )
    upgraded = states["db-postgres-upgrade-cluster-upgraded"]
    assert arg(upgraded, "sparks_postgres", "version") == 17
    assert arg(upgraded, "sparks_postgres", "from_version") == from_version
    assert arg(upgraded, "sparks_postgres", "upgrade") is upgrade
