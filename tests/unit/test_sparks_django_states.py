"""
Unit tests of salt/_states/sparks_django.py: state logic with the execution module's Django calls mocked.
The release bookkeeping functions (plain files) are the real ones, run under tmp_path.
"""

import json
import os
from unittest.mock import MagicMock, patch

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.loadmod import load


module = load("_modules", "sparks_django")
states = load("_states", "sparks_django")

PASSWORD = "Unit-Test-Password-987"
RELEASE_FUNCTIONS = (
    "release_paths",
    "release_metadata",
    "list_releases",
    "switch_release",
    "rollback",
    "prune_releases",
    "write_release_metadata",
    "release_failure",
    "record_failure",
    "clear_failure",
    "wait_healthy",
)


@pytest.fixture
def opts():
    return {"test": False}


@pytest.fixture
def salt_mocks():
    mocks = {
        "sparks_django.manage": MagicMock(return_value=""),
        "sparks_django.migration_plan": MagicMock(return_value=[]),
        "sparks_django.pending_migrations": MagicMock(return_value=[]),
        "sparks_django.migrate": MagicMock(return_value=""),
        "sparks_django.collectstatic": MagicMock(),
        "sparks_django.compilemessages": MagicMock(return_value=""),
        "sparks_django.check": MagicMock(return_value={"summary": "", "issues": ""}),
        "sparks_django.user_info": MagicMock(return_value=None),
        "sparks_django.createsuperuser": MagicMock(return_value="Superuser admin created"),
        "sparks_django.run_program": MagicMock(),
        "sparks_django.snapshot_database": MagicMock(return_value={"path": "/backups/pre-migrate-x.dump", "bytes": 9}),
        "sparks_django.migrations_unknown_to": MagicMock(return_value={"unknown": [], "targets": {}}),
    }
    for function in RELEASE_FUNCTIONS:
        mocks[f"sparks_django.{function}"] = getattr(module, function)
    return mocks


@pytest.fixture
def venv_status():
    """salt/_utils/sparks_venv.py's status, faked: every venv runs the system's Python unless a test says not."""
    return MagicMock(return_value={"current": True, "recorded": "3.13", "runs": "3.13", "system": "3.13", "reason": ""})


@pytest.fixture
def configure_loader_modules(opts, salt_mocks, venv_status):
    return {
        states: {"__salt__": salt_mocks, "__opts__": opts, "__utils__": {"sparks_venv.status": venv_status}},
        module: {"__salt__": {}, "__opts__": opts},
    }


PROJECT = {"name": "/srv/app/src", "virtualenv": "/srv/app/venv", "settings_module": "app.settings"}
PLAN = [
    {"migration": "shop.0002_total", "backwards": False, "operations": ["Add field"]},
    {"migration": "shop.0003_backfill", "backwards": False, "operations": ["Raw Python operation"]},
]


# ------------------------------------------------------------------------------------------------
# migrated
# ------------------------------------------------------------------------------------------------


def test_migrated_nothing_pending(salt_mocks):
    ret = states.migrated(**PROJECT)
    assert ret == {
        "name": PROJECT["name"],
        "result": True,
        "changes": {},
        "comment": "No migrations to apply",
    }
    salt_mocks["sparks_django.migrate"].assert_not_called()
    context = salt_mocks["sparks_django.migration_plan"].call_args.kwargs
    assert context["project_dir"] == "/srv/app/src" and context["settings_module"] == "app.settings"


def test_migrated_test_mode_reports_pending(salt_mocks, opts):
    opts["test"] = True
    salt_mocks["sparks_django.migration_plan"].return_value = PLAN
    ret = states.migrated(**PROJECT)
    assert ret["result"] is None
    assert ret["changes"] == {"applied": ["shop.0002_total", "shop.0003_backfill"]}
    salt_mocks["sparks_django.migrate"].assert_not_called()


def test_migrated_applies(salt_mocks):
    salt_mocks["sparks_django.migration_plan"].return_value = PLAN
    ret = states.migrated(app_label="shop", **PROJECT)
    assert ret["result"] is True
    assert ret["changes"] == {"applied": ["shop.0002_total", "shop.0003_backfill"]}
    assert salt_mocks["sparks_django.migrate"].call_args.kwargs["app_label"] == "shop"


