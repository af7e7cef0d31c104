"""Our PostgreSQL role/database state (salt/_states/sparks_postgres.py) in isolation: psql is faked, no Salt run.
(tests/functional/test_pillar_secrets.py runs it against a real PostgreSQL.)"""

import importlib.util

import pytest
from salt.utils.secret import hide

from tests.support.loadmod import load
from tests.support.saltrun import REPO_ROOT

spec = importlib.util.spec_from_file_location("sparks_postgres", REPO_ROOT / "salt/_states/sparks_postgres.py")
sparks_postgres = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sparks_postgres)

# Stored by PostgreSQL 15 for `CREATE ROLE ... PASSWORD 'pencil'` (password_encryption = scram-sha-256).
PG15_VERIFIER = (
    "SCRAM-SHA-256$4096:oY8bNA/rbdVHGE2IHb7VdQ==$IMhVVkG++0DuTAF12z3nS1Vecc7SGiIlsNSBjVh+X/E=:"
    "QgkRF2009UQlGRXIjtb76AIYE+xKHCrNpHAbbzd2vxc="
)
SECRET = "s3cret-'pass'"


class FakePsql:
    """Stands in for cmd.run_all: answers queries from canned rows, records every call."""

    def __init__(self, answers=None, fail=None):
        self.answers = answers or {}
        self.fail = fail
        self.calls = []

    def __call__(self, cmd, stdin=None, **kwargs):
        self.calls.append({"cmd": cmd, "stdin": stdin, **kwargs})
        if self.fail and self.fail in stdin:
            return {"retcode": 3, "stdout": "", "stderr": f"ERROR: syntax error\nLINE 1: {stdin}"}
        for marker, rows in self.answers.items():
            if marker in stdin:
                return {"retcode": 0, "stdout": "\n".join("\t".join(row) for row in rows), "stderr": ""}
        return {"retcode": 0, "stdout": "", "stderr": ""}

    def statements(self):
        return [call["stdin"] for call in self.calls if not call["stdin"].startswith("SELECT")]


@pytest.fixture
def state(monkeypatch):
    def _state(answers=None, test=False, pillar=None, fail=None):
        psql = FakePsql(answers, fail)
        monkeypatch.setattr(sparks_postgres, "__salt__", {"cmd.run_all": psql}, raising=False)
        # The pillar as Salt 3008 hands it to modules: wrapped in MaskedDict (real values, masked repr).
        monkeypatch.setattr(sparks_postgres, "__pillar__", hide(pillar or {}), raising=False)
        utils = {"sparks_pillar.get": load("_utils", "sparks_pillar").get}
        monkeypatch.setattr(sparks_postgres, "__utils__", utils, raising=False)
        monkeypatch.setattr(sparks_postgres, "__opts__", {"test": test}, raising=False)
        return psql

    return _state


def role_row(stored="", login="t", superuser="f", createdb="f", createrole="f"):
    return {"FROM pg_authid": [[login, superuser, createdb, createrole, stored]]}


def test_verifier_matches_what_postgres_stores():
    assert sparks_postgres.password_matches(PG15_VERIFIER, "pencil")
    assert not sparks_postgres.password_matches(PG15_VERIFIER, "pencil2")
    assert not sparks_postgres.password_matches("md5" + "0" * 32, "pencil")
    assert not sparks_postgres.password_matches("", "pencil")
    salt = __import__("base64").b64decode("oY8bNA/rbdVHGE2IHb7VdQ==")
    assert sparks_postgres.scram_verifier("pencil", salt) == PG15_VERIFIER


def test_quoting():
    assert sparks_postgres.quote_ident('we"ird') == '"we""ird"'
    assert sparks_postgres.quote_literal("it's") == "'it''s'"


