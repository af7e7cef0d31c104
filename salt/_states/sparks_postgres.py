"""
PostgreSQL roles and databases whose passwords never show: not in state output, logs, nor process lists.

Why not Salt's core ``postgres_user.present``: it builds ``CREATE/ALTER ROLE ... PASSWORD '<hash>'`` and runs it
as ``psql -c <statement>``, so the hash (an md5 hash is as good as the password for md5 logins) sits in the
process list of the machine while psql runs, and in Salt's log line "Executing command ...".

Here the SQL goes to ``psql`` on stdin, the command is run with Salt's quiet logging, and the password itself
never reaches PostgreSQL: the state computes the SCRAM-SHA-256 verifier that PostgreSQL would store (RFC 5802 /
RFC 7677, PostgreSQL's ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` format) and sends that. To
know whether a password must change, it recomputes the verifier with the stored salt and compares, so a re-run
changes nothing and needs no login. The password can be read from pillar by the state itself
(``password_pillar: sparks:db_postgres:roles:app:password``), so it is not even in the rendered SLS. Changes
report ``{"password": "changed"}``, never a value.

psql connects as the ``postgres`` system user over the Unix socket (peer authentication), which pg_hba.conf of
the ``db_postgres`` formula always allows first.

``cluster_upgraded`` moves a cluster to a newer major with Debian's ``pg_upgradecluster`` when pillar asks for it
(``sparks:db_postgres:upgrade``), and otherwise says that a newer major is available: a major upgrade is never
implicit.
"""

import base64
import time
import hashlib
import hmac
import os
import unicodedata

from salt.exceptions import CommandExecutionError

__virtualname__ = "sparks_postgres"

SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
ROLE_FLAGS = ("login", "superuser", "createdb", "createrole")
HIDDEN = "<hidden>"


def __virtual__():
    # psql is checked when a state runs, not here: the same run usually installs it.
    return __virtualname__


