"""Non-root logins through salt-ssh (issue 11, item 5), on one Debian 13 target whose sshd refuses root.

The machine has a `deploy` user who logs in with a key and sudoes without a password; the roster entry is the
README's recipe (`user: deploy`, `sudo: true`). `base.sudo` and `local_perms` are applied through it (trimmed
to the packages already on the image, so the test spends its time on the login path, not on apt), checked on
the machine, and applied again with zero changes. Then sudo asks deploy for a password: the run stops in
seconds with the message of salt/_roster/sparks.py, and changes nothing, with and without `tty: true` (where
plain salt-ssh takes sudo's prompt for ssh's and offers to deploy its key), and with a password but no tty
(sudo cannot read it). Last, the message's other fix: the password in the roster with `tty: true`.
"""

import subprocess

import pytest

from tests.support.converge import assert_converged, why
from tests.support.saltrun import SaltSSH

pytestmark = [pytest.mark.integration, pytest.mark.platforms("debian13")]

SLS = "base.sudo,local_perms"
PASSWORD = "Deploy-sudo-Passw0rd"
NOPASSWD_RULE = "deploy ALL=(ALL:ALL) NOPASSWD: ALL\n"
PASSWORD_RULE = "deploy ALL=(ALL:ALL) ALL\n"
# base's package set cut down to what the image has (sudo), and the states that would add packages off.
PILLAR = {
    "sparks": {
        "users": ["deploy"],
        "base": {
            "packages": ["sudo"],
            "admin_packages": [],
            "unattended_upgrades": {"enabled": False},
            "locale": {"enabled": False},
            "fail2ban": {"enabled": False},
            "time": {"enabled": False},
            "restarts": {"enabled": False},
        },
    }
}
FAIL_FAST = 60  # seconds: a run that needs a sudo password must fail well within this


