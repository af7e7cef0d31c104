"""
Refuse an `accounts` run that would leave no way into the machine over SSH.

``sparks_accounts.way_in`` runs before any account, key or sshd setting changes (the formula's other states
require it). It judges the machine as it will be after the run: the users pillar declares (present or not, in the
sudo group or not, with their keys), the users pillar does not name (as they are now), root's own keys, and the
sshd policy being applied. A way in is one of:

- password logins stay on (``password_authentication: true``);
- root may log in with a key (``permit_root_login`` other than ``no``) and ``/root/.ssh/authorized_keys`` has one;
- a user with a login shell, at least one SSH key and membership of the sudo group.

Without one, the state fails naming the pillar keys involved, and nothing else runs.
"""

import grp
import os
import pwd

__virtualname__ = "sparks_accounts"

NO_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "")
KEY_TYPES = ("ssh-", "ecdsa-", "sk-ssh-", "sk-ecdsa-")
ROOT_KEY_POLICIES = ("yes", "prohibit-password", "without-password", "forced-commands-only")


def __virtual__():
    return __virtualname__


def has_key(lines):
    """True when one of ``lines`` (authorized_keys lines) holds a public key, with or without options."""
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if any(token.startswith(KEY_TYPES) for token in _tokens(line)):
            return True
    return False


def _tokens(line):
    # Options may quote spaces (command="a b"): split outside quotes only.
    tokens, current, quoted = [], "", False
    for char in line:
        if char == '"':
            quoted = not quoted
        if char.isspace() and not quoted:
            if current:
                tokens.append(current)
            current = ""
        else:
            current += char
    if current:
        tokens.append(current)
    return tokens


def _key_lines(home):
    lines = []
    for name in ("authorized_keys", "authorized_keys2"):
        try:
            with open(os.path.join(home, ".ssh", name), encoding="utf-8", errors="replace") as handle:
                lines += handle.read().splitlines()
        except OSError:
            pass
    return lines


def _sudoers_now(sudo_group):
    """Names of the current members of ``sudo_group`` (supplementary or primary)."""
    try:
        group = grp.getgrnam(sudo_group)
    except KeyError:
        return set()
    members = set(group.gr_mem)
    members |= {entry.pw_name for entry in pwd.getpwall() if entry.pw_gid == group.gr_gid}
    return members


def ways_in(users, sudo_group, password_authentication, permit_root_login):
    """The ways in after the run, as readable strings (empty: none)."""
    if password_authentication:
        return ["password logins"]
    ways = []
    if permit_root_login in ROOT_KEY_POLICIES and has_key(_key_lines(pwd.getpwnam("root").pw_dir)):
        ways.append("root with its key")
    for name, user in sorted(users.items()):
        if (
            user.get("present", True)
            and user.get("sudo")
            and has_key(user.get("ssh_keys") or [])
            and user.get("shell", "/bin/bash") not in NO_SHELLS
        ):
            ways.append(f"{name} (key, sudo)")
    for name in sorted(_sudoers_now(sudo_group) - set(users)):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_shell not in NO_SHELLS and has_key(_key_lines(entry.pw_dir)):
            ways.append(f"{name} (key, sudo; not in pillar)")
    return ways


def way_in(name, users, sudo_group="sudo", password_authentication=False, permit_root_login="prohibit-password"):
    """Succeed when, after this run, someone can still log in over SSH and become root; else fail (see above)."""
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    ways = ways_in(users, sudo_group, password_authentication, permit_root_login)
    if ways:
        ret["comment"] = "Ways in after this run: " + ", ".join(ways)
        return ret
    ret["result"] = False
    ret["comment"] = (
        "Refused: this would leave no way in over SSH. Password logins are off "
        "(sparks:accounts:sshd:password_authentication), root may not log in with a key "
        f"(sparks:accounts:sshd:permit_root_login is {permit_root_login!r}, or /root/.ssh/authorized_keys has no "
        f"key), and no user has an SSH key and sudo (sparks:accounts:users:<name>:ssh_keys and :sudo, group "
        f"{sudo_group!r}). Nothing was changed."
    )
    return ret
