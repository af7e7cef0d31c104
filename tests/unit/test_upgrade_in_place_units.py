"""The pieces of the in-place upgrade in isolation: the postgres_clusters grain's parsers
(salt/_utils/sparks_postgres.py, salt/_grains/sparks_postgres.py), the venv check (salt/_utils/sparks_venv.py, on
real venvs of this machine's Python) and the cluster upgrade decision and steps (salt/_states/sparks_postgres.py,
commands faked). tests/integration/test_upgrade_in_place.py runs them on a real Debian 12 -> 13 upgrade."""

import json
import subprocess
import sys

import pytest

from tests.support.loadmod import load

pg_utils = load("_utils", "sparks_postgres")
pg_grains = load("_grains", "sparks_postgres")
venv_utils = load("_utils", "sparks_venv")
pg_states = load("_states", "sparks_postgres")

JSON_OUTPUT = json.dumps(
    [
        {"version": "17", "cluster": "main", "port": 5433, "running": 1, "owner": "postgres",
         "pgdata": "/var/lib/postgresql/17/main", "logfile": "/var/log/postgresql/postgresql-17-main.log"},
        {"version": "15", "cluster": "main", "port": 5432, "running": 0, "owner": "postgres",
         "pgdata": "/var/lib/postgresql/15/main", "logfile": "/var/log/postgresql/postgresql-15-main.log"},
    ]
)  # fmt: skip
PLAIN_OUTPUT = (
    "15  main    5432 online,recovery postgres /var/lib/postgresql/15/main /var/log/postgresql/postgresql-15-main.log\n"
    "17  main    5433 down   postgres /var/lib/postgresql/17/main /var/log/postgresql/postgresql-17-main.log\n"
)


@pytest.fixture
def configure_loader_modules():
    return {
        pg_grains: {"__utils__": {"sparks_postgres.clusters": pg_utils.clusters}},
        pg_states: {"__salt__": {}, "__utils__": {}, "__opts__": {"test": False}},
    }


def cluster(version, port, running=True, name="main"):
    return {"version": version, "cluster": name, "port": port, "running": running, "owner": "postgres",
            "data_directory": f"/var/lib/postgresql/{version}/{name}"}  # fmt: skip


# ----------------------------------------------------------------------------------------------- the grain
def test_json_output_is_parsed_and_sorted_by_version():
    assert pg_utils.parse_json(JSON_OUTPUT) == [cluster(15, 5432, running=False), cluster(17, 5433)]


def test_plain_output_is_parsed_with_its_status():
    assert pg_utils.parse_plain(PLAIN_OUTPUT) == [cluster(15, 5432), cluster(17, 5433, running=False)]
    assert pg_utils.parse_plain("Ver Cluster Port Status Owner Data directory Log file\n") == []
    assert pg_utils.parse_json("[]") == [] and pg_utils.parse_plain("") == []


def test_no_postgresql_gives_an_empty_grain(monkeypatch):
    monkeypatch.setattr(pg_utils.shutil, "which", lambda name: None)
    assert pg_grains.postgres_clusters() == {"postgres_clusters": []}


def test_the_plain_table_is_the_fallback_when_json_is_not_understood(monkeypatch):
    calls = []

    def fake_run(argv, **kwargs):
        calls.append(argv)
        if "--json" in argv:
            return subprocess.CompletedProcess(argv, 1, "", "Unknown option: json")
        return subprocess.CompletedProcess(argv, 0, PLAIN_OUTPUT, "")

    monkeypatch.setattr(pg_utils.shutil, "which", lambda name: "/usr/bin/pg_lsclusters")
    monkeypatch.setattr(pg_utils.subprocess, "run", fake_run)
    assert [c["version"] for c in pg_utils.clusters()] == [15, 17]
    assert calls == [["pg_lsclusters", "--json"], ["pg_lsclusters", "--no-header"]]


# ----------------------------------------------------------------------------------------------- the venv check
@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    path = tmp_path_factory.mktemp("venvs") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


def test_a_venv_of_the_system_python_is_current(venv):
    status = venv_utils.status(str(venv), sys.executable)
    mine = "%d.%d" % sys.version_info[:2]
    assert status["current"] is True, status
    assert (status["recorded"], status["runs"], status["system"]) == (mine, mine, mine)


