"""
Django management commands and release bookkeeping for sparks.

Salt's core ``djangomod`` calls ``django-admin.py`` (gone since Django 4), ignores return codes and is
removed in Salt 3008, so sparks ships this module instead. It runs any management command with the
project's virtualenv, settings module and environment, turns a failing command into a
``CommandExecutionError`` carrying its stderr, and parses the output of the commands the states need
(migration plan, collectstatic) into data.

Project context (keyword arguments accepted by every management function):

project_dir
    Directory holding the project (``manage.py`` or the settings package); commands run there.
virtualenv
    The project's virtualenv; its ``bin/python`` runs the command. Without it, ``python`` is used.
python
    Interpreter to use when there is no virtualenv (default ``python3``).
settings_module
    Dotted settings module, exported as ``DJANGO_SETTINGS_MODULE``.
env_file
    A ``KEY=VALUE`` file (12-factor ``.env``) whose variables are exported to the command.
env
    A dict of variables exported to the command; wins over ``env_file``.
runas
    System user that runs the command.
pythonpath
    Extra directories prepended to ``PYTHONPATH``.
timeout
    Seconds after which the command is killed.

Values of variables whose name looks secret (password, secret, token, key, ...) and passwords embedded
in URLs are replaced by ``******`` in everything this module returns, raises or logs.

CLI examples::

    salt-call sparks_django.manage check args='[--deploy]' project_dir=/srv/app/current/src \\
        virtualenv=/srv/app/current/venv settings_module=app.settings env_file=/srv/app/.env
    salt-call sparks_django.pending_migrations project_dir=... virtualenv=...
    salt-call sparks_django.rollback /srv/app
"""

import http.client
import json
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "sparks_django"

CONTEXT_KEYS = (
    "project_dir",
    "virtualenv",
    "python",
    "settings_module",
    "env_file",
    "env",
    "runas",
    "pythonpath",
    "timeout",
)

REDACTED = "******"
# Variable names whose values must never be shown.
_SECRET_NAME = re.compile(r"pass|secret|token|key|credential|private|auth|dsn|salt", re.IGNORECASE)
# user:password@ inside URLs (DATABASE_URL=postgres://u:p@h/db, REDIS_URL, ...).
_URL_PASSWORD = re.compile(r"://[^/\s:@]*:([^@\s/]+)@")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Marker printed by the snippets run through ``manage.py shell`` so the result can be found in
# output that may also carry banners or auto-import notices (Django >= 5.2).
_RESULT_MARKER = "SPARKS_DJANGO_RESULT="

RELEASE_MARKER = ".sparks-release.json"


def __virtual__():
    return __virtualname__


# --------------------------------------------------------------------------------------------------
# Environment and invocation
# --------------------------------------------------------------------------------------------------


def _unquote(value, lineno, path):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        if value[0] == '"':
            inner = inner.replace("\\n", "\n").replace('\\"', '"').replace("\\$", "$").replace("\\\\", "\\")
        return inner
    if value and value[0] in "'\"":
        raise CommandExecutionError(f"{path}, line {lineno}: unterminated quoted value")
    # An unquoted value ends at an inline comment.
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()


def _parse_env_file(path):
    """
    Read a ``KEY=VALUE`` environment file and return its variables as a dict.

    Blank lines and ``#`` comments are skipped, ``export KEY=VALUE`` is accepted, values may be
    single- or double-quoted. A malformed line raises ``CommandExecutionError`` naming the line number
    only, never its content (it may hold a secret). Private: a CLI call would print the secrets.
    """
    variables = {}
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise CommandExecutionError(f"Cannot read env file {path}: {exc.strerror}") from exc
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not _ENV_NAME.match(name):
            raise CommandExecutionError(f"{path}, line {lineno}: expected KEY=VALUE")
        variables[name] = _unquote(value.strip(), lineno, path)
    return variables


def _secret_values(env):
    """
    Return the values of ``env`` that must be hidden: those of secret-looking names and passwords
    embedded in URLs. Short values are left alone (masking "1" everywhere would garble output).
    """
    secrets = set()
    for name, value in (env or {}).items():
        value = "" if value is None else str(value)
        if len(value) >= 4 and _SECRET_NAME.search(name):
            secrets.add(value)
        for match in _URL_PASSWORD.finditer(value):
            if len(match.group(1)) >= 3:
                secrets.add(match.group(1))
    return secrets


def _redact(text, secrets):
    """Replace every occurrence of every secret in ``text`` by ``******``."""
    if not text or not secrets:
        return text
    # Longest first, so a secret containing another one is masked whole.
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _split_context(kwargs, function):
    """Separate the project context from the other keyword arguments and reject unknown ones."""
    context = {}
    for key in list(kwargs):
        if key.startswith("__"):
            # Salt's __pub_* call metadata.
            kwargs.pop(key)
        elif key in CONTEXT_KEYS:
            context[key] = kwargs.pop(key)
    if kwargs:
        raise SaltInvocationError(f"sparks_django.{function}: unexpected argument(s): {', '.join(sorted(kwargs))}")
    return context


def _python_for(context):
    if context.get("virtualenv"):
        return os.path.join(context["virtualenv"], "bin", "python")
    return context.get("python") or "python3"


