"""The database formulas and dev_django_full rendered by a real salt-call, per OS, with pillar.example's sections.

Debian 12 is also applied for real in tests/integration/test_db_*.py; Ubuntu is only rendered here.
"""

import json
import subprocess

import pytest
import yaml

from tests.functional.test_map_per_os import OSES, SALT_CALL, arg
from tests.support.saltrun import REPO_ROOT, repo_config

EXAMPLE = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())["sparks"]
FORMULAS = ["db_postgres", "db_redis", "db_memcached", "db_mongodb", "db_mysql", "db_sqlite", "dev_django_full"]
LINUX = {name: grains for name, grains in OSES.items() if grains["os_family"] == "Debian"}


def render_sls(tmp_path, sls, grains, pillar):
    """state.show_sls of ``sls`` with these grains and ``sparks:`` pillar, by a local salt-call."""
    grains = dict(grains, oscodename={"Debian-12": "bookworm", "Ubuntu-24.04": "noble"}[grains["osfinger"]])
    conf = repo_config(tmp_path, tmp_path / "pillar")
    conf.update(file_client="local", grains=grains)
    (tmp_path / "pillar").mkdir(exist_ok=True)
    (tmp_path / "pillar/local.sls").write_text(yaml.safe_dump({"sparks": pillar}))
    (tmp_path / "minion").write_text(yaml.safe_dump(conf))
    proc = subprocess.run(
        [SALT_CALL, "--local", "-c", str(tmp_path), "--out=json", "state.show_sls", sls],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)["local"]


@pytest.mark.parametrize("osname", LINUX)
def test_every_formula_renders_with_the_example_pillar(tmp_path, osname):
    # One salt-call renders them all (a call costs seconds); state IDs start with their formula's name.
    pillar = {formula: EXAMPLE[formula] for formula in FORMULAS if formula in EXAMPLE}
    states = render_sls(tmp_path, ",".join(FORMULAS), LINUX[osname], pillar)
    for formula in FORMULAS:
        prefix = formula.replace("_", "-") + "-"
        assert any(state_id.startswith(prefix) for state_id in states), formula
    assert all(any(state_id.startswith(f.replace("_", "-") + "-") for f in FORMULAS) for state_id in states)


@pytest.mark.parametrize("osname, version", [("Debian-12", 15), ("Ubuntu-24.04", 16)])
def test_postgres_version_follows_the_distribution_and_pillar(tmp_path, osname, version):
    states = render_sls(tmp_path, "db_postgres", LINUX[osname], {})
    assert arg(states["db-postgres-package-installed"], "pkg", "pkgs")[0] == f"postgresql-{version}"
    states = render_sls(tmp_path, "db_postgres", LINUX[osname], {"db_postgres": {"version": 13}})
    assert arg(states["db-postgres-config-hba-file-managed"], "file", "name") == "/etc/postgresql/13/main/pg_hba.conf"


def test_postgres_passwords_are_not_in_the_rendered_states(tmp_path):
    states = render_sls(tmp_path, "db_postgres", LINUX["Debian-12"], {"db_postgres": EXAMPLE["db_postgres"]})
    password = EXAMPLE["db_postgres"]["roles"]["shop"]["password"]
    assert password not in yaml.safe_dump(states)
    role = states["db-postgres-role-shop-present"]
    assert arg(role, "sparks_postgres", "password_pillar") == "sparks:db_postgres:roles:shop:password"


@pytest.mark.parametrize("osname, url", [("Debian-12", "apt/debian bookworm/"), ("Ubuntu-24.04", "apt/ubuntu noble/")])
def test_mongodb_repository_per_os_and_key_required(tmp_path, osname, url):
    states = render_sls(tmp_path, "db_mongodb", LINUX[osname], {"db_mongodb": {"repo": {"key_hash": "ab" * 32}}})
    assert url in arg(states["db-mongodb-repo-list-file-managed"], "file", "contents")
    fetch = arg(states["db-mongodb-repo-key-file-managed"], "cmd", "name")
    assert "https://pgp.mongodb.com/server-7.0.asc" in fetch and "ab" * 32 in fetch
    states = render_sls(tmp_path, "db_mongodb", LINUX[osname], {})
    assert "test" in states["db-mongodb-repo-key-file-managed"]


def test_every_clean_state_renders(tmp_path):
    states = render_sls(tmp_path, ",".join(f"{formula}.clean" for formula in FORMULAS), LINUX["Debian-12"], {})
    for formula in FORMULAS:
        assert any(state_id.startswith(formula.replace("_", "-") + "-clean-") for state_id in states), formula
