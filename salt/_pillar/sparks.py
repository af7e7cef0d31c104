"""
Reject bad ``sparks:`` pillar before any state runs.

Every formula that takes settings describes them in ``<formula>/parameters/schema.yaml`` (keys no formula owns:
``TOP_LEVEL_KEYS`` below). This external pillar
checks the compiled pillar against those schemas; when something is wrong it returns the problems as the
pillar's ``_errors``, and ``state.apply``/``state.highstate`` then refuse to run at all (salt-call, salt-ssh
and minions alike), naming every bad key and why.

Schema language (values of ``schema.yaml``, nested as the pillar is):

- a type name: ``str``, ``int``, ``float``, ``bool``, ``any``; a trailing ``?`` also accepts null (``str?``)
- ``port``: an integer from 1 to 65535; ``cidr``: an IPv4 or IPv6 address or network (``10.0.0.5``,
  ``192.168.0.0/16``, ``2001:db8::/32``), what a firewall rule or an allow list can match (a host name cannot:
  nftables would resolve it once, at boot, before the network is up)
- ``list[T]``: a list whose items are T (``list[str]``; ``list[{...}]`` is written as a YAML list of one schema)
- ``enum[a,b,c]``: one of these strings
- a mapping: these keys only, each with its own schema; a ``"*"`` key means "any other key, values of this
  schema" (``databases: {"*": {owner: str}}``; ``settings: {requirepass: ..., "*": any}``)
- a one-item YAML list ``[schema]``: a list whose items match that schema
- ``_include: [name, ...]`` in a mapping: the keys of the shared fragment ``sparks_lib/schemas/<name>.yaml`` (next
  to the formulas) as if written there, so options every formula takes (``packages``: install_recommends,
  package_index_max_age) are described once; an error still names its full key (``sparks:base:install_recommends``)
- ``{type: SCHEMA, secret: true}``: a value of SCHEMA that is a secret (a password, private key, token). Every
  secret a formula accepts is declared so, once, here. The checker never shows a secret's value in a message;
  the map helper (formulas/sparks_lib/map.jinja) leaves declared secrets out of what formulas get, so no state
  argument or template ``context:`` can carry one: a template reads it from pillar on the target (as
  formulas/django/files/env.jinja does) and its state sets ``show_changes: false``.

A pillar file that is not YAML: Salt says only ``Rendering SLS 'local' failed. Please see master log for details.``
(``pillar_safe_render_error``; the log quotes the lines around the mistake, which may be passwords). This check
runs wherever pillar is compiled (salt-call masterless, the master for its minions, salt-ssh on the machine running
it), so it names the file, line and column there, without any of the file's text: ``invalid pillar:
/etc/sparks/pillar/local.sls: line 4, column 30: mapping values are not allowed in this context``. It reads the
files pillar/top.sls gives this machine (``OWN_FILES``, in every pillar root); one with Jinja in it is left to Salt,
since its line numbers would count the rendered text (a ``#!yaml|gpg`` file is YAML as written: it is checked).

GPG-encrypted pillar (``#!yaml|gpg``, Salt's gpg renderer, with ``gpg_keydir`` and ``gpg_decrypt_must_succeed:
false`` from salt/config/common.conf): a value the keys in ``gpg_keydir`` cannot decrypt stays ciphertext, and this
check refuses it, naming the file that holds it, its key and the key it was encrypted for, never the ciphertext:
``invalid pillar: /etc/sparks/pillar/local.sls: sparks:db_redis:settings:requirepass: cannot be decrypted with the
keys in /etc/sparks/gpgkeys (encrypted for key 0x8A1F36E2C0B0D7C4)``. The key ID is read from the message itself
(its public-key packets), so the refusal needs no gpg. Salt's own refusal (the default ``true``) would drop the
whole file with "Rendering SLS 'local' failed" and a log line quoting the ciphertext.

Configure it with ``ext_pillar: [{sparks: {}}]`` and ``pillar_dirs`` pointing at this directory
(``salt/config/common.conf`` does).
"""

import base64
import binascii
import ipaddress
import os
import re
import shutil

import yaml
from salt.utils.yamlloader import SaltYamlSafeLoader  # Salt's own: what it refuses is what gets named

__virtualname__ = "sparks"