def _environment(context, extra_env=None):
    """Build the variables handed to the command: env file, then env dict, then sparks' own."""
    env = {}
    if context.get("env_file"):
        env.update(_parse_env_file(context["env_file"]))
    for name, value in (context.get("env") or {}).items():
        if not _ENV_NAME.match(str(name)):
            raise SaltInvocationError(f"Invalid environment variable name: {name!r}")
        env[str(name)] = "" if value is None else str(value)
    if context.get("settings_module"):
        env["DJANGO_SETTINGS_MODULE"] = context["settings_module"]
    if context.get("virtualenv"):
        env["VIRTUAL_ENV"] = context["virtualenv"]
        env["PATH"] = os.pathsep.join([os.path.join(context["virtualenv"], "bin"), os.environ.get("PATH", os.defpath)])
    pythonpath = context.get("pythonpath")
    if pythonpath:
        if isinstance(pythonpath, str):
            pythonpath = [pythonpath]
        inherited = env.get("PYTHONPATH") or os.environ.get("PYTHONPATH")
        env["PYTHONPATH"] = os.pathsep.join([*pythonpath, *([inherited] if inherited else [])])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra_env or {})
    return env


def _argv(context, command, args):
    project_dir = context.get("project_dir")
    python = _python_for(context)
    # The project's manage.py is its own entry point (it may load settings or .env itself);
    # without one, "python -m django" works on every supported Django version.
    if project_dir and os.path.isfile(os.path.join(project_dir, "manage.py")):
        head = [python, "manage.py"]
    else:
        head = [python, "-m", "django"]
    return [*head, command, "--no-color", *[str(arg) for arg in args]]


def _normalise_args(args):
    if args is None:
        return []
    if isinstance(args, str):
        return shlex.split(args)
    if isinstance(args, (list, tuple)):
        return [str(arg) for arg in args]
    raise SaltInvocationError("args must be a list or a string")


def _as_list(value):
    """One value or a list of values (as Salt's CLI and SLS files give either) as a list."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _spawn(argv, context, extra_env=None, extra_secrets=(), stdin=None, umask=None):
    """
    Run ``argv`` (a list, no shell) in ``project_dir`` with the project's environment, as ``runas``.
    Return ``{retcode, stdout, stderr, argv}`` with every secret masked; never raises on a non-zero
    exit (a timeout gives retcode None).
    """
    if not context.get("project_dir"):
        raise SaltInvocationError("project_dir is required")
    if not os.path.isdir(context["project_dir"]):
        raise CommandExecutionError(f"project_dir {context['project_dir']} does not exist")
    env = _environment(context, extra_env)
    secrets = _secret_values(env) | {secret for secret in extra_secrets if secret}
    for part in argv:
        secrets |= {m.group(1) for m in _URL_PASSWORD.finditer(part) if len(m.group(1)) >= 3}
    result = __salt__["cmd.run_all"](
        argv,
        cwd=context["project_dir"],
        env=env,
        runas=context.get("runas"),
        python_shell=False,
        ignore_retcode=True,
        # Output may quote secrets: nothing is logged raw, the masked copy is returned.
        output_loglevel="quiet",
        timeout=context.get("timeout"),
        stdin=stdin,
        umask=umask,
        reset_system_locale=False,
    )
    return {
        "retcode": result.get("retcode", 1),
        "stdout": _redact(result.get("stdout", ""), secrets),
        "stderr": _redact(result.get("stderr", ""), secrets),
        "argv": [_redact(part, secrets) for part in argv],
    }


def _execute(command, args, context, extra_env=None, extra_secrets=(), stdin=None, umask=None):
    """Run one management command with the project's Python; see ``_spawn``."""
    python = _python_for(context)
    if context.get("virtualenv") and not os.path.exists(python):
        raise CommandExecutionError(f"virtualenv {context['virtualenv']} has no bin/python")
    outcome = _spawn(_argv(context, command, args), context, extra_env, extra_secrets, stdin, umask)
    log.debug("sparks_django %s exited %s: %s", command, outcome["retcode"], outcome["stderr"][-2000:])
    return outcome


def _failure_message(command, outcome, limit=4000):
    """A one-paragraph reason for a failed command: its exit code and the tail of its stderr."""
    detail = (outcome.get("stderr") or "").strip() or (outcome.get("stdout") or "").strip()
    if len(detail) > limit:
        detail = "..." + detail[-limit:]
    return f"Django command '{command}' failed with exit code {outcome.get('retcode')}: {detail}"


def _checked(command, args, context, **execute_kwargs):
    outcome = _execute(command, args, context, **execute_kwargs)
    if outcome["retcode"] != 0:
        raise CommandExecutionError(_failure_message(command, outcome))
    return outcome


# --------------------------------------------------------------------------------------------------
# Generic commands
# --------------------------------------------------------------------------------------------------


def run_program(argv, extra_secrets=None, **kwargs):
    """
    Run a program (not a management command) in the project context: its virtualenv first on PATH,
    its settings and environment exported, ``project_dir`` as working directory. Return
    ``{retcode, stdout, stderr, argv}`` masked like everything else; never raises on a non-zero exit.
    Used for health-check commands, git and pip.

    CLI example:
    ``salt-call sparks_django.run_program '[curl, -fsS, http://127.0.0.1:8000/]' project_dir=/srv/app/current/src``
    """
    context = _split_context(kwargs, "run_program")
    argv = shlex.split(argv) if isinstance(argv, str) else [str(part) for part in argv]
    return _spawn(argv, context, extra_secrets=extra_secrets or ())


def run(command, args=None, **kwargs):
    """
    Run any management command and return ``{retcode, stdout, stderr, argv}`` without raising on a
    non-zero exit (for callers that want to inspect failures themselves).

    CLI example: ``salt-call sparks_django.run showmigrations project_dir=/srv/app/src virtualenv=/srv/app/venv``
    """
    context = _split_context(kwargs, "run")
    return _execute(command, _normalise_args(args), context)


