"""
The LXC guests declared in pillar ``sparks:lxc:guests``, as seen from their host.

``sparks_lxc.roster`` turns them into a salt-ssh roster, so the guests that the ``lxc`` formula created can
be managed right away::

    salt-call --local -c salt/config sparks_lxc.roster priv=/root/.ssh/id_ed25519 path=salt/config/roster
    salt-ssh '*' state.apply lxc_base

``sparks_lxc.guests`` lists them with their live state (``lxc-info``).
"""

import os
import shutil
import subprocess

import yaml

__virtualname__ = "sparks_lxc"


def __virtual__():
    return __virtualname__


def _declared():
    # The guests as the formula builds them (lxc/map.jinja: parameter files, pillar, guest_defaults), not a merge
    # of raw pillar of our own. Rendered, so pillar is read unmasked.
    return __utils__["sparks_map.get"](__salt__, "lxc")["resolved"]


def roster(user="root", priv=None, ssh_options=None, set_path=None, path=None, **extra):
    """A salt-ssh roster (a dict: write it out as YAML) with one entry per guest declared in pillar.

    user / priv
        login user and private key (whose public key is in ``sparks:lxc:authorized_keys``)
    ssh_options
        list of ssh ``-o`` options, e.g. ``[StrictHostKeyChecking=no]`` for throwaway guests
    set_path
        PATH for the salt-ssh shim on the guest
    path
        also write the roster there as YAML (mode 0600), ready for ``salt-ssh --roster-file``
    other keyword arguments
        added to every entry as they are (``sudo``, ``port``, ``timeout``, ...)

    CLI Example:

    .. code-block:: bash

        salt-call --local sparks_lxc.roster priv=/root/.ssh/id_ed25519 path=salt/config/roster
    """
    entries = {}
    for name, guest in sorted(_declared().items()):
        entry = {"host": str(guest["address"]).split("/")[0], "user": user}
        if priv:
            entry["priv"] = priv
        if ssh_options:
            entry["ssh_options"] = list(ssh_options)
        if set_path:
            entry["set_path"] = set_path
        entry.update({key: value for key, value in extra.items() if not key.startswith("__")})
        entries[name] = entry
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("# Written by sparks_lxc.roster from pillar sparks:lxc:guests.\n")
            yaml.safe_dump(entries, handle, default_flow_style=False)
    return entries


def guests():
    """Each declared guest with its address and live state (RUNNING, STOPPED, or ABSENT when not created)."""
    result = {}
    for name, guest in sorted(_declared().items()):
        state = "ABSENT"
        if shutil.which("lxc-info"):
            proc = subprocess.run(["lxc-info", "-n", name, "-s", "-H"], capture_output=True, text=True, check=False)
            if proc.returncode == 0:
                state = proc.stdout.strip()
        result[name] = {
            "address": str(guest["address"]).split("/")[0],
            "state": state,
            "release": guest.get("release"),
            "template": guest.get("template"),
        }
    return result
