"""
Unit tests of salt/_modules/sparks_django.py: command lines, environment, parsing, errors, release links.
No Django, no root, no network: cmd.run_all is a mock.
"""

import http.server
import json
import os
import pathlib
import socketserver
import threading
from unittest.mock import MagicMock

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.support.loadmod import load


sparks_django = load("_modules", "sparks_django")


def _ok(stdout="", stderr="", retcode=0):
    return {"retcode": retcode, "stdout": stdout, "stderr": stderr, "pid": 1}


@pytest.fixture
def run_all():
    return MagicMock(return_value=_ok())


@pytest.fixture
def configure_loader_modules(run_all):
    return {sparks_django: {"__salt__": {"cmd.run_all": run_all}, "__opts__": {"test": False}}}


@pytest.fixture
def project(tmp_path):
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    return {"project_dir": str(project_dir), "virtualenv": str(venv), "settings_module": "demo.settings"}


# ------------------------------------------------------------------------------------------------
# Environment files and secrets
# ------------------------------------------------------------------------------------------------


def test_parse_env_file(tmp_path):
    env_file = tmp_path / "app.env"
    env_file.write_text(
        "# comment\n"
        "\n"
        "PLAIN=value  # trailing comment\n"
        "export EXPORTED=yes\n"
        "SINGLE='a # not a comment'\n"
        'DOUBLE="line\\nbreak \\"quoted\\""\n'
        "EMPTY=\n"
        "SPACED = padded \n"
    )
    assert sparks_django._parse_env_file(str(env_file)) == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "SINGLE": "a # not a comment",
        "DOUBLE": 'line\nbreak "quoted"',
        "EMPTY": "",
        "SPACED": "padded",
    }


def test_parse_env_file_error_names_the_line_not_its_content(tmp_path):
    env_file = tmp_path / "bad.env"
    env_file.write_text("GOOD=1\nthis-is-a-secret-without-equals\n")
    with pytest.raises(CommandExecutionError) as excinfo:
        sparks_django._parse_env_file(str(env_file))
    assert "line 2" in str(excinfo.value)
    assert "this-is-a-secret" not in str(excinfo.value)


def test_missing_env_file_is_an_error(tmp_path):
    with pytest.raises(CommandExecutionError, match="Cannot read env file"):
        sparks_django._parse_env_file(str(tmp_path / "missing.env"))


def test_secret_values_and_redact():
    secrets = sparks_django._secret_values(
        {
            "DJANGO_SECRET_KEY": "abcdefgh",
            "DB_PASSWORD": "hunter22",
            "DATABASE_URL": "postgres://shop:pw-in-url@db/shop",
            "DEBUG": "1",
            "API_TOKEN": "x",  # too short to mask safely
            "GREETING": "hello",
        }
    )
    assert secrets == {"abcdefgh", "hunter22", "pw-in-url"}
    assert sparks_django._redact("key abcdefgh and pw-in-url", secrets) == "key ****** and ******"


# ------------------------------------------------------------------------------------------------
# Invocation
# ------------------------------------------------------------------------------------------------


def test_manage_uses_the_virtualenv_settings_and_a_list_argv(run_all, project, tmp_path):
    run_all.return_value = _ok("done\n")
    env_file = tmp_path / "app.env"
    env_file.write_text("FROM_FILE=file\nBOTH=file\n")
    assert (
        sparks_django.manage(
            "check", ["--tag", "models"], env_file=str(env_file), env={"BOTH": "dict"}, runas="app", **project
        )
        == "done\n"
    )
    argv = run_all.call_args.args[0]
    kwargs = run_all.call_args.kwargs
    assert argv == [
        f"{project['virtualenv']}/bin/python",
        "-m",
        "django",
        "check",
        "--no-color",
        "--tag",
        "models",
    ]
    assert kwargs["python_shell"] is False
    assert kwargs["cwd"] == project["project_dir"]
    assert kwargs["runas"] == "app"
    assert kwargs["output_loglevel"] == "quiet"
    env = kwargs["env"]
    assert env["DJANGO_SETTINGS_MODULE"] == "demo.settings"
    assert env["VIRTUAL_ENV"] == project["virtualenv"]
    assert env["PATH"].startswith(f"{project['virtualenv']}/bin")
    assert env["FROM_FILE"] == "file"
    assert env["BOTH"] == "dict"


