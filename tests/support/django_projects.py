"""
Test support for the sparks_django functional tests: a tiny real Django project written to disk, a
local git repository of three versions of it, and cached virtualenvs per Django version.

Virtualenvs and wheels are cached under <cache root>/test-venvs (tests/support/cache.py: $SPARKS_CACHE_DIR),
keyed by Python and Django version, so a warm run needs no network.
"""

import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys

from tests.support.cache import cache_dir, cached_entry
from tests.support.saltrun import example_pillar


CACHE_ROOT = cache_dir("test-venvs")  # Django wheelhouses and venvs, keyed by Python and Django version
BASE_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# Django lines the suite runs against: the oldest supported LTS and the newest release that installs
# on this Python (Django 6 needs Python >= 3.12; on Debian 12's 3.11 "latest" resolves to 5.2.x).
_KNOWN_SPECS = {
    "4.2": "Django>=4.2,<4.3",
    "5.2": "Django>=5.2,<5.3",
    "latest": "Django",
}
# On Python 3.11 "latest" is 5.2.x, so 5.2 is not run twice by default; SPARKS_TEST_DJANGO_LINES
# (e.g. "4.2,5.2,latest") chooses the lines where a newer Python makes them differ.
DJANGO_SPECS = {
    line: _KNOWN_SPECS[line]
    for line in os.environ.get("SPARKS_TEST_DJANGO_LINES", "4.2,latest").split(",")
    if line in _KNOWN_SPECS
}
OLDEST_LINE = next(iter(DJANGO_SPECS))
NEWEST_LINE = list(DJANGO_SPECS)[-1]

SUPERUSER_PASSWORD = "S3cret-Pa55word-never-shown"
SECRET_KEY_VALUE = "sparks-test-secret-key-value-that-must-stay-hidden"

GIT = [
    "git",
    "-c",
    "user.name=sparks tests",
    "-c",
    "user.email=tests@sparks.invalid",
    "-c",
    "init.defaultBranch=main",
    "-c",
    "commit.gpgsign=false",
]


def _slug(text):
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_") + "-" + hashlib.sha1(text.encode()).hexdigest()[:8]


def django_wheelhouse(label):
    """
    Directory of wheels holding Django for ``label`` and its dependencies; downloaded once from PyPI.
    Returns (wheelhouse, django_version).
    """
    spec = DJANGO_SPECS[label]
    pyver = f"py{sys.version_info.major}{sys.version_info.minor}"
    wheelhouse = cached_entry(CACHE_ROOT / "wheels" / f"{pyver}-{_slug(spec)}", lambda path: _download(path, spec))
    return wheelhouse, _django_version_in(wheelhouse)


def _download(wheelhouse, spec):
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:"]
    subprocess.run([*pip, "-d", str(wheelhouse), spec], check=True)


def _django_version_in(wheelhouse):
    versions = [wheel.name.split("-")[1] for wheel in wheelhouse.glob("[Dd]jango-*.whl")]
    return max(versions, key=lambda v: tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.]", v)))


def django_venv(label):
    """A virtualenv with Django ``label`` installed, cached by exact Django version. Returns (path, version)."""
    wheelhouse, version = django_wheelhouse(label)
    pyver = f"py{sys.version_info.major}{sys.version_info.minor}"
    venv = cached_entry(CACHE_ROOT / f"{pyver}-django-{version}", lambda path: _make_venv(path, wheelhouse, version))
    return venv, version


