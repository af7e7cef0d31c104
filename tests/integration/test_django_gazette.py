"""The `django` formula deploying a project laid out as real ones are (tests/support/projects/gazette: a settings
package, ALLOWED_HOSTS set to the site's name, split requirements without gunicorn, SECURE_SSL_REDIRECT behind an
env switch, uploads and its SQLite database in shared paths), on one Debian 13 target through salt-ssh.

Two projects from one repository: `gazette` (gunicorn on TCP, www.example.org) and `gazettesock` (a unix socket,
secure.example.org behind TLS ended in front of nginx: SECURE_SSL_REDIRECT on). Requests come from the host
through nginx with the site's Host. The tests run in order and share the target.
"""

import json
import threading
import time

import pytest

from tests.support.converge import why
from tests.support.gazette import GAZETTE_REPO, make_gazette_repository
from tests.support.http import get, under_load

pytestmark = [pytest.mark.integration, pytest.mark.platforms("debian13")]

ROOT = "/srv/django/gazette/production"
SOCK_ROOT = "/srv/django/gazettesock/production"
BAD_ROOT = "/srv/django/gazettebad/production"
HOST = "www.example.org"
SOCK_HOST = "secure.example.org"
SECRET = "gazette-secret-key-that-never-shows-up-anywhere"
OUTPUTS = []
RELEASE = "django-gazette-release-sparks-django-release-deployed"


def project(rev, host, **overrides):
    data = {
        "source": GAZETTE_REPO,
        "rev": rev,
        "settings_module": "gazette.settings.production",
        "env": {"DJANGO_ALLOWED_HOSTS": host},
        "secrets": {"DJANGO_SECRET_KEY": SECRET},
        "shared_paths": ["media", "var"],
        "keep": 2,
        "health_check_path": "/health/",
        "health_check_timeout": 20,
        "web": {"workers": 2, "server_name": host},
    }
    data.update(overrides)
    return data


def pillar(rev="v1", bad=None):
    projects = {
        "gazette": project(rev, HOST, web={"workers": 2, "server_name": f"{HOST} example.org"}),
        "gazettesock": project(
            "v1",
            SOCK_HOST,
            env={"DJANGO_ALLOWED_HOSTS": SOCK_HOST, "DJANGO_SECURE_SSL_REDIRECT": "1"},
            web={"bind": "unix", "workers": 2, "server_name": SOCK_HOST, "https": True},
        ),
    }
    if bad:
        projects["gazettebad"] = project(bad, "bad.example.org")
    return {"sparks": {"django": {"projects": projects}}}


def apply(salt_ssh, target, data):
    salt_ssh.set_pillar(data)
    started = time.monotonic()
    result = salt_ssh.run(target.name, "state.apply", "django")
    result.seconds = time.monotonic() - started
    OUTPUTS.append(result.stdout + result.stderr)
    return result


def current(target, root=ROOT):
    out = target.run(f"readlink {root}/current")
    return out.stdout.strip().rsplit("/", 1)[-1] if out.returncode == 0 else None


def releases(target, root=ROOT):
    return sorted(target.run(f"ls {root}/releases", check=True).stdout.split())


@pytest.fixture(scope="module")
def gazette(target_run, platform, salt_ssh):
    """One target: the repository written into it, then both projects at v1 applied once."""
    (target,) = target_run.boot("gazette1", platform=platform)
    commits = make_gazette_repository(target.root / GAZETTE_REPO.lstrip("/"))
    first = apply(salt_ssh, target, pillar())
    yield target, first, commits
    salt_ssh.set_pillar({})
    target_run.shutdown(target)


def test_first_deploy_is_healthy_and_served_with_its_host(gazette):
    target, first, commits = gazette
    print(f"first deploy: {first.seconds:.0f} s")
    assert first.returncode == 0, why(first, target)
    assert current(target) == commits["v1"][:12]
    assert get(target, host=HOST) == (200, "gazette v1")
    assert get(target, host="example.org")[0] == 400  # nginx routes both names; ALLOWED_HOSTS has only www
    assert get(target)[0] == 400  # Django refuses the bare address: the deploy's checks did not use it
    assert get(target, "/static/gazette/site.css", host=HOST)[0] == 200
    # gunicorn is not in the project's requirements: the deploy brought its pinned one.
    assert "gunicorn" not in target.read(f"{ROOT}/current/src/requirements/production.txt").replace("app server", "")
    version = target.run(f"{ROOT}/current/venv/bin/python -m gunicorn --version", check=True)
    assert "23.0.0" in version.stdout + version.stderr


def test_unix_socket_project_behind_tls_passes_its_gate(gazette):
    target, first, commits = gazette
    assert current(target, SOCK_ROOT) == commits["v1"][:12]
    target.run("test -S /run/django-gazettesock-production-web/gunicorn.sock", check=True)
    assert "127.0.0.1:8000" not in target.read("/etc/systemd/system/django-gazettesock-production-web.service")
    # nginx tells Django the request was HTTPS, so SECURE_SSL_REDIRECT lets it through.
    assert get(target, host=SOCK_HOST) == (200, "gazette v1")


def test_uploads_go_to_the_shared_path(gazette):
    target, _, _ = gazette
    status, saved = get(target, "/upload/note.txt", host=HOST, data=b"kept across releases")
    assert status == 200 and saved == "uploads/note.txt"
    assert target.read(f"{ROOT}/shared/media/uploads/note.txt") == "kept across releases"
    assert get(target, "/media/uploads/note.txt", host=HOST) == (200, "kept across releases")
    assert target.run(f"readlink {ROOT}/current/src/media", check=True).stdout.strip() == f"{ROOT}/shared/media"
    target.run(f"test -s {ROOT}/shared/var/db.sqlite3", check=True)