def test_manage_py_is_preferred_when_present(run_all, project):
    pathlib.Path(project["project_dir"], "manage.py").write_text("")
    sparks_django.manage("migrate", **project)
    assert run_all.call_args.args[0][1:3] == ["manage.py", "migrate"]


def test_string_args_are_split(run_all, project):
    sparks_django.manage("check", "--deploy --fail-level WARNING", **project)
    assert run_all.call_args.args[0][-3:] == ["--deploy", "--fail-level", "WARNING"]


def test_failing_command_raises_with_stderr(run_all, project):
    run_all.return_value = _ok(stderr="CommandError: boom happened", retcode=1)
    with pytest.raises(CommandExecutionError) as excinfo:
        sparks_django.manage("migrate", **project)
    assert "exit code 1" in str(excinfo.value)
    assert "boom happened" in str(excinfo.value)
    # run() reports instead of raising.
    outcome = sparks_django.run("migrate", **project)
    assert outcome["retcode"] == 1 and "boom" in outcome["stderr"]


def test_output_is_redacted(run_all, project):
    run_all.return_value = _ok(stdout="key=topsecretvalue", stderr="url postgres://u:dbpass@h/d", retcode=1)
    env = {"DJANGO_SECRET_KEY": "topsecretvalue", "DATABASE_URL": "postgres://u:dbpass@h/d"}
    outcome = sparks_django.run("shell", env=env, **project)
    assert outcome["stdout"] == "key=******"
    assert "dbpass" not in outcome["stderr"]
    with pytest.raises(CommandExecutionError) as excinfo:
        sparks_django.manage("shell", env=env, **project)
    assert "dbpass" not in str(excinfo.value)


def test_unknown_arguments_are_refused_and_salt_metadata_ignored(run_all, project):
    with pytest.raises(SaltInvocationError, match="settings"):
        sparks_django.manage("check", settings="typo", **project)
    sparks_django.manage("check", __pub_fun="sparks_django.manage", **project)
    assert run_all.called


def test_missing_project_dir_or_virtualenv(project, tmp_path):
    with pytest.raises(SaltInvocationError):
        sparks_django.manage("check")
    with pytest.raises(CommandExecutionError, match="does not exist"):
        sparks_django.manage("check", project_dir=str(tmp_path / "nope"))
    with pytest.raises(CommandExecutionError, match="no bin/python"):
        sparks_django.manage("check", project_dir=project["project_dir"], virtualenv=str(tmp_path))


def test_createsuperuser_passes_the_password_only_through_the_environment(run_all, project):
    password = "Very-Secret-Password-123"
    run_all.return_value = _ok("Superuser created successfully.")
    result = sparks_django.createsuperuser("admin", email="a@example.org", password=password, **project)
    argv = run_all.call_args.args[0]
    assert password not in " ".join(argv)
    assert argv[-3:] == ["--noinput", "--username=admin", "--email=a@example.org"]
    assert run_all.call_args.kwargs["env"]["DJANGO_SUPERUSER_PASSWORD"] == password
    assert password not in result

    # Even if Django echoed the password in an error, it would not come back.
    run_all.return_value = _ok(stderr=f"Error: password {password} rejected", retcode=1)
    with pytest.raises(CommandExecutionError) as excinfo:
        sparks_django.createsuperuser("admin", password=password, **project)
    assert password not in str(excinfo.value)
    assert "rejected" in str(excinfo.value)