def manage(command, args=None, **kwargs):
    """
    Run any management command; return its stdout. A non-zero exit raises ``CommandExecutionError``
    with the command's stderr.

    CLI example: ``salt-call sparks_django.manage check args='[--deploy]' project_dir=... virtualenv=...``
    """
    context = _split_context(kwargs, "manage")
    return _checked(command, _normalise_args(args), context)["stdout"]


# --------------------------------------------------------------------------------------------------
# Migrations
# --------------------------------------------------------------------------------------------------


def _parse_migration_plan(text):
    """Parse ``migrate --plan`` output into ``[{migration, backwards, operations}]``."""
    plan = []
    for line in text.splitlines():
        if (
            not line.strip()
            or line.startswith("Planned operations")
            or line.strip() == ("No planned migration operations.")
        ):
            continue
        if line.startswith(" "):
            if plan:
                operation = line.strip()
                plan[-1]["operations"].append(operation)
                if operation.startswith("Undo "):
                    plan[-1]["backwards"] = True
            continue
        if "." in line.strip():
            plan.append({"migration": line.strip(), "backwards": False, "operations": []})
    return plan


def _migrate_args(app_label, migration_name, database):
    args = []
    if migration_name and not app_label:
        raise SaltInvocationError("migration_name needs app_label")
    if app_label:
        args.append(app_label)
    if migration_name:
        args.append(migration_name)
    if database:
        args.append(f"--database={database}")
    return args


def migration_plan(app_label=None, migration_name=None, database=None, **kwargs):
    """
    What ``migrate`` would do, as data: ``[{migration: "app.0002_x", backwards: bool, operations: [...]}]``.
    Empty list: nothing to do.
    """
    context = _split_context(kwargs, "migration_plan")
    args = _migrate_args(app_label, migration_name, database) + ["--plan"]
    return _parse_migration_plan(_checked("migrate", args, context)["stdout"])


def pending_migrations(app_label=None, migration_name=None, database=None, **kwargs):
    """Labels (``app.name``) of the migrations ``migrate`` would apply or unapply, in order."""
    return [step["migration"] for step in migration_plan(app_label, migration_name, database, **kwargs)]


def migrate(
    app_label=None,
    migration_name=None,
    plan=False,
    fake=False,
    fake_initial=False,
    database=None,
    **kwargs,
):
    """
    Run ``migrate --noinput``; return its stdout. With ``plan=True`` only return the plan as data
    (see ``migration_plan``).

    CLI example: ``salt-call sparks_django.migrate app_label=polls migration_name=0001 project_dir=...``
    """
    if plan:
        return migration_plan(app_label, migration_name, database, **kwargs)
    context = _split_context(kwargs, "migrate")
    args = _migrate_args(app_label, migration_name, database) + ["--noinput"]
    if fake:
        args.append("--fake")
    if fake_initial:
        args.append("--fake-initial")
    return _checked("migrate", args, context)["stdout"]


def _parse_showmigrations(text):
    """Parse ``showmigrations --list`` output into ``{app: [{name, applied}]}``."""
    apps = {}
    current = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            current = line.strip()
            apps[current] = []
            continue
        stripped = line.strip()
        if current is None or stripped == "(no migrations)":
            continue
        match = re.match(r"\[(X| |-)\]\s+(\S+)", stripped)
        if match:
            apps[current].append({"name": match.group(2), "applied": match.group(1) == "X"})
    return apps


def showmigrations(app_label=None, database=None, **kwargs):
    """Migrations per app and whether each is applied: ``{app: [{name, applied}]}``."""
    context = _split_context(kwargs, "showmigrations")
    args = ["--list"]
    if app_label:
        args.append(app_label)
    if database:
        args.append(f"--database={database}")
    return _parse_showmigrations(_checked("showmigrations", args, context)["stdout"])


# Migrations and the database: one rule. A deploy whose plan has migrations takes a snapshot of the database
# first (``snapshot_database``); migrations run before the switch, so when the candidate then fails the old
# release keeps serving on the migrated schema (the expand-style changes Django projects are written for); a
# rollback to a release that lacks applied migrations is refused with their list (``migrations_unknown_to``)
# unless it migrates back first, with the newer code, which has the migration files.

