"""Every `sparks:` pillar key our code reads or names is one the pillar checker knows (salt/_pillar/sparks.py).

A key missing from the schemas is refused as unknown before any state runs, so a module reading it could never
be configured: `sparks:pkg:pip_venvs` was documented and read by sparks_pkg, yet rejected. The sources under
salt/ and formulas/ are scanned for key paths written out: `"sparks:a:b"` literals, Jinja concatenations
(`"sparks:db_postgres:roles:" ~ name ~ ":password"`, a `*` for each computed part), paths named in comments
and docstrings, and `load_mapdata("<formula>")` (the map helper reads `sparks:<formula>`).
"""

import re

import pytest

from tests.support.loadmod import load
from tests.support.saltrun import REPO_ROOT

sparks_pillar = load("_pillar", "sparks")
SCHEMA = {**sparks_pillar.TOP_LEVEL_KEYS, **sparks_pillar.load_schemas([str(REPO_ROOT / "formulas")])}
GENERATED = {REPO_ROOT / "salt" / "_utils" / "pkgsearch_bundle.py"}
SOURCES = sorted(
    path
    for folder in ("salt", "formulas")
    for path in (REPO_ROOT / folder).rglob("*")
    if path.suffix in (".py", ".sls", ".jinja") and path.is_file() and path not in GENERATED
)
# A quoted path, optionally continued by Jinja concatenations: "sparks:a:" ~ expr ~ ":b" ...
CONCATENATED = re.compile(
    r"""(["'])(sparks:(?:[^"'\s{]|\{\{[^}]*\}\})*)\1((?:\s*~\s*[^~"'{}]+?\s*~\s*(["'])[^"']*\4)*)"""
)
PIECE = re.compile(r"""\s*~\s*[^~"'{}]+?\s*~\s*(["'])([^"']*)\1""")
BARE = re.compile(r"sparks:[A-Za-z0-9_:]+")
MAPDATA = re.compile(r"""load_mapdata\((["'])(\w+)\1\)""")


def key_paths(text):
    """Each sparks: key path in ``text`` as a list of segments ("*" where a segment is computed)."""
    found = []
    for match in CONCATENATED.finditer(text):
        path = match.group(2)
        for piece in PIECE.finditer(match.group(3)):
            path += "*" + piece.group(2)
        found.append(path)
    stripped = CONCATENATED.sub(" ", text)
    found += BARE.findall(stripped)
    found += [f"sparks:{name}" for _, name in MAPDATA.findall(text)]
    paths = []
    for path in found:
        path = re.sub(r"\{\{.*?\}\}", "*", path)  # "sparks:django:projects:{{ key }}:maintenance"
        segments = [segment for segment in path.split(":")[1:] if segment]
        if segments and segments[0] != "*":
            paths.append(segments)
    return paths


def resolve(segments, schema=None):
    """None when the schema knows this path, else why not."""
    schema = SCHEMA if schema is None else schema
    for depth, segment in enumerate(segments):
        where = "sparks:" + ":".join(segments[: depth + 1])
        schema, _ = sparks_pillar.secret_leaf(schema)
        if isinstance(schema, dict):
            if segment in schema:
                schema = schema[segment]
            elif "*" in schema or segment == "*":
                schema = schema.get("*", "any")
            else:
                return f"{where}: not in the schema (known: {', '.join(sorted(schema))})"
        elif isinstance(schema, list):  # a list's items: the path goes on inside one of them
            return resolve(segments[depth:], schema[0] if schema else "any") if schema else None
        elif schema == "any":
            return None
        else:
            return f"{where}: the schema says {schema!r}, which has no keys"
    return None


def test_the_scanner_finds_each_form():
    text = """salt["pillar.get"]("sparks:users", []) "sparks:db_postgres:roles:" ~ name ~ ":password"
    load_mapdata("db_redis") # pillar sparks:lxc:guests. "sparks:django:projects:{{ key }}:maintenance" "sparks:" ~ f"""
    assert key_paths(text) == [
        ["users"],
        ["db_postgres", "roles", "*", "password"],
        ["django", "projects", "*", "maintenance"],
        ["lxc", "guests"],
        ["db_redis"],
    ]
    assert resolve(["pkg", "pip_venvs"]) is None
    assert resolve(["pkg", "nope"]).startswith("sparks:pkg:nope: not in the schema")
    assert resolve(["users", "x"]) is not None


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_every_key_the_code_names_is_in_a_schema(source):
    problems = [resolve(path) for path in key_paths(source.read_text(encoding="utf-8"))]
    assert [problem for problem in problems if problem] == []


def test_the_scan_covers_what_the_modules_read():
    """The keys read from Python (where Salt 3008 masks pillar.get) are among those found."""
    found = {":".join(path) for source in SOURCES for path in key_paths(source.read_text(encoding="utf-8"))}
    assert {"pkg:pip_venvs", "lxc", "db_postgres:roles:*:password", "django:projects:*:secrets"} <= found
