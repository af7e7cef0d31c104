"""`db_mongodb` on a fresh Debian 12 and a fresh Debian 13 target in test mode only.

MongoDB's vendor repository (repo.mongodb.org) and key server cannot be reached from the test machines (only the
distribution's mirrors and the language registries are), so nothing is installed for real here. What is checked:
the formula renders with pillar.example's section, `state.apply db_mongodb test=True` on a real target reports
each expected state as "would change" and fails none, nothing is downloaded or written on the target, and
without a key hash or key text the formula refuses to trust the repository.
"""

import copy

import pytest
import yaml

from tests.support.saltrun import REPO_ROOT

pytestmark = pytest.mark.integration
EXAMPLE = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())["sparks"]["db_mongodb"]
# pillar.example leaves the key's hash for the user to check and fill in; any well-formed hash does for a dry run.
KEY_HASH = "0" * 64
EXPECTED = [
    "db-mongodb-repo-keyrings-directory",
    "db-mongodb-repo-key-file-managed",
    "db-mongodb-repo-list-file-managed",
    "db-mongodb-package-installed",
    "db-mongodb-config-file-managed",
    "db-mongodb-service-running",
]


def pillar(**repo):
    section = copy.deepcopy(EXAMPLE)
    section["repo"] = {**section.get("repo", {}), **repo}
    return {"sparks": {"db_mongodb": section}}


@pytest.fixture(scope="module")
def mongo(target_run, platform, salt_ssh):
    (target,) = target_run.boot("mongo1", platform=platform)
    yield target
    salt_ssh.set_pillar({})
    target_run.shutdown(target)


def test_dry_run_reports_repository_key_package_config_and_service(mongo, salt_ssh):
    target = mongo
    before = target.run("find /etc/apt /etc/mongod.conf -xdev 2>/dev/null | sort", check=False).stdout
    salt_ssh.set_pillar(pillar(key_hash=KEY_HASH))
    ret = salt_ssh.run(target.name, "state.apply", "db_mongodb", test=True)
    states = ret.states(target.name)
    assert ret.failed(target.name) == {}
    assert sorted(states, key=lambda sid: states[sid]["__run_num__"]) == EXPECTED
    for state_id in EXPECTED[1:]:
        assert states[state_id]["result"] is None, (state_id, states[state_id]["comment"])
    # The key is fetched (and checked against its hash) by a command, which a dry run does not run.
    assert "would have been executed" in states["db-mongodb-repo-key-file-managed"]["comment"]
    # (tests/functional/test_db_render.py checks the repository line itself.)
    assert states["db-mongodb-repo-list-file-managed"]["changes"] == {
        "newfile": "/etc/apt/sources.list.d/mongodb-org.list"
    }
    assert states["db-mongodb-package-installed"]["changes"] == {"mongodb-org": {"new": "installed", "old": ""}}
    # Test mode touched nothing: no key, no list, no configuration.
    assert not (target.root / "etc/apt/keyrings/mongodb-server.asc").exists()
    assert target.run("find /etc/apt /etc/mongod.conf -xdev 2>/dev/null | sort", check=False).stdout == before


# The key checks are the formula's own logic (sha256sum, python3's urllib), the same on both releases: Debian 13 only.
@pytest.mark.platforms("debian13")
def test_without_a_verified_key_nothing_is_trusted(mongo, salt_ssh):
    target = mongo
    salt_ssh.set_pillar(pillar(key_hash="", key_text=""))
    ret = salt_ssh.run(target.name, "state.apply", "db_mongodb", test=True)
    failed = ret.failed(target.name)
    assert "set key_hash" in failed["db-mongodb-repo-key-file-managed"]["name"]
    assert "db-mongodb-repo-list-file-managed" in failed
    assert ret.returncode != 0


@pytest.mark.platforms("debian13")
def test_key_is_installed_only_when_its_download_matches_the_hash(mongo, salt_ssh):
    """The real fetch-and-verify path, with a local file:// URL standing in for the vendor's key server."""
    target = mongo
    target.run("printf 'not really a key\\n' >/root/key.asc", check=True)
    good = target.run("sha256sum /root/key.asc", check=True).stdout.split()[0]
    for key_hash, result in (("1" * 64, False), (good, True), (good, True)):
        salt_ssh.set_pillar(pillar(key_url="file:///root/key.asc", key_hash=key_hash))
        ret = salt_ssh.run(target.name, "state.apply", "db_mongodb.repo")
        state = ret.states(target.name)["db-mongodb-repo-key-file-managed"]
        assert state["result"] is result, state["comment"]
        installed = target.root / "etc/apt/keyrings/mongodb-server.asc"
        assert installed.exists() is result
    # The third run found the file matching its hash and fetched nothing.
    assert state["changes"] == {}
    assert installed.read_text() == "not really a key\n"
