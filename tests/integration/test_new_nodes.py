"""sparks' flexible execution model: configure new machines agentless without touching the running ones.

Runs salt-ssh exactly as the README says, from the repository root, so the repository's own Saltfile and
salt/config are what is tested (only the roster is this run's, given with --roster-file).
"""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.saltrun import REPO_ROOT, SaltResult

pytestmark = pytest.mark.integration
SALT_SSH = str(Path(sys.executable).parent / "salt-ssh")


def untouched_fingerprint(target):
    """Packages, every file of /etc, every process with its start time, and how many ssh logins it has seen."""
    return {
        "packages": target.packages(),
        "etc": target.run("find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum", check=True).stdout,
        "processes": target.run("ps -eo pid,lstart,args --no-headers | grep -v ' ps -eo'", check=True).stdout,
        "ssh_logins": target.run("journalctl -u ssh --no-pager | grep -c 'Accepted publickey' || true").stdout,
    }


def repo_salt_ssh(roster_file, *args, timeout=900):
    import json
    import time

    started = time.monotonic()
    proc = subprocess.run(
        [SALT_SSH, f"--roster-file={roster_file}", "--out=json", "--static", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    data = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    return SaltResult(proc.returncode, data, proc.stdout, proc.stderr, time.monotonic() - started)


def test_new_nodes_converge_and_the_old_one_is_untouched(boot, tmp_path):
    old, new1, new2 = boot("old1", "newnode1", "newnode2")
    roster = tmp_path / "roster"
    roster.write_text(yaml.safe_dump({t.name: t.roster_entry() for t in (old, new1, new2)}))
    before = untouched_fingerprint(old)

    ret = repo_salt_ssh(roster, "newnode*", "state.apply", "lxc_base")
    assert sorted(ret.data) == ["newnode1", "newnode2"], ret.stdout[-2000:] + ret.stderr[-2000:]
    for node in (new1, new2):
        assert ret.failed(node.name) == {}
        assert {"nullmailer", "bsd-mailx", "htop", "sudo"} <= node.packages()
        assert "fr_FR.utf8" in node.run("locale -a", check=True).stdout
    assert ret.returncode == 0

    again = repo_salt_ssh(roster, "newnode*", "state.apply", "lxc_base")
    assert all(again.changed(node.name) == {} for node in (new1, new2))
    assert untouched_fingerprint(old) == before


def test_one_unreachable_target_does_not_stop_the_others(boot, tmp_path):
    alive, dead = boot("alive1", "dead1")
    dead.run("systemctl stop ssh.socket ssh.service", check=True)
    roster = tmp_path / "roster"
    roster.write_text(yaml.safe_dump({t.name: dict(t.roster_entry(), timeout=10) for t in (alive, dead)}))
    ret = repo_salt_ssh(roster, "*", "state.apply", "local_perms")
    assert ret.failed("alive1") == {} and ret.changed("alive1")  # root's ~/.ssh made private
    # The run's answer names the failed host and why.
    assert ret.data["dead1"] == f"ssh: connect to host {dead.address} port 22: Connection refused"
    assert ret.returncode != 0