def test_migrated_failure_reports_what_ran(salt_mocks):
    salt_mocks["sparks_django.migration_plan"].return_value = PLAN
    salt_mocks["sparks_django.migrate"].side_effect = CommandExecutionError("Django command 'migrate' failed: boom")
    salt_mocks["sparks_django.pending_migrations"].return_value = ["shop.0003_backfill"]
    ret = states.migrated(**PROJECT)
    assert ret["result"] is False
    assert "boom" in ret["comment"]
    assert ret["changes"] == {"applied": ["shop.0002_total"]}


def test_migrated_backwards(salt_mocks):
    salt_mocks["sparks_django.migration_plan"].return_value = [
        {"migration": "shop.0003_backfill", "backwards": True, "operations": ["Undo Raw Python operation"]}
    ]
    ret = states.migrated(app_label="shop", migration_name="0002_total", **PROJECT)
    assert ret["changes"] == {"unapplied": ["shop.0003_backfill"]}


def test_unknown_argument_fails_the_state():
    ret = states.migrated(settings="typo", **PROJECT)
    assert ret["result"] is False
    assert "unexpected argument: settings" in ret["comment"]


# ------------------------------------------------------------------------------------------------
# static_collected
# ------------------------------------------------------------------------------------------------


def _collect_report(copied=(), unmodified=0):
    return {
        "copied": list(copied),
        "linked": [],
        "deleted": [],
        "unmodified": unmodified,
        "post_processed": 0,
        "summary": f"{len(copied)} static files copied",
    }


def test_static_collected_up_to_date(salt_mocks):
    salt_mocks["sparks_django.collectstatic"].return_value = _collect_report(unmodified=4)
    ret = states.static_collected(**PROJECT)
    assert ret["result"] is True and ret["changes"] == {}
    assert "4 unmodified" in ret["comment"]
    assert salt_mocks["sparks_django.collectstatic"].call_count == 1
    assert salt_mocks["sparks_django.collectstatic"].call_args.kwargs["dry_run"] is True


def test_static_collected_test_mode_and_real_run(salt_mocks, opts):
    salt_mocks["sparks_django.collectstatic"].return_value = _collect_report(["/src/a.css"])
    opts["test"] = True
    ret = states.static_collected(**PROJECT)
    assert ret["result"] is None
    assert ret["changes"] == {"copied": ["/src/a.css"]}
    assert salt_mocks["sparks_django.collectstatic"].call_count == 1
    opts["test"] = False
    ret = states.static_collected(**PROJECT)
    assert ret["result"] is True
    assert ret["changes"] == {"copied": ["/src/a.css"]}
    assert "dry_run" not in salt_mocks["sparks_django.collectstatic"].call_args.kwargs


# ------------------------------------------------------------------------------------------------
# superuser_present
# ------------------------------------------------------------------------------------------------

USER = {
    "name": "admin",
    "project_dir": "/srv/app/src",
    "email": "a@example.org",
    "password": PASSWORD,
    "virtualenv": "/srv/app/venv",
}


def test_superuser_exists(salt_mocks):
    salt_mocks["sparks_django.user_info"].return_value = {"username": "admin", "is_superuser": True}
    ret = states.superuser_present(**USER)
    assert ret["result"] is True and ret["changes"] == {}
    salt_mocks["sparks_django.createsuperuser"].assert_not_called()


def test_existing_non_superuser_is_reported(salt_mocks):
    salt_mocks["sparks_django.user_info"].return_value = {"username": "admin", "is_superuser": False}
    ret = states.superuser_present(**USER)
    assert ret["result"] is False
    assert "not a superuser" in ret["comment"]


def test_superuser_created_without_showing_the_password(salt_mocks, opts):
    opts["test"] = True
    preview = states.superuser_present(**USER)
    assert preview["result"] is None and preview["changes"] == {"created": "admin"}
    salt_mocks["sparks_django.createsuperuser"].assert_not_called()
    opts["test"] = False
    ret = states.superuser_present(**USER)
    assert ret["result"] is True and ret["changes"] == {"created": "admin"}
    assert salt_mocks["sparks_django.createsuperuser"].call_args.kwargs["password"] == PASSWORD
    assert PASSWORD not in json.dumps([preview, ret])