SCHEMA_FILE = os.path.join("parameters", "schema.yaml")
INCLUDE_KEY = "_include"
FRAGMENT_DIR = os.path.join("sparks_lib", "schemas")
# Keys no formula owns, in the same schema language: roles (top.sls), users (several formulas), and the
# settings of our execution modules (pkg: salt/_modules/sparks_pkg.py). tests/unit/test_pillar_keys.py checks
# that every sparks: key our code reads has a schema here or in a formula's schema.yaml.
TOP_LEVEL_KEYS = {
    "roles": "list[str]",
    "users": "list[str]",
    "pkg": {"pip_venvs": "list[str]"},
}
SCALAR_TYPES = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}
# The pillar files of one machine, as pillar/top.sls names them ({id}: the minion id, dots as "_").
OWN_FILES = ("sparks.sls", "local.sls", os.path.join("nodes", "{id}.sls"))
# Renderer lines of files that are YAML as written (a gpg pipe decrypts values after YAML has parsed them).
PLAIN_YAML_SHEBANG = re.compile(r"#!\s*yaml\s*(\|\s*gpg\s*)?")
# What Salt's gpg renderer decrypts (salt/renderers/gpg.py: GPG_CIPHERTEXT), and leaves as it is when it cannot.
PGP_BEGIN = "-----BEGIN PGP MESSAGE-----"
PGP_MESSAGE = re.compile(re.escape(PGP_BEGIN) + r".*?-----END PGP MESSAGE-----", re.DOTALL)
TYPE_WORDS = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "a mapping",
    type(None): "null",
}


def __virtual__():
    return __virtualname__


class PillarFileError(Exception):
    """A pillar file of this machine is not YAML."""


def ext_pillar(minion_id, pillar, **kwargs):  # pylint: disable=unused-argument
    saltenv = __opts__.get("saltenv") or "base"
    problems = file_problems(__opts__.get("pillar_roots", {}).get(saltenv, []), minion_id)
    if problems:
        # When a file failed to render, Salt replaces the _errors an ext_pillar returns with its own vague one;
        # what an ext_pillar raises is added to them ("Failed to load ext_pillar sparks: ...").
        raise PillarFileError("; ".join(problems))
    roots = __opts__.get("file_roots", {}).get(saltenv, [])
    errors = encrypted_problems(pillar, __opts__.get("pillar_roots", {}).get(saltenv, []), gpg_keydir(__opts__))
    errors += validate(pillar.get("sparks", {}), load_schemas(roots), list_states(roots))
    # Salt refuses to run states while the pillar has _errors; returning them (rather than raising) keeps the
    # message free of a traceback.
    return {"_errors": [f"invalid pillar: {error}" for error in errors]} if errors else {}


def gpg_keydir(opts):
    """Where Salt's gpg renderer looks for the private keys (its own default when unset)."""
    default = os.path.join(opts.get("config_dir") or os.path.dirname(opts.get("conf_file") or ""), "gpgkeys")
    return opts.get("gpg_keydir") or default


def encrypted_problems(pillar, pillar_roots, keydir):
    """``<file>: <key>: cannot be decrypted ...`` for every value of ``pillar`` that is still a GPG message (the
    renderer could not decrypt it); the file is the pillar file holding that message, when one does."""
    problems = []
    for key, value in _strings(pillar):
        match = PGP_MESSAGE.search(value)
        if not match:
            continue
        where = _file_holding(match.group(), pillar_roots)
        problems.append(
            f"{where + ': ' if where else ''}{key}: cannot be decrypted with the keys in {keydir} "
            f"(encrypted for {recipients(match.group())})"
        )
    return problems


