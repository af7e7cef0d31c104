"""
Test support for the Django tests: the demo projects (real files under tests/support/projects/) written to disk
or made into a local git repository of three releases, and cached virtualenvs per Django version.

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
# The demo projects, real files under tests/support/projects/ (see its README.md): `shop`, deployed by the django
# formula on real targets, and `sparkdemo`, the functional tests' smaller one made of shop's `greetings` app (its
# model, migration and translation) with settings and a view of its own. Each has releases v1, v2 (a new field
# and its migration) and v3 (a migration that fails).
# --------------------------------------------------------------------------------------------------

PROJECTS = pathlib.Path(__file__).resolve().parent / "projects"
SHOP = PROJECTS / "shop"
SPARKDEMO = PROJECTS / "sparkdemo"
VERSIONS = ("v1", "v2", "v3")
# What sparkdemo takes from shop; its own folder holds the rest.
SHARED_WITH_SPARKDEMO = (
    "manage.py",
    "greetings/__init__.py",
    "greetings/models.py",
    "greetings/migrations/__init__.py",
    "greetings/migrations/0001_initial.py",
)
SHARED_LOCALE = "greetings/locale"


def _release(path, package, version):
    """Turn the v1 tree at ``path`` into release ``version``: each later release's files (projects/releases/<v>/)
    are copied over it, and the version its settings and stylesheet show is ``version``."""
    for later in VERSIONS[1 : VERSIONS.index(version) + 1]:
        shutil.copytree(PROJECTS / "releases" / later, path, dirs_exist_ok=True)
    for relative in (f"{package}/settings.py", "greetings/static/greetings/site.css"):
        file = path / relative
        assert file.read_text().count("v1") == 1, f"{file}: the version to replace is not there once"
        file.write_text(file.read_text().replace("v1", version))


def _copy(source, path):
    shutil.copytree(source, path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))


def write_project(path, version="v1", django_version=None, with_locale=True):
    """Write the sparkdemo project (``version`` v1, v2 or the broken v3) under ``path``."""
    path = pathlib.Path(path)
    for relative in SHARED_WITH_SPARKDEMO:
        (path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHOP / relative, path / relative)
    manage = path / "manage.py"
    manage.write_text(manage.read_text().replace("shop.settings", "sparkdemo.settings"))
    if with_locale:
        _copy(SHOP / SHARED_LOCALE, path / SHARED_LOCALE)
    _copy(SPARKDEMO, path)
    (path / "requirements.txt").write_text(f"Django=={django_version}\n" if django_version else "Django\n")
    _release(path, "sparkdemo", version)
    return path


def write_shop_project(path, version="v1"):
    """Write the `shop` project (``version`` v1, v2 or the broken v3) under ``path``."""
    path = pathlib.Path(path)
    _copy(SHOP, path)
    _release(path, "shop", version)
    return path


def _git_repository(path, name, write):
    """A git repository at ``path`` with a commit and tag per release, each written by ``write(path, version)``
    into a tree emptied of the one before. Returns the commits by tag."""
    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run([*GIT, "init", "--quiet", str(path)], check=True)
    commits = {}
    for version in VERSIONS:
        for entry in path.iterdir():
            if entry.name != ".git":
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        write(path, version)
        commits[version] = commit_and_tag(path, version, f"{name} {version}")
    return commits


def commit_and_tag(path, tag, message):
    """Commit everything in the repository at ``path``, tag it ``tag``; returns the commit."""
    subprocess.run([*GIT, "-C", str(path), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(path), "commit", "--quiet", "-m", message], check=True)
    subprocess.run([*GIT, "-C", str(path), "tag", tag], check=True)
    return subprocess.run(
        [*GIT, "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def make_git_repository(path, django_version, with_locale=True):
    """A git repository of sparkdemo with tags v1, v2 and v3 (v3's migration fails). Returns the commits by tag."""
    return _git_repository(
        path, "sparkdemo", lambda tree, version: write_project(tree, version, django_version, with_locale)
    )


def make_shop_repository(path):
    """A git repository of `shop` with tags v1, v2 and v3 (v3's migration fails). Returns the commits by tag."""
    return _git_repository(path, "shop", write_shop_project)


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


SHOP_REPO = "/srv/src/shop.git"  # where the integration tests and bench/deploy.py put the repository


def shop_pillar(prod_rev="v1", test_rev="v1", **prod_overrides):
    """pillar.example's db_postgres, db_redis and django sections; the source is the test's repository."""
    data = example_pillar("db_postgres", "db_redis", "django")
    projects = data["sparks"]["django"]["projects"]
    projects["shop"].update(source=SHOP_REPO, rev=prod_rev, **prod_overrides)
    projects["shop-test"].update(source=f"file://{SHOP_REPO}", rev=test_rev)
    return data