# ------------------------------------------------------------------------------------------------
# release_deployed / rolled_back (git, venv and pip simulated by a fake run_program)
# ------------------------------------------------------------------------------------------------


def _fake_run_program(argv, project_dir, **_context):
    """Simulate git clone and venv creation on disk; answer rev-parse with a fixed commit."""
    if argv[:2] == ["git", "clone"]:
        os.makedirs(argv[-1])
    elif argv[1:3] == ["-m", "venv"]:
        os.makedirs(os.path.join(argv[-1], "bin"), exist_ok=True)
    elif argv[:2] == ["git", "rev-parse"]:
        return {"retcode": 0, "stdout": "a" * 40 + "\n", "stderr": "", "argv": argv}
    elif argv[:2] == ["git", "ls-remote"]:
        return {
            "retcode": 0,
            "stdout": "b" * 40 + "\trefs/tags/v9\n" + "c" * 40 + "\trefs/tags/v9^{}\n",
            "stderr": "",
            "argv": argv,
        }
    return {"retcode": 0, "stdout": "", "stderr": "", "argv": argv}


@pytest.fixture
def root(tmp_path, salt_mocks):
    salt_mocks["sparks_django.run_program"].side_effect = _fake_run_program
    salt_mocks["sparks_django.collectstatic"].return_value = _collect_report(["/a.css"])
    return tmp_path


def _deploy(root, release, **overrides):
    arguments = {
        "name": str(root),
        "source": "https://git.example.org/app.git",
        "release": release,
        "rev": release,
        "requirements": ["requirements.txt"],
        "compilemessages": False,
    }
    arguments.update(overrides)
    return states.release_deployed(**arguments)


def test_release_deployed_builds_migrates_switches(root, salt_mocks):
    salt_mocks["sparks_django.pending_migrations"].return_value = ["shop.0002_total"]
    ret = _deploy(root, "v1")
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == {
        "built": {"release": "v1", "commit": "a" * 40},
        "migrations": ["shop.0002_total"],
        "current": {"old": None, "new": "v1"},
    }
    assert os.readlink(root / "current") == "releases/v1"
    programs = [call.args[0] for call in salt_mocks["sparks_django.run_program"].call_args_list]
    assert programs[0][:2] == ["git", "clone"]
    assert ["/usr/bin/python3", "-m", "venv", "--clear", str(root / "releases" / "v1" / "venv")] in programs
    pip = [argv for argv in programs if "pip" in argv][0]
    assert pip[-2:] == ["-r", "requirements.txt"]
    # Django steps run with the release's code and virtualenv.
    context = salt_mocks["sparks_django.migrate"].call_args.kwargs
    assert context["project_dir"] == str(root / "releases" / "v1" / "src")
    assert context["virtualenv"] == str(root / "releases" / "v1" / "venv")
    salt_mocks["sparks_django.check"].assert_not_called()

    # Second run: already current, nothing runs.
    salt_mocks["sparks_django.run_program"].reset_mock()
    again = _deploy(root, "v1")
    assert again["result"] is True and again["changes"] == {}
    salt_mocks["sparks_django.run_program"].assert_not_called()


STALE = {"current": False, "recorded": "3.11", "runs": None, "system": "3.13", "reason": "its Python 3.11 is gone"}


def test_a_current_release_whose_python_went_away_gets_its_venv_rebuilt(root, salt_mocks, venv_status, opts):
    assert _deploy(root, "v1")["result"] is True
    venv = str(root / "releases" / "v1" / "venv")
    salt_mocks["sparks_django.run_program"].reset_mock()
    venv_status.return_value = STALE  # a distribution upgrade later
    opts["test"] = True
    dry = _deploy(root, "v1")
    assert dry["result"] is None and dry["changes"] == {"venvs": {"v1": "rebuilt"}}
    salt_mocks["sparks_django.run_program"].assert_not_called()
    opts["test"] = False
    ret = _deploy(root, "v1")
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == {"venvs": {"v1": {"old": "3.11", "new": "3.13"}}}
    assert "its venv rebuilt" in ret["comment"] and "already current" not in ret["comment"]
    programs = [call.args[0] for call in salt_mocks["sparks_django.run_program"].call_args_list]
    assert programs[0] == ["/usr/bin/python3", "-m", "venv", "--clear", venv]
    assert programs[1][-2:] == ["-r", "requirements.txt"]  # the release's requirements, again
    assert venv_status.call_args.args == (venv, "/usr/bin/python3")
    assert os.readlink(root / "current") == "releases/v1"  # nothing else of the release moved


