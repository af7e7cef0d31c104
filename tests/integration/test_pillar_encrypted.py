"""GPG-encrypted pillar (`#!yaml|gpg`) on a real Debian 13 machine, with keys this test makes (README: encrypted
pillar). Debian 13 only: what is tested (Salt's gpg renderer, our checker, 1nstall.py) does not depend on the
release, and Debian 12 runs the same gpg code in tests/functional/test_pillar_encrypted.py on the host.

- salt-ssh from this machine decrypts with this machine's key (its own ``gpg_keydir``), and the password reaches
  the target's Redis configuration; a value for a key this machine lacks is refused, nothing runs.
- `1nstall.py --pillar` on the target, with the target's key in /etc/sparks/gpgkeys: it installs gpg, checks the
  file (decrypting it) and stores it as it is, still encrypted; a file for another key is refused naming the file,
  the key and the key it was encrypted for, and the stored pillar and /etc stay as they were.
- A salt-master on this machine (pytest-salt-factories' daemon, configured from this repository) decrypts the
  minion's node file with the master's key; a node file for another key is refused the same way.
- No password appears in any output, and no ciphertext is printed.

The target is also that master's minion (the harness's minion layer: Salt already in /opt/sparks/venv, as
1nstall.py puts it), so 1nstall.py finds Salt installed and the test spends its time on what it checks.
"""

import shutil

import pytest

from tests.integration.test_bootstrap import FINGERPRINT, copy_checkout, summary
from tests.support import leaks
from tests.support.fleet import wait_for_ping
from tests.support.gpg import armor_lines, encrypted_pillar, make_key
from tests.support.saltrun import SaltSSH, repo_config
from tests.support.secrets import files_holding, redis_cli

pytestmark = [pytest.mark.integration, pytest.mark.platforms("debian13")]
KEY_PATH = "sparks:db_redis:settings:requirepass"
SSH_PASSWORD = "Gpg-ssh-redis-pa55-41d3"
LOCAL_PASSWORD = "Gpg-local-redis-pa55-9a07"
REFUSED_PASSWORD = "Gpg-refused-pa55-e218"
MASTER_PASSWORD = "Gpg-master-redis-pa55-5b62"
SECRETS = (SSH_PASSWORD, LOCAL_PASSWORD, REFUSED_PASSWORD, MASTER_PASSWORD)


def assert_nothing_printed(result, *texts):
    """No password and no line of an armored message in ``result``'s output."""
    output = result.stdout + result.stderr
    assert not any(secret in output for secret in SECRETS)
    assert "PGP MESSAGE" not in output
    for text in texts:
        assert not any(line in output for line in armor_lines(text))


@pytest.fixture(scope="module")
def master(salt_factories, target_run, tmp_path_factory):
    """A salt-master on this machine with the repository's settings, its own key and pillar tree."""
    work = tmp_path_factory.mktemp("gpg-master")
    (work / "pillar" / "nodes").mkdir(parents=True)
    key = make_key(work / "keys", "sparks master")
    conf = repo_config(work, work / "pillar")
    overrides = {name: conf[name] for name in conf if name != "root_dir"}
    overrides.update(
        gpg_keydir=str(key.homedir), interface=target_run.network.gateway, auto_accept=True, open_mode=False
    )
    factory = salt_factories.salt_master_daemon("sparks-gpg-master", overrides=overrides)
    leaks.watch_master(factory, work / "pillar")
    with factory.started(start_timeout=120):
        yield factory, key, work / "pillar" / "nodes" / "gpg1.sls"
    key.remove()


@pytest.fixture(scope="module")
def machine(master, target_run, platform, tmp_path_factory):
    """The target (its key in /etc/sparks/gpgkeys), this machine's key, and salt-ssh reading this machine's key."""
    work = tmp_path_factory.mktemp("gpg")
    here, there = make_key(work / "keys-here", "sparks salt-ssh workstation"), make_key(work / "keys-gpg1", "gpg1")
    minion = {
        "master": target_run.network.gateway,
        "master_port": master[0].config["ret_port"],
        "publish_port": master[0].config["publish_port"],
        "enable_fqdns_grains": False,
    }
    (target,) = target_run.boot("gpg1", platform=platform, minion_config=lambda target: minion)
    # The machine's key, made as the README says (here on this machine, since the target has no gpg yet).
    shutil.copytree(there.homedir, target.root / "etc/sparks/gpgkeys", ignore=shutil.ignore_patterns("S.*", "*.lock"))
    target.run("chmod 0700 /etc/sparks /etc/sparks/gpgkeys", check=True)
    ssh = SaltSSH(work / "salt-ssh", extra_options={"gpg_keydir": str(here.homedir)})
    ssh.set_roster(target_run.roster([target]))
    yield target, here, there, ssh
    target_run.shutdown(target)
    here.remove()
    there.remove()


def test_salt_ssh_decrypts_here_and_the_password_reaches_the_target(machine):
    target, here, _, ssh = machine
    pillar = encrypted_pillar(SSH_PASSWORD, here)
    (ssh.pillar_dir / "local.sls").write_text(pillar)
    ret = ssh.run("gpg1", "state.apply", "db_redis")
    assert ret.returncode == 0 and ret.failed("gpg1") == {}, ret.stdout[-3000:] + ret.stderr[-3000:]
    assert_nothing_printed(ret, pillar)
    assert redis_cli(target, "PING", SSH_PASSWORD).strip() == "PONG"
    assert files_holding(SSH_PASSWORD, "/etc", target=target) == ["/etc/redis/sparks.conf"]
    assert files_holding("PGP MESSAGE", "/etc/redis", target=target) == []


