"""
Salt 3008's pillar masking trap, on the Salt installed here: ``pillar.get`` called from Python (outside template
rendering) answers ``**********`` for every non-empty scalar. Our modules read pillar through
``salt/_utils/sparks_pillar.py`` instead, and these tests prove they get the real values:

- ``sparks_postgres.role_present`` with ``password_pillar``, against a real PostgreSQL server: a throwaway
  cluster (``initdb`` as the ``postgres`` user in a temporary directory, listening on 127.0.0.1 and a socket in
  that directory, stopped and deleted at the end). The role then logs in with the pillar's password, and not
  with the mask.
- ``sparks_lxc.roster`` gives the real addresses, ``sparks_pkg`` runs pip in the real virtualenvs.
- ``pkgsearch`` reads its settings with ``config.get``, which reads ``__pillar__`` directly: not masked.
- Templates are exempt (Salt unmasks while it renders Jinja): django's env file gets the real secrets.

Nothing is mocked. Needs root (the cluster runs as ``postgres``) and PostgreSQL's server package (.ci/run
installs it); without them the PostgreSQL test is skipped, and fails under SPARKS_REQUIRE_TARGETS=1.
"""

import glob
import json
import logging
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import psycopg2
import pytest
import salt._logging.impl as salt_logging
import salt.version
import yaml
from saltfactories.utils.functional import Loaders

from tests.support.registries import PyPIIndex, free_port
from tests.support.render import salt_call
from tests.support.saltrun import REPO_ROOT

SECRET = "Real-pa55word-from-pillar"
MASK = "**********"
PASSWORD_KEY = "sparks:db_postgres:roles:app:password"
GUESTS = {"web1": {"address": "10.213.77.11/24"}, "db1": {"address": "10.213.77.12"}}
DJANGO_SECRET = "django-secret-key-from-pillar"
REDIS_SECRET = 'redis "pa55" \\ from pillar'
PILLAR = {
    "sparks": {
        "db_postgres": {"roles": {"app": {"password": SECRET}}},
        "db_redis": {"settings": {"requirepass": REDIS_SECRET}},
        "lxc": {"guests": GUESTS},
        "django": {"projects": {"shop": {"secrets": {"SECRET_KEY": DJANGO_SECRET}}}},
    }
}

pytestmark = pytest.mark.skipif(
    salt.version.__saltstack_version__.major < 3008, reason="the masking trap exists since Salt 3008"
)


@pytest.fixture(scope="module")
def pillar_loaders(salt_factories, tmp_path_factory):
    """Our modules through salt-factories' Loaders, with PILLAR compiled from a pillar tree of its own."""
    pillar_root = tmp_path_factory.mktemp("pillar")
    (pillar_root / "top.sls").write_text("base:\n  '*':\n    - secrets\n")
    (pillar_root / "secrets.sls").write_text(yaml.safe_dump(PILLAR))
    factory = salt_factories.salt_minion_daemon(
        "sparks-pillar-secrets",
        overrides={
            "file_client": "local",
            "pillar_roots": {"base": [str(pillar_root)]},
            "file_roots": {"base": [str(REPO_ROOT / "formulas")]},
            "module_dirs": [str(REPO_ROOT / "salt" / "_modules")],
            "states_dirs": [str(REPO_ROOT / "salt" / "_states")],
            "utils_dirs": [str(REPO_ROOT / "salt" / "_utils")],
        },
    )
    yield Loaders(factory.config.copy())
    salt_logging.shutdown_temp_handler()  # flush Salt's deferred log records (see conftest.py's loaders)


def test_the_trap_pillar_get_from_python_is_masked(pillar_loaders):
    """What our modules must not use: if this ever fails, Salt changed its masking and the docs need a look."""
    assert pillar_loaders.modules.pillar.get(PASSWORD_KEY) == MASK
    assert pillar_loaders.modules.pillar.get("sparks:lxc:guests:web1:address") == MASK
    assert pillar_loaders.modules.pillar.get("nope", "a default") == MASK  # even the default