def test_venvs_current_rebuilds_current_and_previous_only_when_stale(root, salt_mocks, venv_status):
    _deploy(root, "v1")
    _deploy(root, "v2")
    salt_mocks["sparks_django.run_program"].reset_mock()
    arguments = {"name": str(root), "requirements": ["requirements.txt"], "runas": "app"}
    ok = states.venvs_current(**arguments)
    assert ok["result"] is True and ok["changes"] == {}
    venv_status.return_value = STALE
    ret = states.venvs_current(**arguments)
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"] == {"venvs": {"v1": {"old": "3.11", "new": "3.13"}, "v2": {"old": "3.11", "new": "3.13"}}}
    calls = salt_mocks["sparks_django.run_program"].call_args_list
    assert all(call.kwargs["runas"] == "app" for call in calls)
    salt_mocks["sparks_django.run_program"].side_effect = lambda argv, project_dir, **_: {
        "retcode": 1, "stdout": "", "stderr": "no network", "argv": argv,
    }  # fmt: skip
    failed = states.venvs_current(**arguments)
    assert failed["result"] is False and "venv of release v1 not rebuilt" in failed["comment"]
    assert states.venvs_current(name=str(root / "none"))["comment"].startswith("No releases")


def test_release_deployed_test_mode_creates_nothing(root, opts, salt_mocks):
    opts["test"] = True
    ret = _deploy(root, "v1", environment="production")
    assert ret["result"] is None
    assert ret["changes"] == {"current": {"old": None, "new": "v1"}}
    assert "build, check --deploy, migrate, switch current" in ret["comment"]
    assert os.listdir(root) == []
    salt_mocks["sparks_django.run_program"].assert_not_called()


def test_production_runs_check_deploy(root, salt_mocks):
    _deploy(root, "v1", environment="production", check_fail_level="WARNING")
    kwargs = salt_mocks["sparks_django.check"].call_args.kwargs
    assert kwargs["deploy"] is True and kwargs["fail_level"] == "WARNING"


def test_failed_build_step_leaves_current(root, salt_mocks):
    assert _deploy(root, "v1")["result"] is True

    def failing_pip(argv, project_dir, **context):
        if "pip" in argv:
            return {
                "retcode": 1,
                "stdout": "",
                "stderr": "No matching distribution for Djangoo",
                "argv": argv,
            }
        return _fake_run_program(argv, project_dir, **context)

    salt_mocks["sparks_django.run_program"].side_effect = failing_pip
    ret = _deploy(root, "v2")
    assert ret["result"] is False
    assert "pip install failed" in ret["comment"] and "Djangoo" in ret["comment"]
    assert "current stays v1" in ret["comment"]
    assert os.readlink(root / "current") == "releases/v1"
    assert module.release_metadata(str(root), "v2") is None


def test_failed_migration_leaves_current(root, salt_mocks):
    assert _deploy(root, "v1")["result"] is True
    salt_mocks["sparks_django.pending_migrations"].return_value = ["shop.0003_broken"]
    salt_mocks["sparks_django.migrate"].side_effect = CommandExecutionError("Django command 'migrate' failed: boom")
    ret = _deploy(root, "v2")
    assert ret["result"] is False
    assert "migrate failed" in ret["comment"] and "boom" in ret["comment"]
    assert "current" not in ret["changes"]
    assert os.readlink(root / "current") == "releases/v1"


def test_unhealthy_release_is_switched_back(root, salt_mocks):
    assert _deploy(root, "v1")["result"] is True
    assert _deploy(root, "v2")["result"] is True

    def unhealthy(argv, project_dir, **context):
        if argv == ["curl", "-f", "http://localhost/health"]:
            return {"retcode": 22, "stdout": "", "stderr": "HTTP 500", "argv": argv}
        return _fake_run_program(argv, project_dir, **context)

    salt_mocks["sparks_django.run_program"].side_effect = unhealthy
    ret = _deploy(root, "v3", health_check_cmd=["curl", "-f", "http://localhost/health"])
    assert ret["result"] is False
    assert "switched back to v2" in ret["comment"] and "HTTP 500" in ret["comment"]
    assert "current" not in ret["changes"]
    assert (os.readlink(root / "current"), os.readlink(root / "previous")) == ("releases/v2", "releases/v1")