# ----------------------------------------------------------------------------------------------- SQL helpers
def quote_ident(name):
    """A SQL identifier, double-quoted (so any name, even a keyword or mixed case, is taken literally)."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(value):
    """A SQL string literal (standard_conforming_strings is on since PostgreSQL 9.1)."""
    if "\x00" in str(value):
        raise CommandExecutionError("NUL bytes cannot be sent to PostgreSQL")
    return "'" + str(value).replace("'", "''") + "'"


def _psql(sql, dbname="postgres", port=5432, runas="postgres", secret=None, host=None):
    """Run ``sql`` (fed on stdin) and return its rows as lists of strings; raise with psql's error otherwise.

    ``secret`` is a string to be replaced by <hidden> in any error message (psql echoes a failing statement).
    ``host`` is a socket directory (or an address); None is PostgreSQL's default socket directory.
    """
    cmd = [
        "psql",
        "--no-psqlrc",
        "--quiet",
        "--no-align",
        "--tuples-only",
        "--field-separator=\t",
        "--set=ON_ERROR_STOP=1",
        f"--port={int(port)}",
        f"--dbname={dbname}",
    ]
    if host:
        cmd.append(f"--host={host}")
    result = __salt__["cmd.run_all"](
        cmd,
        stdin=sql,
        runas=runas,
        python_shell=False,
        cwd="/",
        ignore_retcode=True,
        # "quiet" keeps the command, its output and its errors out of Salt's log.
        output_loglevel="quiet",
    )
    if result["retcode"] != 0:
        message = (result.get("stderr") or result.get("stdout") or "").strip()
        if secret:
            message = message.replace(secret, HIDDEN)
        raise CommandExecutionError(f"psql (port {port}, database {dbname}) failed: {message}")
    return [line.split("\t") for line in result["stdout"].splitlines() if line]


# ----------------------------------------------------------------------------------------------- SCRAM
def _normalize(password):
    # PostgreSQL applies SASLprep to the password; NFKC is its main part. A password SASLprep would treat
    # differently only costs an unneeded (harmless) password update on each run.
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def scram_verifier(password, salt=None, iterations=SCRAM_ITERATIONS):
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (a random salt unless one is given)."""
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", _normalize(password), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data):
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def password_matches(stored, password):
    """Whether ``stored`` (pg_authid.rolpassword) is the verifier of ``password``; any other form: no."""
    if not stored or not stored.startswith("SCRAM-SHA-256$"):
        return False
    try:
        iterations_salt, _keys = stored[len("SCRAM-SHA-256$") :].split("$", 1)
        iterations, salt = iterations_salt.split(":", 1)
        expected = scram_verifier(password, base64.b64decode(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, stored)


# ----------------------------------------------------------------------------------------------- states
def _ret(name):
    return {"name": name, "result": True, "changes": {}, "comment": ""}


def _password(password, password_pillar):
    if password_pillar:
        # Not pillar.get: Salt 3008 masks its answer here (the verifier would be the mask's). See salt/_utils.
        value = __utils__["sparks_pillar.get"](__pillar__, password_pillar)
        if value is None:
            raise CommandExecutionError(f"pillar key {password_pillar} is not set")
        return str(value)
    return None if password is None else str(password)


def role_present(
    name,
    password=None,
    password_pillar=None,
    login=True,
    superuser=False,
    createdb=False,
    createrole=False,
    port=5432,
    runas="postgres",
    host=None,
):
    """A role with these attributes and (if given) this password.

    password_pillar
        The pillar key holding the password (preferred over ``password``: the SLS then holds no secret).
    host
        psql's ``--host``: the server's socket directory (default: PostgreSQL's) or an address.
    """
    ret = _ret(name)
    try:
        secret = _password(password, password_pillar)
        rows = _psql(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, coalesce(rolpassword, '') "
            f"FROM pg_authid WHERE rolname = {quote_literal(name)};",
            port=port,
            runas=runas,
            host=host,
        )
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret

    wanted = {"login": login, "superuser": superuser, "createdb": createdb, "createrole": createrole}
    if rows:
        current = dict(zip(ROLE_FLAGS, (value == "t" for value in rows[0][:4]), strict=True))
        changes = {flag: value for flag, value in wanted.items() if current[flag] != bool(value)}
        password_changes = secret is not None and not password_matches(rows[0][4], secret)
        if password_changes:
            changes["password"] = "changed"
        if not changes:
            ret["comment"] = f"Role {name} is as wanted"
            return ret
        verb = "ALTER"
    else:
        changes = {"role": "created", **{flag: value for flag, value in wanted.items() if value}}
        if secret is not None:
            changes["password"] = "set"
        verb = "CREATE"

    if __opts__["test"]:
        ret.update(
            result=None, changes=changes, comment=f"Role {name} would be {'created' if verb == 'CREATE' else 'altered'}"
        )
        return ret

    options = [("" if value else "NO") + flag.upper() for flag, value in wanted.items()]
    verifier = None
    if "password" in changes:
        verifier = scram_verifier(secret)
        options.append(f"PASSWORD {quote_literal(verifier)}")
    try:
        _psql(
            f"{verb} ROLE {quote_ident(name)} WITH {' '.join(options)};",
            port=port,
            runas=runas,
            secret=verifier,
            host=host,
        )
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret.update(changes=changes, comment=f"Role {name} {'created' if verb == 'CREATE' else 'altered'}")
    return ret


def database_present(
    name,
    owner=None,
    encoding="UTF8",
    lc_collate=None,
    lc_ctype=None,
    template="template0",
    extensions=(),
    port=5432,
    runas="postgres",
    host=None,
):
    """A database with this owner and encoding, and these extensions created in it.

    The encoding and locale of an existing database cannot change: a difference is reported as a failure
    rather than silently ignored. A different owner is changed (ALTER DATABASE ... OWNER TO). ``port``, ``runas``
    and ``host`` are as in ``role_present``.
    """
    ret = _ret(name)
    extensions = list(extensions or [])
    try:
        rows = _psql(
            "SELECT pg_encoding_to_char(encoding), pg_get_userbyid(datdba), datcollate, datctype "
            f"FROM pg_database WHERE datname = {quote_literal(name)};",
            port=port,
            runas=runas,
            host=host,
        )
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret

    statements, changes = [], {}
    if rows:
        current_encoding, current_owner, collate, ctype = rows[0]
        mismatches = []
        if encoding and current_encoding.upper() != encoding.upper().replace("-", ""):
            mismatches.append(f"encoding is {current_encoding}, not {encoding}")
        if lc_collate and collate != lc_collate:
            mismatches.append(f"lc_collate is {collate}, not {lc_collate}")
        if lc_ctype and ctype != lc_ctype:
            mismatches.append(f"lc_ctype is {ctype}, not {lc_ctype}")
        if mismatches:
            ret.update(
                result=False,
                comment=f"Database {name} exists and cannot be changed: "
                + "; ".join(mismatches)
                + " (dump, drop and recreate it to change this)",
            )
            return ret
        if owner and current_owner != owner:
            statements.append(f"ALTER DATABASE {quote_ident(name)} OWNER TO {quote_ident(owner)};")
            changes["owner"] = {"old": current_owner, "new": owner}
        try:
            present = {
                row[0]
                for row in _psql("SELECT extname FROM pg_extension;", dbname=name, port=port, runas=runas, host=host)
            }
        except CommandExecutionError as exc:
            ret.update(result=False, comment=str(exc))
            return ret
    else:
        clauses = [f"ENCODING {quote_literal(encoding)}", f"TEMPLATE {quote_ident(template)}"]
        if owner:
            clauses.insert(0, f"OWNER {quote_ident(owner)}")
        if lc_collate:
            clauses.append(f"LC_COLLATE {quote_literal(lc_collate)}")
        if lc_ctype:
            clauses.append(f"LC_CTYPE {quote_literal(lc_ctype)}")
        # CREATE DATABASE cannot run inside a transaction block: it is a statement of its own.
        statements.append(f"CREATE DATABASE {quote_ident(name)} WITH {' '.join(clauses)};")
        changes["database"] = "created"
        present = set()

    missing = [extension for extension in extensions if extension not in present]
    if missing:
        changes["extensions"] = missing
    if not changes:
        ret["comment"] = f"Database {name} is as wanted"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"Database {name} would be changed")
        return ret
    try:
        if statements:
            _psql("\n".join(statements), port=port, runas=runas, host=host)
        if missing:
            _psql(
                "\n".join(f"CREATE EXTENSION IF NOT EXISTS {quote_ident(extension)};" for extension in missing),
                dbname=name,
                port=port,
                runas=runas,
                host=host,
            )
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret.update(changes=changes, comment=f"Database {name} {'created' if 'database' in changes else 'updated'}")
    return ret


