"""The README's main command, `bootstrap/1nstall.py`, run inside a fresh Debian 13 and Debian 12 target (real pip and
apt).
"""

import json
import re
import subprocess

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.saltrun import REPO_ROOT
from tests.support.secrets import files_holding, redis_cli

pytestmark = pytest.mark.integration
CONSTRAINTS = REPO_ROOT / "requirements" / "constraints.txt"
SUMMARY = re.compile(r"sparks: (\d+) states, (\d+) (?:changed|would change), (\d+) failed")


def copy_checkout(target, dest="/root/sparks"):
    """Put this working tree (not .git, not caches) on the target, as a user's clone would be."""
    root = target.root / dest.lstrip("/")
    root.mkdir(parents=True)
    subprocess.run(
        f"tar -C {REPO_ROOT} --exclude=.git --exclude=.salt --exclude=.venv --exclude=__pycache__ -cf - . "
        f"| tar -C {root} -xf -",
        shell=True,
        check=True,
    )
    return dest


def summary(result):
    match = SUMMARY.search(result.stdout)
    assert match, f"no summary line:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return tuple(int(group) for group in match.groups())


@pytest.fixture(scope="module")
def bootstrapped(target_run, platform):
    (target,) = target_run.boot("boot1", platform=platform)
    checkout = copy_checkout(target)
    first = target.run(f"python3 {checkout}/bootstrap/1nstall.py", timeout=1200)
    yield target, checkout, first
    target_run.shutdown(target)


def test_first_run_installs_salt_privately_and_applies_base(bootstrapped):
    target, _, first = bootstrapped
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    states, changed, failed = summary(first)
    assert failed == 0 and changed > 0 and states >= changed
    assert "==> Installing Salt" in first.stdout
    assert_installed_as_constrained(target)
    # No system Python pollution: salt is not importable by the system interpreter.
    assert target.run("python3 -c 'import salt'").returncode != 0
    assert target.run("test -f /etc/sudoers.d/sparks && dpkg -s htop fail2ban >/dev/null").returncode == 0


