"""The pillar checker (salt/_pillar/sparks.py) in isolation: no Salt run, no root."""

import re

import pytest
import yaml

from tests.support.loadmod import load
from tests.support.saltrun import REPO_ROOT

sparks_pillar = load("_pillar", "sparks")

FORMULAS = REPO_ROOT / "formulas"
SCHEMAS = sparks_pillar.load_schemas([str(FORMULAS)])
STATES = sparks_pillar.list_states([str(FORMULAS)])


def check(data, schema):
    return sparks_pillar.validate(data, {"f": schema})


@pytest.mark.parametrize(
    "schema, value, error",
    [
        ("str", 3, "sparks:f:k: expected a string, got an integer (3)"),
        ("int", True, "sparks:f:k: expected an integer, got a boolean"),
        ("bool", "yes", "sparks:f:k: expected a boolean, got a string ('yes')"),
        ("list[str]", "a b", "sparks:f:k: expected a list, got a string ('a b')"),
        ("list[str]", ["a", 1], "sparks:f:k[1]: expected a string, got an integer (1)"),
        ("enum[test,production]", "prod", "sparks:f:k: expected one of test, production, got a string ('prod')"),
        ({"x": "int"}, ["x"], "sparks:f:k: expected a mapping, got a list"),
        ({"*": {"owner": "str"}}, {"db1": {"owner": 5}}, "sparks:f:k:db1:owner: expected a string, got an integer (5)"),
        ([{"name": "str"}], [{"name": "a"}, {"nam": "b"}], "sparks:f:k[1]:nam: unknown key (known keys: name)"),
        ("port", 70000, "sparks:f:k: expected a port number (1-65535), got an integer (70000)"),
        ("port", "22", "sparks:f:k: expected a port number (1-65535), got a string ('22')"),
        (
            "env",
            {"DJANGO_ALLOWED_HOSTS": "*", "SENTRY_DSN": "https://k@sentry.example.org/1"},
            "sparks:f:k:SENTRY_DSN: its name says secret: put it under secrets (env values show in state output)",
        ),
        (
            "env",
            {"CACHE_URL": "redis://:Hunter2-pw@127.0.0.1:6379/1"},
            "sparks:f:k:CACHE_URL: a URL with a password: put it under secrets (env values show in state output)",
        ),
        (
            "url",
            "redis://:Hunter2-pw@127.0.0.1:6379/0",
            "sparks:f:k: expected a URL without a password (it would show in state output; see the key's "
            "documentation), got a string (a secret: not shown)",
        ),
        (
            "list[cidr]",
            ["10.0.0.0/8", "db1.example.org"],
            "sparks:f:k[1]: expected an IP address or network (10.0.0.5, 192.168.0.0/16, 2001:db8::/32), "
            "got a string ('db1.example.org')",
        ),
        (
            "cidr",
            "10.0.0.0/33",
            "sparks:f:k: expected an IP address or network (10.0.0.5, 192.168.0.0/16, "
            "2001:db8::/32), got a string ('10.0.0.0/33')",
        ),
    ],
)
def test_each_bad_value_is_named_with_its_key_and_reason(schema, value, error):
    assert check({"f": {"k": value}}, {"k": schema}) == [error]


def test_long_values_are_shortened_in_messages():
    (error,) = check({"f": {"k": "x" * 10_000}}, {"k": "int"})
    assert error == "sparks:f:k: expected an integer, got a string ('" + "x" * 36 + "...)"


def test_good_values_pass():
    schema = {"a": "str?", "b": "float", "c": "any", "d": {"*": "list[int]"}, "e": "list[cidr]", "p": "port"}
    data = {"a": None, "b": 1, "c": [{}], "d": {"x": [1, 2]}, "e": ["10.0.0.1", "192.168.0.0/16", "::1"], "p": 22}
    assert check({"f": data}, schema) == []


def test_unknown_formula_and_role_are_rejected():
    errors = sparks_pillar.validate({"nosuch": {}, "roles": ["base", "nope"]}, SCHEMAS, STATES)
    assert errors[0].startswith("sparks:nosuch: unknown key (known keys:")
    assert errors[1].startswith("sparks:roles: unknown role 'nope' (known: ")


def test_every_formula_default_is_valid_pillar():
    """A formula's defaults.yaml must itself pass its schema, or the schema documents the wrong thing."""
    assert SCHEMAS, "no schema found"
    for name in SCHEMAS:
        defaults = yaml.safe_load((FORMULAS / name / "parameters/defaults.yaml").read_text())
        assert sparks_pillar.validate({name: defaults}, SCHEMAS, STATES) == [], name


def test_embedded_default_pillar_is_valid():
    data = yaml.safe_load((REPO_ROOT / "pillar/sparks.sls").read_text())
    assert sparks_pillar.validate(data["sparks"], SCHEMAS, STATES) == []


def test_included_fragment_keys_are_checked_with_their_full_key():
    """Package options come from sparks_lib/schemas/packages.yaml (`_include`), in every formula that installs."""
    fragment = yaml.safe_load((FORMULAS / "sparks_lib/schemas/packages.yaml").read_text())
    for formula, schema in SCHEMAS.items():
        assert "_include" not in schema, formula
    errors = sparks_pillar.validate({"base": {"install_recommends": "yes", "package_index_max_age": "6h"}}, SCHEMAS)
    assert errors == [
        "sparks:base:install_recommends: expected a boolean, got a string ('yes')",
        "sparks:base:package_index_max_age: expected an integer, got a string ('6h')",
    ]
    for formula in ("base", "db_redis", "dev_mini", "firewall", "lxc"):
        assert set(fragment) <= set(SCHEMAS[formula]), formula


