"""
sparks_django.migrated, static_collected and superuser_present against real Django, test=True and for real.
"""

import json
import logging
import os

import pytest

from tests.support.django_projects import (
    SUPERUSER_PASSWORD,
    write_project,
)

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("reset_loaders_state")]


@pytest.fixture
def context(tmp_path, django_install):
    project_dir = write_project(tmp_path / "project", "v2", django_install["version"])
    return {
        "name": str(project_dir),
        "virtualenv": django_install["venv"],
        "settings_module": "sparkdemo.settings",
        "env": {"SPARKDEMO_STATIC_ROOT": str(tmp_path / "static")},
    }


def test_migrated(django_states, context):
    preview = django_states.migrated(test=True, **context)
    assert preview.result is None
    assert "greetings.0001_initial" in preview.changes["applied"]
    assert "would be run" in preview.comment

    applied = django_states.migrated(**context)
    assert applied.result is True
    assert applied.changes["applied"] == preview.changes["applied"]

    again = django_states.migrated(**context)
    assert again.result is True
    assert again.changes == {}
    assert again.comment == "No migrations to apply"
    assert django_states.migrated(test=True, **context).result is True


def test_migrated_backwards_to_a_target(django_states, context):
    assert django_states.migrated(**context).result is True
    back = django_states.migrated(app_label="greetings", migration_name="0001_initial", **context)
    assert back.result is True
    assert back.changes == {"unapplied": ["greetings.0002_greeting_language"]}
    assert django_states.migrated(app_label="greetings", migration_name="0001_initial", **context).changes == {}


def test_migrated_failure_carries_stderr(django_states, tmp_path, django_install):
    project_dir = write_project(tmp_path / "broken", "v3", django_install["version"])
    ret = django_states.migrated(name=str(project_dir), virtualenv=django_install["venv"])
    assert ret.result is False
    assert "broken on purpose" in ret.comment
    # Django ran the two good migrations before the broken one and the state says so.
    assert "greetings.0002_greeting_language" in ret.changes["applied"]
    assert "greetings.0003_broken" not in ret.changes["applied"]


def test_static_collected(django_states, context, tmp_path):
    preview = django_states.static_collected(test=True, **context)
    assert preview.result is None
    assert any(path.endswith("site.css") for path in preview.changes["copied"])
    assert not (tmp_path / "static").exists()

    collected = django_states.static_collected(**context)
    assert collected.result is True
    assert sorted(collected.changes["copied"]) == sorted(preview.changes["copied"])
    assert (tmp_path / "static" / "greetings" / "site.css").exists()

    again = django_states.static_collected(**context)
    assert again.result is True
    assert again.changes == {}
    assert "up to date" in again.comment
    assert django_states.static_collected(test=True, **context).changes == {}

    # A changed source file is copied again, and only that one.
    css = tmp_path / "project" / "greetings" / "static" / "greetings" / "site.css"
    css.write_text("body { color: red; }\n")
    # collectstatic copies a file whose source is newer than the copy, to the second: a rewrite within the
    # same second as the copy would look unchanged, so the source's mtime is moved past the copy's.
    later = (tmp_path / "static" / "greetings" / "site.css").stat().st_mtime + 2
    os.utime(css, (later, later))
    changed = django_states.static_collected(**context)
    assert [path.rsplit("/", 1)[-1] for path in changed.changes["copied"]] == ["site.css"]


def test_superuser_present_never_shows_the_password(django_states, context, caplog):
    caplog.set_level(logging.DEBUG)
    assert django_states.migrated(**context).result is True
    user = {
        "name": "admin",
        "project_dir": context["name"],
        "email": "admin@example.org",
        "password": SUPERUSER_PASSWORD,
        **{key: value for key, value in context.items() if key != "name"},
    }
    preview = django_states.superuser_present(test=True, **user)
    assert preview.result is None
    assert preview.changes == {"created": "admin"}

    created = django_states.superuser_present(**user)
    assert created.result is True
    assert created.changes == {"created": "admin"}

    again = django_states.superuser_present(**user)
    assert again.result is True
    assert again.changes == {}
    assert "already exists" in again.comment

    for ret in (preview, created, again):
        assert SUPERUSER_PASSWORD not in json.dumps(ret.full_return)
    # Salt's and our log records (the test harness itself logs the call's arguments, so it is left out).
    salt_records = [r.getMessage() for r in caplog.records if not r.name.startswith("saltfactories")]
    assert any("superuser_present" in message for message in salt_records)
    assert not any(SUPERUSER_PASSWORD in message for message in salt_records)


def test_state_failure_reports_django_error(django_states, context):
    ret = django_states.migrated(app_label="nosuchapp", **context)
    assert ret.result is False
    assert "No installed app with label 'nosuchapp'" in ret.comment