def test_health_check_url(root):
    with patch.object(module, "http_status", return_value={"status": 200, "reason": "HTTP 200"}) as status:
        ret = _deploy(root, "v1", health_check_url="http://127.0.0.1:8000/health")
    assert ret["result"] is True
    status.assert_called_once_with("127.0.0.1:8000", path="/health", host=None, https=False)

    with (
        patch.object(module, "http_status", return_value={"status": None, "reason": "connection refused"}),
        patch.object(module.time, "sleep"),
    ):
        ret = _deploy(root, "v2", health_check_url="http://127.0.0.1:8000/health", health_check_timeout=0)
    assert ret["result"] is False
    assert "connection refused" in ret["comment"]
    assert os.readlink(root / "current") == "releases/v1"


def test_release_id_defaults_to_the_peeled_commit(root, opts):
    opts["test"] = True
    ret = _deploy(root, None, rev="v9")
    assert ret["changes"]["current"]["new"] == "c" * 12


def test_existing_release_is_switched_to_without_rebuilding(root, salt_mocks):
    for release in ("v1", "v2"):
        assert _deploy(root, release)["result"] is True
    assert states.rolled_back(name=str(root))["changes"] == {"current": {"old": "v2", "new": "v1"}}
    salt_mocks["sparks_django.run_program"].reset_mock()
    ret = _deploy(root, "v2", keep=2)
    assert ret["result"] is True
    assert ret["changes"] == {"current": {"old": "v1", "new": "v2"}}
    salt_mocks["sparks_django.run_program"].assert_not_called()


def test_prune_after_switch(root):
    for release in ("v1", "v2", "v3", "v4"):
        ret = _deploy(root, release, keep=2)
        assert ret["result"] is True
    assert ret["changes"]["pruned"] == ["v2"]
    assert sorted(os.listdir(root / "releases")) == ["v3", "v4"]


def test_release_id_is_immutable(root):
    assert _deploy(root, "v1")["result"] is True
    ret = _deploy(root, "v1", rev="main")
    assert ret["result"] is False
    assert "use a new release id" in ret["comment"]


def test_rolled_back(root, opts):
    no_previous = states.rolled_back(name=str(root))
    assert no_previous["result"] is False
    for release in ("v1", "v2"):
        _deploy(root, release)
    opts["test"] = True
    preview = states.rolled_back(name=str(root))
    assert preview["result"] is None and preview["changes"] == {"current": {"old": "v2", "new": "v1"}}
    assert os.readlink(root / "current") == "releases/v2"
    opts["test"] = False
    assert states.rolled_back(name=str(root), to="v2")["changes"] == {}
    assert states.rolled_back(name=str(root), to="v1")["changes"] == {"current": {"old": "v2", "new": "v1"}}
    assert states.rolled_back(name=str(root), to="missing")["result"] is False


def test_healthy_state_rolls_back_when_unhealthy(root, salt_mocks, opts):
    for release in ("v1", "v2"):
        _deploy(root, release)
    check = ["curl", "-f", "http://localhost/health"]
    assert states.healthy(name=str(root), health_check_cmd=check)["result"] is True
    context = salt_mocks["sparks_django.run_program"].call_args.kwargs
    assert context["project_dir"] == str(root / "releases" / "v2" / "src")

    opts["test"] = True
    assert states.healthy(name=str(root), health_check_cmd=check)["result"] is None
    opts["test"] = False

    salt_mocks["sparks_django.run_program"].side_effect = lambda argv, project_dir, **_: {
        "retcode": 7,
        "stdout": "",
        "stderr": "connection refused",
        "argv": argv,
    }
    kept = states.healthy(name=str(root), health_check_cmd=check, rollback_on_failure=False)
    assert kept["result"] is False and kept["changes"] == {}
    assert os.readlink(root / "current") == "releases/v2"
    ret = states.healthy(name=str(root), health_check_cmd=check)
    assert ret["result"] is False
    assert ret["changes"] == {"current": {"old": "v2", "new": "v1"}}
    assert "connection refused" in ret["comment"]
    assert os.readlink(root / "current") == "releases/v1"


