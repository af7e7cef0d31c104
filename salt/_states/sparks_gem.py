"""
Ruby gems, idempotently: ``sparks_gem.installed`` installs only what is missing or at another version.

Salt 3008 removed the core ``gem`` module and state; this one only needs the ``gem`` binary.

.. code-block:: yaml

    dev-web-gem-sass-installed:
      sparks_gem.installed:
        - name: sass
        - version: "3.7.4"                    # optional
        - source: https://gems.example.org/   # optional: a gem server, or a local .gem file path
"""

import re

import salt.utils.path

__virtualname__ = "sparks_gem"
GEM_LINE = re.compile(r"^(?P<name>\S+) \((?P<versions>[^)]*)\)$")


def __virtual__():
    # Always load: the same run usually installs gem (a package state) before these states execute.
    return __virtualname__


def _missing_binary(ret):
    if salt.utils.path.which("gem"):
        return None
    ret.update(result=False, comment="gem is not installed: install it first (require its package state)")
    return ret


def installed_versions(name):
    """Installed versions of gem ``name`` (newest first), [] when absent."""
    result = __salt__["cmd.run_all"](["gem", "list", "--local", "--exact", name], python_shell=False)
    for line in result["stdout"].splitlines():
        match = GEM_LINE.match(line.strip())
        if match and match.group("name") == name:
            versions = match.group("versions").replace("default: ", "")
            return [version.strip() for version in versions.split(",") if version.strip()]
    return []


def installed(name, version=None, source=None):
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if _missing_binary(ret):
        return ret
    current = installed_versions(name)
    if current and (version is None or str(version) in current):
        ret["comment"] = f"{name} {version or current[0]} is already installed"
        return ret
    if __opts__["test"]:
        ret.update(
            result=None,
            comment=f"{name} {version or ''} would be installed".replace("  ", " "),
            changes={name: {"old": current or None, "new": version or "latest"}},
        )
        return ret
    cmd = ["gem", "install", "--no-document"]
    if source and source.endswith(".gem"):
        cmd += ["--local", source]
    else:
        cmd.append(name)
        if source:
            cmd += ["--clear-sources", "--source", source]
    if version:
        cmd += ["--version", str(version)]
    result = __salt__["cmd.run_all"](cmd, python_shell=False)
    if result["retcode"] != 0:
        ret.update(result=False, comment=f"gem install {name} failed: {result['stderr'] or result['stdout']}")
        return ret
    new = installed_versions(name)
    ret.update(changes={name: {"old": current or None, "new": new}}, comment=f"{name} {', '.join(new)} installed")
    return ret