def test_second_apply_changes_nothing(gazette, salt_ssh):
    target, _, _ = gazette
    again = apply(salt_ssh, target, pillar())
    assert again.returncode == 0, why(again, target)
    assert again.changed(target.name) == {}


def test_unhealthy_release_never_becomes_current(gazette, salt_ssh):
    target, _, commits = gazette
    result, loop = under_load(target, lambda: apply(salt_ssh, target, pillar("broken")), host=HOST)
    print(f"broken deploy: {result.seconds:.0f} s, {loop.count} requests, {len(loop.failures)} failed")
    assert result.returncode != 0
    comment = result.failed(target.name)[RELEASE]["comment"]
    assert "health check of the candidate" in comment and "HTTP 500" in comment and HOST in comment, comment
    assert current(target) == commits["v1"][:12]
    assert loop.failures == [], loop.failures[:5]
    assert loop.count >= 20 and set(loop.bodies) == {"gazette v1"}
    broken = commits["broken"][:12]
    assert broken not in releases(target)  # removed when it failed, its log kept
    record = json.loads(target.read(f"{ROOT}/failed/{broken}.json"))
    assert record["step"] == "health gate" and record["rev"] == "broken"
    assert "health gate failed" in target.read(f"{ROOT}/failed/{broken}.log")


def test_next_run_fails_fast_naming_the_failed_release(gazette, salt_ssh):
    target, _, commits = gazette
    before = releases(target)
    result = apply(salt_ssh, target, pillar("broken"))
    print(f"fail-fast run: {result.seconds:.0f} s")
    assert result.returncode != 0
    state = result.failed(target.name)[RELEASE]
    broken = commits["broken"][:12]
    assert f"Release {broken} (broken) failed at health gate" in state["comment"], state["comment"]
    assert state["changes"] == {} and state["duration"] < 5000  # nothing rebuilt
    assert releases(target) == before
    assert current(target) == commits["v1"][:12]


class PageAndStylesheet(threading.Thread):
    """What a browser does, in a loop: ask for a page (the stylesheet URL it names), then for that stylesheet."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self.target, self.stop, self.failures, self.stylesheets = target, threading.Event(), [], set()

    def run(self):
        while not self.stop.is_set():
            status, url = get(self.target, "/stylesheet/", host=HOST)
            if status == 200:
                self.stylesheets.add(url)
                status, _ = get(self.target, url, host=HOST)
            if status != 200:
                self.failures.append((status, url))
            time.sleep(0.02)


def test_new_rev_deploys_and_shared_media_survive(gazette, salt_ssh):
    target, _, commits = gazette
    old_stylesheet = get(target, "/stylesheet/", host=HOST)[1]
    browser = PageAndStylesheet(target)
    browser.start()
    try:
        result = apply(salt_ssh, target, pillar("v2"))
    finally:
        browser.stop.set()
        browser.join()
    assert result.returncode == 0, why(result, target)
    # Through the reload, every page's stylesheet was there: the old release's hashed file stays served with
    # the new one's.
    assert browser.failures == [], browser.failures[:5]
    new_stylesheet = get(target, "/stylesheet/", host=HOST)[1]
    assert new_stylesheet != old_stylesheet and {old_stylesheet, new_stylesheet} <= browser.stylesheets
    assert get(target, old_stylesheet, host=HOST)[0] == 200 and get(target, new_stylesheet, host=HOST)[0] == 200
    assert result.changed(target.name)[RELEASE]["current"] == {"old": commits["v1"][:12], "new": commits["v2"][:12]}
    assert get(target, host=HOST) == (200, "gazette v2")
    assert get(target, "/media/uploads/note.txt", host=HOST) == (200, "kept across releases")


def test_pruning_keeps_keep_healthy_releases(gazette, salt_ssh):
    target, _, commits = gazette
    result = apply(salt_ssh, target, pillar("v3"))
    assert result.returncode == 0, why(result, target)
    assert get(target, host=HOST) == (200, "gazette v3")
    assert releases(target) == sorted([commits["v2"][:12], commits["v3"][:12]])  # keep: 2; the failed one not counted
    assert result.changed(target.name)[RELEASE]["pruned"] == [commits["v1"][:12]]
    assert get(target, "/media/uploads/note.txt", host=HOST) == (200, "kept across releases")


def test_first_release_unhealthy_is_not_current(gazette, salt_ssh):
    target, _, commits = gazette
    result = apply(salt_ssh, target, pillar("v3", bad="broken"))
    assert result.returncode != 0
    comment = result.failed(target.name)["django-gazettebad-release-sparks-django-release-deployed"]["comment"]
    assert "current stays None" in comment and "HTTP 500" in comment, comment
    assert current(target, BAD_ROOT) is None
    assert get(target, host=HOST) == (200, "gazette v3")
    again = apply(salt_ssh, target, pillar("v3", bad="broken"))
    assert again.returncode != 0
    assert (
        "failed at health gate"
        in again.failed(target.name)["django-gazettebad-release-sparks-django-release-deployed"]["comment"]
    )


def test_secret_never_in_state_output(gazette):
    assert len(OUTPUTS) >= 7
    for output in OUTPUTS:
        assert SECRET not in output