def test_templates_read_real_values(pillar_loaders):
    """formulas/django/files/env.jinja reads the database password and the secrets with pillar.get while Salt
    renders it (file.managed with template: jinja): there Salt turns masking off."""
    database = {"role": "app", "name": "appdb", "host": "127.0.0.1", "port": 5432, "env_var": "DATABASE_URL"}
    project = {"project": "shop", "environment": "production", "settings_module": "", "media_root": "/srv/media"}
    project.update(database=database, redis_url="", env={})
    text = pillar_loaders.modules.slsutil.renderer(
        path="salt://django/files/env.jinja", default_renderer="jinja", context={"p": project, "key": "shop"}
    )
    assert f'DATABASE_URL="postgres://app:{SECRET}@127.0.0.1:5432/appdb"' in text
    assert f'SECRET_KEY="{DJANGO_SECRET}"' in text and MASK not in text


def test_redis_template_reads_its_password_from_pillar(pillar_loaders):
    """formulas/db_redis/files/sparks.conf.jinja gets no password in its context (the map leaves secrets out):
    it reads requirepass from pillar, quoted the way redis.conf reads a string."""
    redis = {"config_file": "/etc/redis/redis.conf", "bind": "127.0.0.1", "port": 6379, "maxmemory": "0"}
    redis.update(maxmemory_policy="noeviction", save=[], appendonly=False, appendfsync="everysec", settings={})
    text = pillar_loaders.modules.slsutil.renderer(
        path="salt://db_redis/files/sparks.conf.jinja", default_renderer="jinja", context={"redis": redis}
    )
    assert 'requirepass "redis \\"pa55\\" \\\\ from pillar"' in text.splitlines()
    assert "masterauth" not in text and MASK not in text