def _make_venv(venv, wheelhouse, version):
    subprocess.run([BASE_PYTHON, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-index", "--find-links", str(wheelhouse), f"Django=={version}"], check=True)


# --------------------------------------------------------------------------------------------------
# The demo project
# --------------------------------------------------------------------------------------------------

SETTINGS = """\
import os
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-only-for-tests")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "greetings",
]
MIDDLEWARE = []
ROOT_URLCONF = "sparkdemo.urls"
TEMPLATES = []
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SPARKDEMO_DB", str(BASE_DIR / "db.sqlite3")),
    }}
}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_I18N = True
LANGUAGE_CODE = "en"
STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("SPARKDEMO_STATIC_ROOT", str(BASE_DIR / "static_collected"))
SPARKDEMO_VERSION = "{version}"

# Lets a test keep the process alive long enough to be seen in the process list.
if os.environ.get("SPARKDEMO_SLOW_START"):
    time.sleep(float(os.environ["SPARKDEMO_SLOW_START"]))
"""

MANAGE_PY = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sparkdemo.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

URLS = """\
from django.urls import path

from greetings import views

urlpatterns = [path("", views.index)]
"""

VIEWS = """\
from django.conf import settings
from django.http import HttpResponse

from greetings.models import Greeting


def index(request):
    texts = ", ".join(greeting.text for greeting in Greeting.objects.all())
    return HttpResponse(f"{settings.SPARKDEMO_VERSION}: {texts}")
"""

MODELS_V1 = """\
from django.db import models


class Greeting(models.Model):
    text = models.CharField(max_length=100)
"""

MODELS_V2 = (
    MODELS_V1
    + """    language = models.CharField(max_length=8, default="en")
"""
)

MIGRATION_0001 = """\
from django.db import migrations, models


def add_hello(apps, schema_editor):
    apps.get_model("greetings", "Greeting").objects.create(text="hello")


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Greeting",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.CharField(max_length=100)),
            ],
        ),
        migrations.RunPython(add_hello, migrations.RunPython.noop),
    ]
"""

MIGRATION_0002 = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("greetings", "0001_initial")]
    operations = [
        migrations.AddField(
            model_name="greeting",
            name="language",
            field=models.CharField(default="en", max_length=8),
        ),
    ]
"""

MIGRATION_0003_BROKEN = """\
from django.db import migrations


def explode(apps, schema_editor):
    raise RuntimeError("sparkdemo v3 migration is broken on purpose")


class Migration(migrations.Migration):
    dependencies = [("greetings", "0002_greeting_language")]
    operations = [migrations.RunPython(explode, migrations.RunPython.noop)]
"""

PO_FILE = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: fr\\n"

msgid "Hello"
msgstr "Bonjour"
"""


def write_project(path, version="v1", django_version=None, with_locale=True):
    """Write the demo project (``version`` v1, v2 or the broken v3) under ``path``."""
    path = pathlib.Path(path)
    files = {
        "manage.py": MANAGE_PY,
        "requirements.txt": f"Django=={django_version}\n" if django_version else "Django\n",
        "sparkdemo/__init__.py": "",
        "sparkdemo/settings.py": SETTINGS.format(version=version),
        "sparkdemo/urls.py": URLS,
        "greetings/__init__.py": "",
        "greetings/models.py": MODELS_V1 if version == "v1" else MODELS_V2,
        "greetings/views.py": VIEWS,
        "greetings/migrations/__init__.py": "",
        "greetings/migrations/0001_initial.py": MIGRATION_0001,
        "greetings/static/greetings/site.css": f"/* sparkdemo {version} */\nbody {{ color: #333; }}\n",
        "greetings/static/greetings/logo.txt": "sparkdemo\n",
    }
    if version in ("v2", "v3"):
        files["greetings/migrations/0002_greeting_language.py"] = MIGRATION_0002
    if version == "v3":
        files["greetings/migrations/0003_broken.py"] = MIGRATION_0003_BROKEN
    if with_locale:
        files["greetings/locale/fr/LC_MESSAGES/django.po"] = PO_FILE
    for relative, content in files.items():
        target = path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    (path / ".gitignore").write_text("db.sqlite3\nstatic_collected/\n*.mo\n__pycache__/\n")
    return path


def make_git_repository(path, django_version, with_locale=True):
    """A git repository with tags v1, v2 and v3 (v3's migration fails). Returns the commits by tag."""
    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run([*GIT, "init", "--quiet", str(path)], check=True)
    commits = {}
    for version in ("v1", "v2", "v3"):
        write_project(path, version, django_version, with_locale=with_locale)
        subprocess.run([*GIT, "-C", str(path), "add", "-A"], check=True)
        subprocess.run([*GIT, "-C", str(path), "commit", "--quiet", "-m", f"sparkdemo {version}"], check=True)
        subprocess.run([*GIT, "-C", str(path), "tag", version], check=True)
        commits[version] = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()
    return commits


def gettext_available():
    return shutil.which("msgfmt") is not None


def django_minion_opts(salt_factories, repo_root):
    """Minion options loading this repository's _modules and _states."""
    factory = salt_factories.salt_minion_daemon(
        "sparks-django-functional",
        overrides={
            "file_client": "local",
            "module_dirs": [str(repo_root / "salt" / "_modules")],
            "states_dirs": [str(repo_root / "salt" / "_states")],
            "utils_dirs": [str(repo_root / "salt" / "_utils")],
            "features": {"enable_slsvars_fixes": True},
        },
    )
    return factory.config.copy()


REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------------
# The `shop` project deployed by the django formula on real targets (tests/integration/test_django_deploy.py):
# the greetings app above on PostgreSQL (DATABASE_URL), a celery task through Redis (REDIS_URL), a health view,
# served by gunicorn. Tags v1, v2 (a new migration) and v3 (its migration fails), like the demo repository.
# --------------------------------------------------------------------------------------------------

SHOP_DEPENDENCIES = """\
gunicorn>=22,<24
celery[redis]>=5.3,<6
psycopg[binary]>=3.1,<4
"""
# Two requirements files, one per Django line: `requirements.txt` (pillar.example's) holds the LTS, which runs
# on every supported Python; `requirements-django6.txt` the newest line, which needs Python >= 3.12 (Debian 13).
SHOP_REQUIREMENTS = {
    "requirements.txt": "Django>=5.2,<5.3\n" + SHOP_DEPENDENCIES,
    "requirements-django6.txt": "Django>=6.0,<7\n" + SHOP_DEPENDENCIES,
}

SHOP_SETTINGS = """\
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-only-for-tests")
DEBUG = False
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "*").split(",")
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "greetings",
]
MIDDLEWARE = []
ROOT_URLCONF = "shop.urls"
TEMPLATES = []
WSGI_APPLICATION = "shop.wsgi.application"
_db = urlsplit(os.environ.get("DATABASE_URL", ""))
if _db.scheme.startswith("postgres"):
    DATABASES = {{
        "default": {{
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _db.path.lstrip("/"),
            "USER": unquote(_db.username or ""),
            "PASSWORD": unquote(_db.password or ""),
            "HOST": _db.hostname or "",
            "PORT": _db.port or "",
        }}
    }}
else:
    DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE_DIR / "db.sqlite3")}}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_I18N = True
LANGUAGE_CODE = "en"
STATIC_URL = "/static/"
STATIC_ROOT = str(BASE_DIR / "static")
MEDIA_URL = "/media/"
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media"))
CELERY_BROKER_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
SHOP_VERSION = "{version}"
"""

SHOP_CELERY = """\
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
"""

SHOP_WSGI = """\
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
application = get_wsgi_application()
"""

SHOP_URLS = """\
from django.urls import path

from greetings import views

urlpatterns = [path("", views.index), path("health/", views.health)]
"""

SHOP_VIEWS = """\
from django.conf import settings
from django.http import HttpResponse

from greetings.models import Greeting


def index(request):
    texts = ", ".join(greeting.text for greeting in Greeting.objects.order_by("id"))
    return HttpResponse(f"shop {settings.SHOP_VERSION}: {texts}")


def health(request):
    Greeting.objects.exists()
    return HttpResponse("ok")
"""

SHOP_TASKS = """\
from celery import shared_task

from greetings.models import Greeting


@shared_task
def add_greeting(text):
    return Greeting.objects.create(text=text).pk
"""


def write_shop_project(path, version="v1"):
    """Write the `shop` project (``version`` v1, v2 or the broken v3) under ``path``."""
    path = pathlib.Path(path)
    files = {
        "manage.py": MANAGE_PY.replace("sparkdemo.settings", "shop.settings"),
        **SHOP_REQUIREMENTS,
        "requirements-dev.txt": "# development tools (installed outside production)\n",
        "shop/__init__.py": 'from shop.celery import app as celery_app\n\n__all__ = ["celery_app"]\n',
        "shop/settings.py": SHOP_SETTINGS.format(version=version),
        "shop/celery.py": SHOP_CELERY,
        "shop/wsgi.py": SHOP_WSGI,
        "shop/urls.py": SHOP_URLS,
        "greetings/__init__.py": "",
        "greetings/models.py": MODELS_V1 if version == "v1" else MODELS_V2,
        "greetings/views.py": SHOP_VIEWS,
        "greetings/tasks.py": SHOP_TASKS,
        "greetings/migrations/__init__.py": "",
        "greetings/migrations/0001_initial.py": MIGRATION_0001,
        "greetings/static/greetings/site.css": f"/* shop {version} */\nbody {{ color: #333; }}\n",
        "greetings/locale/fr/LC_MESSAGES/django.po": PO_FILE,
    }
    if version in ("v2", "v3"):
        files["greetings/migrations/0002_greeting_language.py"] = MIGRATION_0002
    if version == "v3":
        files["greetings/migrations/0003_broken.py"] = MIGRATION_0003_BROKEN
    for relative, content in files.items():
        target = path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    (path / ".gitignore").write_text("/static/\n*.mo\n__pycache__/\n")
    return path


def make_shop_repository(path):
    """A git repository of `shop` with tags v1, v2 and v3 (v3's migration fails). Returns the commits by tag."""
    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run([*GIT, "init", "--quiet", str(path)], check=True)
    commits = {}
    for version in ("v1", "v2", "v3"):
        write_shop_project(path, version)
        subprocess.run([*GIT, "-C", str(path), "add", "-A"], check=True)
        subprocess.run([*GIT, "-C", str(path), "commit", "--quiet", "-m", f"shop {version}"], check=True)
        subprocess.run([*GIT, "-C", str(path), "tag", version], check=True)
        commits[version] = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()
    return commits


SHOP_REPO = "/srv/src/shop.git"  # where the integration tests and bench/deploy.py put the repository


def shop_pillar(prod_rev="v1", test_rev="v1", **prod_overrides):
    """pillar.example's db_postgres, db_redis and django sections; the source is the test's repository."""
    data = example_pillar("db_postgres", "db_redis", "django")
    projects = data["sparks"]["django"]["projects"]
    projects["shop"].update(source=SHOP_REPO, rev=prod_rev, **prod_overrides)
    projects["shop-test"].update(source=f"file://{SHOP_REPO}", rev=test_rev)
    return data
