"""PyPI: name search over the PEP 691 JSON simple index of a configurable index URL.

PyPI has had no search API since 2020, so we search names ourselves:
  * The project list (GET <index>/ with Accept: application/vnd.pypi.simple.v1+json; an HTML
    PEP 503 answer is understood too) is cached on disk, one name per line. It is used as is
    while younger than ``pypi_max_age`` seconds (default a day); after that, or with
    --refresh, it is revalidated with a conditional request (If-None-Match /
    If-Modified-Since), so an unchanged index costs one 304. If the index cannot be reached,
    a cached list is used and the search still answers.
  * Names match case-insensitively with '-', '_' and '.' treated alike (PEP 503).
  * Only the best hits (up to --limit) get details: version and summary from
    <base>/pypi/<name>/json when the index offers that API (PyPI, pypiserver, devpi), else the
    version from the project's simple page. Details are cached like the list.
  * "installed" is the version installed for the Python running pkgsearch (its dist-info).
"""

import hashlib
import json
import os
import re
import threading
import time

from ..core import Package, normalize, rank_packages
from .base import Backend as _Base
from .base import BackendError, http_get, quote_url_part, with_slash

ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.latest+json;q=0.9, text/html;q=0.1"
_ANCHOR = re.compile(rb"<a\b[^>]*>([^<]+)</a>", re.I)


def _write_atomic(path, data):
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _cache_key(url):
    return hashlib.sha1(url.encode()).hexdigest()[:16]


def parse_project_list(body, content_type):
    """Project names from a simple index root page, JSON (PEP 691) or HTML (PEP 503)."""
    if "json" in (content_type or ""):
        try:
            data = json.loads(body)
            return [p["name"] for p in data["projects"]]
        except (ValueError, KeyError, TypeError):
            raise BackendError("the index answered JSON that is not a PEP 691 project list") from None
    return [m.group(1).decode("utf-8", "replace").strip() for m in _ANCHOR.finditer(body)]


def load_names(options):
    """The index's project names as bytes, one per line, refreshing the cache when due."""
    index = with_slash(options.pypi_index)
    folder = os.path.dirname(options.cache_path("pypi", _cache_key(index), "x"))
    names_path = os.path.join(folder, "names")
    meta_path = os.path.join(folder, "meta.json")
    meta = {}
    try:
        with open(meta_path) as fh:
            meta = json.load(fh)
    except (OSError, ValueError):
        pass
    have_names = os.path.exists(names_path)
    fresh = have_names and time.time() - meta.get("checked", 0) < options.pypi_max_age
    if fresh and not options.refresh:
        with open(names_path, "rb") as fh:
            return fh.read()
    headers = {}
    if have_names and meta.get("etag"):
        headers["If-None-Match"] = meta["etag"]
    if have_names and meta.get("last_modified"):
        headers["If-Modified-Since"] = meta["last_modified"]
    try:
        status, resp_headers, body = http_get(index, options, headers=headers, accept=ACCEPT)
    except BackendError:
        if have_names:  # stale beats nothing; the error is the index's, not ours
            with open(names_path, "rb") as fh:
                return fh.read()
        raise
    if status == 304 and have_names:
        meta["checked"] = time.time()
        _write_atomic(meta_path, json.dumps(meta).encode())
        with open(names_path, "rb") as fh:
            return fh.read()
    names = parse_project_list(body, resp_headers.get("content-type", ""))
    data = "".join(n + "\n" for n in names if n and "\n" not in n).encode("utf-8")
    _write_atomic(names_path, data)
    meta = {
        "url": index,
        "checked": time.time(),
        "etag": resp_headers.get("etag"),
        "last_modified": resp_headers.get("last-modified"),
        "count": len(names),
    }
    _write_atomic(meta_path, json.dumps(meta).encode())
    return data


def match_names(data, term):
    """Names in the newline-separated list ``data`` that contain term (PEP 503-normalized)."""
    hay = data.lower()
    needles = {term.lower().encode(), normalize(term).encode()}
    if "-" in normalize(term):  # also find "foo_bar" / "foo.bar" for "foo-bar"
        needles |= {normalize(term).replace("-", sep).encode() for sep in ("_", ".")}
    found = {}
    for needle in needles:
        pos = hay.find(needle)
        while pos != -1:
            start = hay.rfind(b"\n", 0, pos) + 1
            end = hay.find(b"\n", pos)
            if end == -1:
                end = len(hay)
            found[start] = data[start:end].decode("utf-8", "replace")
            pos = hay.find(needle, end)
    return list(found.values())


