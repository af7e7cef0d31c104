"""What every backend shares: the interface, running a tool with the search's deadline,
and a small HTTP client (urllib, no proxy for loopback, conditional requests)."""

import json
import os
import shutil
import subprocess

from ..core import BackendError, Skipped  # noqa: F401  (re-exported for backends)


class Backend:
    """Subclasses set ``name`` and ``tools`` and implement ``search(term, options)``."""

    name = ""
    tools = ()  # executables of which at least one must be on PATH, else the backend is skipped
    spawns = False  # runs a (slow-starting) tool: started first, so it overlaps everything else

    def missing(self, options):
        """A reason to skip this backend here, or "" if it can run."""
        if self.tools and not any(shutil.which(tool) for tool in self.tools):
            return "{} not found on PATH".format(" or ".join(self.tools))
        return ""

    def search(self, term, options):  # pragma: no cover - interface
        raise NotImplementedError


class HTTPStatusError(BackendError):
    """The server answered with an HTTP error status (kept in ``code``)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def run(argv, options, ok_codes=(0,), env=None, stderr_fails=()):
    """Run a tool with the time left before the search's deadline; return its stdout.

    The process is killed when the deadline passes. Exit codes outside ``ok_codes`` raise
    BackendError with the tool's own stderr.
    """
    full_env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            timeout=options.remaining(),
            env=full_env,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise Skipped(f"{argv[0]} not found on PATH") from None
    except subprocess.TimeoutExpired:
        raise BackendError(f"{argv[0]} did not answer within {options.timeout:g}s") from None
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    if any(marker in stderr for marker in stderr_fails):
        raise BackendError("{} failed: {}".format(" ".join(argv[:2]), stderr.strip()[-500:]))
    if proc.returncode not in ok_codes:
        err = proc.stderr.decode("utf-8", "replace").strip() or stdout.strip()
        raise BackendError("{} exited {}: {}".format(" ".join(argv[:2]), proc.returncode, err[-500:]))
    return stdout, proc.returncode


def quote_url_part(text):
    from urllib.parse import quote

    return quote(text, safe="@")


def http_get(url, options, headers=None, accept=None):
    """GET a URL; return (status, headers dict (lower-case keys), body bytes).

    A 304 answer is returned, not raised. Other HTTP errors and network failures raise
    BackendError. Proxies from the environment are honoured except for loopback hosts.
    """
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    handlers = []
    if host in ("localhost", "::1") or host.startswith("127."):
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"User-Agent": "pkgsearch (sparks)", **(headers or {})})
    if accept:
        request.add_header("Accept", accept)
    try:
        with opener.open(request, timeout=options.remaining()) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return 304, {k.lower(): v for k, v in exc.headers.items()}, b""
        raise HTTPStatusError(f"GET {url}: HTTP {exc.code} {exc.reason}", exc.code) from None
    except urllib.error.URLError as exc:
        raise BackendError(f"GET {url}: {exc.reason}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, bad URLs
        raise BackendError(f"GET {url}: {exc}") from None


def http_json(url, options, accept="application/json"):
    status, _headers, body = http_get(url, options, accept=accept)
    try:
        return json.loads(body)
    except ValueError:
        raise BackendError(f"GET {url}: the answer is not JSON") from None


def with_slash(url):
    return url if url.endswith("/") else url + "/"