def test_user_info_passes_the_username_through_the_environment(run_all, project):
    run_all.return_value = _ok(
        "0 objects imported automatically\n"
        'SPARKS_DJANGO_RESULT={"username": "x\'; drop", "is_superuser": true, "is_staff": true, "is_active": true}\n'
    )
    info = sparks_django.user_info("x'; drop", **project)
    assert info["is_superuser"] is True
    assert "drop" not in " ".join(run_all.call_args.args[0])
    assert run_all.call_args.kwargs["env"]["SPARKS_DJANGO_USERNAME"] == "x'; drop"
    run_all.return_value = _ok("SPARKS_DJANGO_RESULT=null\n")
    assert sparks_django.user_info("nobody", **project) is None


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, []),
        ({"deploy": True}, ["--deploy"]),
        ({"deploy": True, "fail_level": "warning"}, ["--deploy", "--fail-level=WARNING"]),
        ({"tags": ["security", "models"]}, ["--tag=security", "--tag=models"]),
    ],
)
def test_check_arguments(run_all, project, kwargs, expected):
    run_all.return_value = _ok("System check identified no issues (0 silenced).\n", "")
    assert sparks_django.check(**kwargs, **project)["summary"].startswith("System check")
    assert run_all.call_args.args[0][5:] == expected


def test_check_rejects_unknown_fail_level(project):
    with pytest.raises(SaltInvocationError):
        sparks_django.check(fail_level="LOUD", **project)


def test_dumpdata_and_loaddata_arguments(run_all, project):
    run_all.return_value = _ok("[]")
    assert (
        sparks_django.dumpdata(app_labels=["shop"], indent=2, natural_foreign=True, exclude="shop.log", **project)
        == "[]"
    )
    assert run_all.call_args.args[0][5:] == [
        "shop",
        "--format=json",
        "--indent=2",
        "--exclude=shop.log",
        "--natural-foreign",
    ]
    run_all.return_value = _ok("Installed 3 object(s) from 1 fixture(s)\n")
    assert sparks_django.loaddata("f.json", ignorenonexistent=True, **project)["objects"] == 3
    assert run_all.call_args.args[0][5:] == ["f.json", "--ignorenonexistent"]


def test_migrate_arguments(run_all, project):
    sparks_django.migrate(app_label="shop", migration_name="0003", fake=True, database="replica", **project)
    assert run_all.call_args.args[0][5:] == ["shop", "0003", "--database=replica", "--noinput", "--fake"]
    with pytest.raises(SaltInvocationError):
        sparks_django.migrate(migration_name="0003", **project)


# ------------------------------------------------------------------------------------------------
# Output parsing
# ------------------------------------------------------------------------------------------------

PLAN = """Planned operations:
shop.0002_order_total
    Add field total to order
shop.0003_backfill
    Raw Python operation
"""

BACKWARDS_PLAN = """Planned operations:
shop.0003_backfill
    Undo Raw Python operation
"""


def test_parse_migration_plan():
    assert sparks_django._parse_migration_plan(PLAN) == [
        {
            "migration": "shop.0002_order_total",
            "backwards": False,
            "operations": ["Add field total to order"],
        },
        {"migration": "shop.0003_backfill", "backwards": False, "operations": ["Raw Python operation"]},
    ]
    assert sparks_django._parse_migration_plan(BACKWARDS_PLAN)[0]["backwards"] is True
    assert sparks_django._parse_migration_plan("Planned operations:\n  No planned migration operations.\n") == []


def test_parse_showmigrations():
    text = (
        "admin\n [X] 0001_initial\n [ ] 0002_logentry_remove_auto_add\nempty\n (no migrations)\n"
        "shop\n [X] 0001_squashed_0004 (4 squashed migrations)\n"
    )
    assert sparks_django._parse_showmigrations(text) == {
        "admin": [
            {"name": "0001_initial", "applied": True},
            {"name": "0002_logentry_remove_auto_add", "applied": False},
        ],
        "empty": [],
        "shop": [{"name": "0001_squashed_0004", "applied": True}],
    }