def test_salt_ssh_refuses_a_value_for_a_key_it_does_not_have(machine):
    target, _, there, ssh = machine
    pillar = encrypted_pillar(REFUSED_PASSWORD, there)
    (ssh.pillar_dir / "local.sls").write_text(pillar)
    before = target.run("sha256sum /etc/redis/sparks.conf", check=True).stdout
    ret = ssh.run("gpg1", "state.apply", "db_redis")
    output = ret.stdout + ret.stderr
    assert (
        f"invalid pillar: {ssh.pillar_dir / 'local.sls'}: {KEY_PATH}: cannot be decrypted with the keys in "
        f"{machine[1].homedir} (encrypted for key 0x{there.subkey_id})"
    ) in output, output[-3000:]
    assert_nothing_printed(ret, pillar)
    assert target.run("sha256sum /etc/redis/sparks.conf", check=True).stdout == before


@pytest.fixture(scope="module")
def checkout(machine):
    return copy_checkout(machine[0])


def test_1nstall_decrypts_with_the_machines_key_and_stores_the_file_encrypted(machine, checkout):
    target, _, there, _ = machine
    pillar = encrypted_pillar(LOCAL_PASSWORD, there)
    target.run("umask 077; cat > /root/site.sls", input=pillar, check=True)
    ret = target.run(f"python3 {checkout}/bootstrap/1nstall.py --pillar /root/site.sls --roles db_redis", timeout=900)
    assert ret.returncode == 0, ret.stdout[-3000:] + ret.stderr[-3000:]
    assert summary(ret)[2] == 0
    assert_nothing_printed(ret, pillar)
    assert target.run("dpkg -s gpg gpg-agent >/dev/null").returncode == 0  # installed for it, before the check
    assert target.run("cat /etc/sparks/pillar/local.sls", check=True).stdout == pillar
    assert redis_cli(target, "PING", LOCAL_PASSWORD).strip() == "PONG"
    # In clear only where Redis reads it: not in the stored pillar, Salt's caches and logs, the journal, /tmp.
    found = files_holding(LOCAL_PASSWORD, "/etc", "/var", "/tmp", "/root", "/opt/sparks", target=target)
    assert [path for path in found if not path.startswith(f"{checkout}/tests/")] == ["/etc/redis/sparks.conf"]
    again = target.run(f"python3 {checkout}/bootstrap/1nstall.py --roles db_redis", timeout=900)
    assert again.returncode == 0 and summary(again)[1:] == (0, 0), again.stdout[-3000:] + again.stderr[-3000:]
    assert_nothing_printed(again, pillar)


def test_1nstall_refuses_a_file_for_another_key_and_changes_nothing(machine, checkout):
    target, here, _, _ = machine
    pillar = encrypted_pillar(REFUSED_PASSWORD, here)
    target.run("umask 077; cat > /root/bad.sls", input=pillar, check=True)
    before = target.run(FINGERPRINT, check=True).stdout
    bad = target.run(f"python3 {checkout}/bootstrap/1nstall.py --pillar /root/bad.sls --roles db_redis", timeout=900)
    assert bad.returncode == 1, bad.stdout[-3000:] + bad.stderr[-3000:]
    assert (
        f"/root/bad.sls: {KEY_PATH}: cannot be decrypted with the keys in /etc/sparks/gpgkeys "
        f"(encrypted for key 0x{here.subkey_id})"
    ) in bad.stderr, bad.stderr
    assert "/root/bad.sls refused, nothing was applied; /etc/sparks/pillar/local.sls is unchanged" in bad.stderr
    assert_nothing_printed(bad, pillar)
    assert target.run(FINGERPRINT, check=True).stdout == before
    assert redis_cli(target, "PING", LOCAL_PASSWORD).strip() == "PONG"


def test_a_master_decrypts_with_its_key_and_refuses_what_it_cannot(master, machine):
    factory, key, node = master
    target, here, _, _ = machine
    salt = factory.salt_cli(timeout=600)
    wait_for_ping(salt, "gpg1", ["gpg1"])
    pillar = encrypted_pillar(MASTER_PASSWORD, key)
    node.write_text(pillar)
    ret = salt.run("state.apply", "db_redis", minion_tgt="gpg1", _timeout=600)
    assert ret.returncode == 0, ret.stdout[-3000:] + ret.stderr[-3000:]
    assert all(state["result"] is not False for state in ret.data.values())
    assert_nothing_printed(ret, pillar)
    assert redis_cli(target, "PING", MASTER_PASSWORD).strip() == "PONG"
    refused = encrypted_pillar(REFUSED_PASSWORD, here)
    node.write_text(refused)
    before = target.run("sha256sum /etc/redis/sparks.conf", check=True).stdout
    bad = salt.run("state.apply", "db_redis", minion_tgt="gpg1", _timeout=600)
    assert bad.returncode != 0
    assert (
        f"invalid pillar: {node}: {KEY_PATH}: cannot be decrypted with the keys in {key.homedir} "
        f"(encrypted for key 0x{here.subkey_id})"
    ) in bad.stdout, bad.stdout[-3000:]
    assert_nothing_printed(bad, refused)
    assert target.run("sha256sum /etc/redis/sparks.conf", check=True).stdout == before
