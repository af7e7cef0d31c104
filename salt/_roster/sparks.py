"""
salt-ssh's roster for this repository: Salt's flat roster file, plus a sudo check for the entries that need one.

`salt/config/master` selects it (``roster: sparks``); the roster file and its format are flat's own.

An entry that logs in as a user other than root with ``sudo: true`` relies on sudo running without a password,
unless it gives the password (``passwd``) with ``tty: true``: salt-ssh answers sudo's prompt only then (sudo
reads a password from a terminal only). When sudo asks for a password anyway, plain salt-ssh fails with sudo's
own words ("a terminal is required to read the password"), or, with ``tty: true`` and no password, takes sudo's
prompt for ssh's and asks whether to deploy its key: the wrong fix, at a prompt that waits for an answer. So
those entries get an ``ssh_pre_hook`` (salt-ssh runs it over ssh, as the login user, before anything else, on
every run) that tries ``sudo -n`` as salt-ssh's shim will run sudo, and stops the run with a message that says
what to change. Entries that log in as root or do not use sudo are returned as flat returns them.
"""

import shlex

import salt.loader

__virtualname__ = "sparks"

# Shell text inside double quotes ($why is sudo's own complaint). "Permission denied" anywhere in the hook's
# output would make salt-ssh report a login failure instead (salt/client/ssh/wrapper: parse_ret), and a line
# ending in "password:" would be taken for ssh's password prompt under tty: true.
MESSAGE = (
    "sparks: sudo on $(hostname) needs a password for $(id -un) (sudo -n said: $why), and salt-ssh cannot type "
    "it (roster sudo: true). Fix it on the machine, with a sudoers rule that gives $(id -un) NOPASSWD "
    "(formulas/base/sudo.sls writes one for the sudo group), or in this roster entry, with the password as "
    "passwd: and tty: true (salt-ssh then answers sudo's prompt; it tries the password for the ssh login too)."
)


def __virtual__():
    return __virtualname__


def _hook(sudo_user):
    """The remote check: as root nothing is needed; otherwise ``sudo -n`` must run, as salt-ssh's shim will."""
    as_user = f"-u {shlex.quote(sudo_user)} " if sudo_user else ""
    script = (
        f'[ "$(id -u)" -eq 0 ] && exit 0; why=$(sudo -n {as_user}true 2>&1) && exit 0; echo "{MESSAGE}" >&2; exit 1'
    )
    # The command must start with /bin/sh: salt-ssh's shell splits everything before it with shlex and passes
    # the rest to ssh as one argument (salt/client/ssh/shell.py: _split_cmd), so the script keeps its quotes.
    return f"/bin/sh -c {shlex.quote(script)}"


def _needs_check(entry):
    return (
        isinstance(entry, dict)
        and entry.get("sudo")
        and str(entry.get("user", "root")) != "root"
        and not (entry.get("passwd") and entry.get("tty"))
    )


def targets(tgt, tgt_type="glob", **kwargs):
    """flat's targets, with the sudo check added to the entries that need sudo to ask no password."""
    found = salt.loader.roster(__opts__, utils=__utils__)["flat.targets"](tgt, tgt_type, **kwargs)
    for entry in found.values():
        if not _needs_check(entry):
            continue
        check = _hook(entry.get("sudo_user"))
        own = entry.get("ssh_pre_hook")
        # A hook of the entry's own still runs, after ours (both over ssh as the login user).
        entry["ssh_pre_hook"] = f"{check} && {own}" if own else check
    return found