def test_parse_collectstatic():
    text = (
        "Copying '/src/shop/static/a.css'\n"
        "Skipping 'b.css' (not modified)\n"
        "Pretending to copy '/src/shop/static/c.js'\n"
        "Deleting 'old.css'\n"
        "\n2 static files copied to '/static', 1 unmodified, 3 post-processed.\n"
    )
    report = sparks_django._parse_collectstatic(text)
    assert report["copied"] == ["/src/shop/static/a.css", "/src/shop/static/c.js"]
    assert report["deleted"] == ["old.css"]
    assert (report["unmodified"], report["post_processed"]) == (1, 3)
    assert report["summary"].startswith("2 static files copied")


# ------------------------------------------------------------------------------------------------
# Releases (plain files under tmp_path)
# ------------------------------------------------------------------------------------------------


def _built(root, release, completed_at):
    paths = sparks_django.release_paths(str(root), release)
    os.makedirs(paths["src"])
    record = sparks_django.write_release_metadata(str(root), release, {"source": "s", "rev": release})
    # A fixed completion time keeps the ordering deterministic however fast the test runs.
    record["completed_at"] = completed_at
    pathlib.Path(paths["marker"]).write_text(json.dumps(record))


def test_switch_rollback_and_prune(tmp_path):
    root = tmp_path
    for number, release in enumerate(["r1", "r2", "r3", "r4"]):
        _built(root, release, 1000 + number)
    assert sparks_django.switch_release(str(root), "r1") == {"old": None, "new": "r1"}
    assert not (root / "previous").exists()
    assert sparks_django.switch_release(str(root), "r2") == {"old": "r1", "new": "r2"}
    assert os.readlink(root / "current") == "releases/r2"
    assert os.readlink(root / "previous") == "releases/r1"
    assert sparks_django.switch_release(str(root), "r2") == {"old": "r2", "new": "r2"}

    assert sparks_django.rollback(str(root), test=True) == {"old": "r2", "new": "r1"}
    assert os.readlink(root / "current") == "releases/r2"
    assert sparks_django.rollback(str(root)) == {"old": "r2", "new": "r1"}
    assert (os.readlink(root / "current"), os.readlink(root / "previous")) == ("releases/r1", "releases/r2")

    listing = sparks_django.list_releases(str(root))
    assert [entry["id"] for entry in listing["releases"]] == ["r1", "r2", "r3", "r4"]
    assert (listing["current"], listing["previous"]) == ("r1", "r2")

    # current (r1) and previous (r2) survive even though they are the oldest.
    assert sparks_django.prune_releases(str(root), keep=3, test=True) == ["r3"]
    assert (root / "releases" / "r3").exists()
    assert sparks_django.prune_releases(str(root), keep=2) == ["r3", "r4"]
    assert sorted(os.listdir(root / "releases")) == ["r1", "r2"]
    with pytest.raises(SaltInvocationError):
        sparks_django.prune_releases(str(root), keep=1)


def test_switch_refuses_an_incomplete_release_and_bad_ids(tmp_path):
    os.makedirs(tmp_path / "releases" / "half" / "src")
    with pytest.raises(CommandExecutionError, match="incomplete"):
        sparks_django.switch_release(str(tmp_path), "half")
    with pytest.raises(SaltInvocationError):
        sparks_django.release_paths(str(tmp_path), "../escape")
    with pytest.raises(CommandExecutionError, match="No complete previous release"):
        sparks_django.rollback(str(tmp_path))


