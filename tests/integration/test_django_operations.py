"""What the `django` formula offers besides deploys, proven on one Debian 13 target through salt-ssh: flower, the
data actions (`django.getdata`, then `django.putdata` into another environment's database), a site that `nginx -t`
refuses, and `django.clean`.

The project is `shop` from pillar.example (production on Django 6, `shop-test` on the LTS, both at v1), with
flower enabled and installed as an extra requirement, as a user adds it, and Redis asking for a password. The
tests run in order and share the target.
"""

import json

import pytest

from tests.support.converge import why
from tests.support.django_projects import SHOP_REPO, make_shop_repository, shop_pillar
from tests.support.http import get

pytestmark = [pytest.mark.integration, pytest.mark.platforms("debian13")]

SLS = "db_postgres,db_redis,django"
PROD_ROOT = "/srv/django/shop/production"
TEST_ROOT = "/srv/django/shop/test"
FLOWER = {"enabled": True, "address": "127.0.0.1", "port": 5555}
MARK = "ROWS="


REDIS_PASSWORD = "ops-redis/pa55:w0rd@x"  # URL-special characters: the env file's REDIS_URL must quote them


def pillar(body_size=None):
    data = shop_pillar(requirements=["requirements-django6.txt"], extra_requirements=["flower==2.0.1"], flower=FLOWER)
    # Redis with a password, as production has: celery and flower reach it through the env file's REDIS_URL.
    data["sparks"]["db_redis"]["settings"] = {"requirepass": REDIS_PASSWORD}
    if body_size is not None:
        data["sparks"]["django"]["projects"]["shop"]["web"]["client_max_body_size"] = body_size
    return data


def rows(target, root):
    """The greetings in the database of the project at ``root``, read by its current release as its user."""
    code = (
        f"from greetings.models import Greeting\nprint({MARK!r} + repr(sorted(Greeting.objects.values_list('text'))))\n"
    )
    ran = target.run(
        f"runuser -u shop -- sh -c 'set -a; . {root}/.env; set +a; cd {root}/current/src && "
        "../venv/bin/python manage.py shell'",
        input=code,
        timeout=120,
        check=True,
    )
    return [line for line in ran.stdout.splitlines() if line.startswith(MARK)][-1][len(MARK) :]


@pytest.fixture(scope="module")
def shop(target_run, salt_ssh):
    (target,) = target_run.boot("ops1", platform="debian13")
    make_shop_repository(target.root / SHOP_REPO.lstrip("/"))
    salt_ssh.set_pillar(pillar())
    first = salt_ssh.run(target.name, "state.apply", SLS)
    assert first.returncode == 0, why(first, target)
    yield target
    salt_ssh.set_pillar({})
    target_run.shutdown(target)


def test_flower_answers(shop):
    probe = (
        "import time, urllib.request\n"
        "for _ in range(60):\n"
        "    try:\n"
        "        print(urllib.request.urlopen('http://127.0.0.1:5555/', timeout=5).status); break\n"
        "    except OSError:\n"
        "        time.sleep(0.5)\n"
    )
    ret = shop.run("python3 -", input=probe, timeout=90)
    journal = shop.run("journalctl -u django-shop-production-flower -n 30 --no-pager").stdout
    assert ret.stdout.strip() == "200", ret.stdout + ret.stderr + journal


def test_celery_reaches_redis_with_its_password(shop):
    ping = shop.run(
        f"runuser -u shop -- sh -c 'set -a; . {PROD_ROOT}/.env; set +a; cd {PROD_ROOT}/current/src && "
        "../venv/bin/python -m celery -A shop inspect ping --timeout 10'",
        timeout=120,
    )
    assert ping.returncode == 0 and "pong" in ping.stdout, ping.stdout + ping.stderr
    assert shop.run(f"grep -c '^REDIS_URL=\"redis://:' {PROD_ROOT}/.env").stdout.strip() == "1"


def test_getdata_then_putdata_into_another_database_gives_the_same_rows(shop, salt_ssh):
    code = "from greetings.models import Greeting\nGreeting.objects.create(text='only-in-production')\n"
    shop.run(
        f"runuser -u shop -- sh -c 'set -a; . {PROD_ROOT}/.env; set +a; cd {PROD_ROOT}/current/src && "
        "../venv/bin/python manage.py shell'",
        input=code,
        check=True,
    )
    assert rows(shop, TEST_ROOT) != rows(shop, PROD_ROOT)
    dumped = salt_ssh.run(shop.name, "state.apply", "django.getdata", pillar={"django_data": {"projects": ["shop"]}})
    assert dumped.returncode == 0, why(dumped, shop)
    fixture = f"{PROD_ROOT}/shared/fixtures/shop-production.json"
    assert shop.run(f"stat -c '%U %a' {fixture}", check=True).stdout.split() == ["shop", "600"]
    dumped_rows = [
        d["fields"].get("text") for d in json.loads(shop.read(fixture)) if d["model"] == "greetings.greeting"
    ]
    assert "only-in-production" in dumped_rows
    loaded = salt_ssh.run(
        shop.name,
        "state.apply",
        "django.putdata",
        pillar={"django_data": {"projects": ["shop-test"], "source": fixture}},
    )
    assert loaded.returncode == 0, why(loaded, shop)
    assert rows(shop, TEST_ROOT) == rows(shop, PROD_ROOT)


def test_a_site_nginx_refuses_leaves_the_old_site_serving(shop, salt_ssh):
    site = "/etc/nginx/sites-available/django-shop-production"
    before = shop.read(site)
    salt_ssh.set_pillar(pillar(body_size="ten megabytes"))
    refused = salt_ssh.run(shop.name, "state.apply", SLS)
    assert refused.returncode != 0
    failed = refused.failed(shop.name)
    assert "django-shop-nginx-site-file-managed" in failed, sorted(failed)
    assert "client_max_body_size" in failed["django-shop-nginx-site-file-managed"]["comment"]
    assert shop.read(site) == before
    assert get(shop)[0] == 200
    salt_ssh.set_pillar(pillar())


def test_clean_removes_what_the_formula_made_and_keeps_the_data(shop, salt_ssh):
    cleaned = salt_ssh.run(shop.name, "state.apply", "django.clean")
    assert cleaned.returncode == 0, why(cleaned, shop)
    for path in (
        PROD_ROOT,
        TEST_ROOT,
        "/etc/systemd/system/django-shop-production-web.service",
        "/etc/systemd/system/django-shop-production-flower.service",
        "/etc/nginx/sites-enabled/django-shop-production",
    ):
        assert shop.run(f"test -e {path}").returncode == 1, path
    assert shop.run("systemctl is-active django-shop-production-web").stdout.strip() != "active"
    # The databases and the snapshots stay: clean undoes the deploy, not the data.
    databases = shop.run("runuser -u postgres -- psql -Atc 'SELECT datname FROM pg_database'", check=True).stdout
    assert {"shop", "shop_test"} <= set(databases.split())
    assert shop.run("test -d /var/backups/sparks-django/shop/production").returncode == 0
    again = salt_ssh.run(shop.name, "state.apply", "django.clean")
    assert again.returncode == 0 and again.changed(shop.name) == {}, why(again, shop)