# Reads its inputs from the environment; pg_dump gets the password in its environment, never on a command line.
_SNAPSHOT = (
    "import json, os, shutil, sqlite3, subprocess\n"
    "from django.db import connections\n"
    "connection = connections[os.environ['SPARKS_DJANGO_DATABASE']]\n"
    "path = os.environ['SPARKS_SNAPSHOT_PATH'] + ('.sqlite3' if connection.vendor == 'sqlite' else '.dump')\n"
    "settings = connection.settings_dict\n"
    "def done(**info):\n"
    f"    print({_RESULT_MARKER!r} + json.dumps(info))\n"
    "def room(needed):\n"
    "    free = shutil.disk_usage(os.path.dirname(path)).free\n"
    "    if free >= needed:\n"
    "        return True\n"
    "    done(error=f'no room for a snapshot in {os.path.dirname(path)}: it needs up to {needed // 2**20 + 1} MiB'\n"
    "               f' (the database\\'s size), {free // 2**20} MiB are free')\n"
    "os.umask(0o077)\n"
    "if 'django_migrations' not in connection.introspection.table_names():\n"
    "    done(skipped='no migration applied yet: nothing to keep')\n"
    "elif connection.vendor == 'postgresql':\n"
    "    with connection.cursor() as cursor:\n"
    "        cursor.execute('SELECT pg_database_size(current_database())')\n"
    "        size = cursor.fetchone()[0]\n"
    "    if room(size):\n"
    "        env = dict(os.environ, PGDATABASE=str(settings['NAME'] or ''), PGUSER=str(settings['USER'] or ''),\n"
    "                   PGPASSWORD=str(settings['PASSWORD'] or ''), PGHOST=str(settings['HOST'] or ''),\n"
    "                   PGPORT=str(settings['PORT'] or ''))\n"
    "        env = {k: v for k, v in env.items() if v or not k.startswith('PG')}\n"
    "        try:\n"
    "            dump = subprocess.run(['pg_dump', '--format=custom', '--file', path], env=env,\n"
    "                                  capture_output=True, text=True)\n"
    "        except FileNotFoundError:\n"
    "            done(error='pg_dump is not installed (Debian: postgresql-client)')\n"
    "        else:\n"
    "            if dump.returncode == 0:\n"
    "                done(path=path, engine='postgresql', bytes=os.path.getsize(path))\n"
    "            else:\n"
    "                done(error='pg_dump failed: ' + dump.stderr.strip()[-2000:])\n"
    "elif connection.vendor == 'sqlite':\n"
    "    if room(os.path.getsize(settings['NAME'])):\n"
    "        source, copy = sqlite3.connect(settings['NAME']), sqlite3.connect(path)\n"
    "        with copy:\n"
    "            source.backup(copy)\n"
    "        source.close()\n"
    "        copy.close()\n"
    "        done(path=path, engine='sqlite', bytes=os.path.getsize(path))\n"
    "else:\n"
    "    done(skipped=f'no snapshot of {connection.vendor} databases: only PostgreSQL and SQLite')\n"
)
SNAPSHOT_PREFIX = "pre-migrate-"


def snapshot_database(directory, label, keep=None, database="default", **kwargs):
    """
    A snapshot of the project's database into ``directory`` before migrations: ``pg_dump -Fc`` for PostgreSQL, a
    copy through SQLite's backup API for SQLite, written by the project user with mode 0600 as
    ``pre-migrate-<UTC time>-<label>.dump`` (``.sqlite3``). Refused when the disk has less room than the
    database's size. Only the newest ``keep`` snapshots stay.

    Return ``{path, engine, bytes}``, or ``{skipped: reason}`` (a database no migration ever ran on, or another
    engine); raise ``CommandExecutionError`` with the reason when no snapshot could be made.

    CLI example: ``salt-call sparks_django.snapshot_database /var/backups/sparks-django/shop/production manual
    project_dir=/srv/django/shop/production/current/src virtualenv=... env_file=... runas=shop``
    """
    context = _split_context(kwargs, "snapshot_database")
    if not os.path.isdir(directory):
        raise CommandExecutionError(f"snapshot directory {directory} does not exist")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", str(label)):
        raise SaltInvocationError(f"Invalid snapshot label {label!r}: use letters, digits, . _ -")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = os.path.join(directory, f"{SNAPSHOT_PREFIX}{stamp}-{label}")
    outcome = _checked(
        "shell",
        ["--command", _SNAPSHOT],
        context,
        extra_env={"SPARKS_DJANGO_DATABASE": database, "SPARKS_SNAPSHOT_PATH": base},
    )
    info = _marked_result(outcome["stdout"])
    if "error" in info:
        for partial in (base + ".dump", base + ".sqlite3"):
            if os.path.exists(partial):
                os.unlink(partial)
        raise CommandExecutionError(f"No snapshot of the database before migrating: {info['error']}")
    if "path" in info and keep is not None:
        info["pruned"] = prune_snapshots(directory, keep)
    return info


def prune_snapshots(directory, keep):
    """Delete all but the newest ``keep`` snapshots in ``directory``; return the names deleted."""
    names = sorted(name for name in os.listdir(directory) if name.startswith(SNAPSHOT_PREFIX))
    doomed = names[: max(len(names) - int(keep), 0)]
    for name in doomed:
        os.unlink(os.path.join(directory, name))
    return doomed


def migrations_unknown_to(older, newer):
    """
    The migrations applied to the database that the release ``older`` has no files for, read with both
    releases' code (``older`` and ``newer`` are project contexts: ``{project_dir, virtualenv, ...}``), and, for
    each app concerned, the migration ``newer``'s code must migrate back to before ``older`` can run:
    ``{"unknown": ["app.0002_x", ...], "targets": {"app": "0001_initial" or "zero"}}``.
    """
    applied = showmigrations(**newer)
    known = showmigrations(**older)
    unknown, targets = [], {}
    for app, migrations in applied.items():
        names = {m["name"] for m in known.get(app, [])}
        missing = [m["name"] for m in migrations if m["applied"] and m["name"] not in names]
        if missing:
            unknown += [f"{app}.{name}" for name in missing]
            last = [m["name"] for m in known.get(app, []) if m["applied"]]
            targets[app] = last[-1] if last else "zero"
    return {"unknown": unknown, "targets": targets}


# --------------------------------------------------------------------------------------------------
# Static files, checks, translations
# --------------------------------------------------------------------------------------------------

_COLLECT_LINE = re.compile(
    r"^(?P<verb>Copying|Pretending to copy|Linking|Pretending to link|Deleting|Pretending to delete)"
    r" '(?P<path>.*)'$"
)


