"""
sparks_django.release_deployed / rolled_back with a real git repository of a real Django project:
deploy v1, v2, a broken v3 (failing migration), roll back, a failing deploy check and health check, pruning.

The steps build on each other (one project root per Django line), so they live in one test per line.
"""

import json
import os
import shutil
import sqlite3
import subprocess

import pytest

from tests.support.django_projects import (
    NEWEST_LINE,
    OLDEST_LINE,
    SECRET_KEY_VALUE,
    gettext_available,
    make_git_repository,
)

pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("reset_loaders_state")]


def _current(root):
    link = root / "current"
    return os.readlink(link) if link.is_symlink() else None


def _previous(root):
    link = root / "previous"
    return os.readlink(link) if link.is_symlink() else None


def _no_secret(ret):
    assert SECRET_KEY_VALUE not in json.dumps(ret.full_return)


def _served_text(django_module, root, django_install):
    """What the project's home page shows, rendered by the code ``current`` points to."""
    output = django_module.manage(
        "shell",
        ["--command", "from django.test import Client; print('PAGE=' + Client().get('/').content.decode())"],
        project_dir=str(root / "current" / "src"),
        virtualenv=str(root / "current" / "venv"),
        env={"SPARKDEMO_DB": str(root / "shared" / "db.sqlite3")},
    )
    return [line for line in output.splitlines() if line.startswith("PAGE=")][-1][len("PAGE=") :]