def test_new_role_is_created_with_a_verifier_on_stdin_never_the_password(state):
    psql = state(pillar={"roles": {"app": {"password": SECRET}}})
    ret = sparks_postgres.role_present("app", password_pillar="roles:app:password", createdb=True)
    assert ret["result"] is True
    assert ret["changes"] == {"role": "created", "login": True, "createdb": True, "password": "set"}
    (create,) = psql.statements()
    assert create.startswith('CREATE ROLE "app" WITH LOGIN NOSUPERUSER CREATEDB NOCREATEROLE PASSWORD \'SCRAM-SHA-256$')
    for call in psql.calls:
        assert SECRET not in call["stdin"] and SECRET not in " ".join(call["cmd"])
        assert "SCRAM" not in " ".join(call["cmd"])
        assert call["output_loglevel"] == "quiet" and call["python_shell"] is False and call["runas"] == "postgres"
    assert SECRET not in repr(ret)


def test_matching_role_changes_nothing(state):
    psql = state(role_row(PG15_VERIFIER))
    ret = sparks_postgres.role_present("app", password="pencil")
    assert ret == {"name": "app", "result": True, "changes": {}, "comment": "Role app is as wanted"}
    assert psql.statements() == []


def test_changed_password_is_reported_without_its_value(state):
    psql = state(role_row(PG15_VERIFIER))
    ret = sparks_postgres.role_present("app", password=SECRET)
    assert ret["changes"] == {"password": "changed"}
    (alter,) = psql.statements()
    assert alter.startswith('ALTER ROLE "app" WITH LOGIN') and SECRET not in alter
    verifier = alter.split("PASSWORD '")[1].rstrip("';")
    assert sparks_postgres.password_matches(verifier, SECRET)


def test_flags_change_without_touching_the_password(state):
    psql = state(role_row(PG15_VERIFIER, createdb="t"))
    ret = sparks_postgres.role_present("app", password="pencil", createdb=False, superuser=True)
    assert ret["changes"] == {"createdb": False, "superuser": True}
    assert "PASSWORD" not in psql.statements()[0]


def test_dry_run_reports_and_changes_nothing(state):
    psql = state(role_row(PG15_VERIFIER), test=True)
    ret = sparks_postgres.role_present("app", password=SECRET)
    assert ret["result"] is None and ret["changes"] == {"password": "changed"}
    assert psql.statements() == []


def test_psql_error_hides_the_verifier(state):
    state(role_row(""), fail="ALTER ROLE")
    ret = sparks_postgres.role_present("app", password=SECRET)
    assert ret["result"] is False
    assert "<hidden>" in ret["comment"] and "SCRAM-SHA-256$" not in ret["comment"]


def test_missing_pillar_password_fails_clearly(state):
    state()
    ret = sparks_postgres.role_present("app", password_pillar="nope:password")
    assert ret["result"] is False and "pillar key nope:password is not set" in ret["comment"]


def test_new_database_with_extensions(state):
    psql = state()
    ret = sparks_postgres.database_present("shop", owner="shop", extensions=["pg_trgm"])
    assert ret["changes"] == {"database": "created", "extensions": ["pg_trgm"]}
    create, extension = psql.statements()
    assert create == 'CREATE DATABASE "shop" WITH OWNER "shop" ENCODING \'UTF8\' TEMPLATE "template0";'
    assert extension == 'CREATE EXTENSION IF NOT EXISTS "pg_trgm";'
    assert psql.calls[-1]["cmd"][-1] == "--dbname=shop"


def test_existing_database_gets_new_owner_and_missing_extensions_only(state):
    psql = state({"FROM pg_database": [["UTF8", "old", "C", "C"]], "FROM pg_extension": [["plpgsql"], ["pg_trgm"]]})
    ret = sparks_postgres.database_present("shop", owner="shop", extensions=["pg_trgm", "unaccent"])
    assert ret["changes"] == {"owner": {"old": "old", "new": "shop"}, "extensions": ["unaccent"]}
    assert psql.statements() == ['ALTER DATABASE "shop" OWNER TO "shop";', 'CREATE EXTENSION IF NOT EXISTS "unaccent";']


def test_existing_database_with_other_encoding_is_a_failure_not_a_silent_pass(state):
    psql = state({"FROM pg_database": [["LATIN1", "shop", "C", "C"]]})
    ret = sparks_postgres.database_present("shop", owner="shop", encoding="UTF8")
    assert ret["result"] is False and "encoding is LATIN1, not UTF8" in ret["comment"]
    assert psql.statements() == []
