"""
The sparks_django execution module against real Django (4.2 LTS and the newest release), SQLite.
"""

import json
import shutil
import subprocess
import threading
import time

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.django_projects import (
    SECRET_KEY_VALUE,
    SUPERUSER_PASSWORD,
    gettext_available,
    write_project,
)

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("reset_loaders_state")]


@pytest.fixture
def project(tmp_path, django_install):
    """A fresh v2 project (two migrations) with its own SQLite database."""
    project_dir = write_project(tmp_path / "project", "v2", django_install["version"])
    return {
        "project_dir": str(project_dir),
        "virtualenv": django_install["venv"],
        "settings_module": "sparkdemo.settings",
    }


def test_version_is_the_requested_one(django_module, project, django_install):
    output = django_module.manage("version", **project)
    assert output.strip() == django_install["version"]


def test_migration_plan_migrate_and_showmigrations(django_module, project):
    pending = django_module.pending_migrations(**project)
    assert "greetings.0001_initial" in pending
    assert pending.index("greetings.0001_initial") < pending.index("greetings.0002_greeting_language")

    django_module.migrate(app_label="greetings", migration_name="0001_initial", **project)
    assert django_module.pending_migrations(app_label="greetings", **project) == ["greetings.0002_greeting_language"]
    shown = django_module.showmigrations(app_label="greetings", **project)
    assert shown == {
        "greetings": [
            {"name": "0001_initial", "applied": True},
            {"name": "0002_greeting_language", "applied": False},
        ]
    }

    django_module.migrate(**project)
    assert django_module.pending_migrations(**project) == []
    assert django_module.migrate(plan=True, **project) == []
    assert all(m["applied"] for m in django_module.showmigrations(**project)["greetings"])


def test_failing_command_raises_with_stderr(django_module, project):
    with pytest.raises(CommandExecutionError) as excinfo:
        django_module.migrate(app_label="nosuchapp", **project)
    assert "No installed app with label 'nosuchapp'" in str(excinfo.value)
    assert "exit code 1" in str(excinfo.value)
    outcome = django_module.run("migrate", ["nosuchapp"], **project)
    assert outcome["retcode"] == 1
    assert "nosuchapp" in outcome["stderr"]


def test_broken_migration_fails_with_its_error(django_module, tmp_path, django_install):
    project_dir = write_project(tmp_path / "broken", "v3", django_install["version"])
    context = {"project_dir": str(project_dir), "virtualenv": django_install["venv"]}
    with pytest.raises(CommandExecutionError) as excinfo:
        django_module.migrate(**context)
    assert "broken on purpose" in str(excinfo.value)
    # The migrations before the broken one ran; the broken one is still pending.
    assert django_module.pending_migrations(**context) == ["greetings.0003_broken"]


def test_collectstatic_reports_copied_then_nothing(django_module, project, tmp_path):
    static_root = tmp_path / "static"
    project["env"] = {"SPARKDEMO_STATIC_ROOT": str(static_root)}
    preview = django_module.collectstatic(dry_run=True, **project)
    assert any(path.endswith("site.css") for path in preview["copied"])
    assert not static_root.exists()

    first = django_module.collectstatic(**project)
    assert sorted(first["copied"]) == sorted(preview["copied"])
    assert (static_root / "greetings" / "site.css").exists()

    second = django_module.collectstatic(**project)
    assert second["copied"] == []
    assert second["unmodified"] == len(first["copied"])
    assert django_module.collectstatic(dry_run=True, **project)["copied"] == []


def test_check_deploy_and_fail_level(django_module, project):
    plain = django_module.check(**project)
    assert "no issues" in plain["summary"]
    deploy = django_module.check(deploy=True, **project)
    assert "security.W" in deploy["issues"]
    with pytest.raises(CommandExecutionError) as excinfo:
        django_module.check(deploy=True, fail_level="WARNING", **project)
    assert "security.W" in str(excinfo.value)