def test_release_lifecycle(loaders, tmp_path, django_install):
    # The deploy logic does not depend on the Django line (each line's commands are covered by the
    # module tests and by test_commit_named_releases below); one full run keeps the suite fast.
    if django_install["label"] != NEWEST_LINE:
        pytest.skip("the full lifecycle runs on the newest Django only")
    states = loaders.states.sparks_django
    module = loaders.modules.sparks_django
    repository = tmp_path / "sparkdemo.git"
    commits = make_git_repository(repository, django_install["version"])
    root = tmp_path / "srv" / "sparkdemo"
    (root / "shared").mkdir(parents=True)
    env_file = root / "shared" / "sparkdemo.env"
    env_file.write_text(f"DJANGO_SECRET_KEY={SECRET_KEY_VALUE}\nSPARKDEMO_DB={root / 'shared' / 'db.sqlite3'}\n")
    env_file.chmod(0o600)
    snapshots = tmp_path / "backups" / "sparkdemo"
    snapshots.mkdir(parents=True)
    context = {"settings_module": "sparkdemo.settings", "env_file": str(env_file)}

    def deploy(release, rev=None, **overrides):
        arguments = {
            "name": str(root),
            "source": f"file://{repository}",
            "release": release,
            "rev": rev or release,
            "requirements": ["requirements.txt"],
            "settings_module": "sparkdemo.settings",
            "env_file": str(env_file),
            # Offline from the cached wheels; no bytecode compilation, to keep the suite fast.
            "pip_args": ["--no-index", "--find-links", django_install["wheelhouse"], "--no-compile"],
            "keep": 5,
            "snapshot_dir": str(snapshots),
        }
        arguments.update(overrides)
        ret = states.release_deployed(**arguments)
        _no_secret(ret)
        return ret

    # test=True on an empty root: says what it would do, creates nothing.
    preview = deploy("v1", test=True)
    assert preview.result is None
    assert preview.changes == {"current": {"old": None, "new": "v1"}}
    assert "would be deployed" in preview.comment
    assert not (root / "releases").exists()

    # v1 for real.
    first = deploy("v1")
    assert first.result is True, first.comment
    assert first.changes["built"] == {"release": "v1", "commit": commits["v1"]}
    assert "greetings.0001_initial" in first.changes["migrations"]
    assert first.changes["current"] == {"old": None, "new": "v1"}
    assert "snapshot" not in first.changes  # a database no migration ran on yet holds nothing to keep
    assert _current(root) == "releases/v1"
    assert (root / "releases" / "v1" / "src" / "static_collected" / "greetings" / "site.css").exists()
    if gettext_available():
        assert (root / "releases" / "v1" / "src" / "greetings" / "locale" / "fr" / "LC_MESSAGES" / "django.mo").exists()
    assert _served_text(module, root, django_install) == "v1: hello"

    # Re-applying: nothing to do, also in test mode.
    again = deploy("v1")
    assert again.result is True
    assert again.changes == {}
    assert "already current" in again.comment
    assert deploy("v1", test=True).result is True

    # v2: test=True first, then for real.
    preview = deploy("v2", test=True)
    assert preview.result is None
    assert preview.changes == {"current": {"old": "v1", "new": "v2"}}
    assert not (root / "releases" / "v2").exists()
    second = deploy("v2")
    assert second.result is True, second.comment
    assert second.changes["migrations"] == ["greetings.0002_greeting_language"]
    # The snapshot before them: SQLite's own copy, the project user's only, with v1's schema and rows.
    snapshot = second.changes["snapshot"]["path"]
    assert snapshot.startswith(f"{snapshots}/pre-migrate-") and snapshot.endswith("-v2.sqlite3")
    assert os.stat(snapshot).st_mode & 0o777 == 0o600
    with sqlite3.connect(snapshot) as copy:
        assert copy.execute("SELECT text FROM greetings_greeting").fetchall() == [("hello",)]
        assert "language" not in [c[1] for c in copy.execute("PRAGMA table_info(greetings_greeting)")]
    assert second.changes["current"] == {"old": "v1", "new": "v2"}
    assert (_current(root), _previous(root)) == ("releases/v2", "releases/v1")
    assert deploy("v2").changes == {}
    assert _served_text(module, root, django_install) == "v2: hello"

    # Broken v3: the migration fails, current stays on v2, the reason is in the comment.
    broken = deploy("v3")
    assert broken.result is False
    assert "broken on purpose" in broken.comment
    assert "current stays v2" in broken.comment
    assert "current" not in broken.changes
    assert (_current(root), _previous(root)) == ("releases/v2", "releases/v1")
    assert _served_text(module, root, django_install) == "v2: hello"
    # Recorded as failed and removed, its log kept; the next run fails at once without rebuilding.
    assert not (root / "releases" / "v3").exists()
    assert "broken on purpose" in (root / "failed" / "v3.log").read_text()
    again = deploy("v3")
    assert again.result is False and again.changes == {}
    assert "Release v3 (v3) failed at migrate" in again.comment and "retry" in again.comment

    # Roll back to v1: refused, v1 has no file for a migration the database has; nothing changes.
    refused = states.rolled_back(name=str(root), **context)
    assert refused.result is False and refused.changes == {}
    assert "lacks migrations applied to the database: greetings.0002_greeting_language" in refused.comment
    assert "migrate_back" in refused.comment
    assert _current(root) == "releases/v2"
    # With migrate_back (test=True first): v2's code migrates back, then current switches.
    preview = states.rolled_back(name=str(root), migrate_back=True, test=True, **context)
    assert preview.result is None
    assert preview.changes == {
        "current": {"old": "v2", "new": "v1"},
        "migrations_reverted": ["greetings.0002_greeting_language"],
    }
    assert _current(root) == "releases/v2"
    rolled = states.rolled_back(name=str(root), migrate_back=True, **context)
    assert rolled.result is True, rolled.comment
    assert rolled.changes == {
        "current": {"old": "v2", "new": "v1"},
        "migrations_reverted": ["greetings.0002_greeting_language"],
    }
    assert (_current(root), _previous(root)) == ("releases/v1", "releases/v2")
    applied = module.showmigrations(
        project_dir=str(root / "current" / "src"), virtualenv=str(root / "current" / "venv"), **context
    )
    assert [m["name"] for m in applied["greetings"] if m["applied"]] == ["0001_initial"]
    assert _served_text(module, root, django_install) == "v1: hello"
    assert states.rolled_back(name=str(root), to="v1", **context).changes == {}
    assert module.list_releases(str(root))["current"] == "v1"

    # Going forward again to the built v2 as a production deploy whose `check --deploy` fails (warnings
    # made fatal): not switched to.
    checked = deploy("v2", environment="production", check_fail_level="WARNING")
    assert checked.result is False
    assert "check --deploy failed" in checked.comment
    assert "security.W" in checked.comment
    assert _current(root) == "releases/v1"
    assert (root / "releases" / "v2").exists()  # a failed attempt is removed, but not `previous`

    # v2 again with `retry`, and a failing health check: switched, then switched back (and `previous`
    # restored).
    unhealthy = deploy("v2", retry=True, health_check_cmd=["python", "-c", "import sys; sys.exit(3)"])
    assert unhealthy.result is False
    assert "unhealthy" in unhealthy.comment and "switched back to v1" in unhealthy.comment
    # Its migration ran before the switch and stays (v1 runs on the added column): the comment says so.
    assert "migrations applied: greetings.0002_greeting_language (snapshot before them: " in unhealthy.comment
    assert "built" not in unhealthy.changes
    assert (_current(root), _previous(root)) == ("releases/v1", "releases/v2")

    # A healthy switch to the already built v2, pruning down to 2 releases (never current or previous).
    healthy_check = [
        "python",
        "manage.py",
        "shell",
        "--command",
        "from django.test import Client; assert Client().get('/').status_code == 200",
    ]
    final = deploy("v2", retry=True, health_check_cmd=healthy_check, keep=2)
    assert final.result is True, final.comment
    assert final.changes["current"] == {"old": "v1", "new": "v2"}
    assert "pruned" not in final.changes  # the failed v3 does not count against keep
    assert sorted(p.name for p in (root / "releases").iterdir()) == ["v1", "v2"]
    assert (_current(root), _previous(root)) == ("releases/v2", "releases/v1")
    assert not (root / "failed" / "v2.json").exists()

    # A release id is immutable: the same id from another revision is refused.
    reused = deploy("v2", rev="v1")
    assert reused.result is False
    assert "use a new release id" in reused.comment

    # The health gate the formula runs after reloading services: passes, then fails and rolls back.
    gate = states.healthy(name=str(root), health_check_cmd=healthy_check, env_file=str(env_file))
    assert gate.result is True, gate.comment
    assert gate.changes == {}
    assert states.healthy(name=str(root), health_check_cmd=healthy_check, test=True).result is None
    failing = states.healthy(name=str(root), health_check_cmd=["python", "-c", "raise SystemExit('down')"])
    assert failing.result is False
    assert failing.changes == {"current": {"old": "v2", "new": "v1"}}
    assert "down" in failing.comment
    assert (_current(root), _previous(root)) == ("releases/v1", "releases/v2")


