"""npm: the registry's search endpoint (GET <registry>/-/v1/search?text=TERM&size=N), the one
`npm search` uses, on a configurable registry (PKGSEARCH_NPM_REGISTRY, else npm's own
npm_config_registry, else the public registry). Installed versions are read from the global
node_modules folders' package.json files (no `npm ls -g`, which takes seconds)."""

import json
import os
import shutil
from urllib.parse import urlencode

from ..core import Package
from .base import Backend as _Base
from .base import BackendError, http_json, with_slash


def global_roots():
    roots = []
    prefix = os.environ.get("npm_config_prefix") or os.environ.get("NPM_CONFIG_PREFIX")
    if prefix:
        roots.append(os.path.join(prefix, "lib", "node_modules"))
    npm = shutil.which("npm")
    if npm:  # <prefix>/bin/npm -> <prefix>/lib/node_modules
        roots.append(os.path.join(os.path.dirname(os.path.dirname(npm)), "lib", "node_modules"))
    roots += ["/usr/local/lib/node_modules", "/usr/lib/node_modules", "/usr/share/nodejs"]
    seen, result = set(), []
    for root in roots:
        root = os.path.realpath(root)
        if root not in seen and os.path.isdir(root):
            seen.add(root)
            result.append(root)
    return result


def installed_version(name, roots):
    for root in roots:
        try:
            with open(os.path.join(root, *name.split("/"), "package.json")) as fh:
                return json.load(fh).get("version")
        except (OSError, ValueError):
            continue
    return None


class Backend(_Base):
    name = "npm"
    tools = ("npm", "node")

    def search(self, term, options):
        size = max(20, min(250, options.limit * 2))
        url = "{}-/v1/search?{}".format(with_slash(options.npm_registry), urlencode({"text": term, "size": size}))
        data = http_json(url, options)
        try:
            objects = data["objects"]
        except (KeyError, TypeError):
            raise BackendError(f"GET {url}: no 'objects' in the answer") from None
        roots = global_roots()
        found = []
        for obj in objects:
            pkg = obj.get("package") or {}
            name = pkg.get("name")
            if not name:
                continue
            # The npm registry gives "version"; verdaccio gives "dist-tags": {"latest": ...}.
            version = pkg.get("version") or (pkg.get("dist-tags") or {}).get("latest")
            found.append(Package("npm", name, version, pkg.get("description") or "", installed_version(name, roots)))
        return found