def _strings(value, path=""):
    """``(key path, string)`` for every string in ``value`` (``a:b:c``, ``a:list[0]``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if path or key != "_errors":
                yield from _strings(item, f"{path}:{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def _armor_body(message):
    """The packets of an ASCII-armored ``message`` (between its armor headers and its checksum line)."""
    lines = [line.strip() for line in message.strip().splitlines()[1:-1]]
    if "" in lines:  # armor headers (Version:, Comment:) end at the first empty line
        lines = lines[lines.index("") + 1 :]
    return base64.b64decode("".join(line for line in lines if line and not line.startswith("=")))


def recipients(message):
    """Whom a GPG ``message`` is encrypted for, from its leading session-key packets (RFC 4880 5.1, 5.3):
    ``key 0x<key ID>`` for each public key (the encryption subkey's ID, as ``gpg --list-secret-keys
    --keyid-format long`` shows it on its ``ssb`` line), ``a passphrase`` for ``gpg --symmetric``."""
    try:
        data = _armor_body(message)
    except (binascii.Error, ValueError):
        return "an unreadable message (damaged armor)"
    found, pos = [], 0
    while pos + 2 <= len(data) and data[pos] & 0x80:
        first = data[pos]
        if first & 0x40:  # new packet format: tag in 6 bits, then a one, two or five octet length
            tag, octet = first & 0x3F, data[pos + 1]
            if octet < 192:
                header, length = 2, octet
            elif octet < 224 and pos + 3 <= len(data):
                header, length = 3, ((octet - 192) << 8) + data[pos + 2] + 192
            elif octet == 255:
                header, length = 6, int.from_bytes(data[pos + 2 : pos + 6], "big")
            else:
                break  # a partial length: only the encrypted data packet after the session keys uses one
        else:  # old format: tag in 4 bits, the length's size in 2
            tag, size = (first >> 2) & 0x0F, first & 0x03
            if size == 3:
                break
            header = 1 + (1 << size)
            length = int.from_bytes(data[pos + 1 : pos + header], "big")
        body = data[pos + header : pos + header + length]
        if tag == 1 and len(body) >= 9 and body[0] == 3 and any(body[1:9]):
            found.append(f"key 0x{body[1:9].hex().upper()}")
        elif tag == 1 and len(body) >= 9 and body[0] == 3:
            found.append("a hidden key (gpg --throw-keyids)")
        elif tag == 1:
            found.append("a key of a newer packet version")
        elif tag == 3:
            found.append("a passphrase (gpg --symmetric: Salt decrypts with keys only)")
        else:
            break
        pos += header + length
    return ", ".join(found) or "no key (not an encrypted message)"


def _file_holding(message, pillar_roots):
    """The first pillar file under ``pillar_roots`` that holds ``message`` (by its longest armor line), or None."""
    needle = max((line.strip() for line in message.splitlines()), key=len)
    for root in pillar_roots:
        for directory, _, names in sorted(os.walk(root)):
            for name in sorted(names):
                if not name.endswith(".sls"):
                    continue
                path = os.path.join(directory, name)
                try:
                    with open(path, encoding="utf-8") as handle:
                        if needle in handle.read():
                            return path
                except (OSError, UnicodeDecodeError):
                    continue
    return None


def file_problems(roots, minion_id):
    """``invalid pillar: <file>: line L, column C: <problem>`` for each of this machine's pillar files (OWN_FILES)
    that is not YAML."""
    problems = []
    for root in roots:
        for name in OWN_FILES:
            path = os.path.join(root, name.format(id=str(minion_id).replace(".", "_")))
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError):
                continue  # missing (ignore_missing in top.sls), or Salt's to report
            shebang = text.startswith("#!") and text.split("\n", 1)[0].strip()
            if re.search(r"\{[{%#]", text) or (shebang and not PLAIN_YAML_SHEBANG.fullmatch(shebang)):
                continue
            problem = yaml_problem(text)
            if not problem and PGP_BEGIN in text and not shutil.which("gpg"):
                # Salt's renderer drops the whole file then ("GPG unavailable"), so no value is left to name.
                problem = (
                    "holds GPG-encrypted values, and gpg is not installed here (Debian: apt install gpg gpg-agent)"
                )
            if problem:
                problems.append(f"invalid pillar: {path}: {problem}")
    return problems


def yaml_problem(text):
    """``line L, column C: problem`` when YAML refuses ``text``, else None; never any of the text itself."""
    try:
        yaml.load(text, Loader=SaltYamlSafeLoader)  # noqa: S506 (a safe loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or "invalid YAML"
        if exc.context:
            what += f" ({exc.context})"
        return f"line {mark.line + 1}, column {mark.column + 1}: {what}" if mark else what
    except yaml.YAMLError as exc:
        return f"invalid YAML ({type(exc).__name__})"
    return None


def load_schemas(roots):
    """Map each formula name to its schema, reading ``<root>/<formula>/parameters/schema.yaml``."""
    schemas = {}
    for root in roots:
        if not os.path.isdir(root):
            continue
        for name in sorted(os.listdir(root)):
            path = os.path.join(root, name, SCHEMA_FILE)
            if name not in schemas and os.path.isfile(path):
                with open(path, encoding="utf-8") as handle:
                    schemas[name] = _expand(yaml.safe_load(handle) or {}, roots, name)
    return schemas


def _expand(schema, roots, where):
    """``schema`` with every ``_include`` replaced by its fragments' keys (a schema bug raises ValueError)."""
    if isinstance(schema, list):
        return [_expand(item, roots, where) for item in schema]
    if not isinstance(schema, dict):
        return schema
    expanded = {}
    for name in schema.get(INCLUDE_KEY) or []:
        expanded.update(_fragment(roots, name, where))
    for key, value in schema.items():
        if key == INCLUDE_KEY:
            continue
        if key in expanded:
            raise ValueError(f"{where}:{key}: in the schema and in an included fragment too")
        expanded[key] = _expand(value, roots, f"{where}:{key}")
    return expanded