# ----------------------------------------------------------------------------------------------- PostgreSQL
def _server_binaries():
    """The newest installed PostgreSQL server's bin directory (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _unavailable(reason):
    if os.environ.get("SPARKS_REQUIRE_TARGETS") == "1":
        pytest.fail(f"{reason} (.ci/run installs the postgresql package)")
    pytest.skip(reason)


def _as_postgres(*cmd, **kwargs):
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *map(str, cmd)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",
        **kwargs,
    )


@pytest.fixture(scope="module")
def cluster():
    """A throwaway PostgreSQL cluster: {"socket_dir", "port"}; stopped (by its postmaster PID) and deleted after."""
    bindir = _server_binaries()
    if bindir is None or not shutil.which("psql"):
        _unavailable("PostgreSQL's server is not installed")
    if os.geteuid() != 0:
        _unavailable("the throwaway PostgreSQL cluster runs as the postgres user: needs root")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        _unavailable("no postgres user")
    home = Path(tempfile.mkdtemp(prefix="sparks-pg-", dir="/tmp"))
    os.chown(home, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
    home.chmod(0o700)
    data, port = home / "data", free_port()
    try:
        init = _as_postgres(
            bindir / "initdb", "-D", data, "-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256", "-N"
        )
        assert init.returncode == 0, init.stdout + init.stderr
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={home} "
            "-c password_encryption=scram-sha-256 -c fsync=off"
        )
        start = _as_postgres(bindir / "pg_ctl", "-D", data, "-o", options, "-l", home / "log", "-w", "start")
        assert start.returncode == 0, start.stdout + start.stderr + (home / "log").read_text()
        yield {"socket_dir": str(home), "port": port}
    finally:
        pid_file = data / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            stop = _as_postgres(bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
            if stop.returncode != 0:
                os.kill(pid, 9)
        shutil.rmtree(home, ignore_errors=True)


def _login(cluster, password, dbname="postgres"):
    """Log in as `app` over TCP (SCRAM): the current user's name, or the server's error."""
    try:
        connection = psycopg2.connect(
            host="127.0.0.1", port=cluster["port"], user="app", password=password, dbname=dbname, connect_timeout=10
        )
    except psycopg2.OperationalError as exc:
        return f"refused: {exc}"
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database()")
        row = cursor.fetchone()
    connection.close()
    return row


def test_postgres_role_gets_the_real_pillar_password(pillar_loaders, cluster, caplog):
    conn = {"port": cluster["port"], "host": cluster["socket_dir"], "runas": "postgres"}
    caplog.set_level(logging.DEBUG)

    dry = pillar_loaders.states.sparks_postgres.role_present(
        name="app", password_pillar=PASSWORD_KEY, test=True, **conn
    )
    assert dry.result is None and dry.changes["password"] == "set"

    created = pillar_loaders.states.sparks_postgres.role_present(name="app", password_pillar=PASSWORD_KEY, **conn)
    assert created.result is True, created.comment
    assert created.changes == {"role": "created", "login": True, "password": "set"}
    db = pillar_loaders.states.sparks_postgres.database_present(name="appdb", owner="app", **conn)
    assert db.result is True, db.comment

    assert _login(cluster, SECRET, "appdb") == ("app", "appdb")
    assert _login(cluster, MASK).startswith("refused: ")  # the verifier is the password's, not the mask's

    # The stored verifier is recognised as the pillar's password: nothing to change, now or in a dry run.
    again = pillar_loaders.states.sparks_postgres.role_present(name="app", password_pillar=PASSWORD_KEY, **conn)
    assert again.result is True and again.changes == {}, again.comment
    dry_again = pillar_loaders.states.sparks_postgres.role_present(
        name="app", password_pillar=PASSWORD_KEY, test=True, **conn
    )
    assert dry_again.result is True and dry_again.changes == {}

    for ret in (dry, created, again, dry_again):
        assert SECRET not in json.dumps(ret.raw)
    assert "sparks_postgres.role_present" in caplog.text  # the runs' log records were captured...
    assert SECRET not in caplog.text  # ...and the password is in none of them


# ----------------------------------------------------------------------------------------------- lxc, pkg, pkgsearch
def test_lxc_roster_lists_the_real_addresses(pillar_loaders):
    roster = pillar_loaders.modules.sparks_lxc.roster(priv="/root/.ssh/id_ed25519")
    assert roster == {
        "db1": {"host": "10.213.77.12", "user": "root", "priv": "/root/.ssh/id_ed25519"},
        "web1": {"host": "10.213.77.11", "user": "root", "priv": "/root/.ssh/id_ed25519"},
    }
    assert type(roster["web1"]["host"]) is str and MASK not in repr(roster)


def _wheel(directory, name, version):
    """A minimal pure-Python wheel, written by hand (no build backend, no index needed)."""
    dist = f"{name}-{version}.dist-info"
    path = Path(directory) / f"{name}-{version}-py3-none-any.whl"
    files = {
        f"{name}.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: sparks-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{file},,\n" for file in [*files, f"{dist}/RECORD"])
    with zipfile.ZipFile(path, "w") as archive:
        for file, text in files.items():
            archive.writestr(file, text)
    return path


def test_pip_venvs_are_the_real_paths(tmp_path):
    """`sparks_pkg.outdated managers=pip` runs each pillar venv's own pip: offline, against a local wheel directory."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    old, _new = _wheel(wheels, "sparks_probe", "1.0"), _wheel(wheels, "sparks_probe", "2.0")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    offline = {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    env = dict(os.environ, **offline, PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(old)], check=True, env=env, timeout=300)

    pillar = {"sparks": {"pkg": {"pip_venvs": [str(venv)]}}}
    proc = salt_call(tmp_path, pillar, "sparks_pkg.outdated", "managers=pip", env=offline)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pip = json.loads(proc.stdout)["local"]["pip"]
    assert pip["status"] == "ok", pip
    assert pip["outdated"] == [{"name": "sparks_probe", "current": "1.0", "latest": "2.0", "venv": str(venv)}]


def test_pkgsearch_settings_from_pillar_are_real(tmp_path):
    """pkgsearch reads `pkgsearch:pypi_index` with config.get, which reads __pillar__ itself: no mask.

    The environment points every registry at a closed loopback port, so only the pillar's value can answer
    (and nothing reaches a public registry)."""
    closed = "http://127.0.0.1:9/"
    env = {"PKGSEARCH_PYPI_INDEX": closed, "PKGSEARCH_NPM_REGISTRY": closed, "PKGSEARCH_GEM_SOURCE": closed}
    with PyPIIndex({"sparks-probe": ("2.0", "a probe package")}) as index:
        pillar = {"pkgsearch": {"pypi_index": index.url, "cache_dir": str(tmp_path / "cache")}}
        proc = salt_call(tmp_path, pillar, "pkgsearch.search", "sparks-probe", "managers=pypi", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = json.loads(proc.stdout)["local"]
    assert [(item["name"], item["version"]) for item in found] == [("sparks-probe", "2.0")]