def test_a_venv_whose_python_is_gone_is_not_current(venv, tmp_path):
    broken = tmp_path / "broken"
    (broken / "bin").mkdir(parents=True)
    (broken / "bin/python").symlink_to("/usr/bin/python3.9-gone")
    (broken / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.9.2\n")
    status = venv_utils.status(str(broken), sys.executable)
    assert status["current"] is False
    assert status["recorded"] == "3.9" and status["runs"] is None
    assert "does not run (its Python 3.9 is gone)" in status["reason"]


def test_a_venv_of_another_python_is_not_current_even_while_it_runs(venv, tmp_path):
    # The old interpreter still installed (no autoremove yet): the venv runs, but not the system's Python.
    other = tmp_path / "other"
    (other / "bin").mkdir(parents=True)
    (other / "bin/python").symlink_to(sys.executable)
    (other / "pyvenv.cfg").write_text("home = /usr/bin\nversion_info = 3.9.2.final.0\n")
    status = venv_utils.status(str(other), sys.executable)
    assert status["current"] is False and status["recorded"] == "3.9"
    assert "was made with Python 3.9; the system's is" in status["reason"]


def test_a_missing_venv_is_not_current(tmp_path):
    status = venv_utils.status(str(tmp_path / "nope"), sys.executable)
    assert status["current"] is False and "does not exist" in status["reason"]


# ----------------------------------------------------------------------------------------------- the upgrade
@pytest.mark.parametrize(
    "existing, from_version, upgrade, action, drop_first",
    [
        ([], None, True, "none", False),  # nothing installed yet
        ([cluster(17, 5432)], 17, True, "none", False),  # already there
        ([cluster(15, 5432)], 15, False, "notice", False),  # never implicit: only said
        ([cluster(15, 5432)], 15, True, "upgrade", False),
        ([cluster(15, 5432), cluster(17, 5433)], 15, True, "upgrade", True),  # Debian's empty 17/main goes first
        ([cluster(15, 5432), cluster(17, 5433, running=False)], 15, True, "refuse", False),  # can't tell: refused
        ([cluster(18, 5432)], 18, True, "none", False),  # newer than the target: never downgraded
    ],
)
def test_upgrade_plan(existing, from_version, upgrade, action, drop_first):
    plan = pg_states.upgrade_plan(existing, "main", 17, from_version, upgrade)
    assert (plan["action"], plan["drop_target_first"]) == (action, drop_first), plan


def test_the_notice_says_how_to_upgrade():
    plan = pg_states.upgrade_plan([cluster(15, 5432)], "main", 17, 15, False)
    assert "PostgreSQL 17 is available" in plan["comment"]
    assert "sparks:db_postgres:upgrade: true" in plan["comment"]


class FakeCommands:
    """cmd.run_all for pg_dropcluster/pg_upgradecluster/psql: records argv, answers psql from ``databases``."""

    def __init__(self, databases=("postgres", "template0", "template1"), fail=None, answers=True):
        self.databases, self.fail, self.answers, self.calls = databases, fail, answers, []

    def __call__(self, cmd, stdin=None, **kwargs):
        self.calls.append(cmd)
        if cmd[0] == "psql":
            if "datname" in stdin:
                return {"retcode": 0, "stdout": "\n".join(self.databases), "stderr": ""}
            return {"retcode": 0 if self.answers else 2, "stdout": "1", "stderr": "" if self.answers else "refused"}
        if self.fail and cmd[0] == self.fail:
            return {"retcode": 1, "stdout": "", "stderr": f"{cmd[0]}: it went wrong"}
        return {"retcode": 0, "stdout": "", "stderr": ""}

    def programs(self):
        return [" ".join(cmd) for cmd in self.calls if cmd[0] != "psql"]


@pytest.fixture
def upgrade(monkeypatch):
    def _run(existing, fake, test=False, **kwargs):
        pg_states.__salt__["cmd.run_all"] = fake
        pg_states.__utils__["sparks_postgres.clusters"] = lambda: existing
        pg_states.__opts__["test"] = test
        monkeypatch.setattr(pg_states, "ANSWER_TIMEOUT", 0)
        monkeypatch.setattr(pg_states.time, "sleep", lambda seconds: None)
        return pg_states.cluster_upgraded("main", 17, **{"from_version": 15, "port": 5432, "upgrade": True, **kwargs})

    return _run


def test_upgrade_drops_the_empty_new_cluster_upgrades_then_drops_the_old(upgrade):
    fake = FakeCommands()
    ret = upgrade([cluster(15, 5432), cluster(17, 5433)], fake)
    assert ret["result"] is True, ret
    assert ret["changes"] == {"cluster": {"old": "15/main", "new": "17/main"}, "dropped": "15/main"}
    assert fake.programs() == [
        "pg_dropcluster --stop 17 main",
        "pg_upgradecluster -v 17 15 main",
        "pg_dropcluster --stop 15 main",
    ]


def test_a_new_cluster_holding_databases_is_not_dropped(upgrade):
    fake = FakeCommands(databases=("postgres", "template0", "template1", "shop"))
    ret = upgrade([cluster(15, 5432), cluster(17, 5433)], fake)
    assert ret["result"] is False and ret["changes"] == {}
    assert "holds databases (shop)" in ret["comment"]
    assert fake.programs() == []


def test_the_old_cluster_stays_when_the_new_one_does_not_answer(upgrade):
    fake = FakeCommands(answers=False)
    ret = upgrade([cluster(15, 5432)], fake)
    assert ret["result"] is False
    assert "the old cluster 15/main is kept" in ret["comment"]
    assert fake.programs() == ["pg_upgradecluster -v 17 15 main"]


def test_a_failed_pg_upgradecluster_drops_nothing(upgrade):
    fake = FakeCommands(fail="pg_upgradecluster")
    ret = upgrade([cluster(15, 5432)], fake)
    assert ret["result"] is False and ret["changes"] == {}
    assert "not upgraded to 17" in ret["comment"] and "it went wrong" in ret["comment"]
    assert fake.programs() == ["pg_upgradecluster -v 17 15 main"]


def test_test_mode_changes_nothing(upgrade):
    fake = FakeCommands()
    ret = upgrade([cluster(15, 5432), cluster(17, 5433)], fake, test=True)
    assert ret["result"] is None and ret["changes"]["cluster"] == {"old": "15/main", "new": "17/main"}
    assert fake.programs() == []


def test_without_upgrade_the_state_warns_and_changes_nothing(upgrade):
    fake = FakeCommands()
    ret = upgrade([cluster(15, 5432)], fake, upgrade=False)
    assert ret["result"] is True and ret["changes"] == {}
    assert ret["warnings"] == [ret["comment"]] and "PostgreSQL 17 is available" in ret["comment"]
    assert fake.calls == []
