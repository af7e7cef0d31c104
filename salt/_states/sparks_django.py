"""
States for Django projects: migrations, static files, a superuser, and release deploys with an atomic
switch of ``<root>/current`` and rollback.

Every state honours ``test=True`` by asking Django what it would do (``migrate --plan``,
``collectstatic --dry-run``, a user lookup) and reporting that with result ``None``.

Project context arguments (passed through to the ``sparks_django`` execution module): ``virtualenv``,
``python``, ``settings_module``, ``env_file``, ``env``, ``runas``, ``pythonpath``, ``timeout``.

Release layout managed by ``release_deployed``::

    <root>/releases/<id>/src                   code at the requested revision
    <root>/releases/<id>/venv                  the release's own virtualenv
    <root>/releases/<id>/.sparks-release.json  written once the release is built (its presence = built)
    <root>/current  -> releases/<id>           switched atomically (symlink + rename)
    <root>/previous -> releases/<id>           what ``current`` pointed to before the last switch

Example::

    shop_release:
      sparks_django.release_deployed:
        - name: /srv/shop/production
        - release: v2
        - source: https://git.example.org/shop.git
        - rev: v2
        - requirements: [requirements.txt]
        - settings_module: shop.settings
        - env_file: /srv/shop/production/.env
        - environment: production
        - runas: shop
        - keep: 5

    gunicorn_shop_reload:
      cmd.run:
        - name: systemctl reload gunicorn-shop-production
        - onchanges:
          - sparks_django: shop_release

    shop_health:
      sparks_django.healthy:
        - name: /srv/shop/production
        - health_check_url: http://127.0.0.1:8000/health/
        - onchanges:
          - cmd: gunicorn_shop_reload

    gunicorn_shop_reload_after_rollback:
      cmd.run:
        - name: systemctl reload gunicorn-shop-production
        - onfail:
          - sparks_django: shop_health

``release_deployed`` may also run a health check itself (``health_check_cmd``/``health_check_url``),
right after the switch and before any reload: useful for checks that start the new code themselves.
"""

import fcntl
import logging
import os
import re
import shutil
import urllib.parse

from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "sparks_django"

CONTEXT_KEYS = (
    "virtualenv",
    "python",
    "settings_module",
    "env_file",
    "env",
    "runas",
    "pythonpath",
    "timeout",
)


def __virtual__():
    if "sparks_django.manage" in __salt__:
        return __virtualname__
    return (False, "the sparks_django execution module is not loaded (run saltutil.sync_all)")


def _ret(name):
    return {"name": name, "result": True, "changes": {}, "comment": ""}


def _context(project_dir, kwargs):
    """Project context for the execution module; unknown arguments are an error, not ignored."""
    context = {"project_dir": project_dir}
    for key, value in kwargs.items():
        if key.startswith("__"):
            continue
        if key not in CONTEXT_KEYS:
            raise SaltInvocationError(f"unexpected argument: {key}")
        if value is not None:
            context[key] = value
    return context


# --------------------------------------------------------------------------------------------------
# migrated / static_collected / superuser_present
# --------------------------------------------------------------------------------------------------


def migrated(name, app_label=None, migration_name=None, database=None, **kwargs):
    """
    The database schema is migrated (to ``app_label``/``migration_name`` when given).

    name
        The project directory.

    ``changes``: ``{"applied": [labels]}`` and/or ``{"unapplied": [labels]}`` (backwards migrations).
    No changes when ``migrate --plan`` has nothing to do.
    """
    ret = _ret(name)
    try:
        context = _context(name, kwargs)
        plan = __salt__["sparks_django.migration_plan"](
            app_label=app_label, migration_name=migration_name, database=database, **context
        )
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=f"Cannot read the migration plan: {exc}")
        return ret
    if not plan:
        ret["comment"] = "No migrations to apply"
        return ret
    forwards = [step["migration"] for step in plan if not step["backwards"]]
    backwards = [step["migration"] for step in plan if step["backwards"]]
    expected = {}
    if forwards:
        expected["applied"] = forwards
    if backwards:
        expected["unapplied"] = backwards
    if __opts__["test"]:
        ret.update(
            result=None,
            changes=expected,
            comment=f"{len(plan)} migration(s) would be run: {', '.join(forwards + backwards)}",
        )
        return ret
    try:
        __salt__["sparks_django.migrate"](
            app_label=app_label, migration_name=migration_name, database=database, **context
        )
    except CommandExecutionError as exc:
        ret.update(
            result=False,
            comment=str(exc),
            changes=_done_before_failure(plan, context, app_label, migration_name, database),
        )
        return ret
    ret.update(changes=expected, comment=f"{len(plan)} migration(s) run")
    return ret


def _done_before_failure(plan, context, app_label, migration_name, database):
    """Which planned migrations did run before migrate failed (databases without DDL transactions)."""
    try:
        remaining = set(
            __salt__["sparks_django.pending_migrations"](
                app_label=app_label, migration_name=migration_name, database=database, **context
            )
        )
    except CommandExecutionError:
        return {}
    done = [step["migration"] for step in plan if step["migration"] not in remaining]
    return {"applied": done} if done else {}