def test_missing_root_and_bad_source_fail(loaders, tmp_path):
    states = loaders.states.sparks_django
    missing = states.release_deployed(name=str(tmp_path / "nope"), source=str(tmp_path), release="r1")
    assert missing.result is False
    assert "does not exist" in missing.comment
    root = tmp_path / "root"
    root.mkdir()
    bad = states.release_deployed(name=str(root), source=f"file://{tmp_path}/no-such-repo", release="r1", rev="main")
    assert bad.result is False
    assert "git clone failed" in bad.comment
    assert not (root / "current").exists()


def test_commit_named_releases(loaders, tmp_path, django_install):
    """
    Releases on the LTS line: the first named after its commit (no release id given), then v2;
    migrations, static files and translations in the release, and the page served from current.
    """
    if django_install["label"] != OLDEST_LINE:
        pytest.skip("the newest Django runs the full lifecycle instead")
    states = loaders.states.sparks_django
    module = loaders.modules.sparks_django
    repository = tmp_path / "sparkdemo.git"
    commits = make_git_repository(repository, django_install["version"])
    root = tmp_path / "srv"
    (root / "shared").mkdir(parents=True)
    arguments = {
        "name": str(root),
        "source": str(repository),
        "requirements": "requirements.txt",
        "env": {"SPARKDEMO_DB": str(root / "shared" / "db.sqlite3"), "DJANGO_SECRET_KEY": SECRET_KEY_VALUE},
        "pip_args": ["--no-index", "--find-links", django_install["wheelhouse"], "--no-compile"],
    }
    first_id = commits["v1"][:12]

    by_commit = dict(arguments, rev="v1")
    preview = states.release_deployed(test=True, **by_commit)
    assert preview.result is None
    assert preview.changes == {"current": {"old": None, "new": first_id}}
    ret = states.release_deployed(**by_commit)
    assert ret.result is True, ret.comment
    _no_secret(ret)
    assert ret.changes["built"] == {"release": first_id, "commit": commits["v1"]}
    assert _current(root) == f"releases/{first_id}"
    assert (root / "current" / "src" / "static_collected" / "greetings" / "site.css").exists()
    if gettext_available():
        assert (root / "current" / "src" / "greetings" / "locale" / "fr" / "LC_MESSAGES" / "django.mo").exists()
    again = states.release_deployed(**by_commit)
    assert again.result is True and again.changes == {}
    assert _served_text(module, root, django_install) == "v1: hello"

    second = states.release_deployed(release="v2", rev="v2", **arguments)
    assert second.result is True, second.comment
    assert second.changes["migrations"] == ["greetings.0002_greeting_language"]
    assert second.changes["current"] == {"old": first_id, "new": "v2"}
    assert _previous(root) == f"releases/{first_id}"
    assert _served_text(module, root, django_install) == "v2: hello"