# ----------------------------------------------------------------------------------------------- major upgrade
SYSTEM_DATABASES = ("postgres", "template0", "template1")
ANSWER_TIMEOUT = 60  # seconds the upgraded cluster has to answer before the old one would be dropped


def upgrade_plan(existing, name, version, from_version, upgrade):
    """What ``cluster_upgraded`` does, from the clusters that exist (salt/_utils/sparks_postgres.py's list):
    ``{"action": none|notice|upgrade|refuse, "drop_target_first": bool, "comment": str}``.

    ``from_version`` is the major of the cluster the formula manages (formulas/db_postgres/map.jinja), ``version``
    the one to upgrade to. A cluster ``<version>/<name>`` that already exists is the empty one Debian created when
    the new server package was installed: it is dropped first only when it is running and holds no database of
    its own (``drop_target_first``; the state checks the databases), else the upgrade is refused."""
    version = int(version)
    if from_version is None:
        return {"action": "none", "drop_target_first": False, "comment": f"No cluster {name} yet: nothing to upgrade"}
    from_version = int(from_version)
    if from_version >= version:
        return {
            "action": "none",
            "drop_target_first": False,
            "comment": f"Cluster {from_version}/{name} is at {version} or newer: nothing to upgrade",
        }
    if not upgrade:
        return {
            "action": "notice",
            "drop_target_first": False,
            "comment": (
                f"PostgreSQL {version} is available; cluster {from_version}/{name} stays on {from_version}. To "
                f"upgrade it (pg_upgradecluster), set pillar sparks:db_postgres:upgrade: true"
            ),
        }
    target = [c for c in existing if c["cluster"] == name and c["version"] == version]
    if target and not target[0]["running"]:
        return {
            "action": "refuse",
            "drop_target_first": False,
            "comment": (
                f"Cluster {version}/{name} exists and is down, so sparks cannot tell whether it holds data: "
                f"start it (or drop it: pg_dropcluster {version} {name}) before the upgrade"
            ),
        }
    return {
        "action": "upgrade",
        "drop_target_first": bool(target),
        "comment": f"Cluster {name} upgraded from {from_version} to {version}",
    }


