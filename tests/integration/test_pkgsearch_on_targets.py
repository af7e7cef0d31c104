"""pkgsearch.search over salt-ssh on a real target: the bundled package travels with the thin and answers."""

import pytest

pytestmark = pytest.mark.integration


def test_salt_ssh_pkgsearch_answers_from_the_target(boot, salt_ssh):
    (target,) = boot("search1")
    ret = salt_ssh.run(target.name, "pkgsearch.search", "htop", "managers=apt", "limit=5")
    results = ret.data[target.name]
    assert ret.returncode == 0, ret.stdout[-2000:] + ret.stderr[-2000:]
    assert results[0]["manager"] == "apt" and results[0]["name"] == "htop"
    assert results[0]["installed"] is None  # the image has no htop: the answer is the target's, not ours
    assert set(results[0]) == {"manager", "name", "version", "summary", "installed"}
