"""salt/_roster/sparks.py through Salt's own roster loader, with the repository's salt-ssh settings: which entries
get the sudo check, and that the check survives salt-ssh's command splitting and says what to fix.
tests/integration/test_nonroot_login.py runs it on a real target."""

import os
import shutil
import subprocess

import pytest
import salt.client.ssh.shell
import salt.config
import salt.roster
import yaml

from tests.support.saltrun import repo_config, ssh_config

ROSTER = {
    "rootbox": {"host": "192.0.2.1"},
    "rootsudo": {"host": "192.0.2.2", "user": "root", "sudo": True},
    "deploybox": {"host": "192.0.2.3", "user": "deploy", "sudo": True},
    "nosudo": {"host": "192.0.2.4", "user": "deploy"},
    "pw_no_tty": {"host": "192.0.2.5", "user": "deploy", "sudo": True, "passwd": "x"},
    "pw_tty": {"host": "192.0.2.6", "user": "deploy", "sudo": True, "passwd": "x", "tty": True},
    "as_user": {"host": "192.0.2.7", "user": "deploy", "sudo": True, "sudo_user": "o'k", "ssh_pre_hook": "echo own"},
    "plain": "192.0.2.8",
}


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    work = tmp_path_factory.mktemp("roster")
    (work / "roster").write_text(yaml.safe_dump(ROSTER))
    conf = repo_config(work)
    conf.update(ssh_config(), roster_file=str(work / "roster"))
    opts = salt.config.apply_master_config(conf)
    assert opts["roster"] == "sparks"
    return salt.roster.Roster(opts, opts["roster"]).targets("*", "glob")


def test_only_entries_that_need_sudo_without_a_password_get_the_check(targets):
    checked = {name for name, entry in targets.items() if "ssh_pre_hook" in entry}
    assert checked == {"deploybox", "pw_no_tty", "as_user"}
    # Everything else is flat's entry as it was.
    assert targets["rootbox"] == ROSTER["rootbox"]
    assert targets["pw_tty"] == ROSTER["pw_tty"]
    assert targets["plain"] == {"host": "192.0.2.8"}


def test_an_entry_s_own_hook_runs_after_the_check(targets):
    assert targets["as_user"]["ssh_pre_hook"].endswith(" && echo own")
    assert "sudo -n -u" in targets["as_user"]["ssh_pre_hook"]


def remote_command(hook):
    """The command ssh hands the login shell on the target, split the way salt-ssh's shell splits it."""
    shell = salt.client.ssh.shell.Shell({}, host="192.0.2.3", user="deploy", priv="/dev/null")
    return shell._split_cmd(shell._cmd_str(hook))[-1]  # pylint: disable=protected-access


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("sudo") or not shutil.which("runuser"),
    reason="runs the check as nobody: needs root, sudo and runuser",
)
@pytest.mark.parametrize("name", ["deploybox", "as_user"])
def test_the_check_stops_a_user_sudo_asks_a_password_and_says_how_to_fix_it(targets, name):
    command = remote_command(targets[name]["ssh_pre_hook"])
    ret = subprocess.run(
        ["runuser", "-u", "nobody", "--", "/bin/sh", "-c", command], capture_output=True, text=True, timeout=30
    )
    assert ret.returncode == 1
    assert ret.stdout == ""
    assert ret.stderr.startswith("sparks: sudo on ")
    assert "needs a password for nobody (sudo -n said: sudo: " in ret.stderr
    assert "NOPASSWD" in ret.stderr and "passwd: and tty: true" in ret.stderr
    # What salt-ssh would misread: a login failure, or ssh's password prompt.
    assert "Permission denied" not in ret.stderr
    assert not salt.client.ssh.shell.SSH_PASSWORD_PROMPT_RE.search(ret.stderr)


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the check as root")
def test_the_check_passes_as_root(targets):
    command = remote_command(targets["deploybox"]["ssh_pre_hook"])
    assert subprocess.run(["/bin/sh", "-c", command], capture_output=True, timeout=30).returncode == 0