def test_healthy_state_needs_a_check_and_a_release(root):
    assert states.healthy(name=str(root))["result"] is False
    assert "No current release" in states.healthy(name=str(root), health_check_url="http://x")["comment"]


def test_unhealthy_second_release_leaves_no_previous_link(root, salt_mocks):
    assert _deploy(root, "v1")["result"] is True
    salt_mocks["sparks_django.run_program"].side_effect = lambda argv, project_dir, **ctx: (
        {"retcode": 1, "stdout": "", "stderr": "unhealthy", "argv": argv}
        if argv == ["false"]
        else _fake_run_program(argv, project_dir, **ctx)
    )
    ret = _deploy(root, "v2", health_check_cmd=["false"])
    assert ret["result"] is False
    assert os.readlink(root / "current") == "releases/v1"
    assert not (root / "previous").is_symlink()


def test_first_release_unhealthy_removes_current(root, salt_mocks):
    salt_mocks["sparks_django.run_program"].side_effect = lambda argv, project_dir, **ctx: (
        {"retcode": 1, "stdout": "", "stderr": "unhealthy", "argv": argv}
        if argv == ["false"]
        else _fake_run_program(argv, project_dir, **ctx)
    )
    ret = _deploy(root, "v1", health_check_cmd=["false"])
    assert ret["result"] is False
    assert "current removed" in ret["comment"]
    assert not (root / "current").is_symlink()


def test_current_that_is_a_directory_is_refused(root):
    (root / "current").mkdir()
    ret = _deploy(root, "v1")
    assert ret["result"] is False
    assert "is not a symlink" in ret["comment"]


def test_plain_directory_source_is_copied(root, tmp_path_factory):
    source = tmp_path_factory.mktemp("plain-source")
    (source / "manage.py").write_text("# demo\n")
    no_id = states.release_deployed(name=str(root), source=str(source))
    assert no_id["result"] is False and "give a release id" in no_id["comment"]
    ret = states.release_deployed(name=str(root), source=str(source), release="r1", compilemessages=False)
    assert ret["result"] is True, ret["comment"]
    assert ret["changes"]["built"] == {"release": "r1", "commit": None}
    assert (root / "current" / "src" / "manage.py").read_text() == "# demo\n"


def test_keep_is_validated_before_anything_happens(root, salt_mocks):
    ret = _deploy(root, "v1", keep=1)
    assert ret["result"] is False and "keep must be at least 2" in ret["comment"]
    salt_mocks["sparks_django.run_program"].assert_not_called()
    assert _deploy(root, "v1", keep=None)["result"] is True


# ------------------------------------------------------------------------------------------------
# The app server, shared paths, the health gate, failed releases
# ------------------------------------------------------------------------------------------------


def _programs(salt_mocks):
    return [call.args[0] for call in salt_mocks["sparks_django.run_program"].call_args_list]


def test_gunicorn_and_extra_requirements_go_into_the_venv(root, salt_mocks):
    def no_gunicorn(argv, project_dir, **context):
        if argv[1:2] == ["-c"] and "gunicorn" in argv[2]:
            return {"retcode": 1, "stdout": "", "stderr": "", "argv": argv}
        return _fake_run_program(argv, project_dir, **context)

    salt_mocks["sparks_django.run_program"].side_effect = no_gunicorn
    ret = _deploy(root, "v1", gunicorn="gunicorn==23.0.0", extra_requirements=["sentry-sdk==2.19.0"])
    assert ret["result"] is True, ret["comment"]
    pips = [argv for argv in _programs(salt_mocks) if "pip" in argv]
    assert pips[-1][-2:] == ["gunicorn==23.0.0", "sentry-sdk==2.19.0"]


def test_gunicorn_from_the_requirements_is_not_installed_again(root, salt_mocks):
    def has_gunicorn(argv, project_dir, **context):
        if argv[1:2] == ["-c"] and "gunicorn" in argv[2]:
            return {"retcode": 0, "stdout": "", "stderr": "", "argv": argv}
        return _fake_run_program(argv, project_dir, **context)

    salt_mocks["sparks_django.run_program"].side_effect = has_gunicorn
    assert _deploy(root, "v1", gunicorn="gunicorn==23.0.0")["result"] is True
    assert not any("gunicorn==23.0.0" in argv for argv in _programs(salt_mocks))


