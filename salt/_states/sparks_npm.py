"""
Global npm packages, idempotently: ``sparks_npm.installed`` installs only what is missing or at another version.

Salt 3008 removed the core ``npm`` state; this one only needs the ``npm`` binary.

.. code-block:: yaml

    dev-web-npm-less-installed:
      sparks_npm.installed:
        - name: less
        - version: "4.2.0"          # optional; without it any installed version is fine
        - registry: http://127.0.0.1:4873/   # optional
"""

import json
import os

import salt.utils.path

__virtualname__ = "sparks_npm"
# Where global packages live with Debian's npm (its prefix is /usr/local): what `removed` looks at without npm.
GLOBAL_MODULES = "/usr/local/lib/node_modules"


def __virtual__():
    # Always load: the same run usually installs npm (a package state) before these states execute.
    return __virtualname__


def _missing_binary(ret):
    if salt.utils.path.which("npm"):
        return None
    ret.update(result=False, comment="npm is not installed: install it first (require its package state)")
    return ret


def installed_versions():
    """Map each globally installed npm package to its version."""
    result = __salt__["cmd.run_all"](
        ["npm", "ls", "--global", "--depth=0", "--json"], python_shell=False, ignore_retcode=True
    )
    # npm ls exits 1 on peer-dependency warnings while still printing the tree: trust the JSON, not the code.
    try:
        tree = json.loads(result["stdout"] or "{}")
    except ValueError:
        return {}
    return {name: info.get("version") for name, info in tree.get("dependencies", {}).items()}


def installed(name, version=None, registry=None):
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if _missing_binary(ret):
        return ret
    current = installed_versions().get(name)
    if current and (version is None or current == str(version)):
        ret["comment"] = f"{name} {current} is already installed"
        return ret
    wanted = f"{name}@{version}" if version else name
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"{wanted} would be installed" + (f" (now {current})" if current else "")
        ret["changes"] = {name: {"old": current, "new": version or "latest"}}
        return ret
    cmd = ["npm", "install", "--global", "--no-audit", "--no-fund", wanted]
    if registry:
        cmd += ["--registry", registry]
    result = __salt__["cmd.run_all"](cmd, python_shell=False)
    if result["retcode"] != 0:
        ret["result"] = False
        ret["comment"] = f"npm install {wanted} failed: {result['stderr'] or result['stdout']}"
        return ret
    new = installed_versions().get(name)
    ret["changes"] = {name: {"old": current, "new": new}}
    ret["comment"] = f"{name} {new} installed"
    return ret


def removed(name):
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if not salt.utils.path.which("npm"):
        # A clean state that removed npm itself must change nothing when applied again; a package npm left
        # behind cannot be uninstalled without it, and that is a failure, not "absent".
        path = os.path.join(GLOBAL_MODULES, name)
        if os.path.exists(path):
            ret.update(result=False, comment=f"npm is not installed: cannot uninstall {name} from {path}")
        else:
            ret["comment"] = f"{name} is not installed (nor is npm)"
        return ret
    current = installed_versions().get(name)
    if not current:
        ret["comment"] = f"{name} is not installed"
        return ret
    if __opts__["test"]:
        ret.update(
            result=None, comment=f"{name} {current} would be removed", changes={name: {"old": current, "new": None}}
        )
        return ret
    result = __salt__["cmd.run_all"](["npm", "uninstall", "--global", name], python_shell=False)
    if result["retcode"] != 0:
        ret.update(result=False, comment=f"npm uninstall {name} failed: {result['stderr']}")
        return ret
    ret.update(changes={name: {"old": current, "new": None}}, comment=f"{name} removed")
    return ret