def ssh(target, key, user, command="true"):
    return subprocess.run(
        [
            "ssh",
            *("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"),
            *("-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5", "-i", str(key)),
            f"{user}@{target.address}",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def deploy_entry(target, **changes):
    """The README's roster recipe for a sudoer, with the harness's key and throwaway-host options."""
    entry = target.roster_entry()
    entry.update({"user": "deploy", "sudo": True}, **changes)
    return {target.name: entry}


def set_sudoers(target, rule):
    target.run(
        f"printf '%s' '{rule}' > /etc/sudoers.d/deploy && chmod 0440 /etc/sudoers.d/deploy && visudo -c", check=True
    )


def etc_snapshot(target):
    """Every file in /etc with its checksum, owner and mode: what a refused run must leave as it was."""
    return target.run(
        "find /etc -xdev -type f -print0 | sort -z | xargs -0 stat -c '%n %U %a' && "
        "find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum",
        check=True,
    ).stdout


@pytest.fixture(scope="module")
def machine(target_run, platform, tmp_path_factory):
    """nonroot1: root may not log in over ssh, deploy may (the run's key) and sudoes without a password."""
    (target,) = target_run.boot("nonroot1", platform=platform)
    key = target_run.ssh_key
    target.run(
        "useradd -m -s /bin/bash deploy && install -d -m 0700 -o deploy -g deploy /home/deploy/.ssh && "
        "install -m 0600 -o deploy -g deploy /root/.ssh/authorized_keys /home/deploy/.ssh/authorized_keys && "
        "printf 'PermitRootLogin no\\n' > /etc/ssh/sshd_config.d/00-no-root.conf && sshd -t && "
        "systemctl reload ssh",
        check=True,
    )
    set_sudoers(target, NOPASSWD_RULE)
    salt_ssh = SaltSSH(tmp_path_factory.mktemp("salt-ssh-deploy"), roster=deploy_entry(target))
    salt_ssh.set_pillar(PILLAR)
    yield {"target": target, "key": key, "salt_ssh": salt_ssh}
    target_run.shutdown(target)


def test_root_cannot_log_in_and_deploy_can(machine):
    target, key = machine["target"], machine["key"]
    root = ssh(target, key, "root")
    assert root.returncode == 255, root
    assert "Permission denied" in root.stderr
    deploy = ssh(target, key, "deploy", "id -un && sudo -n id -un")
    assert deploy.returncode == 0, deploy.stderr
    assert deploy.stdout.split() == ["deploy", "root"]


def test_converges_as_deploy_with_sudo(machine):
    target, salt_ssh = machine["target"], machine["salt_ssh"]
    first = salt_ssh.run(target.name, "state.apply", SLS, timeout=600)
    assert first.returncode == 0, why(first, target)
    assert "base-sudo-dropin-managed" in first.changed(target.name), first.changed(target.name)
    second = salt_ssh.run(target.name, "state.apply", SLS, timeout=600)
    assert_converged(first, second, target.name)
    # The states ran as root: the drop-in only root may write, root-owned, checked by visudo.
    assert target.run("stat -c '%U %G %a' /etc/sudoers.d/sparks", check=True).stdout.split() == ["root", "root", "440"]
    assert "%sudo ALL=(ALL:ALL) NOPASSWD: ALL" in target.read("/etc/sudoers.d/sparks")
    assert target.run("stat -c '%U %a' /home/deploy/.ssh /root/.ssh", check=True).stdout.split() == [
        "deploy",
        "700",
        "root",
        "700",
    ]
    # salt-ssh keeps its thin under the login user's name (README: Logging in as a sudoer).
    assert target.run("ls -d /var/tmp/.deploy_*_salt").returncode == 0
    whoami = salt_ssh.run(target.name, "cmd.run", "id -un")
    assert whoami.target(target.name) == "root", whoami.stdout


@pytest.mark.parametrize(
    "changes",
    # tty: plain salt-ssh takes sudo's prompt for ssh's and asks whether to deploy its key. A password without
    # tty: sudo cannot read it (no terminal), so this entry needs passwordless sudo as much as the first.
    [{}, {"tty": True}, {"passwd": PASSWORD}],
    ids=["no-tty", "tty", "passwd-without-tty"],
)
def test_sudo_asking_for_a_password_fails_fast_and_says_how_to_fix_it(machine, changes):
    target, salt_ssh = machine["target"], machine["salt_ssh"]
    target.run(f"echo 'deploy:{PASSWORD}' | chpasswd", check=True)
    set_sudoers(target, PASSWORD_RULE)
    # sudo really asks now (without -n it would wait at the prompt), and has no cached ticket to skip it with.
    assert "password is required" in ssh(target, machine["key"], "deploy", "sudo -n true").stderr
    before = etc_snapshot(target)
    salt_ssh.set_roster(deploy_entry(target, **changes))
    try:
        ret = salt_ssh.run(target.name, "state.apply", SLS, timeout=FAIL_FAST * 3)
        after = etc_snapshot(target)
    finally:
        salt_ssh.set_roster(deploy_entry(target))
        set_sudoers(target, NOPASSWD_RULE)
    assert ret.returncode != 0, ret.stdout
    assert ret.seconds < FAIL_FAST, f"took {ret.seconds:.0f} s"
    # Under tty: true, ssh gives the remote's stderr on its stdout.
    message = ret.target(target.name)["stderr"] + ret.target(target.name)["stdout"]
    assert "sparks: sudo on nonroot1 needs a password for deploy" in message, ret.stdout
    assert "NOPASSWD" in message and "passwd:" in message, message
    assert PASSWORD not in ret.stdout + ret.stderr
    assert after == before, "the refused run changed /etc"


def test_the_password_in_the_roster_is_the_other_fix(machine):
    target, salt_ssh = machine["target"], machine["salt_ssh"]
    target.run(f"echo 'deploy:{PASSWORD}' | chpasswd", check=True)
    set_sudoers(target, PASSWORD_RULE)
    salt_ssh.set_roster(deploy_entry(target, passwd=PASSWORD, tty=True))
    try:
        ret = salt_ssh.run(target.name, "state.apply", SLS, timeout=600)
    finally:
        salt_ssh.set_roster(deploy_entry(target))
        set_sudoers(target, NOPASSWD_RULE)
    assert ret.returncode == 0, why(ret, target)
    assert ret.changed(target.name) == {}
    assert PASSWORD not in ret.stdout + ret.stderr