def test_shared_paths_are_symlinks_into_shared(root):
    assert _deploy(root, "v1", shared_paths=["media", "proj/logs"])["result"] is True
    src = root / "releases" / "v1" / "src"
    assert os.readlink(src / "media") == str(root / "shared" / "media")
    assert os.readlink(src / "proj" / "logs") == str(root / "shared" / "proj" / "logs")
    (root / "shared" / "media" / "upload.txt").write_text("kept")
    assert _deploy(root, "v2", shared_paths=["media"], keep=2)["result"] is True
    assert _deploy(root, "v3", shared_paths=["media"], keep=2)["result"] is True
    assert not (root / "releases" / "v1").exists()  # pruned: the link went, the shared file stays
    assert (root / "shared" / "media" / "upload.txt").read_text() == "kept"


@pytest.mark.parametrize("bad", ["/etc", "../up", "a/../../b", ""])
def test_shared_path_outside_the_code_is_refused(root, salt_mocks, bad):
    ret = _deploy(root, "v1", shared_paths=[bad])
    assert ret["result"] is False and "shared_paths" in ret["comment"]
    assert not (root / "releases").exists()


GATE = {"wsgi_module": "app.wsgi", "path": "/health/", "host": "www.example.org", "https": True}


def test_health_gate_runs_before_the_switch(root, salt_mocks):
    answers = iter([{"healthy": True, "status": 200, "reason": "HTTP 200", "log": ""}])

    def candidate(wsgi_module, **kwargs):
        assert not (root / "current").exists()  # checked before the switch
        assert (wsgi_module, kwargs["path"], kwargs["host"], kwargs["https"]) == (
            "app.wsgi",
            "/health/",
            GATE["host"],
            True,
        )
        return next(answers)

    salt_mocks["sparks_django.candidate_health"] = MagicMock(side_effect=candidate)
    assert _deploy(root, "v1", health_gate=GATE)["result"] is True
    assert os.readlink(root / "current") == "releases/v1"


def test_failed_gate_is_recorded_and_fails_fast_until_retry(root, salt_mocks):
    salt_mocks["sparks_django.candidate_health"] = MagicMock(
        return_value={"healthy": True, "status": 200, "reason": "HTTP 200", "log": ""}
    )
    assert _deploy(root, "v1", health_gate=GATE)["result"] is True
    salt_mocks["sparks_django.candidate_health"].return_value = {
        "healthy": False,
        "status": 400,
        "reason": "HTTP 400",
        "log": "Invalid HTTP_HOST header",
    }
    failed = _deploy(root, "v2", health_gate=GATE)
    assert failed["result"] is False and "HTTP 400" in failed["comment"] and "www.example.org" in failed["comment"]
    assert os.readlink(root / "current") == "releases/v1"
    assert not (root / "releases" / "v2").exists()
    assert "Invalid HTTP_HOST header" in (root / "failed" / "v2.log").read_text()

    salt_mocks["sparks_django.run_program"].reset_mock()
    again = _deploy(root, "v2", health_gate=GATE)
    assert again["result"] is False and again["changes"] == {}
    assert "Release v2 (v2) failed at health gate" in again["comment"] and "retry" in again["comment"]
    salt_mocks["sparks_django.run_program"].assert_not_called()  # nothing rebuilt

    salt_mocks["sparks_django.candidate_health"].return_value = {
        "healthy": True,
        "status": 302,
        "reason": "",
        "log": "",
    }
    retried = _deploy(root, "v2", health_gate=GATE, retry=True)
    assert retried["result"] is True, retried["comment"]
    assert not (root / "failed" / "v2.json").exists()


def test_a_failed_current_release_is_not_reported_as_deployed(root, salt_mocks):
    assert _deploy(root, "v1")["result"] is True
    module.record_failure(str(root), "v1", "live health check", "HTTP 502")
    ret = _deploy(root, "v1")
    assert ret["result"] is False and "failed at live health check" in ret["comment"]


def test_prune_counts_only_complete_releases(root):
    for release in ("v1", "v2", "v3"):
        assert _deploy(root, release)["result"] is True
    (root / "releases" / "unfinished").mkdir()
    assert module.prune_releases(str(root), keep=3) == []