# --------------------------------------------------------------------------------------------------
# http_status: the site's Host, X-Forwarded-Proto, redirects not followed, TCP and unix sockets
# --------------------------------------------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.seen.append((self.path, self.headers.get("Host"), self.headers.get("X-Forwarded-Proto")))
        self.send_response(302)
        self.send_header("Location", "https://www.example.org/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _serving(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def test_http_status_sends_the_host_and_does_not_follow_redirects():
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _serving(server)
    try:
        answer = sparks_django.http_status(
            f"127.0.0.1:{server.server_port}", "/health/", host="www.example.org", https=True
        )
    finally:
        server.shutdown()
        server.server_close()
    assert answer == {"status": 302, "reason": "HTTP 302"}
    assert _Recorder.seen == [("/health/", "www.example.org", "https")]


def test_http_status_over_a_unix_socket(tmp_path):
    _Recorder.seen = []

    class Handler(_Recorder):
        def address_string(self):
            return "unix"

    path = str(tmp_path / "g.sock")
    server = _UnixServer(path, Handler)
    _serving(server)
    try:
        answer = sparks_django.http_status(f"unix:{path}", "/", host="secure.example.org")
    finally:
        server.shutdown()
        server.server_close()
    assert answer["status"] == 302
    assert _Recorder.seen == [("/", "secure.example.org", None)]


def test_http_status_when_nothing_listens(tmp_path):
    answer = sparks_django.http_status(f"unix:{tmp_path / 'none.sock'}", "/")
    assert answer["status"] is None and answer["reason"]


def test_migrations_unknown_to_an_older_release(run_all, project, tmp_path):
    older_dir = tmp_path / "older"
    older_dir.mkdir()
    older = {"project_dir": str(older_dir)}
    listings = {
        # What the newer release's code sees: two apps moved on, one app the older release has not at all.
        project["project_dir"]: "shop\n [X] 0001_initial\n [X] 0002_total\n [X] 0003_index\n"
        "notes\n [X] 0001_initial\n"
        "auth\n [X] 0001_initial\n",
        str(older_dir): "shop\n [X] 0001_initial\nauth\n [X] 0001_initial\n",
    }
    run_all.side_effect = lambda argv, cwd, **kwargs: _ok(listings[cwd])
    found = sparks_django.migrations_unknown_to(older, project)
    assert found == {
        "unknown": ["shop.0002_total", "shop.0003_index", "notes.0001_initial"],
        "targets": {"shop": "0001_initial", "notes": "zero"},
    }
    run_all.side_effect = lambda argv, cwd, **kwargs: _ok(listings[project["project_dir"]])
    assert sparks_django.migrations_unknown_to(project, project) == {
        "unknown": [],
        "targets": {},
    }


def test_snapshot_refused_is_reported_and_leaves_no_file(run_all, project, tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    run_all.return_value = _ok('SPARKS_DJANGO_RESULT={"error": "no room for a snapshot in /b: it needs up to 5 MiB"}')
    with pytest.raises(CommandExecutionError, match="No snapshot of the database before migrating: no room"):
        sparks_django.snapshot_database(str(backups), "v2", **project)
    assert list(backups.iterdir()) == []
    env = run_all.call_args.kwargs["env"]
    assert (
        env["SPARKS_SNAPSHOT_PATH"].startswith(f"{backups}/pre-migrate-") and env["SPARKS_DJANGO_DATABASE"] == "default"
    )
    with pytest.raises(CommandExecutionError, match="does not exist"):
        sparks_django.snapshot_database(str(tmp_path / "missing"), "v2", **project)


def test_prune_snapshots_keeps_the_newest(tmp_path):
    for stamp in ("20261101T000000Z-a", "20261201T000000Z-b", "20261115T000000Z-c"):
        (tmp_path / f"pre-migrate-{stamp}.dump").write_text("x")
    (tmp_path / "other.dump").write_text("kept: not a snapshot")
    assert sparks_django.prune_snapshots(str(tmp_path), 2) == ["pre-migrate-20261101T000000Z-a.dump"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "other.dump",
        "pre-migrate-20261115T000000Z-c.dump",
        "pre-migrate-20261201T000000Z-b.dump",
    ]


def test_dumpdata_leaves_out_excludes_of_apps_not_installed(run_all, project):
    run_all.side_effect = [
        _ok('SPARKS_DJANGO_RESULT=["auth", "contenttypes", "greetings"]\n'),
        _ok("[]"),
    ]
    exclude = ["contenttypes", "auth.permission", "sessions"]
    assert sparks_django.dumpdata(exclude=exclude, installed_excludes_only=True, **project) == "[]"
    assert run_all.call_args.args[0][5:] == ["--format=json", "--exclude=contenttypes", "--exclude=auth.permission"]