def _version_key(version):
    return [int(x) if x.isdigit() else -1 for x in re.split(r"[.+-]", version)]


_PRE = re.compile(r"(a|b|rc|dev|alpha|beta|pre|c)\d*", re.I)
_FILE_VERSION = re.compile(r"^[^-]+-([0-9][^-]*?)(?:-|\.tar\.gz$|\.zip$|\.tar\.bz2$|\.tar\.xz$)")


def details_from_simple(project_page):
    """Newest non-prerelease version from a PEP 691 project page (PEP 700 "versions" or filenames)."""
    versions = project_page.get("versions") or []
    if not versions:
        for f in project_page.get("files", []):
            m = _FILE_VERSION.match(f.get("filename", ""))
            if m and not f.get("yanked"):
                versions.append(m.group(1))
    final = [v for v in versions if not _PRE.search(v.split("+")[0].split(".")[-1] if v else "")]
    pool = final or versions
    return max(pool, key=_version_key) if pool else None


def _json_api_base(index):
    index = with_slash(index)
    if index.endswith("/simple/"):
        return index[: -len("simple/")] + "pypi/"
    return None


def fetch_details(name, options):
    """(version, summary) for one project, cached on disk for pypi_max_age seconds."""
    index = with_slash(options.pypi_index)
    path = options.cache_path("pypi", _cache_key(index), "details", normalize(name) + ".json")
    if not options.refresh:
        try:
            if time.time() - os.stat(path).st_mtime < options.pypi_max_age:
                with open(path) as fh:
                    cached = json.load(fh)
                return cached["version"], cached["summary"]
        except (OSError, ValueError, KeyError):
            pass
    version = summary = None
    api = _json_api_base(index)
    if api:
        try:
            status, _h, body = http_get(f"{api}{quote_url_part(name)}/json", options, accept="application/json")
            info = json.loads(body)["info"]
            version, summary = info.get("version"), info.get("summary")
        except (BackendError, ValueError, KeyError, TypeError):
            pass
    if version is None:
        status, h, body = http_get(f"{index}{normalize(name)}/", options, accept=ACCEPT)
        if "json" in h.get("content-type", ""):
            try:
                version = details_from_simple(json.loads(body))
            except ValueError:
                pass
    try:
        _write_atomic(path, json.dumps({"version": version, "summary": summary or ""}).encode())
    except OSError:
        pass
    return version, summary or ""


def installed_versions():
    """{normalized name: version} of the distributions the running Python sees.

    Reads the *.dist-info / *.egg-info folder names on sys.path (one listdir per folder)
    instead of importlib.metadata, which scans the whole path again for every name."""
    import sys

    found = {}
    for folder in sys.path:
        try:
            entries = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in entries:
            if entry.endswith((".dist-info", ".egg-info")):
                stem = entry.rsplit(".", 1)[0]
                name, _, version = stem.partition("-")
                if version:
                    found.setdefault(normalize(name), version.split("-")[0])
    return found


class Backend(_Base):
    name = "pypi"
    tools = ()  # plain HTTP; the Python running pkgsearch is all it needs

    def search(self, term, options):
        names = match_names(load_names(options), term)
        top = rank_packages(term, [Package("pypi", n) for n in names], options.exact, False, options.limit)
        results = {}
        pending = list(top)
        lock = threading.Lock()

        def worker():  # up to 16 detail requests at a time
            while True:
                with lock:
                    if not pending:
                        return
                    pkg = pending.pop(0)
                try:
                    results[pkg.name] = fetch_details(pkg.name, options)
                except Exception as exc:  # no details for this one; the name still counts
                    results[pkg.name] = exc

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(16, len(top)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(options.remaining())
        installed = installed_versions() if top else {}
        for pkg in top:
            got = results.get(pkg.name)
            if isinstance(got, tuple):
                pkg.version, pkg.summary = got[0] or None, " ".join((got[1] or "").split())
            pkg.installed = installed.get(normalize(pkg.name))
        return top