def test_a_fragment_that_is_missing_or_clashes_is_a_schema_bug(tmp_path):
    (tmp_path / "f/parameters").mkdir(parents=True)
    (tmp_path / "sparks_lib/schemas").mkdir(parents=True)
    (tmp_path / "sparks_lib/schemas/packages.yaml").write_text("install_recommends: bool\n")
    (tmp_path / "f/parameters/schema.yaml").write_text("_include: [nope]\n")
    with pytest.raises(ValueError, match="f: _include names 'nope'"):
        sparks_pillar.load_schemas([str(tmp_path)])
    (tmp_path / "f/parameters/schema.yaml").write_text("_include: [packages]\ninstall_recommends: str\n")
    with pytest.raises(ValueError, match="f:install_recommends: in the schema and in an included fragment too"):
        sparks_pillar.load_schemas([str(tmp_path)])


def test_every_package_state_is_the_shared_macro():
    """One package stanza: pkg.installed is written out only in sparks_lib/packages.jinja."""
    writers = sorted(
        str(path.relative_to(FORMULAS)) for path in FORMULAS.rglob("*.sls") if "pkg.installed:" in path.read_text()
    )
    assert writers == []
    assert "pkg.installed:" in (FORMULAS / "sparks_lib/packages.jinja").read_text()


SECRET = {"type": "str", "secret": True}


def test_a_secret_is_checked_like_its_type_and_never_shown():
    assert check({"f": {"k": "s3cret"}}, {"k": SECRET}) == []
    assert check({"f": {"k": 12345}}, {"k": SECRET}) == [
        "sparks:f:k: expected a string, got an integer (a secret: not shown)"
    ]
    # A declared mapping of secrets: what is inside is hidden too, the key path is still named.
    secrets = {"type": {"*": "str"}, "secret": True}
    (error,) = check({"f": {"s": {"API_TOKEN": 98765}}}, {"s": secrets})
    assert error == "sparks:f:s:API_TOKEN: expected a string, got an integer (a secret: not shown)"
    assert "98765" not in error


def test_named_keys_beside_a_wildcard_keep_their_own_schema():
    schema = {"settings": {"requirepass": SECRET, "*": "any"}}
    assert check({"f": {"settings": {"requirepass": "x", "databases": 16}}}, schema) == []
    assert check({"f": {"settings": {"requirepass": ["x"]}}}, schema) == [
        "sparks:f:settings:requirepass: expected a string, got a list (a secret: not shown)"
    ]


def test_secret_paths_lists_every_declaration():
    schema = {"a": SECRET, "b": {"*": {"password": SECRET, "login": "bool"}}, "c": [{"token": SECRET}], "d": "str"}
    assert sparks_pillar.secret_paths(schema) == ["sparks:a", "sparks:b:*:password", "sparks:c[]:token"]


# Keys whose names look like a secret's but hold none, each with the reason.
NOT_SECRET = {
    # Public halves: authorized_keys lines are meant to be copied to other machines.
    "sparks:accounts:users:*:ssh_keys": "public SSH keys (authorized_keys lines)",
    "sparks:accounts:user_defaults:ssh_keys": "public SSH keys (authorized_keys lines)",
    "sparks:lxc:authorized_keys": "public SSH keys put into every guest",
    "sparks:accounts:sshd:password_authentication": "a yes/no switch of sshd, not a password",
    "sparks:django:projects:*:web:tls:key": "the path of the TLS key file on the machine, not the key",
    # The vendor's public repository signing key: where it is fetched from, kept, its hash, or its text.
    "sparks:db_mongodb:repo:key_url": "the URL of a public signing key",
    "sparks:db_mongodb:repo:key_file": "where the public signing key is kept",
    "sparks:db_mongodb:repo:key_hash": "the sha256 of a public signing key",
    "sparks:db_mongodb:repo:key_text": "a public signing key (armored)",
}
LOOKS_SECRET = re.compile(r"password|passphrase|secret|token|key", re.IGNORECASE)


def schema_keys(schema, path="sparks"):
    """Every (key path, schema) in ``schema``, declarations unwrapped; list items continue the path."""
    schema, _ = sparks_pillar.secret_leaf(schema)
    if isinstance(schema, list) and schema:
        yield from schema_keys(schema[0], path)
    elif isinstance(schema, dict):
        for key, sub in schema.items():
            yield f"{path}:{key}", sub
            yield from schema_keys(sub, f"{path}:{key}")


def test_every_key_named_like_a_secret_is_declared_secret():
    declared = set(sparks_pillar.secret_paths(SCHEMAS))
    undeclared = sorted(
        path
        for path, _ in schema_keys(SCHEMAS)
        if LOOKS_SECRET.search(path.rsplit(":", 1)[1])
        and path not in declared
        and not any(path.startswith(secret + ":") for secret in declared)
        and path not in NOT_SECRET
    )
    assert undeclared == [], "declare them `secret: true`, or list them in NOT_SECRET with the reason"
    assert set(NOT_SECRET) <= {path for path, _ in schema_keys(SCHEMAS)}, "an exception names no key"


def test_the_secrets_the_formulas_accept_are_declared():
    assert set(sparks_pillar.secret_paths(SCHEMAS)) == {
        "sparks:backup:ssh_key",
        "sparks:backup:passphrase",
        "sparks:db_postgres:roles:*:password",
        "sparks:db_redis:settings:requirepass",
        "sparks:db_redis:settings:masterauth",
        "sparks:django:projects:*:secrets",
    }