def static_collected(name, clear=False, link=False, ignore=None, **kwargs):
    """
    Static files are collected into STATIC_ROOT.

    ``collectstatic --dry-run`` tells which files would be copied (collectstatic skips files whose
    copy is not older than the source); nothing to copy or delete means no changes. ``clear=True``
    deletes and recopies everything on every run, so it always reports changes.

    ``changes``: ``{"copied"|"linked"|"deleted": [paths]}``.
    """
    ret = _ret(name)
    try:
        context = _context(name, kwargs)
        preview = __salt__["sparks_django.collectstatic"](
            clear=clear, link=link, ignore=ignore, dry_run=True, **context
        )
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    expected = {key: preview[key] for key in ("copied", "linked", "deleted") if preview[key]}
    if not expected:
        ret["comment"] = f"Static files are up to date ({preview['unmodified']} unmodified)"
        return ret
    if __opts__["test"]:
        counts = ", ".join(f"{len(files)} {key}" for key, files in expected.items())
        ret.update(result=None, changes=expected, comment=f"Static files would be collected: {counts}")
        return ret
    try:
        report = __salt__["sparks_django.collectstatic"](clear=clear, link=link, ignore=ignore, **context)
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret["changes"] = {key: report[key] for key in ("copied", "linked", "deleted") if report[key]}
    ret["comment"] = report["summary"] or "Static files collected"
    return ret


def superuser_present(name, project_dir, email=None, password=None, database="default", **kwargs):
    """
    A superuser named ``name`` exists. An existing user is left alone (its password is not managed);
    an existing user that is not a superuser is reported as a failure rather than silently promoted.
    The password is handed to Django through the environment and appears nowhere in the return.

    ``changes``: ``{"created": name}``.
    """
    ret = _ret(name)
    try:
        context = _context(project_dir, kwargs)
        info = __salt__["sparks_django.user_info"](name, database=database, **context)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=f"Cannot look user {name} up: {exc}")
        return ret
    if info is not None:
        if info["is_superuser"]:
            ret["comment"] = f"Superuser {name} already exists"
        else:
            ret.update(result=False, comment=f"User {name} exists but is not a superuser")
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes={"created": name}, comment=f"Superuser {name} would be created")
        return ret
    try:
        __salt__["sparks_django.createsuperuser"](
            name,
            email=email,
            password=password,
            database=None if database == "default" else database,
            **context,
        )
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret.update(changes={"created": name}, comment=f"Superuser {name} created")
    return ret


# --------------------------------------------------------------------------------------------------
# Releases
# --------------------------------------------------------------------------------------------------


class _StepFailed(Exception):
    """A deploy step failed; the message is the reason shown in the state's comment (args[1]: a log)."""

    @property
    def log(self):
        return self.args[1] if len(self.args) > 1 else ""


def _run_step(step, argv, project_dir, **context):
    """Run one program of a deploy step in ``project_dir`` (with the given project context)."""
    outcome = __salt__["sparks_django.run_program"](argv, project_dir=project_dir, **context)
    if outcome["retcode"] != 0:
        detail = (outcome["stderr"] or outcome["stdout"]).strip()[-4000:]
        raise _StepFailed(f"{step} failed (exit {outcome['retcode']}): {detail}")
    return outcome["stdout"]


def _call_step(step, function, *args, **kwargs):
    try:
        return __salt__[function](*args, **kwargs)
    except CommandExecutionError as exc:
        raise _StepFailed(f"{step} failed: {exc}") from exc


def _has_translations(src):
    for directory, subdirs, files in os.walk(src):
        subdirs[:] = [d for d in subdirs if d not in (".git", "node_modules", "venv", ".venv")]
        if "LC_MESSAGES" in directory.split(os.sep) and any(f.endswith(".po") for f in files):
            return True
    return False


def _uid_gid(user):
    import pwd  # pylint: disable=import-outside-toplevel

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _chown(path, user):
    if user and os.geteuid() == 0:
        shutil.chown(path, user=user)


def _resolve_commit(source, rev, runas, cwd):
    """Commit id that ``rev`` names in ``source`` without cloning it (``git ls-remote``)."""
    if rev and re.fullmatch(r"[0-9a-f]{40}", rev):
        return rev
    stdout = _run_step("git ls-remote", ["git", "ls-remote", source, rev or "HEAD"], cwd, runas=runas)
    refs = {}
    for line in stdout.splitlines():
        commit, _, ref = line.partition("\t")
        refs[ref] = commit
    for ref, commit in refs.items():
        if ref.endswith("^{}"):  # an annotated tag peeled to its commit
            return commit
    if refs:
        return next(iter(refs.values()))
    raise _StepFailed(f"Revision {rev} not found in {source}")


def _fetch_code(source, rev, paths, runas, timeout):
    """Put the code at ``rev`` into the release's src; return the commit id (None for a plain copy)."""
    local = source[len("file://") :] if source.startswith("file://") else source
    if os.path.isdir(local) and not os.path.exists(os.path.join(local, ".git")) and not rev:
        # A plain directory (not a repository): copied as it is.
        shutil.copytree(local, paths["src"], symlinks=True, ignore=shutil.ignore_patterns(".git"))
        if runas and os.geteuid() == 0:
            for directory, subdirs, files in os.walk(paths["src"]):
                for entry in [directory, *(os.path.join(directory, f) for f in subdirs + files)]:
                    os.lchown(entry, *_uid_gid(runas))
        return None
    release_dir = paths["release"]
    _run_step(
        "git clone",
        ["git", "clone", "--quiet", source, paths["src"]],
        release_dir,
        runas=runas,
        timeout=timeout,
    )
    if rev:
        _run_step(
            "git checkout",
            ["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", rev],
            paths["src"],
            runas=runas,
        )
    if os.path.exists(os.path.join(paths["src"], ".gitmodules")):
        _run_step(
            "git submodule update",
            ["git", "submodule", "update", "--init", "--recursive", "--quiet"],
            paths["src"],
            runas=runas,
            timeout=timeout,
        )
    return _run_step("git rev-parse", ["git", "rev-parse", "HEAD"], paths["src"], runas=runas).strip()