def _fragment(roots, name, where):
    for root in roots:
        path = os.path.join(root, FRAGMENT_DIR, f"{name}.yaml")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                return _expand(yaml.safe_load(handle) or {}, roots, where)
    raise ValueError(f"{where}: {INCLUDE_KEY} names {name!r}, but there is no {FRAGMENT_DIR}/{name}.yaml")


def list_states(roots):
    """Names a role may take: every state directory (``<name>/init.sls``) and file (``<name>.sls``)."""
    names = set()
    for root in roots:
        if not os.path.isdir(root):
            continue
        for entry in os.listdir(root):
            if entry.endswith(".sls") and entry != "top.sls":
                names.add(entry[: -len(".sls")])
            elif os.path.isfile(os.path.join(root, entry, "init.sls")):
                names.add(entry)
    return names


def validate(data, formula_schemas, states=()):
    """Return a list of "key: reason" strings for everything wrong in the ``sparks`` pillar ``data``.

    ``states`` are the state names a role may take; when empty, roles are not checked against them.
    """
    if data is None:
        return []
    schema = dict(TOP_LEVEL_KEYS)
    schema.update(formula_schemas)
    errors = []
    _check(data, schema, "sparks", errors)
    roles = data.get("roles") if isinstance(data, dict) else None
    if isinstance(roles, list):
        for role in roles:
            if isinstance(role, str) and states and role not in states:
                errors.append(f"sparks:roles: unknown role {role!r} (known: {', '.join(sorted(states))})")
    return errors


def secret_leaf(schema):
    """``(inner schema, True)`` for a ``{type: ..., secret: true}`` declaration, else ``(schema, False)``."""
    if isinstance(schema, dict) and "type" in schema and set(schema) <= {"type", "secret"}:
        return schema["type"], bool(schema.get("secret"))
    return schema, False


def secret_paths(schema, path="sparks"):
    """Every declared secret's key path in ``schema`` (``sparks:db_postgres:roles:*:password``; ``[]`` marks a
    list's items)."""
    schema, secret = secret_leaf(schema)
    if secret:
        return [path]
    if isinstance(schema, dict):
        return [found for key, sub in schema.items() for found in secret_paths(sub, f"{path}:{key}")]
    if isinstance(schema, list) and schema:
        return secret_paths(schema[0], f"{path}[]")
    return []


def _check(value, schema, path, errors, secret=False):
    schema, declared = secret_leaf(schema)
    secret = secret or declared
    if isinstance(schema, dict):
        _check_mapping(value, schema, path, errors, secret)
    elif isinstance(schema, list):
        _check_list(value, schema[0] if schema else "any", path, errors, secret)
    else:
        _check_named(value, str(schema).strip(), path, errors, secret)


def _check_mapping(value, schema, path, errors, secret):
    if value is None:
        return
    if not isinstance(value, dict):
        errors.append(f"{path}: expected a mapping, got {_describe(value, secret)}")
        return
    for key, item in value.items():
        if key in schema and key != "*":
            _check(item, schema[key], f"{path}:{key}", errors, secret)
        elif "*" in schema:
            _check(item, schema["*"], f"{path}:{key}", errors, secret)
        else:
            known = ", ".join(sorted(str(k) for k in schema)) or "none"
            errors.append(f"{path}:{key}: unknown key (known keys: {known})")


