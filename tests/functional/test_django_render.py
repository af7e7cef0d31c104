"""The `django` formula rendered by a real salt-call with pillar.example's sections (applied for real in
tests/integration/test_django_deploy.py): every state file renders, names carry project and environment, and no
secret reaches the rendered states (they are read from pillar by the env file's template on the machine).
"""

import yaml

from tests.support.render import LINUX, arg, show_sls
from tests.support.saltrun import REPO_ROOT

EXAMPLE = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())["sparks"]

PILLAR = {name: EXAMPLE[name] for name in ("db_postgres", "db_redis", "django")}
SECRETS = [EXAMPLE["db_postgres"]["roles"]["shop"]["password"]] + [
    value for project in EXAMPLE["django"]["projects"].values() for value in project.get("secrets", {}).values()
]


def test_every_django_state_renders_without_secrets(tmp_path):
    states = show_sls(
        tmp_path,
        "django,django.rollback,django.getdata,django.putdata,django.clean",
        LINUX["Debian-12"],
        {"sparks": PILLAR},
    )
    assert all(state_id.startswith("django-") for state_id in states)
    dump = yaml.safe_dump(states)
    for secret in SECRETS:
        assert secret not in dump
    assert (
        arg(states["django-shop-web-unit-file-managed"], "file", "name")
        == "/etc/systemd/system/django-shop-production-web.service"
    )
    assert (
        arg(states["django-shop-test-web-unit-file-managed"], "file", "name")
        == "/etc/systemd/system/django-shop-test-web.service"
    )
    assert (
        arg(states["django-shop-release-sparks-django-release-deployed"], "sparks_django", "name")
        == "/srv/django/shop/production"
    )
    # Production skips dev requirements; test installs them.
    assert arg(states["django-shop-release-sparks-django-release-deployed"], "sparks_django", "requirements") == [
        "requirements.txt"
    ]
    assert arg(states["django-shop-test-release-sparks-django-release-deployed"], "sparks_django", "requirements") == [
        "requirements.txt",
        "requirements-dev.txt",
    ]
    env = states["django-shop-env-file-managed"]
    assert arg(env, "file", "mode") == "0600" and arg(env, "file", "show_changes") is False
    assert (
        arg(states["django-shop-nginx-site-file-managed"], "file", "check_cmd") == "/usr/local/sbin/sparks-nginx-check"
    )
    # Exactly one beat per environment, and only where enabled.
    assert "django-shop-beat-unit-file-managed" in states and "django-shop-test-beat-unit-file-managed" not in states