def assert_installed_as_constrained(target, venv="/opt/sparks/venv"):
    """The venv holds the pinned Salt, and every package in it is at the version requirements/constraints.txt
    gives for the target's Python: what CI tested is what a user installing on another day gets."""
    pinned = re.search(r"^salt==(\S+)$", CONSTRAINTS.read_text(), re.MULTILINE).group(1)
    assert target.run(f"{venv}/bin/salt-call --version", check=True).stdout.startswith(f"salt-call {pinned} ")
    python = target.run(f"{venv}/bin/python -c 'import platform; print(platform.python_version())'", check=True)
    environment = {"python_version": ".".join(python.stdout.strip().split(".")[:2])}
    wanted = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line and not line.startswith("#"):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                wanted[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    listed = target.run(f"{venv}/bin/pip list --format=json --disable-pip-version-check", check=True)
    installed = {canonicalize_name(item["name"]): item["version"] for item in json.loads(listed.stdout)}
    assert installed["salt"] == pinned
    drift = {
        name: (version, wanted[name]) for name, version in installed.items() if wanted.get(name, version) != version
    }
    assert drift == {}, f"installed != constrained: {drift}"


def test_second_run_changes_nothing(bootstrapped):
    target, checkout, _ = bootstrapped
    again = target.run(f"python3 {checkout}/bootstrap/1nstall.py", timeout=900)
    assert again.returncode == 0, again.stdout[-3000:]
    assert summary(again)[1:] == (0, 0)


def test_dry_run_reports_nothing_to_do_on_a_converged_machine(bootstrapped):
    target, checkout, _ = bootstrapped
    dry = target.run(f"python3 {checkout}/bootstrap/1nstall.py --test", timeout=900)
    assert dry.returncode == 0, dry.stdout[-3000:]
    assert summary(dry)[1:] == (0, 0)


REDIS_PASSWORD = "Bootstrap-redis-pa55-5e1a"
SITE_PILLAR = f"""sparks:
  roles: [base, db_redis]
  db_redis:
    settings:
      requirepass: {REDIS_PASSWORD}
"""
# Every kind of refusal, each with what the message must say (the file, line and column, or the key).
BAD_PILLARS = {
    "yaml": (
        "sparks:\n  db_redis:\n    port: 6380\n  base: packages: htop\n",
        "/root/bad.sls: line 4, column 17: mapping values are not allowed",
    ),
    "schema": (
        "sparks:\n  base:\n    packages: htop\n",
        "sparks:base:packages: expected a list, got a string ('htop')",
    ),
    "secret": (
        "sparks:\n  db_redis:\n    settings:\n      requirepass: [Bad-pa55]\n",
        "sparks:db_redis:settings:requirepass: expected a string, got a list (a secret: not shown)",
    ),
    "role": ("sparks:\n  roles: [base, nosuch]\n", "sparks:roles: unknown role 'nosuch'"),
}
# What a refusal must leave as it was: the stored pillar, every file under /etc, the installed packages.
FINGERPRINT = (
    "sha256sum /etc/sparks/pillar/local.sls; dpkg -l | sha256sum; "
    "find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum"
)


def test_pillar_file_with_a_redis_password_is_applied_and_the_password_is_nowhere_else(bootstrapped):
    target, checkout, _ = bootstrapped
    target.run("umask 077; cat > /root/site.sls", input=SITE_PILLAR, check=True)
    ret = target.run(f"python3 {checkout}/bootstrap/1nstall.py --pillar /root/site.sls", timeout=900)
    assert ret.returncode == 0, ret.stdout[-3000:] + ret.stderr[-3000:]
    assert summary(ret)[2] == 0
    assert "changed  db-redis-config-settings-file-managed" in ret.stdout
    assert REDIS_PASSWORD not in ret.stdout + ret.stderr
    assert target.run("stat -c %a /etc/sparks/pillar/local.sls", check=True).stdout.strip() == "600"
    assert redis_cli(target, "PING", REDIS_PASSWORD).strip() == "PONG" and "NOAUTH" in redis_cli(target, "PING", "")
    # Salt's caches and logs (the checkout's .salt), the journal, /tmp: only the pillar files and redis' own hold it.
    found = files_holding(REDIS_PASSWORD, "/etc", "/var", "/tmp", "/root", "/opt/sparks", target=target)
    found = [path for path in found if not path.startswith(f"{checkout}/tests/")]  # this test's own source
    assert found == ["/etc/redis/sparks.conf", "/etc/sparks/pillar/local.sls", "/root/site.sls"], found
    again = target.run(f"python3 {checkout}/bootstrap/1nstall.py", timeout=900)
    assert again.returncode == 0 and summary(again)[1:] == (0, 0), again.stdout[-3000:]


@pytest.mark.parametrize("kind", BAD_PILLARS)
def test_a_refused_pillar_file_changes_nothing_and_the_main_command_still_works(bootstrapped, kind):
    target, checkout, _ = bootstrapped
    text, message = BAD_PILLARS[kind]
    target.run("umask 077; cat > /root/bad.sls", input=text, check=True)
    before = target.run(FINGERPRINT, check=True).stdout
    bad = target.run(f"python3 {checkout}/bootstrap/1nstall.py --pillar /root/bad.sls", timeout=900)
    assert bad.returncode == 1, bad.stdout[-3000:] + bad.stderr[-3000:]
    assert message in bad.stderr, bad.stderr
    assert "/root/bad.sls refused, nothing was applied; /etc/sparks/pillar/local.sls is unchanged" in bad.stderr
    assert "Bad-pa55" not in bad.stdout + bad.stderr
    assert target.run(FINGERPRINT, check=True).stdout == before
    if kind == "yaml":  # the stored settings still work: the plain command runs as before, changing nothing
        plain = target.run(f"python3 {checkout}/bootstrap/1nstall.py", timeout=900)
        assert plain.returncode == 0 and summary(plain)[1:] == (0, 0), plain.stdout[-3000:]
