"""dev_mini, dev, dev_web, local_perms and powerline applied for real to one fresh target, then sparks_pkg.

npm packages come from the real npm registry (reachable from targets); gems from a .gem file built on the
target, because the public gem index is not reachable here.
"""

import json

import pytest

from tests.support.converge import assert_converged
from tests.support.saltrun import example_pillar

pytestmark = pytest.mark.integration
ROLES = "dev,dev_web,local_perms,powerline"
GEMSPEC = """Gem::Specification.new do |s|
  s.name = "sparkstest"
  s.version = "0.1.0"
  s.summary = "sparks test gem"
  s.authors = ["sparks"]
  s.files = ["lib/sparkstest.rb"]
end
"""
# pillar.example's sections, plus a gem from a file (no gem index here).
PILLAR = example_pillar(
    "users",
    "dev_mini",
    "dev_web",
    "powerline",
    dev_web={
        "gems": [{"name": "sparkstest", "version": "0.1.0", "source": "/root/gems/sparkstest-0.1.0.gem"}],
    },
)


@pytest.fixture(scope="module")
def dev_target(target_run, platform, salt_ssh):
    (target,) = target_run.boot("dev1", platform=platform)
    target.run(
        "useradd -m -s /bin/bash alice && install -d -o alice -m 0755 ~alice/.ssh "
        "&& install -o alice -m 0644 /dev/null ~alice/.ssh/id_test",
        check=True,
    )
    salt_ssh.set_pillar(PILLAR)
    first = salt_ssh.run(target.name, "state.apply", ROLES)
    yield target, first
    salt_ssh.set_pillar({})
    target_run.shutdown(target)


def build_test_gem(target):
    target.run("mkdir -p /root/gems/lib && touch /root/gems/lib/sparkstest.rb", check=True)
    (target.root / "root/gems/sparkstest.gemspec").write_text(GEMSPEC)
    target.run("cd /root/gems && gem build sparkstest.gemspec", check=True)


def test_first_apply(dev_target, salt_ssh):
    target, first = dev_target
    failed = first.failed(target.name)
    # The gem state fails until the gem file exists: ruby (and so `gem build`) arrives with this very run.
    assert set(failed) <= {"dev-web-gem-sparkstest-installed"}, json.dumps(failed, indent=1)
    build_test_gem(target)
    again = salt_ssh.run(target.name, "state.apply", ROLES)
    assert again.failed(target.name) == {}
    assert list(again.changed(target.name)) == ["dev-web-gem-sparkstest-installed"]


def test_dev_packages_and_sources_dir(dev_target):
    target, _ = dev_target
    assert {
        "git",
        "make",
        "git-flow",
        "ack",
        "python3-dev",
        "virtualenvwrapper",
        "gettext",
        "build-essential",
    } <= target.packages()
    assert target.run("stat -c '%U %a' ~alice/sources", check=True).stdout.strip() == "alice 755"
    assert target.run("runuser -u alice -- python3 -m venv /tmp/alice-venv").returncode == 0


def test_node_npm_ruby_and_their_packages(dev_target):
    target, _ = dev_target
    assert target.run("lessc --version", check=True).stdout.startswith("lessc 4.1.3")
    assert "sparkstest (0.1.0)" in target.run("gem list --local sparkstest", check=True).stdout
    assert target.run("bundle --version").returncode == 0


def test_ssh_files_are_private(dev_target):
    target, _ = dev_target
    assert target.run("stat -c '%a' ~alice/.ssh ~alice/.ssh/id_test", check=True).stdout.split() == ["700", "600"]


def test_powerline_prompt_and_sshd_accept_env(dev_target):
    target, _ = dev_target
    assert "sparks powerline" in target.read("/home/alice/.bashrc")
    prompt = target.run("runuser -u alice -- bash -ic '_sparks_powerline_ps1; echo \"$PS1\"' 2>/dev/null")
    assert prompt.returncode == 0
    # powerline-shell's prompt: the user segment and its arrow separator.
    assert "\\u" in prompt.stdout and "\ue0b0" in prompt.stdout
    assert "acceptenv POWERLINE_SHELL" in target.run("sshd -T", check=True).stdout
    assert target.run("systemctl is-active ssh", check=True).stdout.strip() == "active"


def test_second_apply_changes_nothing(dev_target, salt_ssh):
    target, _ = dev_target
    again = salt_ssh.run(target.name, "state.apply", ROLES)
    assert again.failed(target.name) == {}
    assert again.changed(target.name) == {}


# sparks_pkg's own logic (a result per manager, dry run first), the same on both releases: Debian 13 only.
@pytest.mark.platforms("debian13")
def test_upgrade_all_lists_then_upgrades_npm(dev_target, salt_ssh):
    """sparks_pkg against real apt and the real npm registry: less 4.1.3 is outdated, so it gets upgraded."""
    target, _ = dev_target
    dry = salt_ssh.run(target.name, "sparks_pkg.upgrade_all", "test=True", "managers=apt,npm,gem,pip")
    report = dry.data[target.name]
    assert report["apt"]["status"] == "ok" and report["gem"]["status"] == "ok"
    assert report["pip"]["status"] == "skipped"
    assert [item["name"] for item in report["npm"]["outdated"]] == ["less"]
    assert target.run("lessc --version", check=True).stdout.startswith("lessc 4.1.3")  # dry run changed nothing
    done = salt_ssh.run(target.name, "sparks_pkg.upgrade_all", "managers=npm")
    assert done.returncode == 0 and done.data[target.name]["npm"]["status"] == "ok"
    assert not target.run("lessc --version", check=True).stdout.startswith("lessc 4.1.3")
    refreshed = salt_ssh.run(target.name, "sparks_pkg.refresh_all", "managers=apt")
    assert refreshed.data[target.name]["apt"] == {"status": "ok", "outdated": [], "comment": "package lists refreshed"}


@pytest.mark.platforms("debian13")
def test_unknown_manager_is_an_error(dev_target, salt_ssh):
    target, _ = dev_target
    bad = salt_ssh.run(target.name, "sparks_pkg.refresh_all", "managers=apt,nosuch")
    assert bad.returncode != 0
    assert "unknown package manager(s): nosuch" in bad.stdout


# The clean states' logic does not depend on the release: Debian 13 only, last (they undo what the checks read).
@pytest.mark.platforms("debian13")
def test_clean_removes_the_tools_the_prompt_and_the_npm_packages(dev_target, salt_ssh):
    target, _ = dev_target
    clean = "dev_web.clean,dev.clean,dev_mini.clean,powerline.clean"
    ret = salt_ssh.run(target.name, "state.apply", clean)
    assert ret.returncode == 0, ret.stdout[-3000:] + ret.stderr[-3000:]
    assert ret.failed(target.name) == {}
    assert {"nodejs", "npm", "ruby", "git", "make", "git-flow", "virtualenvwrapper"} & target.packages() == set()
    assert target.run("command -v lessc").returncode != 0
    assert not (target.root / "usr/local/lib/node_modules/less").exists()
    assert not (target.root / "opt/sparks/powerline").exists()
    assert not (target.root / "etc/ssh/sshd_config.d/sparks-powerline.conf").exists()
    assert "powerline-shell" not in target.read("/home/alice/.bashrc")
    assert (target.root / "home/alice/sources").is_dir()  # users' work stays
    assert "python3" in target.packages()  # Salt runs on it: dev.clean leaves it
    again = salt_ssh.run(target.name, "state.apply", clean)
    assert_converged(ret, again, target.name)