def _parse_collectstatic(text):
    """Parse ``collectstatic -v 2`` output into lists of copied/linked/deleted files and the summary."""
    report = {"copied": [], "linked": [], "deleted": [], "unmodified": 0, "post_processed": 0, "summary": ""}
    for line in text.splitlines():
        line = line.strip()
        match = _COLLECT_LINE.match(line)
        if match:
            verb = match.group("verb")
            key = "copied" if "copy" in verb.lower() else "linked" if "link" in verb.lower() else "deleted"
            report[key].append(match.group("path"))
            continue
        summary = re.match(r"^(\d+) static files? (copied|symlinked)", line)
        if summary:
            report["summary"] = line
            unmodified = re.search(r"(\d+) unmodified", line)
            processed = re.search(r"(\d+) post-processed", line)
            report["unmodified"] = int(unmodified.group(1)) if unmodified else 0
            report["post_processed"] = int(processed.group(1)) if processed else 0
    return report


def collectstatic(clear=False, link=False, dry_run=False, ignore=None, post_process=True, **kwargs):
    """
    Run ``collectstatic --noinput``. Return ``{copied: [...], linked: [...], deleted: [...],
    unmodified: N, post_processed: N, summary}``. ``dry_run=True`` reports what would be copied
    without writing anything.
    """
    context = _split_context(kwargs, "collectstatic")
    args = ["--noinput", "--verbosity=2"]
    if clear:
        args.append("--clear")
    if link:
        args.append("--link")
    if dry_run:
        args.append("--dry-run")
    if not post_process:
        args.append("--no-post-process")
    for pattern in _as_list(ignore):
        args.append(f"--ignore={pattern}")
    return _parse_collectstatic(_checked("collectstatic", args, context)["stdout"])


def check(deploy=False, fail_level=None, tags=None, database=None, **kwargs):
    """
    Run the system checks (``check``; ``deploy=True`` adds ``--deploy``). ``fail_level`` is one of
    CRITICAL, ERROR (Django's default), WARNING, INFO, DEBUG. Return ``{summary, issues}``; a failed
    check raises ``CommandExecutionError`` listing the issues.
    """
    context = _split_context(kwargs, "check")
    args = []
    if deploy:
        args.append("--deploy")
    if fail_level:
        level = str(fail_level).upper()
        if level not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
            raise SaltInvocationError(f"Invalid fail_level {fail_level!r}")
        args.append(f"--fail-level={level}")
    for tag in _as_list(tags):
        args.append(f"--tag={tag}")
    if database:
        args.append(f"--database={database}")
    outcome = _checked("check", args, context)
    return {"summary": outcome["stdout"].strip(), "issues": outcome["stderr"].strip()}


def compilemessages(locale=None, exclude=None, ignore=None, **kwargs):
    """Run ``compilemessages`` (needs gettext's ``msgfmt``); return its stdout."""
    context = _split_context(kwargs, "compilemessages")
    args = []
    for option, values in (("--locale", locale), ("--exclude", exclude), ("--ignore", ignore)):
        for value in _as_list(values):
            args.append(f"{option}={value}")
    return _checked("compilemessages", args, context)["stdout"]


# --------------------------------------------------------------------------------------------------
# Users
# --------------------------------------------------------------------------------------------------

# Reads its inputs from the environment, so nothing user-supplied is interpolated into code.
_USER_LOOKUP = (
    "import json, os\n"
    "from django.contrib.auth import get_user_model\n"
    "User = get_user_model()\n"
    "manager = User._default_manager.db_manager(os.environ['SPARKS_DJANGO_DATABASE'])\n"
    "user = manager.filter(**{User.USERNAME_FIELD: os.environ['SPARKS_DJANGO_USERNAME']}).first()\n"
    "info = None if user is None else {\n"
    "    'username': user.get_username(),\n"
    "    'is_superuser': bool(getattr(user, 'is_superuser', False)),\n"
    "    'is_staff': bool(getattr(user, 'is_staff', False)),\n"
    "    'is_active': bool(getattr(user, 'is_active', True)),\n"
    "}\n"
    f"print({_RESULT_MARKER!r} + json.dumps(info))\n"
)


_APP_LABELS = (
    "import json\n"
    "from django.apps import apps\n"
    f"print({_RESULT_MARKER!r} + json.dumps([config.label for config in apps.get_app_configs()]))\n"
)


def _marked_result(stdout):
    for line in reversed(stdout.splitlines()):
        if line.startswith(_RESULT_MARKER):
            return json.loads(line[len(_RESULT_MARKER) :])
    raise CommandExecutionError("No result found in the output of the Django shell snippet")


def user_info(username, database="default", **kwargs):
    """
    Look a user up by its USERNAME_FIELD. Return ``None`` or ``{username, is_superuser, is_staff,
    is_active}``.
    """
    context = _split_context(kwargs, "user_info")
    outcome = _checked(
        "shell",
        ["--command", _USER_LOOKUP],
        context,
        extra_env={"SPARKS_DJANGO_USERNAME": str(username), "SPARKS_DJANGO_DATABASE": database},
    )
    return _marked_result(outcome["stdout"])


