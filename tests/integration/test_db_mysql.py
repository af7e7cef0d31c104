"""`db_mysql` (MariaDB) and `dev_django_full` applied for real to one fresh Debian target per release (13 and 12) with
pillar.example's sections: MariaDB answers `mysqladmin ping` with the pillar's settings, the Django build libraries
are installed (one transaction) and usable, and a second apply changes nothing.
"""

import pytest
import yaml

from tests.support.converge import assert_converged
from tests.support.saltrun import REPO_ROOT

pytestmark = pytest.mark.integration
EXAMPLE = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())["sparks"]
DEFAULTS = yaml.safe_load((REPO_ROOT / "formulas/dev_django_full/parameters/defaults.yaml").read_text())
FORMULAS = ["db_mysql", "dev_django_full"]
SLS = ",".join(FORMULAS)


@pytest.fixture(scope="module")
def mysql(target_run, platform, salt_ssh):
    (target,) = target_run.boot("mysql1", platform=platform)
    salt_ssh.set_pillar({"sparks": {name: EXAMPLE[name] for name in FORMULAS}})
    first = salt_ssh.run("mysql1", "state.apply", SLS)
    yield target, first
    salt_ssh.set_pillar({})
    target_run.shutdown(target)


def test_first_apply_succeeds(mysql):
    target, first = mysql
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert first.failed(target.name) == {}
    assert {"db-mysql-package-installed", "dev-django-full-packages-installed"} <= set(first.changed(target.name))


def test_mariadb_answers_ping_with_pillar_settings(mysql):
    target, _ = mysql
    assert "mysqld is alive" in target.run("mysqladmin ping", check=True).stdout
    values = target.run(
        "mysql -Nse 'SELECT @@max_connections, @@bind_address, @@character_set_server'", check=True
    ).stdout.split()
    settings = EXAMPLE["db_mysql"]["settings"]
    assert values == [str(settings["max_connections"]), settings["bind-address"], settings["character-set-server"]]


def test_django_build_libraries_are_installed_and_usable(mysql):
    target, _ = mysql
    wanted = set(DEFAULTS["packages"] + EXAMPLE["dev_django_full"]["extra_packages"])
    assert wanted - target.packages() == set()
    # What psycopg, pylibmc, lxml and pyzmq builds look up.
    target.run(
        "pkg-config --exists libpq libmemcached libxml-2.0 libxslt libzmq && python3-config --includes", check=True
    )


def test_second_apply_changes_nothing(mysql, salt_ssh):
    target, first = mysql
    again = salt_ssh.run(target.name, "state.apply", SLS)
    assert_converged(first, again, target.name)


# The clean states' logic (package names and paths from the map) does not depend on the release: Debian 13 only.
@pytest.mark.platforms("debian13")
def test_clean_stops_mariadb_and_removes_the_packages(mysql, salt_ssh):
    target, _ = mysql
    clean = ",".join(f"{name}.clean" for name in FORMULAS)
    ret = salt_ssh.run(target.name, "state.apply", clean)
    assert ret.returncode == 0, ret.stdout[-3000:] + ret.stderr[-3000:]
    assert ret.failed(target.name) == {}
    assert {"mariadb-server", *DEFAULTS["packages"]} & target.packages() == set()
    assert not (target.root / "etc/mysql/mariadb.conf.d/90-sparks.cnf").exists()
    assert ":3306 " not in target.run("ss -Hltn", check=True).stdout
    assert (target.root / "var/lib/mysql").is_dir()  # the data stays
    again = salt_ssh.run(target.name, "state.apply", clean)
    assert_converged(ret, again, target.name)
