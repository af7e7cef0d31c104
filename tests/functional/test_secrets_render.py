"""No declared secret reaches a rendered state: every formula rendered by a real salt-call with pillar.example.

A secret is declared once, `secret: true` in its formula's parameters/schema.yaml (tests/unit/test_pillar_schema.py
checks that every key named like one is). The map helper leaves declared secrets out of what formulas get, and the
templates that need one read it from pillar on the target: so no state argument and no template `context:` holds a
secret, and neither does the job cache or the state files salt-ssh copies to the target. This renders every role
with the example pillar (plus the secrets the example only shows as comments) and looks for each secret's value.
"""

import json

import yaml

from tests.support.loadmod import load
from tests.support.render import LINUX, show_sls
from tests.support.saltrun import REPO_ROOT

sparks_pillar = load("_pillar", "sparks")
FORMULAS = REPO_ROOT / "formulas"
SECRET_PATHS = sparks_pillar.secret_paths(sparks_pillar.load_schemas([str(FORMULAS)]))
ROLES = sorted(path.parent.name for path in FORMULAS.glob("*/init.sls"))


def example_pillar():
    data = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())
    sparks = data["sparks"]
    # What the example leaves commented out, or needs to render at all.
    sparks["db_redis"]["settings"] = {"requirepass": "example-redis-pa55", "masterauth": "example-redis-master-pa55"}
    sparks["salt_minion"] = {"master": "192.0.2.1"}
    return data


def values_at(data, path):
    """The values at ``path`` (``sparks:a:*:b``, ``[]`` for a list's items) in ``data``."""
    found = [data]
    for segment in path.split(":"):
        items = segment.endswith("[]")
        segment = segment.removesuffix("[]")
        found = [
            value
            for node in found
            if isinstance(node, dict)
            for key, value in node.items()
            if segment == "*" or key == segment
        ]
        if items:
            found = [item for node in found if isinstance(node, list) for item in node]
    return found


def leaves(value):
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [str(value)] if value not in (None, "") else []


def test_no_declared_secret_is_in_any_rendered_state(tmp_path):
    pillar = example_pillar()
    secrets = {path: [leaf for value in values_at(pillar, path) for leaf in leaves(value)] for path in SECRET_PATHS}
    assert all(secrets.values()), f"give each declared secret an example value: {secrets}"
    states = show_sls(tmp_path, ",".join([*ROLES, "backup.restore"]), LINUX["Debian-12"], pillar)
    assert {"db-redis-config-settings-file-managed", "backup-profile-ssh-key-managed"} <= set(states)
    rendered = json.dumps(states)
    shown = {path: [v for v in values if v.strip() in rendered] for path, values in secrets.items()}
    assert {path: values for path, values in shown.items() if values} == {}
    # The states that write secrets never show their changes (a changed secret shows that it changed, no more).
    writers = ["db-redis-config-settings-file-managed", "backup-profile-conf-managed", "backup-profile-ssh-key-managed"]
    writers += [sid for sid in states if sid.startswith("django-") and sid.endswith("-env-file-managed")]
    for sid in writers:
        assert {"show_changes": False} in states[sid]["file"], sid