def test_snapshot_comes_before_migrations_and_a_failed_one_stops_the_deploy(root, salt_mocks):
    salt_mocks["sparks_django.pending_migrations"].return_value = ["shop.0002_total"]
    order = []
    salt_mocks["sparks_django.snapshot_database"].side_effect = lambda *a, **k: (
        order.append("snapshot")
        or {
            "path": "/backups/pre-migrate-1-v1.dump",
            "bytes": 9,
        }
    )
    salt_mocks["sparks_django.migrate"].side_effect = lambda **k: order.append("migrate") or ""
    ret = _deploy(root, "v1", snapshot_dir="/backups", keep=3)
    assert ret["result"] is True, ret["comment"]
    assert order == ["snapshot", "migrate"]
    assert ret["changes"]["snapshot"] == {"path": "/backups/pre-migrate-1-v1.dump", "bytes": 9}
    args, kwargs = salt_mocks["sparks_django.snapshot_database"].call_args
    assert args == ("/backups", "v1") and kwargs["keep"] == 3
    # No room on the disk: refused before any migration, and the release is recorded as failed at that step.
    order.clear()
    salt_mocks["sparks_django.snapshot_database"].side_effect = CommandExecutionError("no room for a snapshot")
    failed = _deploy(root, "v2", snapshot_dir="/backups")
    assert failed["result"] is False and "no room for a snapshot" in failed["comment"]
    assert order == [] and "current stays v1" in failed["comment"]
    assert json.loads((root / "failed" / "v2.json").read_text())["step"] == "snapshot"


def test_no_snapshot_without_pending_migrations_or_directory(root, salt_mocks):
    assert _deploy(root, "v1", snapshot_dir="/backups")["result"] is True
    salt_mocks["sparks_django.pending_migrations"].return_value = ["shop.0002_total"]
    assert "snapshot" not in _deploy(root, "v2")["changes"]
    salt_mocks["sparks_django.snapshot_database"].assert_not_called()


def test_rollback_across_migrations_is_refused_unless_migrating_back(root, salt_mocks):
    for release in ("v1", "v2"):
        assert _deploy(root, release)["result"] is True
    unknown = {"unknown": ["shop.0002_total", "shop.0003_index"], "targets": {"shop": "0001_initial"}}
    salt_mocks["sparks_django.migrations_unknown_to"].return_value = unknown
    salt_mocks["sparks_django.migrate"].reset_mock()
    refused = states.rolled_back(name=str(root), env_file="/srv/app/.env", runas="app")
    assert refused["result"] is False and refused["changes"] == {}
    assert "shop.0002_total, shop.0003_index" in refused["comment"]
    assert os.readlink(root / "current") == "releases/v2"
    older, newer = salt_mocks["sparks_django.migrations_unknown_to"].call_args.args
    assert older["project_dir"] == str(root / "releases" / "v1" / "src")
    assert newer["virtualenv"] == str(root / "releases" / "v2" / "venv") and newer["runas"] == "app"
    salt_mocks["sparks_django.migrate"].assert_not_called()
    rolled = states.rolled_back(name=str(root), migrate_back=True, env_file="/srv/app/.env", runas="app")
    assert rolled["result"] is True, rolled["comment"]
    assert rolled["changes"]["migrations_reverted"] == unknown["unknown"]
    # Migrated back with the newer release's code: the older one has no files for those migrations.
    kwargs = salt_mocks["sparks_django.migrate"].call_args.kwargs
    assert (kwargs["app_label"], kwargs["migration_name"]) == ("shop", "0001_initial")
    assert kwargs["project_dir"] == str(root / "releases" / "v2" / "src")
    assert os.readlink(root / "current") == "releases/v1"


def test_rollback_does_not_switch_when_migrating_back_fails(root, salt_mocks):
    for release in ("v1", "v2"):
        assert _deploy(root, release)["result"] is True
    salt_mocks["sparks_django.migrations_unknown_to"].return_value = {
        "unknown": ["shop.0002_total"],
        "targets": {"shop": "0001_initial"},
    }
    salt_mocks["sparks_django.migrate"].side_effect = CommandExecutionError("irreversible")
    ret = states.rolled_back(name=str(root), migrate_back=True)
    assert ret["result"] is False and "irreversible" in ret["comment"] and "current stays v2" in ret["comment"]
    assert os.readlink(root / "current") == "releases/v2"