def createsuperuser(username, email=None, password=None, database=None, **kwargs):
    """
    Create a superuser non-interactively. The password travels only in the command's environment
    (``DJANGO_SUPERUSER_PASSWORD``): never on its command line, in the return, the error or the log.
    Without a password, the user gets an unusable one. Return a confirmation string.
    """
    context = _split_context(kwargs, "createsuperuser")
    args = ["--noinput", f"--username={username}"]
    if email is not None:
        args.append(f"--email={email}")
    if database:
        args.append(f"--database={database}")
    extra_env = {}
    if password:
        extra_env["DJANGO_SUPERUSER_PASSWORD"] = str(password)
    _checked(
        "createsuperuser",
        args,
        context,
        extra_env=extra_env,
        extra_secrets=[str(password)] if password else [],
    )
    return f"Superuser {username} created"


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def dumpdata(
    app_labels=None,
    output=None,
    indent=None,
    exclude=None,
    natural_foreign=False,
    natural_primary=False,
    database=None,
    format="json",  # pylint: disable=redefined-builtin
    installed_excludes_only=False,
    **kwargs,
):
    """
    Run ``dumpdata``. With ``output`` (a path) the data goes to that file and the path is returned;
    otherwise the serialized data is returned as a string. ``installed_excludes_only``: leave out the
    ``exclude`` labels whose app the project does not install (dumpdata refuses an unknown one), as a default
    list (contenttypes, auth.permission, sessions) needs.
    """
    context = _split_context(kwargs, "dumpdata")
    if installed_excludes_only and exclude:
        installed = set(_marked_result(_checked("shell", ["--command", _APP_LABELS], context)["stdout"]))
        exclude = [label for label in _as_list(exclude) if label.split(".")[0] in installed]
    args = _as_list(app_labels)
    args.append(f"--format={format}")
    if indent is not None:
        args.append(f"--indent={int(indent)}")
    for label in _as_list(exclude):
        args.append(f"--exclude={label}")
    if natural_foreign:
        args.append("--natural-foreign")
    if natural_primary:
        args.append("--natural-primary")
    if database:
        args.append(f"--database={database}")
    if output:
        args.append(f"--output={output}")
    # The data may hold anything (users' password hashes, tokens): a dump file is its writer's only.
    stdout = _checked("dumpdata", args, context, umask="077")["stdout"]
    return output if output else stdout


def loaddata(fixtures, app_label=None, database=None, ignorenonexistent=False, exclude=None, **kwargs):
    """Run ``loaddata``; return ``{objects, fixtures, output}`` (counts parsed from Django's report)."""
    context = _split_context(kwargs, "loaddata")
    args = _as_list(fixtures)
    if app_label:
        args.append(f"--app={app_label}")
    if database:
        args.append(f"--database={database}")
    if ignorenonexistent:
        args.append("--ignorenonexistent")
    for label in _as_list(exclude):
        args.append(f"--exclude={label}")
    stdout = _checked("loaddata", args, context)["stdout"]
    match = re.search(r"Installed (\d+) object\(s\)(?: \(of \d+\))? from (\d+) fixture", stdout)
    return {
        "objects": int(match.group(1)) if match else 0,
        "fixtures": int(match.group(2)) if match else 0,
        "output": stdout.strip(),
    }


# --------------------------------------------------------------------------------------------------
# Releases: <root>/releases/<id>/{src,venv,.sparks-release.json}, <root>/current, <root>/previous
# --------------------------------------------------------------------------------------------------


def release_paths(root, release=None):
    """Paths of the release layout under ``root`` (and of one release when ``release`` is given)."""
    paths = {
        "root": root,
        "releases": os.path.join(root, "releases"),
        "current": os.path.join(root, "current"),
        "previous": os.path.join(root, "previous"),
    }
    if release is not None:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", str(release)):
            raise SaltInvocationError(f"Invalid release id {release!r}: use letters, digits, . _ -")
        base = os.path.join(paths["releases"], str(release))
        paths.update(
            {
                "release": base,
                "src": os.path.join(base, "src"),
                "venv": os.path.join(base, "venv"),
                "marker": os.path.join(base, RELEASE_MARKER),
            }
        )
    return paths


def _link_release(link):
    """Release id a ``current``/``previous`` link points to, or None."""
    if not os.path.islink(link):
        return None
    return os.path.basename(os.path.normpath(os.readlink(link)))