def _check_list(value, item_schema, path, errors, secret):
    if not isinstance(value, list):
        errors.append(f"{path}: expected a list, got {_describe(value, secret)}")
        return
    for index, item in enumerate(value):
        _check(item, item_schema, f"{path}[{index}]", errors, secret)


def _check_named(value, type_name, path, errors, secret):
    if type_name.endswith("?"):
        if value is None:
            return
        type_name = type_name[:-1]
    if type_name == "any":
        return
    if type_name == "env":
        errors.extend(_env_problems(value, path))
        return
    if type_name in VALUE_TYPES:
        problem = VALUE_TYPES[type_name](value)
        if problem:
            errors.append(f"{path}: {problem}, got {_describe(value, secret or type_name in UNSHOWN_VALUE_TYPES)}")
        return
    list_match = re.fullmatch(r"list\[(.+)\]", type_name)
    if list_match:
        _check_list(value, list_match.group(1), path, errors, secret)
        return
    enum_match = re.fullmatch(r"enum\[(.+)\]", type_name)
    if enum_match:
        choices = [choice.strip() for choice in enum_match.group(1).split(",")]
        if value not in choices:
            errors.append(f"{path}: expected one of {', '.join(choices)}, got {_describe(value, secret)}")
        return
    if type_name not in SCALAR_TYPES:
        errors.append(f"{path}: schema error, unknown type {type_name!r}")
        return
    expected = SCALAR_TYPES[type_name]
    # bool is a subclass of int: a yes/no where a number belongs is a mistake worth naming.
    if isinstance(value, bool) and bool not in expected:
        ok = False
    else:
        ok = isinstance(value, expected)
    if not ok:
        errors.append(f"{path}: expected {TYPE_WORDS[expected[-1]]}, got {_describe(value, secret)}")


def _port_problem(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return "expected a port number (1-65535)"
    return None


def _cidr_problem(value):
    try:
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        return "expected an IP address or network (10.0.0.5, 192.168.0.0/16, 2001:db8::/32)"
    return None


def _url_problem(value):
    if not isinstance(value, str):
        return "expected a URL"
    if re.search(r"://[^/@]*:[^/@]*@", value):
        # A URL is passed around as plain settings (state arguments, template context): a password in it would
        # show in state output and the job cache. The formulas take passwords from their secret keys instead.
        return "expected a URL without a password (it would show in state output; see the key's documentation)"
    return None


# Variable names whose values are secrets (the same words sparks_django masks in what it shows).
SECRET_NAME = re.compile(r"pass|secret|token|key|credential|private|auth|dsn|salt", re.IGNORECASE)


def _env_problems(value, path):
    """A mapping of environment variables that are not secret: a secret there would be a state argument (state
    output, job cache). Names that look secret, and URLs holding a password, belong under the secret key beside
    it (``secrets``)."""
    if not isinstance(value, dict):
        return [f"{path}: expected a mapping, got {_describe(value)}"]
    problems = []
    for name, item in value.items():
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            problems.append(f"{path}:{name}: expected a string, got {_describe(item)}")
        elif SECRET_NAME.search(str(name)):
            problems.append(
                f"{path}:{name}: its name says secret: put it under secrets (env values show in state output)"
            )
        elif _url_problem(str(item)) and "://" in str(item):
            problems.append(
                f"{path}:{name}: a URL with a password: put it under secrets (env values show in state output)"
            )
    return problems


# Types whose values are checked beyond their Python type: each returns what was expected, or None.
VALUE_TYPES = {"port": _port_problem, "cidr": _cidr_problem, "url": _url_problem}
# Types whose refused values are not shown: what makes them wrong may be a password.
UNSHOWN_VALUE_TYPES = {"url"}


def _describe(value, secret=False):
    """What ``value`` is, for a message: its type, and its value unless it is (part of) a declared secret."""
    word = TYPE_WORDS.get(type(value), type(value).__name__)
    if secret:
        return f"{word} (a secret: not shown)"
    if isinstance(value, str) and PGP_BEGIN in value:
        return f"{word} (GPG-encrypted, not decrypted: not shown)"
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        shown = repr(value)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        return f"{word} ({shown})"
    return word