def _run(argv, timeout=None):
    result = __salt__["cmd.run_all"](argv, python_shell=False, cwd="/", ignore_retcode=True, timeout=timeout)
    if result["retcode"] != 0:
        output = (result.get("stderr") or "") + (result.get("stdout") or "")
        raise CommandExecutionError(f"{' '.join(argv)} failed ({result['retcode']}): {output.strip()[-2000:]}")
    return result["stdout"]


def _answers(port, deadline):
    while True:
        try:
            _psql("SELECT 1", port=port)
            return True
        except CommandExecutionError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(1)


def cluster_upgraded(name, version, from_version=None, port=5432, upgrade=False, timeout=3600):
    """
    Cluster ``name`` runs PostgreSQL ``version`` when ``upgrade`` is true; when it is false, an older cluster
    stays as it is and the comment (and a warning) say that ``version`` is available.

    name
        The cluster name (Debian's ``main``).
    version
        The major to upgrade to: the OS default (formulas/db_postgres/parameters) or pillar ``version``. Its
        server package must be installed (db_postgres.package does it when ``upgrade`` is true).
    from_version
        The major of the cluster the formula manages now (formulas/db_postgres/map.jinja, from the
        ``postgres_clusters`` grain); None when there is none.
    port
        The cluster's port: pg_upgradecluster gives it to the new cluster, and the new cluster must answer on it
        before the old one is dropped.

    The upgrade: an empty ``<version>/<name>`` that the package install created is dropped, then
    ``pg_upgradecluster -v <version> <from_version> <name>`` (data, roles and configuration copied; the old
    cluster is stopped), then, once the new cluster answers on ``port``, ``pg_dropcluster <from_version> <name>``.
    Changes: ``cluster: {old, new}`` and ``dropped``.
    """
    ret = _ret(name)
    existing = __utils__["sparks_postgres.clusters"]()
    plan = upgrade_plan(existing, name, version, from_version, upgrade)
    ret["comment"] = plan["comment"]
    if plan["action"] == "none":
        return ret
    if plan["action"] == "notice":
        ret["warnings"] = [plan["comment"]]
        return ret
    if plan["action"] == "refuse":
        ret["result"] = False
        return ret
    old, new = f"{int(from_version)}/{name}", f"{int(version)}/{name}"
    try:
        if plan["drop_target_first"]:
            target_port = next(c["port"] for c in existing if c["cluster"] == name and c["version"] == int(version))
            databases = [
                row[0]
                for row in _psql("SELECT datname FROM pg_database", port=target_port)
                if row[0] not in SYSTEM_DATABASES
            ]
            if databases:
                ret.update(
                    result=False,
                    comment=(
                        f"Cluster {new} exists and holds databases ({', '.join(sorted(databases))}): move them "
                        f"away or drop it (pg_dropcluster --stop {int(version)} {name}) before the upgrade"
                    ),
                )
                return ret
        if __opts__["test"]:
            ret.update(
                result=None,
                changes={"cluster": {"old": old, "new": new}, "dropped": old},
                comment=f"Cluster {name} would be upgraded from {int(from_version)} to {int(version)}",
            )
            return ret
        if plan["drop_target_first"]:
            # The empty cluster Debian made when postgresql-<version> was installed: pg_upgradecluster needs its name.
            _run(["pg_dropcluster", "--stop", str(int(version)), name])
        _run(["pg_upgradecluster", "-v", str(int(version)), str(int(from_version)), name], timeout=timeout)
    except CommandExecutionError as exc:
        ret.update(result=False, comment=f"Cluster {name} not upgraded to {int(version)}: {exc}")
        return ret
    changes = {"cluster": {"old": old, "new": new}}
    if not _answers(port, time.monotonic() + ANSWER_TIMEOUT):
        ret.update(
            result=False,
            changes=changes,
            comment=f"Cluster {new} does not answer on port {port}: the old cluster {old} is kept (stopped)",
        )
        return ret
    try:
        _run(["pg_dropcluster", "--stop", str(int(from_version)), name])
    except CommandExecutionError as exc:
        ret.update(result=False, changes=changes, comment=f"Cluster {new} runs, but {old} was not dropped: {exc}")
        return ret
    changes["dropped"] = old
    ret.update(changes=changes)
    return ret