def release_metadata(root, release):
    """The completion record of a release, or None when it is missing or incomplete."""
    try:
        with open(release_paths(root, release)["marker"], encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def list_releases(root):
    """
    The releases under ``root``: ``{current, previous, releases: [{id, complete, created}]}``,
    oldest first.

    CLI example: ``salt-call sparks_django.list_releases /srv/app``
    """
    paths = release_paths(root)
    entries = []
    if os.path.isdir(paths["releases"]):
        for name in os.listdir(paths["releases"]):
            full = os.path.join(paths["releases"], name)
            if not os.path.isdir(full) or os.path.islink(full):
                continue
            metadata = release_metadata(root, name)
            created = (metadata or {}).get("completed_at") or os.stat(full).st_mtime
            entries.append({"id": name, "complete": metadata is not None, "created": created})
    entries.sort(key=lambda entry: (entry["created"], entry["id"]))
    return {
        "current": _link_release(paths["current"]),
        "previous": _link_release(paths["previous"]),
        "releases": entries,
    }


def _atomic_symlink(target, link):
    """Point ``link`` at ``target`` in one rename: readers see the old or the new link, never none."""
    if os.path.lexists(link) and not os.path.islink(link):
        raise CommandExecutionError(f"{link} exists and is not a symlink: move it out of the way first")
    temporary = f"{link}.sparks-tmp-{os.getpid()}"
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(target, temporary)
    os.replace(temporary, link)


STATIC_SETS, STATIC_LIVE = "static-sets", "static-live"


def _link_tree(source, destination):
    """Hard-link every file under ``source`` into ``destination`` (replacing what is there): cheap, and the files
    keep their owner and mode. A copy where the two are on different filesystems."""
    for directory, _, files in os.walk(source):
        target_dir = os.path.join(destination, os.path.relpath(directory, source))
        os.makedirs(target_dir, exist_ok=True)
        for name in files:
            target = os.path.join(target_dir, name)
            if os.path.lexists(target):
                os.unlink(target)
            try:
                os.link(os.path.join(directory, name), target)
            except OSError:
                shutil.copy2(os.path.join(directory, name), target)


def publish_static(root, release, static_dir):
    """
    Point ``<root>/static-live`` (what nginx serves) at a new set of static files: those of ``release`` over those
    of the release ``current`` points to now. Pages an old worker rendered while it drains after a reload name
    the old release's hashed files, new workers' pages the new ones: both are there. ``static_dir``: the
    collected files' directory, relative to a release's ``src``. Only the live set and the one before stay.
    Return the new set's name.

    CLI example: ``salt-call sparks_django.publish_static /srv/app v41 static``
    """
    paths = release_paths(root, release)
    old = _link_release(paths["current"])
    sets = os.path.join(root, STATIC_SETS)
    os.makedirs(sets, exist_ok=True)
    name = f"{release}.{time.time_ns()}"
    building = os.path.join(sets, f".{name}")
    for source in [release_paths(root, old)["src"]] if old and old != str(release) else []:
        _link_tree(os.path.join(source, static_dir), building)
    _link_tree(os.path.join(paths["src"], static_dir), building)  # the new release's files win
    os.makedirs(building, exist_ok=True)
    os.chmod(building, 0o755)
    os.rename(building, os.path.join(sets, name))
    live = os.path.join(root, STATIC_LIVE)
    before = os.path.basename(os.readlink(live)) if os.path.islink(live) else None
    _atomic_symlink(os.path.join(STATIC_SETS, name), live)
    for stale in os.listdir(sets):
        if stale not in (name, before):
            shutil.rmtree(os.path.join(sets, stale), ignore_errors=True)
    return name


def switch_release(root, release, previous=None, static_dir=None):
    """
    Atomically point ``<root>/current`` at ``releases/<release>`` (which must be built). The release
    it replaces becomes ``<root>/previous``, unless ``previous`` names the release to record there
    instead (used when undoing a switch). With ``static_dir``, the static files are published first
    (``publish_static``). Return ``{old, new}`` release ids.

    CLI example: ``salt-call sparks_django.switch_release /srv/app v41``
    """
    paths = release_paths(root, release)
    if release_metadata(root, release) is None:
        raise CommandExecutionError(f"Release {release} under {root} is missing or incomplete")
    old = _link_release(paths["current"])
    if static_dir and old != str(release):
        # Before current: the new release's pages must find their files the moment it serves them.
        publish_static(root, release, static_dir)
    if previous is None:
        previous = old if old != str(release) else None
    else:
        release_paths(root, previous)  # validates the id
    if previous is not None:
        _atomic_symlink(os.path.join("releases", str(previous)), paths["previous"])
    if old != str(release):
        _atomic_symlink(os.path.join("releases", str(release)), paths["current"])
        log.info("sparks_django: %s/current switched from %s to %s", root, old, release)
    return {"old": old, "new": str(release)}


def rollback(root, test=False, static_dir=None):
    """
    Switch ``current`` back to the previous release; the release rolled back from becomes
    ``previous``. Return ``{old, new}``; raise when there is no complete previous release.

    CLI example: ``salt-call sparks_django.rollback /srv/app``
    """
    info = list_releases(root)
    previous, current = info["previous"], info["current"]
    if previous is None or release_metadata(root, previous) is None:
        raise CommandExecutionError(f"No complete previous release to roll back to under {root}")
    if previous == current:
        raise CommandExecutionError(f"The previous release under {root} is already current")
    if test:
        return {"old": current, "new": previous}
    return switch_release(root, previous, static_dir=static_dir)


def prune_releases(root, keep=5, test=False):
    """
    Delete the oldest complete releases so that at most ``keep`` remain (failed attempts are removed
    when they fail, and an unfinished one does not count); ``current`` and ``previous`` are never
    deleted. Shared paths are symlinks in a release: deleting it leaves ``<root>/shared`` alone.
    Return the list of release ids deleted (or that would be, with ``test=True``).
    """
    keep = int(keep)
    if keep < 2:
        raise SaltInvocationError("keep must be at least 2 (current and previous)")
    info = list_releases(root)
    protected = {info["current"], info["previous"]} - {None}
    # Only complete releases count: an unfinished one is rebuilt from nothing by the next attempt.
    releases = [entry for entry in info["releases"] if entry["complete"]]
    surplus = len(releases) - keep
    doomed = []
    for entry in releases:  # oldest first
        if surplus <= 0:
            break
        if entry["id"] in protected:
            continue
        doomed.append(entry["id"])
        surplus -= 1
    if not test:
        for release in doomed:
            shutil.rmtree(release_paths(root, release)["release"])
    return doomed


def write_release_metadata(root, release, metadata):
    """Record a release as complete (written last, atomically: its presence means complete)."""
    marker = release_paths(root, release)["marker"]
    record = dict(metadata, id=str(release), completed_at=time.time())
    temporary = marker + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
    os.replace(temporary, marker)
    return record


# --------------------------------------------------------------------------------------------------
# Health: an HTTP check that sends the site's own Host, and a candidate release served on its own socket
# --------------------------------------------------------------------------------------------------


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (gunicorn's ``unix:`` binds)."""

    def __init__(self, socket_path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def http_status(address, path="/", host=None, https=False, timeout=5):
    """
    Status of one GET of ``path`` at ``address`` (``host:port`` or ``unix:/path/to.sock``), with ``host``
    as the Host header and ``X-Forwarded-Proto: https`` when ``https``. Redirects are not followed: a
    redirect is an answer (< 400), as nginx would pass it on. Return ``{status, reason}``; ``status`` is
    None when nothing answered.

    CLI example: ``salt-call sparks_django.http_status 127.0.0.1:80 /health/ host=www.example.org``
    """
    address = str(address)
    if address.startswith("unix:"):
        connection = _UnixHTTPConnection(address[len("unix:") :], timeout)
    else:
        connection = http.client.HTTPConnection(address, timeout=timeout)
    headers = {"User-Agent": "sparks-health-check"}
    if host:
        headers["Host"] = str(host)
    if https:
        headers["X-Forwarded-Proto"] = "https"
    try:
        connection.request("GET", path or "/", headers=headers)
        response = connection.getresponse()
        response.read()
        return {"status": response.status, "reason": f"HTTP {response.status}"}
    except (OSError, http.client.HTTPException) as exc:
        return {"status": None, "reason": str(exc) or exc.__class__.__name__}
    finally:
        connection.close()


def wait_healthy(address, path="/", host=None, https=False, timeout=30):
    """Poll ``http_status`` until it answers below 400 or ``timeout`` seconds passed; return the last answer."""
    deadline = time.monotonic() + float(timeout)
    while True:
        answer = http_status(address, path=path, host=host, https=https)
        if answer["status"] is not None and answer["status"] < 400:
            answer["healthy"] = True
            return answer
        if time.monotonic() >= deadline:
            answer["healthy"] = False
            return answer
        time.sleep(0.5)


def candidate_health(wsgi_module, path="/", host=None, https=False, health_timeout=30, worker_timeout=30, **kwargs):
    """
    Serve the release in ``project_dir``/``virtualenv`` with its own gunicorn on a private unix socket
    (next to the virtualenv; the live site keeps its own bind), GET ``path`` as ``wait_healthy`` does,
    then stop that gunicorn. Return ``{healthy, status, reason, log}``: ``log`` is the tail of the
    candidate's output, secrets masked.
    """
    context = _split_context(kwargs, "candidate_health")
    release_dir = os.path.dirname(os.path.normpath(context["virtualenv"]))
    sock = os.path.join(release_dir, "candidate.sock")
    if os.path.lexists(sock):
        os.unlink(sock)
    env = _environment(context)
    secrets = _secret_values(env)
    argv = [
        _python_for(context),
        "-m",
        "gunicorn",
        "--chdir",
        context["project_dir"],
        "--bind",
        f"unix:{sock}",
        "--workers",
        "1",
        "--timeout",
        str(worker_timeout),
        "--access-logfile",
        "-",
        f"{wsgi_module}:application",
    ]
    user = context.get("runas")
    process_env = {"PATH": os.defpath, "LANG": "C.UTF-8"}
    if user:
        import pwd  # pylint: disable=import-outside-toplevel

        entry = pwd.getpwnam(user)
        process_env.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)
    process_env.update(env)
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            argv,
            cwd=context["project_dir"],
            env=process_env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            user=user,
            group=entry.pw_gid if user else None,
            extra_groups=[] if user and os.geteuid() == 0 else None,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + float(health_timeout)
            while True:
                if process.poll() is not None:
                    answer = {"status": None, "reason": f"gunicorn exited with code {process.returncode}"}
                    break
                answer = http_status(f"unix:{sock}", path=path, host=host, https=https)
                if answer["status"] is not None and (answer["status"] < 400 or time.monotonic() >= deadline):
                    break
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.5)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            if os.path.lexists(sock):
                os.unlink(sock)
        output.seek(0)
        log_text = output.read().decode("utf-8", "replace")[-8000:]
    answer["healthy"] = answer["status"] is not None and answer["status"] < 400
    answer["log"] = _redact(log_text, secrets)
    return answer


# --------------------------------------------------------------------------------------------------
# Failed releases: <root>/failed/<id>.json (why) and <id>.log (what it printed); the release itself is removed
# --------------------------------------------------------------------------------------------------


def _failure_paths(root, release):
    release_paths(root, release)  # validates the id
    base = os.path.join(root, "failed", str(release))
    return base + ".json", base + ".log"


def release_failure(root, release):
    """The failure record of ``release`` (``{release, rev, commit, step, reason, failed_at}``), or None."""
    record, _ = _failure_paths(root, release)
    try:
        with open(record, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def record_failure(root, release, step, reason, log_text="", rev=None, commit=None):
    """
    Record ``release`` as failed at ``step`` and remove its directory (unless it is ``current`` or ``previous``); the
    log stays in ``<root>/failed/<release>.log``. Return the record.
    """
    record_path, log_path = _failure_paths(root, release)
    os.makedirs(os.path.dirname(record_path), mode=0o750, exist_ok=True)
    record = {
        "release": str(release),
        "rev": rev,
        "commit": commit,
        "step": step,
        "reason": reason[-2000:],
        "failed_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    with open(log_path, "w", encoding="utf-8") as handle:
        handle.write(f"{step} failed: {reason}\n\n{log_text}")
    temporary = record_path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
    os.replace(temporary, record_path)
    paths = release_paths(root, release)
    # `current` and `previous` stay: one serves, the other is what a rollback goes back to.
    if str(release) not in (_link_release(paths["current"]), _link_release(paths["previous"])) and os.path.isdir(
        paths["release"]
    ):
        shutil.rmtree(paths["release"])
    return record


def clear_failure(root, release):
    """Forget that ``release`` failed (pillar ``retry``, or before it is tried again). Return True if it had."""
    found = False
    for path in _failure_paths(root, release):
        if os.path.lexists(path):
            os.unlink(path)
            found = True
    return found
