"""The `base` role applied for real with salt-ssh to fresh Debian 13 and Debian 12 targets, and checked there."""

import pytest
import yaml

from tests.support.saltrun import REPO_ROOT, example_pillar

pytestmark = pytest.mark.integration
DEFAULTS = yaml.safe_load((REPO_ROOT / "formulas/base/parameters/defaults.yaml").read_text())


def snapshot(target):
    """What a run could change on a target: its installed packages and a checksum of every file in /etc."""
    etc = target.run("find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum", check=True).stdout
    return target.packages(), etc


@pytest.fixture(scope="module")
def based(target_run, platform, salt_ssh):
    """One target with `base` applied once (shared by the checks below, which only read it)."""
    (target,) = target_run.boot("base1", platform=platform)
    salt_ssh.set_pillar(example_pillar("base"))
    first = salt_ssh.run("base1", "state.apply", "base")
    yield target, first
    salt_ssh.set_pillar({})
    target_run.shutdown(target)


def test_first_apply_succeeds_and_changes_the_machine(based):
    target, first = based
    assert first.returncode == 0, first.stderr
    assert first.failed(target.name) == {}
    assert "base-packages-installed" in first.changed(target.name)


def test_every_listed_package_is_installed(based):
    target, _ = based
    wanted = set(DEFAULTS["packages"] + DEFAULTS["admin_packages"] + ["unattended-upgrades", "locales"])
    assert wanted - target.packages() == set()


def test_admin_group_sudoes_without_password(based):
    target, _ = based
    dropin = target.run("stat -c '%a %U' /etc/sudoers.d/sparks && visudo -c", check=True).stdout
    assert dropin.startswith("440 root")
    dropin = target.read("/etc/sudoers.d/sparks")
    assert "%sudo ALL=(ALL:ALL) NOPASSWD: ALL" in dropin
    assert 'Defaults env_keep += "POWERLINE_SHELL"' in dropin  # the rule pillar.example adds
    target.run("id alice >/dev/null 2>&1 || useradd -m -G sudo alice", check=True)
    assert target.run("runuser -u alice -- sudo -n true").returncode == 0
    target.run("id bob >/dev/null 2>&1 || useradd -m bob", check=True)
    assert target.run("runuser -u bob -- sudo -n true").returncode != 0


def test_unattended_upgrades_run_daily(based):
    target, _ = based
    config = target.run("apt-config dump", check=True).stdout
    assert 'APT::Periodic::Update-Package-Lists "1";' in config
    assert 'APT::Periodic::Unattended-Upgrade "1";' in config
    assert 'Unattended-Upgrade::Mail "root";' in config  # pillar.example's setting
    timers = target.run("systemctl is-enabled apt-daily.timer apt-daily-upgrade.timer", check=True).stdout
    assert timers.split() == ["enabled", "enabled"]
    # unattended-upgrade itself accepts the configuration (a dry run parses every file).
    assert target.run("unattended-upgrade --dry-run", timeout=300).returncode == 0


def test_locale_and_fail2ban(based):
    target, _ = based
    assert "en_US.utf8" in target.run("locale -a", check=True).stdout
    assert "LANG=en_US.UTF-8" in target.read("/etc/default/locale")
    assert "Journal matches" in target.run("fail2ban-client status sshd", check=True).stdout


def test_second_apply_changes_nothing(based, salt_ssh):
    target, _ = based
    again = salt_ssh.run(target.name, "state.apply", "base")
    assert again.returncode == 0, again.stderr
    assert again.failed(target.name) == {}
    assert again.changed(target.name) == {}


# Refusals of bad input: the same checks (visudo, our pillar checker on the salt-ssh side) on both releases, and
# each costs an apply (and the bad-pillar cases a boot each), so Debian 13 only.
@pytest.mark.platforms("debian13")
def test_sudoers_rule_that_fails_visudo_is_refused_and_old_file_stays(based, salt_ssh):
    target, _ = based
    before = target.read("/etc/sudoers.d/sparks")
    salt_ssh.set_pillar({"sparks": {"base": {"sudo": {"rules": ["alice ALL=(ALL NOPASSWD: ALL"]}}}})
    try:
        ret = salt_ssh.run(target.name, "state.apply", "base.sudo")
    finally:
        salt_ssh.set_pillar({})
    failed = ret.failed(target.name)
    assert list(failed) == ["base-sudo-dropin-managed"]
    assert "check_cmd" in failed["base-sudo-dropin-managed"]["comment"]
    assert target.read("/etc/sudoers.d/sparks") == before
    assert target.run("visudo -c").returncode == 0
    assert ret.returncode != 0


@pytest.mark.platforms("debian13")
@pytest.mark.parametrize(
    "pillar, message",
    [
        ({"packages": "htop vim"}, "sparks:base:packages: expected a list, got a string ('htop vim')"),
        ({"no_such_switch": True}, "sparks:base:no_such_switch: unknown key"),
        ({"sudo": {"nopasswd": "yes"}}, "sparks:base:sudo:nopasswd: expected a boolean, got a string ('yes')"),
    ],
    ids=["list-given-as-string", "unknown-key", "wrong-type-nested"],
)
def test_bad_pillar_is_refused_before_anything_changes(boot, salt_ssh, pillar, message):
    (target,) = boot("bad1")
    before = snapshot(target)
    salt_ssh.set_pillar({"sparks": {"base": pillar}})
    ret = salt_ssh.run(target.name, "state.apply", "base")
    assert ret.returncode != 0
    assert message in ret.stdout
    assert snapshot(target) == before


# Each formula's clean state, applied once for real and then again with zero changes: its logic (the same package
# names and paths from the map) does not depend on the release, so Debian 13 only. Last in the module: it undoes
# what the checks above read.
@pytest.mark.platforms("debian13")
def test_clean_removes_the_dropins_and_packages_and_keeps_sudo(based, salt_ssh):
    target, _ = based
    ret = salt_ssh.run(target.name, "state.apply", "base.clean")
    assert ret.returncode == 0, ret.stdout[-3000:] + ret.stderr[-3000:]
    assert ret.failed(target.name) == {}
    assert set(ret.changed(target.name)) == {"base-clean-config-absent", "base-clean-packages-removed"}
    for path in (
        "/etc/sudoers.d/sparks",
        "/etc/apt/apt.conf.d/52sparks-unattended-upgrades",
        "/etc/fail2ban/jail.d/sparks.local",
    ):
        assert not (target.root / path.lstrip("/")).exists(), path
    removed = set(DEFAULTS["packages"] + DEFAULTS["admin_packages"]) - {"sudo"}
    assert removed & target.packages() == set()
    assert "sudo" in target.packages()  # never removed: it may be how the admins get in
    assert target.run("visudo -c").returncode == 0
    again = salt_ssh.run(target.name, "state.apply", "base.clean")
    assert again.failed(target.name) == {} and again.changed(target.name) == {}