@pytest.mark.skipif(os.geteuid() != 0, reason="deploying as another user needs root")
def test_deploy_as_an_unprivileged_user(loaders, runas_base, django_install):
    """
    runas: git, the virtualenv, pip and every Django command run as `nobody`; the env file stays
    readable by root only (Salt reads it and hands the variables over in the environment).
    """
    if django_install["label"] != NEWEST_LINE:
        pytest.skip("running as another user does not depend on the Django version")
    states = loaders.states.sparks_django
    base = runas_base
    # The cache root may be private to root (`SPARKS_CACHE_DIR=$(mktemp -d)` is 0700): nobody reads a copy.
    wheelhouse = base / "wheels"
    shutil.copytree(django_install["wheelhouse"], wheelhouse)
    repository = base / "sparkdemo.git"
    make_git_repository(repository, django_install["version"], with_locale=False)
    # git refuses to read a repository owned by another user ("dubious ownership"): the deploy user
    # owns its local mirror, as it would on a target.
    subprocess.run(["chown", "-R", "nobody", str(repository)], check=True)
    root = base / "srv"
    (root / "shared").mkdir(parents=True)
    shutil.chown(root / "shared", user="nobody")
    env_file = root / "shared" / "app.env"
    env_file.write_text(f"DJANGO_SECRET_KEY={SECRET_KEY_VALUE}\nSPARKDEMO_DB={root / 'shared' / 'db.sqlite3'}\n")
    env_file.chmod(0o600)

    ret = states.release_deployed(
        name=str(root),
        source=str(repository),
        release="v1",
        rev="v1",
        requirements=["requirements.txt"],
        env_file=str(env_file),
        runas="nobody",  # home /nonexistent, shell nologin: nothing of the user's own is needed
        pip_args=["--no-index", "--find-links", str(wheelhouse), "--no-compile"],
    )
    assert ret.result is True, ret.comment
    _no_secret(ret)
    release_dir = root / "releases" / "v1"
    assert (release_dir / "src" / "manage.py").owner() == "nobody"
    assert (release_dir / "venv" / "pyvenv.cfg").owner() == "nobody"
    assert (root / "shared" / "db.sqlite3").owner() == "nobody"
    assert os.readlink(root / "current") == "releases/v1"