def _make_venv(paths, options):
    """The release's virtualenv, from nothing, with its requirements. Raises _StepFailed."""
    runas, timeout = options["runas"], options["timeout"]
    _run_step(
        "virtualenv creation",
        [options["python"], "-m", "venv", "--clear", paths["venv"]],
        paths["release"],
        runas=runas,
        timeout=timeout,
    )
    requirements = options["requirements"]
    if requirements:
        argv = [
            os.path.join(paths["venv"], "bin", "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]
        for requirement_file in requirements:
            argv += ["-r", requirement_file]
        argv += list(options["pip_args"] or [])
        _run_step("pip install", argv, paths["src"], runas=runas, timeout=timeout)
    _install_app_server(paths, options)


def _stale_venvs(root, releases, python):
    """{release: status} of the built releases among ``releases`` whose venv no longer works with ``python``
    (salt/_utils/sparks_venv.py: its Python is gone, or is not the system's any more)."""
    stale = {}
    for release in releases:
        if release is None or __salt__["sparks_django.release_metadata"](root, release) is None:
            continue
        status = __utils__["sparks_venv.status"](__salt__["sparks_django.release_paths"](root, release)["venv"], python)
        if not status["current"]:
            stale[release] = status
    return stale


def _rebuild_venvs(root, stale, options):
    """Build the venvs of ``stale`` again with their requirements; {release: {old, new}}. Raises _StepFailed."""
    rebuilt = {}
    for release, status in sorted(stale.items()):
        paths = __salt__["sparks_django.release_paths"](root, release)
        try:
            _make_venv(paths, options)
        except _StepFailed as exc:
            raise _StepFailed(f"venv of release {release} not rebuilt ({status['reason']}): {exc}") from exc
        rebuilt[release] = {"old": status["recorded"] or status["runs"], "new": status["system"]}
    return rebuilt


def _build_release(root, release, paths, options, project):
    """Code, virtualenv, requirements, static files, translations. Raises _StepFailed."""
    runas, timeout = options["runas"], options["timeout"]
    if os.path.lexists(paths["release"]):
        # Left over by an earlier attempt that did not finish: start again from nothing.
        shutil.rmtree(paths["release"])
    os.makedirs(paths["release"])
    _chown(paths["release"], runas)
    commit = _fetch_code(options["source"], options["rev"], paths, runas, timeout)
    if options["resolved_commit"] and commit and commit != options["resolved_commit"]:
        raise _StepFailed(f"{options['rev']} resolved to {options['resolved_commit']} but the clone has {commit}")
    _link_shared_paths(root, paths["src"], options["shared_paths"], runas)
    _make_venv(paths, options)
    if options["collectstatic"]:
        _call_step("collectstatic", "sparks_django.collectstatic", **project)
    compile_messages = options["compilemessages"]
    if compile_messages == "auto":
        compile_messages = _has_translations(project["project_dir"])
    if compile_messages:
        _call_step("compilemessages", "sparks_django.compilemessages", **project)
    return commit


def _shared_path(root, relative):
    """``<root>/shared/<relative>`` for a path inside the code; anything leaving the code is refused."""
    parts = str(relative).strip("/").split("/")
    if not relative or str(relative).startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise SaltInvocationError(f"shared_paths: {relative!r} must be a relative path inside the code")
    return os.path.join(root, "shared", *parts)


def _link_shared_paths(root, src, shared_paths, runas):
    """
    Each shared path of the code becomes a symlink into ``<root>/shared`` (created on first use, owned by
    ``runas``). What the code ships at that path is not kept: the shared copy is the live one.
    """
    for relative in shared_paths:
        shared = _shared_path(root, relative)
        if not os.path.isdir(shared):
            missing = shared
            while not os.path.isdir(os.path.dirname(missing)):
                missing = os.path.dirname(missing)
            os.makedirs(shared)
            for directory in [shared, *_parents_down_to(shared, missing)]:
                _chown(directory, runas)
        link = os.path.join(src, *str(relative).strip("/").split("/"))
        if os.path.islink(link) or os.path.isfile(link):
            os.unlink(link)
        elif os.path.isdir(link):
            shutil.rmtree(link)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(shared, link)
        if runas and os.geteuid() == 0:
            os.lchown(link, *_uid_gid(runas))


def _parents_down_to(path, top):
    """The directories from ``path``'s parent up to ``top``, all just created."""
    parents = []
    while os.path.normpath(path) != os.path.normpath(top):
        path = os.path.dirname(path)
        parents.append(path)
    return parents


def _install_app_server(paths, options):
    """gunicorn (unless the requirements brought it) and the pillar's extra requirements, in the release venv."""
    python = os.path.join(paths["venv"], "bin", "python")
    packages = list(options.get("extra_requirements") or [])
    if options.get("gunicorn"):
        probe = __salt__["sparks_django.run_program"](
            [python, "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('gunicorn') is None)"],
            project_dir=paths["src"],
            runas=options["runas"],
        )
        if probe["retcode"] != 0:
            packages.insert(0, options["gunicorn"])
    if packages:
        argv = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages]
        argv += list(options["pip_args"] or [])
        _run_step("pip install (app server)", argv, paths["src"], runas=options["runas"], timeout=options["timeout"])


def _health_gate(options, project):
    """The candidate, served on its own socket, must answer ``health_check_path`` below 400."""
    gate = options["health_gate"]
    answer = __salt__["sparks_django.candidate_health"](
        gate["wsgi_module"],
        path=gate.get("path") or "/",
        host=gate.get("host") or None,
        https=bool(gate.get("https")),
        health_timeout=options["health_check_timeout"],
        worker_timeout=gate.get("worker_timeout") or 30,
        **project,
    )
    if not answer["healthy"]:
        host = gate.get("host") or "localhost"
        raise _StepFailed(
            f"health check of the candidate (GET {gate.get('path') or '/'} with Host {host}"
            f"{', X-Forwarded-Proto https' if gate.get('https') else ''}) failed: {answer['reason']}",
            answer["log"],
        )


def _health_check(options, project):
    """Run the health-check command and/or poll the URL (redirects not followed); raise _StepFailed when unhealthy."""
    if options["health_check_cmd"]:
        _run_step("health check command", options["health_check_cmd"], **project)
    url = options["health_check_url"]
    if url:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.netloc:
            raise _StepFailed(f"health check URL {url} must be http://host[:port]/path")
        answer = __salt__["sparks_django.wait_healthy"](
            parts.netloc,
            path=parts.path + (f"?{parts.query}" if parts.query else "") or "/",
            timeout=options["health_check_timeout"],
        )
        if not answer["healthy"]:
            raise _StepFailed(f"health check of {url} failed: {answer['reason']}")


def release_deployed(
    name,
    source,
    release=None,
    rev=None,
    requirements=None,
    project_subdir=None,
    environment="test",
    check_deploy=None,
    check_fail_level=None,
    collectstatic=True,
    compilemessages="auto",
    migrate=True,
    keep=5,
    python="/usr/bin/python3",
    pip_args=None,
    health_check_cmd=None,
    health_check_url=None,
    health_check_timeout=30,
    health_gate=None,
    gunicorn=None,
    extra_requirements=None,
    shared_paths=None,
    retry=False,
    snapshot_dir=None,
    static_dir=None,
    settings_module=None,
    env_file=None,
    env=None,
    runas=None,
    timeout=None,
):
    """
    Release ``release`` of the project is built and is the current one.

    name
        Project root (it must exist); releases go in ``<name>/releases``.
    source / rev
        Git URL, local repository path or ``file://`` URL, and the branch, tag or commit to deploy. A
        plain directory (no ``.git``) with no ``rev`` is copied as it is (give ``release`` then). With
        ``runas``, a local repository must belong to that user or be in its global git
        ``safe.directory`` list: git refuses to read another user's repository.
    release
        Release id (directory name). Default: the first 12 characters of the commit ``rev`` names.
        Ids are immutable: a built release is never rebuilt from another source or revision.
    requirements
        Requirements files, relative to the code, installed into the release's virtualenv.
    project_subdir
        Directory of the Django project inside the code, if not its top.
    environment
        ``production`` runs ``check --deploy`` (``check_deploy`` overrides; ``check_fail_level`` is
        passed as ``--fail-level``).
    collectstatic / compilemessages / migrate
        Steps to run; ``compilemessages="auto"`` runs it when the code has ``.po`` files.
    keep
        Releases kept after a successful switch (never deleting ``current`` or ``previous``); None
        keeps them all.
    health_check_cmd / health_check_url
        Run after the switch (the command in the project context, the URL polled for up to
        ``health_check_timeout`` seconds); on failure ``current`` is switched back.

    health_gate
        ``{wsgi_module, path, host, https, worker_timeout}``: before the switch, the candidate is served
        by its own gunicorn on a private unix socket (the live one keeps serving) and ``GET path`` with
        ``Host: host`` (and ``X-Forwarded-Proto: https`` when ``https``) must answer below 400 within
        ``health_check_timeout`` seconds; redirects are answers, not followed.
    gunicorn
        A requirement (``gunicorn==23.0.0``) installed into the release's venv unless its requirements
        already provide gunicorn; empty: none.
    extra_requirements
        Requirement specifiers installed into the release's venv after its requirements files.
    shared_paths
        Paths inside the code (``media``, ``proj/media``, ``logs``) that are symlinks from every release
        to ``<name>/shared/<path>``: created on first use, never deleted by a release, prune or rollback.
    retry
        A release that failed (build, check, migrations or health) is recorded in ``<name>/failed/``
        and every later run fails at once naming it, without rebuilding; ``retry=True`` (or a new rev)
        tries it again.
    snapshot_dir
        Where a snapshot of the database is taken before migrations run (``sparks_django.snapshot_database``:
        PostgreSQL and SQLite, mode 0600, the newest ``keep`` kept); None: no snapshot. A snapshot that
        cannot be made (no room on the disk, pg_dump failing) fails the deploy before any migration.

    static_dir
        The collected static files' directory, relative to a release's ``src``: each switch publishes them with
        the live release's under ``<name>/static-live`` (``sparks_django.publish_static``), which the web server
        serves, so a page an old worker rendered during the reload finds its hashed files.

    Migrations, one rule: they run before the switch, after the snapshot. A candidate that fails after its
    migrations ran leaves the old release serving on the migrated schema (write migrations that the running
    release survives: add first, remove in a later release), and the comment names the applied migrations
    and the snapshot. ``rolled_back`` refuses to go back to a release that lacks applied migrations.

    Steps: build (code, shared paths, venv, requirements, gunicorn, collectstatic, compilemessages)
    -> check --deploy -> snapshot -> migrate -> health gate -> switch ``current`` -> health check -> prune. If any
    step fails, ``current`` is left on (or switched back to) the release it was on, the attempt is
    recorded as failed and removed (its log kept), and the state fails with the reason.

    ``changes`` (empty when the release is already current and built):
    ``built: {release, commit}`` when the release was built, ``migrations: [labels]`` when migrations
    were applied, ``current: {old, new}`` when the ``current`` symlink was switched (watch/onchanges
    on this state to reload services), ``pruned: [ids]``.
    """
    ret = _ret(name)
    if not os.path.isdir(name):
        ret.update(result=False, comment=f"Project root {name} does not exist")
        return ret
    options = {
        "source": str(source),
        "rev": None if rev is None else str(rev),
        "requirements": [requirements] if isinstance(requirements, str) else list(requirements or []),
        "pip_args": [pip_args] if isinstance(pip_args, str) else pip_args,
        "python": python,
        "runas": runas,
        "timeout": timeout,
        "collectstatic": collectstatic,
        "compilemessages": compilemessages,
        "health_check_cmd": health_check_cmd,
        "health_check_url": health_check_url,
        "health_check_timeout": health_check_timeout,
        "resolved_commit": None,
        "project_subdir": project_subdir,
        "health_gate": health_gate or None,
        "gunicorn": gunicorn or "",
        "extra_requirements": [extra_requirements] if isinstance(extra_requirements, str) else extra_requirements,
        "shared_paths": [shared_paths] if isinstance(shared_paths, str) else list(shared_paths or []),
        "retry": bool(retry),
        "snapshot_dir": snapshot_dir or None,
        "static_dir": static_dir or None,
    }
    if check_deploy is None:
        check_deploy = environment == "production"
    if keep is not None and (not str(keep).isdigit() or int(keep) < 2):
        # Checked now: failing after the switch would report a failure for a deploy that happened.
        ret.update(result=False, comment="keep must be at least 2 (current and previous), or None")
        return ret
    try:
        for relative in options["shared_paths"]:
            _shared_path(name, relative)
    except SaltInvocationError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    if health_gate and not health_gate.get("wsgi_module"):
        ret.update(result=False, comment="health_gate needs wsgi_module")
        return ret
    local_source = source[len("file://") :] if str(source).startswith("file://") else str(source)
    if release is None and os.path.isdir(local_source) and not os.path.exists(os.path.join(local_source, ".git")):
        ret.update(result=False, comment=f"{source} is not a git repository: give a release id")
        return ret

    deploy_args = (
        ret,
        name,
        release,
        options,
        check_deploy,
        check_fail_level,
        migrate,
        keep,
        settings_module,
        env_file,
        env,
    )
    try:
        if __opts__["test"]:
            # Read-only: nothing is created, not even the releases directory or the lock file.
            return _deploy(*deploy_args)
        os.makedirs(os.path.join(name, "releases"), exist_ok=True)
        _chown(os.path.join(name, "releases"), runas)
        with open(os.path.join(name, ".sparks-deploy.lock"), "a", encoding="utf-8") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                ret.update(result=False, comment=f"Another deploy of {name} is running")
                return ret
            return _deploy(*deploy_args)
    except (_StepFailed, CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret


def _deploy(ret, root, release, options, check_deploy, check_fail_level, migrate, keep, settings_module, env_file, env):
    if release is None:
        options["resolved_commit"] = _resolve_commit(options["source"], options["rev"], options["runas"], root)
        release = options["resolved_commit"][:12]
    release = str(release)
    ret["name"] = root
    paths = __salt__["sparks_django.release_paths"](root, release)
    for link in (paths["current"], paths["previous"]):
        if os.path.lexists(link) and not os.path.islink(link):
            # Checked before building anything: the switch at the end could not replace it.
            ret.update(result=False, comment=f"{link} exists and is not a symlink: move it out of the way first")
            return ret
    info = __salt__["sparks_django.list_releases"](root)
    # Checked first, even when it is current: a failed release never passes for a deployed one, and a
    # scheduled run does not rebuild (and re-dump, re-migrate) it every time.
    failure = __salt__["sparks_django.release_failure"](root, release)
    if failure is not None and not options["retry"]:
        named = f" ({failure['rev']})" if failure.get("rev") else ""
        ret.update(
            result=False,
            comment=(
                f"Release {release}{named} failed at {failure.get('step')} on "
                f"{failure.get('failed_at')}: {failure.get('reason')} -- current stays {info['current']}; deploy a "
                f"new rev, or set retry: true to try this one again (log: {root}/failed/{release}.log)"
            ),
        )
        return ret
    metadata = __salt__["sparks_django.release_metadata"](root, release)
    if metadata is not None and (metadata.get("source"), metadata.get("rev")) != (
        options["source"],
        options["rev"],
    ):
        ret.update(
            result=False,
            comment=(
                f"Release {release} was built from {metadata.get('source')}@{metadata.get('rev')}, not "
                f"{options['source']}@{options['rev']}: use a new release id"
            ),
        )
        return ret
    if info["current"] == release and metadata is not None and failure is None:
        # Current only while its venv works: a distribution upgrade replaces the Python it was built with.
        stale = _stale_venvs(root, [release], options["python"])
        live = os.path.join(root, "static-live")
        if options["static_dir"] and not os.path.islink(live):
            # A release deployed before static files were published (or the link removed): publish them now.
            if __opts__["test"]:
                ret.update(result=None, changes={"static": "published"}, comment=f"{live} would be published")
                return ret
            __salt__["sparks_django.publish_static"](root, release, options["static_dir"])
            ret["changes"]["static"] = "published"
        if not stale:
            ret["comment"] = f"Release {release} is already current"
            return ret
        if __opts__["test"]:
            ret.update(
                result=None,
                changes={"venvs": {release: "rebuilt"}},
                comment=f"Release {release} is current, its venv would be rebuilt: {stale[release]['reason']}",
            )
            return ret
        ret.update(
            changes={"venvs": _rebuild_venvs(root, stale, options)},
            comment=f"Release {release} is current, its venv rebuilt: {stale[release]['reason']}",
        )
        return ret

    project_dir = paths["src"]
    if options["project_subdir"]:
        project_dir = os.path.join(paths["src"], options["project_subdir"])
    project = {"project_dir": project_dir, "virtualenv": paths["venv"], "runas": options["runas"]}
    for key, value in (
        ("settings_module", settings_module),
        ("env_file", env_file),
        ("env", env),
        ("timeout", options["timeout"]),
    ):
        if value is not None:
            project[key] = value

    if __opts__["test"]:
        steps = [] if metadata else ["build"]
        steps += ["check --deploy"] if check_deploy else []
        steps += (["snapshot"] if options["snapshot_dir"] else []) + ["migrate"] if migrate else []
        steps += (["health gate"] if options["health_gate"] else []) + ["switch current"]
        steps += ["health check"] if options["health_check_cmd"] or options["health_check_url"] else []
        retrying = f" (retrying after it failed at {failure.get('step')})" if failure else ""
        ret.update(
            result=None,
            changes={"current": {"old": info["current"], "new": release}},
            comment=f"Release {release} would be deployed{retrying}: {', '.join(steps)}",
        )
        return ret

    if failure is not None:
        __salt__["sparks_django.clear_failure"](root, release)
    changes = {}

    def failed(step, exc, where):
        if changes.get("migrations"):
            snapshot = changes.get("snapshot", {}).get("path", "none taken")
            where += f"; migrations applied: {', '.join(changes['migrations'])} (snapshot before them: {snapshot})"
        __salt__["sparks_django.record_failure"](
            root,
            release,
            step,
            str(exc),
            log_text=exc.log if isinstance(exc, _StepFailed) else "",
            rev=options["rev"],
            commit=options["resolved_commit"] or (metadata or {}).get("commit"),
        )
        ret.update(
            result=False,
            changes=changes,
            comment=f"Release {release} {where}, recorded as failed (log: {root}/failed/{release}.log): {exc}",
        )
        return ret

    if metadata is None:
        try:
            commit = _build_release(root, release, paths, options, project)
        except _StepFailed as exc:
            return failed("build", exc, f"not built, current stays {info['current']}")
        __salt__["sparks_django.write_release_metadata"](
            root, release, {"source": options["source"], "rev": options["rev"], "commit": commit}
        )
        changes["built"] = {"release": release, "commit": commit}

    step = "check --deploy"
    try:
        if check_deploy:
            _call_step("check --deploy", "sparks_django.check", deploy=True, fail_level=check_fail_level, **project)
        step = "migrate"
        if migrate:
            pending = _call_step("migration plan", "sparks_django.pending_migrations", **project)
            if pending and options["snapshot_dir"]:
                step = "snapshot"
                snapshot = _call_step(
                    "snapshot",
                    "sparks_django.snapshot_database",
                    options["snapshot_dir"],
                    release,
                    keep=keep,
                    **project,
                )
                if "path" in snapshot:
                    changes["snapshot"] = {"path": snapshot["path"], "bytes": snapshot["bytes"]}
                step = "migrate"
            try:
                __salt__["sparks_django.migrate"](**project)
            except CommandExecutionError as exc:
                try:
                    remaining = set(__salt__["sparks_django.pending_migrations"](**project))
                except CommandExecutionError:
                    remaining = set(pending)  # unknown: claim nothing
                done = [label for label in pending if label not in remaining]
                if done:
                    changes["migrations"] = done
                raise _StepFailed(f"migrate failed: {exc}") from exc
            if pending:
                changes["migrations"] = pending
        step = "health gate"
        if options["health_gate"]:
            _health_gate(options, project)
    except (_StepFailed, CommandExecutionError) as exc:
        return failed(step, exc, f"not switched to, current stays {info['current']}")

    switched = __salt__["sparks_django.switch_release"](root, release, static_dir=options["static_dir"])
    try:
        _health_check(options, project)
    except (_StepFailed, CommandExecutionError) as exc:
        if switched["old"] is not None:
            __salt__["sparks_django.switch_release"](
                root, switched["old"], previous=info["previous"], static_dir=options["static_dir"]
            )
            if info["previous"] is None and os.path.islink(paths["previous"]):
                # There was no previous release before this attempt: do not leave the failed one there.
                os.unlink(paths["previous"])
            where = f"unhealthy, current switched back to {switched['old']}"
        else:
            os.unlink(paths["current"])
            where = "unhealthy, current removed (there was no earlier release)"
        return failed("health check", exc, where)
    changes["current"] = switched
    if keep is not None:
        pruned = __salt__["sparks_django.prune_releases"](root, keep=int(keep))
        if pruned:
            changes["pruned"] = pruned
    ret.update(changes=changes, comment=f"Release {release} deployed (current was {switched['old']})")
    return ret


def venvs_current(name, requirements=None, python="/usr/bin/python3", pip_args=None, runas=None, timeout=None):
    """
    The virtualenvs of the current and previous releases work with the system's Python ``python``: a venv whose
    interpreter is gone or changed (a distribution upgrade: Debian 12's 3.11 -> Debian 13's 3.13) is built again
    and its ``requirements`` (files relative to the release's code) installed again. Nothing else of the
    release changes (code, static files and compiled messages do not depend on the interpreter).

    Meant to run before ``release_deployed`` with the same arguments, and watched by the project's services: they
    must restart, not reload, to leave the old interpreter (a gunicorn reload keeps its master process).

    ``changes``: ``venvs: {release: {old, new}}`` (Python major.minor before and after).
    """
    ret = _ret(name)
    options = {
        "requirements": [requirements] if isinstance(requirements, str) else list(requirements or []),
        "pip_args": [pip_args] if isinstance(pip_args, str) else pip_args,
        "python": python,
        "runas": runas,
        "timeout": timeout,
    }
    if not os.path.isdir(os.path.join(name, "releases")):
        ret["comment"] = f"No releases under {name} yet"
        return ret
    try:
        info = __salt__["sparks_django.list_releases"](name)
        stale = _stale_venvs(name, [info["current"], info["previous"]], python)
        if not stale:
            ret["comment"] = "The venvs of the current and previous releases run the system's Python"
            return ret
        reasons = "; ".join(status["reason"] for _, status in sorted(stale.items()))
        if __opts__["test"]:
            ret.update(
                result=None,
                changes={"venvs": {release: "rebuilt" for release in stale}},
                comment=f"venvs would be rebuilt: {reasons}",
            )
            return ret
        ret.update(changes={"venvs": _rebuild_venvs(name, stale, options)}, comment=f"venvs rebuilt: {reasons}")
    except (_StepFailed, CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
    return ret


def rolled_back(
    name,
    to=None,
    migrate_back=False,
    check_migrations=True,
    project_subdir=None,
    settings_module=None,
    env_file=None,
    runas=None,
    timeout=None,
    static_dir=None,
):
    """
    ``current`` is switched back. Without ``to``: to the previous release (an action: every run
    switches, like ``salt-call sparks_django.rollback``). With ``to``: to that release, no changes when
    it is already current.

    A release that lacks migrations applied to the database (their files came with a later release) is
    refused, with their list: its code would run on a schema it does not know. ``migrate_back=True`` first
    migrates each app concerned back to the last migration that release has, with the current release's code
    (the older one lacks those files), then switches. ``check_migrations=False``: for projects without
    migrations. ``project_subdir`` .. ``timeout``, ``static_dir``: as for ``release_deployed``.

    ``changes``: ``current: {old, new}``, ``migrations_reverted: [labels]``.
    """
    ret = _ret(name)
    context = {"runas": runas}
    for key, value in (("settings_module", settings_module), ("env_file", env_file), ("timeout", timeout)):
        if value is not None:
            context[key] = value

    def project(release):
        paths = __salt__["sparks_django.release_paths"](name, release)
        src = os.path.join(paths["src"], project_subdir) if project_subdir else paths["src"]
        return {"project_dir": src, "virtualenv": paths["venv"], **context}

    try:
        info = __salt__["sparks_django.list_releases"](name)
        target = to if to is not None else info["previous"]
        if target is None:
            ret.update(result=False, comment=f"No previous release under {name}")
            return ret
        target = str(target)
        if info["current"] == target:
            ret["comment"] = f"Release {target} is already current"
            return ret
        if __salt__["sparks_django.release_metadata"](name, target) is None:
            ret.update(result=False, comment=f"Release {target} is missing or not built")
            return ret
        revert = {"unknown": [], "targets": {}}
        if check_migrations and info["current"] is not None:
            revert = __salt__["sparks_django.migrations_unknown_to"](project(target), project(info["current"]))
        if revert["unknown"] and not migrate_back:
            ret.update(
                result=False,
                comment=(
                    f"Release {target} lacks migrations applied to the database: {', '.join(revert['unknown'])}. "
                    f"Nothing was changed; to migrate back first (with {info['current']}'s code, data in what "
                    "they added is lost), roll back with migrate_back: true"
                ),
            )
            return ret
        changes = {"current": {"old": info["current"], "new": target}}
        if revert["unknown"]:
            changes["migrations_reverted"] = revert["unknown"]
        if __opts__["test"]:
            ret.update(
                result=None, changes=changes, comment=f"current would be switched from {info['current']} to {target}"
            )
            return ret
        for app, migration in revert["targets"].items():
            try:
                __salt__["sparks_django.migrate"](app_label=app, migration_name=migration, **project(info["current"]))
            except CommandExecutionError as exc:
                ret.update(
                    result=False,
                    comment=f"Migrating {app} back to {migration} failed, current stays {info['current']}: {exc}",
                )
                return ret
        switched = __salt__["sparks_django.switch_release"](name, target, static_dir=static_dir)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    changes["current"] = switched
    reverted = f" after migrating back {', '.join(revert['unknown'])}" if revert["unknown"] else ""
    ret.update(changes=changes, comment=f"current switched from {switched['old']} to {switched['new']}{reverted}")
    return ret


def healthy(
    name,
    health_check_cmd=None,
    health_check_url=None,
    health_check_timeout=30,
    rollback_on_failure=True,
    address=None,
    path="/",
    host=None,
    https=False,
    settings_module=None,
    env_file=None,
    env=None,
    runas=None,
    timeout=None,
    static_dir=None,
):
    """
    The current release answers its health check; meant to run after the formula reloaded the services
    (``onchanges`` on ``release_deployed``), since the reload, not the switch, puts new code in service.

    name
        Project root (the one given to ``release_deployed``).
    address / path / host / https
        ``GET path`` at ``address`` (``host:port`` of nginx or gunicorn, or ``unix:/path.sock``) with
        ``Host: host`` (and ``X-Forwarded-Proto: https``) must answer below 400 within
        ``health_check_timeout`` seconds; redirects are not followed.
    health_check_cmd / health_check_url
        As in ``release_deployed``: the command runs in ``<name>/current/src`` with the release's
        virtualenv and environment; the URL is polled until it answers below 400 or the timeout ends.
    rollback_on_failure
        When unhealthy, switch ``current`` back to ``previous`` (then reload again from the formula,
        e.g. with ``onfail`` on this state). Either way the release is recorded as failed, so the next
        ``release_deployed`` of it fails at once instead of reporting it deployed.

    ``changes``: ``current: {old, new}`` when it rolled back. The result is False whenever the check
    failed, rolled back or not. In test mode nothing is checked (a dry run must not probe a service
    that has not been reloaded) and the result is None when a check is configured.
    """
    ret = _ret(name)
    if not health_check_cmd and not health_check_url and not address:
        ret.update(result=False, comment="Give address, health_check_cmd and/or health_check_url")
        return ret
    info = __salt__["sparks_django.list_releases"](name)
    if info["current"] is None:
        ret.update(result=False, comment=f"No current release under {name}")
        return ret
    if __opts__["test"]:
        ret.update(result=None, comment=f"Release {info['current']} would be health-checked")
        return ret
    paths = __salt__["sparks_django.release_paths"](name, info["current"])
    project = {"project_dir": paths["src"], "virtualenv": paths["venv"], "runas": runas}
    for key, value in (
        ("settings_module", settings_module),
        ("env_file", env_file),
        ("env", env),
        ("timeout", timeout),
    ):
        if value is not None:
            project[key] = value
    options = {
        "health_check_cmd": health_check_cmd,
        "health_check_url": health_check_url,
        "health_check_timeout": health_check_timeout,
    }
    try:
        _health_check(options, project)
        if address:
            answer = __salt__["sparks_django.wait_healthy"](
                address, path=path, host=host, https=https, timeout=health_check_timeout
            )
            if not answer["healthy"]:
                raise _StepFailed(f"GET {path} at {address} with Host {host or address} failed: {answer['reason']}")
    except (_StepFailed, CommandExecutionError) as exc:
        release = info["current"]
        metadata = __salt__["sparks_django.release_metadata"](name, release) or {}
        if not rollback_on_failure:
            __salt__["sparks_django.record_failure"](
                name, release, "live health check", str(exc), rev=metadata.get("rev"), commit=metadata.get("commit")
            )
            ret.update(result=False, comment=f"Release {release} is unhealthy, recorded as failed: {exc}")
            return ret
        try:
            switched = __salt__["sparks_django.rollback"](name, static_dir=static_dir)
        except CommandExecutionError as rollback_error:
            # Nothing to go back to (a first release): it stops being current all the same.
            os.unlink(os.path.join(name, "current"))
            __salt__["sparks_django.record_failure"](
                name, release, "live health check", str(exc), rev=metadata.get("rev"), commit=metadata.get("commit")
            )
            ret.update(
                result=False,
                changes={"current": {"old": release, "new": None}},
                comment=f"Release {release} is unhealthy ({exc}), recorded as failed and no longer current: "
                f"{rollback_error}",
            )
            return ret
        __salt__["sparks_django.record_failure"](
            name, release, "live health check", str(exc), rev=metadata.get("rev"), commit=metadata.get("commit")
        )
        ret.update(
            result=False,
            changes={"current": switched},
            comment=f"Release {switched['old']} is unhealthy, rolled back to {switched['new']}, recorded as "
            f"failed: {exc}",
        )
        return ret
    ret["comment"] = f"Release {info['current']} is healthy"
    return ret
