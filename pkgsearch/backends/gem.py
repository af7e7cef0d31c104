"""gem: remote search against a configurable gem source (PKGSEARCH_GEM_SOURCE, default the
public one).

A source with the RubyGems HTTP API answers GET <source>/api/v1/search.json?query=TERM with
name, version and summary ("info"). A plain static source (the folder `gem generate_index`
writes, served by any web server) has no such API: then we run the real
`gem search --remote --clear-sources --source SOURCE TERM`, which filters the source's spec
index locally. Installed versions come from the gemspec files in RubyGems' spec folders.
"""

import glob
import hashlib
import json
import os
import re
import time
from urllib.parse import urlencode

from ..core import Package
from .base import Backend as _Base
from .base import HTTPStatusError, http_get, run, with_slash

_LINE = re.compile(r"^(\S+) \(([^)]*)\)$")
_SPEC = re.compile(r"^(.+)-(\d[^-]*?)(?:-[a-z0-9_]+(?:-[a-z0-9_]+)*)?\.gemspec$")


def installed_gems():
    patterns = [
        "/var/lib/gems/*/specifications/*.gemspec",
        "/usr/lib/ruby/gems/*/specifications/*.gemspec",
        "/usr/share/rubygems-integration/*/specifications/*.gemspec",
        "/usr/local/lib/ruby/gems/*/specifications/*.gemspec",
        os.path.expanduser("~/.local/share/gem/ruby/*/specifications/*.gemspec"),
        os.path.expanduser("~/.gem/ruby/*/specifications/*.gemspec"),
    ]
    for var in ("GEM_HOME", "GEM_PATH"):
        for folder in filter(None, os.environ.get(var, "").split(":")):
            patterns.append(os.path.join(folder, "specifications", "*.gemspec"))
    found = {}
    for pattern in patterns:
        for path in glob.glob(pattern):
            m = _SPEC.match(os.path.basename(path))
            if m:
                found.setdefault(m.group(1), m.group(2))
    return found


def parse_gem_search(text):
    """[(name, [versions])] from `gem search` output lines like 'rake (13.0.6, 12.3.3)'."""
    hits = []
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if m:
            versions = [v.strip() for v in m.group(2).split(",") if v.strip()]
            hits.append((m.group(1), versions))
    return hits


class Backend(_Base):
    name = "gem"
    tools = ("gem",)
    spawns = True

    def search(self, term, options):
        source = with_slash(options.gem_source)
        url = "{}api/v1/search.json?{}".format(source, urlencode({"query": term}))
        # Remember for a day that a source has no search API, so warm searches go straight to gem.
        data = None
        try:
            marker = options.cache_path("gem", hashlib.sha1(source.encode()).hexdigest()[:16] + ".static")
            static = not options.refresh and time.time() - os.stat(marker).st_mtime < 86400
        except OSError:
            static = False
        if not static:
            try:
                _status, _headers, body = http_get(url, options, accept="application/json")
                data = json.loads(body)
                if not isinstance(data, list):
                    raise ValueError
            except (HTTPStatusError, ValueError):
                data = None  # the source answers, but has no search API: a static source
                try:
                    with open(marker, "w"):
                        pass
                except (OSError, NameError):  # no cache folder: probe again next time
                    pass
        if data is not None:
            installed = installed_gems()
            return [
                Package("gem", g["name"], g.get("version"), g.get("info") or "", installed.get(g["name"]))
                for g in data
                if isinstance(g, dict) and g.get("name")
            ]
        # A static source: let gem itself read the source's index.
        out, _code = run(
            ["gem", "search", "--remote", "--clear-sources", "--source", source, "--no-verbose", term],
            options,
            stderr_fails=("ERROR:",),  # gem exits 0 even when it could not read the source
        )
        installed = installed_gems()
        return [
            Package("gem", name, versions[0] if versions else None, "", installed.get(name))
            for name, versions in parse_gem_search(out)
        ]