def test_env_file_is_exported_and_secrets_are_redacted(django_module, project, tmp_path):
    env_file = tmp_path / "project.env"
    env_file.write_text(
        "# sparks env file\n"
        f"export DJANGO_SECRET_KEY='{SECRET_KEY_VALUE}'\n"
        'SPARKDEMO_GREETING="bonjour tout le monde"  \n'
        "DATABASE_URL=postgres://shop:db-pass-word@localhost/shop\n"
    )
    snippet = (
        "import os; from django.conf import settings; "
        "print('key=' + settings.SECRET_KEY); print('greeting=' + os.environ['SPARKDEMO_GREETING']); "
        "print('url=' + os.environ['DATABASE_URL'])"
    )
    output = django_module.manage("shell", ["--command", snippet], env_file=str(env_file), **project)
    assert "greeting=bonjour tout le monde" in output
    assert "key=******" in output
    assert "url=postgres://shop:******@localhost/shop" in output
    assert SECRET_KEY_VALUE not in output
    assert "db-pass-word" not in output

    # The env dict wins over the env file.
    output = django_module.manage(
        "shell",
        ["--command", "import os; print(os.environ['SPARKDEMO_GREETING'])"],
        env_file=str(env_file),
        env={"SPARKDEMO_GREETING": "hallo"},
        **project,
    )
    assert output.strip().splitlines()[-1] == "hallo"


def _process_list():
    return subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True).stdout


def test_createsuperuser_password_never_on_command_line_or_in_return(django_module, project):
    django_module.migrate(**project)
    # Slow the command's start so the process list is sampled while it runs.
    slow = dict(project, env={"SPARKDEMO_SLOW_START": "1.5"})
    outcome = {}

    def create():
        try:
            outcome["return"] = django_module.createsuperuser(
                "admin", email="admin@example.org", password=SUPERUSER_PASSWORD, **slow
            )
        except Exception as exc:  # pylint: disable=broad-except
            outcome["error"] = exc

    worker = threading.Thread(target=create)
    worker.start()
    samples = []
    while worker.is_alive():
        samples.append(_process_list())
        time.sleep(0.05)
    worker.join()
    assert "error" not in outcome, outcome.get("error")
    assert any("createsuperuser" in sample for sample in samples), "the command was never seen running"
    assert not any(SUPERUSER_PASSWORD in sample for sample in samples)
    assert SUPERUSER_PASSWORD not in json.dumps(outcome["return"])

    assert django_module.user_info("admin", **project) == {
        "username": "admin",
        "is_superuser": True,
        "is_staff": True,
        "is_active": True,
    }
    assert django_module.user_info("nobody", **project) is None
    # The password really was set.
    checked = django_module.manage(
        "shell",
        [
            "--command",
            "import os; from django.contrib.auth import authenticate; "
            "print('authenticated', authenticate(username='admin', password=os.environ['SPARKS_PW']) is not None)",
        ],
        env={"SPARKS_PW": SUPERUSER_PASSWORD},
        **project,
    )
    assert "authenticated True" in checked

    with pytest.raises(CommandExecutionError) as excinfo:
        django_module.createsuperuser("admin", email="admin@example.org", password=SUPERUSER_PASSWORD, **project)
    assert "already taken" in str(excinfo.value)
    assert SUPERUSER_PASSWORD not in str(excinfo.value)


@pytest.mark.skipif(not gettext_available(), reason="gettext (msgfmt) is not installed")
def test_compilemessages(django_module, project):
    django_module.compilemessages(**project)
    compiled = f"{project['project_dir']}/greetings/locale/fr/LC_MESSAGES/django.mo"
    assert shutil.os.path.exists(compiled)


def test_dumpdata_then_loaddata_into_another_database(django_module, project, tmp_path):
    django_module.migrate(**project)
    data = json.loads(django_module.dumpdata(app_labels=["greetings"], **project))
    assert [row["fields"]["text"] for row in data] == ["hello"]

    fixture = tmp_path / "greetings.json"
    assert django_module.dumpdata(app_labels="greetings", output=str(fixture), indent=2, **project) == str(fixture)
    other = dict(project, env={"SPARKDEMO_DB": str(tmp_path / "other.sqlite3")})
    django_module.migrate(**other)
    # The data migration already created one greeting with id 1; loading the fixture overwrites it.
    result = django_module.loaddata(str(fixture), **other)
    assert result["objects"] == 1 and result["fixtures"] == 1
