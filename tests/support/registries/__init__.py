"""Loopback servers and fake tools for the pkgsearch tests and benchmark.

Nothing here talks to a public registry: every server listens on 127.0.0.1 and is started and
stopped by the test (or bench) that uses it.

* PyPIIndex: a PEP 691 JSON simple index (plus HTML, per-project pages and the /pypi/<name>/json
  API) written by the test and served from a thread; honours If-None-Match/If-Modified-Since.
* Verdaccio: a real npm registry (verdaccio from the npm registry, installed into a cache
  folder on first use) with a few packages published by the test with the real `npm publish`.
* GemSource: gems built with the real `gem build`, indexed with `gem generate_index` and
  served as static files, like any gem source without the search API.
* fakebin/: brew, pacman, dnf, rpm and pkg stand-ins that replay recorded output (MOCKED:
  those managers do not run on Debian). See fakebin/README.
"""

import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from email.utils import formatdate

from tests.support.cache import cache_dir, cached_entry

HERE = os.path.dirname(os.path.abspath(__file__))
FAKEBIN = os.path.join(HERE, "fakebin")
VERDACCIO_VERSION = "6.1.6"


class Unavailable(Exception):
    """A server's tool cannot be had here; tests skip with this message."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


# ------------------------------------------------------------------------------------------
# PyPI


class PyPIIndex:
    """projects: {name: (version, summary)}. Serves /simple/ (PEP 691 JSON or PEP 503 HTML),
    /simple/<project>/ and, unless json_api=False, /pypi/<project>/json."""

    def __init__(self, projects, json_api=True):
        self.projects = dict(projects)
        self.json_api = json_api
        self.hits = []  # (path, status) of every request
        self.last_modified = formatdate(time.time() - 3600, usegmt=True)
        self._render()
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", ctype="application/json", headers=()):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                if body:
                    self.wfile.write(body)
                index.hits.append((self.path, status))

            def do_GET(self):
                path = self.path.split("?")[0]
                accept = self.headers.get("Accept", "")
                if path == "/simple/":
                    if "vnd.pypi.simple.v1+json" in accept:
                        body, ctype = index.root_json, "application/vnd.pypi.simple.v1+json"
                    else:
                        body, ctype = index.root_html, "text/html"
                    etag = '"%s"' % hashlib.sha1(body).hexdigest()
                    if self.headers.get("If-None-Match") == etag:
                        return self._send(304, headers=[("ETag", etag)])
                    return self._send(200, body, ctype, [("ETag", etag), ("Last-Modified", index.last_modified)])
                m = re.match(r"^/simple/([^/]+)/$", path)
                if m:
                    name = next((n for n in index.projects if _norm(n) == m.group(1)), None)
                    if name is None:
                        return self._send(404, b"{}")
                    version = index.projects[name][0]
                    page = {
                        "meta": {"api-version": "1.0"},
                        "name": _norm(name),
                        "files": [
                            {"filename": f"{name.replace('-', '_')}-{version}.tar.gz", "url": "x", "hashes": {}},
                            {"filename": f"{name.replace('-', '_')}-0.1.tar.gz", "url": "x", "hashes": {}},
                        ],
                    }
                    return self._send(200, json.dumps(page).encode(), "application/vnd.pypi.simple.v1+json")
                m = re.match(r"^/pypi/([^/]+)/json$", path)
                if m and index.json_api:
                    name = next((n for n in index.projects if _norm(n) == _norm(m.group(1))), None)
                    if name:
                        version, summary = index.projects[name]
                        info = {"info": {"name": name, "version": version, "summary": summary}}
                        return self._send(200, json.dumps(info).encode())
                return self._send(404, b"{}")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/simple/" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _render(self):
        names = sorted(self.projects)
        self.root_json = json.dumps({"meta": {"api-version": "1.0"}, "projects": [{"name": n} for n in names]}).encode()
        self.root_html = (
            "<!DOCTYPE html><html><body>"
            + "".join(f'<a href="/simple/{_norm(n)}/">{n}</a>\n' for n in names)
            + "</body></html>"
        ).encode()

    def add(self, name, version, summary):
        self.projects[name] = (version, summary)
        self.last_modified = formatdate(time.time(), usegmt=True)
        self._render()

    def root_requests(self):
        return [status for path, status in self.hits if path == "/simple/"]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def generated_names(count, seed=7):
    """count distinct, plausible project names (deterministic)."""
    syllables = [
        "py",
        "data",
        "flask",
        "django",
        "tool",
        "kit",
        "net",
        "json",
        "yaml",
        "http",
        "async",
        "ml",
        "cli",
        "web",
        "test",
        "lib",
        "core",
        "io",
        "db",
        "sql",
        "redis",
        "auth",
        "cloud",
        "fast",
        "mini",
        "micro",
        "grid",
        "plot",
        "text",
        "image",
        "graph",
        "queue",
        "cache",
    ]
    names, i = [], 0
    n = len(syllables)
    while len(names) < count:
        a, b, c = syllables[i % n], syllables[(i // n) % n], syllables[(i // (n * n)) % n]
        sep = "-_."[(i * seed) % 3] if i % 4 else ""
        names.append(f"{a}{sep}{b}{c}{i}")
        i += 1
    return names


# ------------------------------------------------------------------------------------------
# npm (verdaccio)


def verdaccio_bin():
    """The verdaccio executable, installed into <cache root>/verdaccio/<version> on first use."""
    explicit = os.environ.get("PKGSEARCH_VERDACCIO")
    if explicit and os.access(explicit, os.X_OK):
        return explicit
    if not shutil.which("npm") or not shutil.which("node"):
        raise Unavailable("node/npm not installed (apt-get install nodejs npm)")
    folder = cached_entry(cache_dir("verdaccio") / VERDACCIO_VERSION, _install_verdaccio)
    return os.path.join(folder, "node_modules", ".bin", "verdaccio")


def _install_verdaccio(folder):
    with open(os.path.join(folder, "package.json"), "w") as fh:
        # node-fetch is pinned because some registries' node-fetch lacks the "cjs" dist-tag
        # that verdaccio's dependencies ask for.
        json.dump(
            {
                "name": "sparks-pkgsearch-verdaccio",
                "private": True,
                "dependencies": {"verdaccio": VERDACCIO_VERSION},
                "overrides": {"node-fetch": "2.7.0"},
            },
            fh,
        )
    proc = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund"], cwd=folder, capture_output=True, text=True, timeout=600
    )
    if proc.returncode or not os.access(os.path.join(folder, "node_modules", ".bin", "verdaccio"), os.X_OK):
        raise Unavailable("npm install verdaccio@%s failed: %s" % (VERDACCIO_VERSION, proc.stderr[-300:]))


def _wait_port(port, timeout, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class Verdaccio:
    """A verdaccio on 127.0.0.1 with no uplinks (it never reaches another registry)."""

    def __init__(self, packages):
        self.packages = packages  # [(name, version, description)]
        self.tmp = tempfile.mkdtemp(prefix="pkgsearch-verdaccio-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc = None

    def __enter__(self):
        exe = verdaccio_bin()
        config = os.path.join(self.tmp, "config.yaml")
        with open(config, "w") as fh:
            fh.write(
                f"storage: {self.tmp}/storage\n"
                f"auth:\n  htpasswd:\n    file: {self.tmp}/htpasswd\n    max_users: 10\n"
                "uplinks: {}\n"
                "packages:\n  '**':\n    access: $all\n    publish: $authenticated\n"
                "security:\n  api:\n    legacy: true\n"
                "log: { type: stdout, format: pretty, level: warn }\n"
                f"listen: 127.0.0.1:{self.port}\n"
            )
        self.log = open(os.path.join(self.tmp, "verdaccio.log"), "w")
        self.proc = subprocess.Popen(
            [exe, "--config", config],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            if not _wait_port(self.port, 60, self.proc):
                raise Unavailable("verdaccio did not start: " + open(self.log.name).read()[-500:])
            self._publish()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _publish(self):
        body = json.dumps({"name": "tester", "password": "tester-pass-1"}).encode()
        req = urllib.request.Request(
            self.url + "-/user/org.couchdb.user:tester",
            data=body,
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        token = json.load(opener.open(req, timeout=30))["token"]
        npmrc = os.path.join(self.tmp, "npmrc")
        with open(npmrc, "w") as fh:
            fh.write(f"registry={self.url}\n//127.0.0.1:{self.port}/:_authToken={token}\n")
        env = dict(
            os.environ,
            npm_config_userconfig=npmrc,
            npm_config_registry=self.url,
            npm_config_cache=os.path.join(self.tmp, "npm-cache"),
            npm_config_update_notifier="false",
        )
        for name, version, description in self.packages:
            folder = os.path.join(self.tmp, "pkgs", name.replace("/", "__"))
            os.makedirs(folder)
            with open(os.path.join(folder, "package.json"), "w") as fh:
                json.dump(
                    {
                        "name": name,
                        "version": version,
                        "description": description,
                        "keywords": ["pkgsearch-test"],
                        "license": "MIT",
                        "main": "index.js",
                    },
                    fh,
                )
            with open(os.path.join(folder, "index.js"), "w") as fh:
                fh.write("module.exports = 1;\n")
            proc = subprocess.run(
                ["npm", "publish", "--access", "public", "--registry", self.url],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if proc.returncode:
                raise Unavailable(f"npm publish {name} failed: {proc.stderr[-400:]}")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: only what we started
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------
# gem


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class GemSource:
    """gems: [(name, version, summary)] built with `gem build`, indexed, served statically."""

    def __init__(self, gems):
        self.gems = gems
        self.tmp = tempfile.mkdtemp(prefix="pkgsearch-gems-")
        self.server = None

    def __enter__(self):
        if not shutil.which("gem"):
            raise Unavailable("gem not installed (apt-get install ruby)")
        try:
            self._build()
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        root = os.path.join(self.tmp, "source")
        handler = lambda *a, **kw: _QuietHandler(*a, directory=root, **kw)  # noqa: E731
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def _build(self):
        root = os.path.join(self.tmp, "source")
        os.makedirs(os.path.join(root, "gems"))
        env = dict(os.environ, HOME=self.tmp)
        for name, version, summary in self.gems:
            folder = os.path.join(self.tmp, "build", name)
            os.makedirs(os.path.join(folder, "lib"))
            with open(os.path.join(folder, "lib", name + ".rb"), "w") as fh:
                fh.write("module Pkgsearchtest; end\n")
            with open(os.path.join(folder, name + ".gemspec"), "w") as fh:
                fh.write(
                    "Gem::Specification.new do |s|\n"
                    f"  s.name = {name!r}\n  s.version = {version!r}\n  s.summary = {summary!r}\n"
                    "  s.authors = ['sparks']\n  s.files = Dir['lib/*.rb']\n  s.license = 'MIT'\nend\n"
                )
            proc = subprocess.run(
                ["gem", "build", name + ".gemspec"], cwd=folder, env=env, capture_output=True, text=True, timeout=120
            )
            if proc.returncode:
                raise Unavailable(f"gem build {name} failed: {proc.stderr[-300:]}")
            shutil.move(os.path.join(folder, f"{name}-{version}.gem"), os.path.join(root, "gems"))
        proc = subprocess.run(
            ["gem", "generate_index", "--directory", root], env=env, capture_output=True, text=True, timeout=300
        )
        if proc.returncode:
            raise Unavailable(f"gem generate_index failed: {proc.stderr[-300:]}")

    def __exit__(self, *exc):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def fake_path():
    """PATH with the recorded-output stand-ins for brew, pacman, dnf, rpm and pkg first."""
    return FAKEBIN + os.pathsep + os.environ.get("PATH", "")
