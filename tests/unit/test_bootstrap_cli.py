"""bootstrap/1nstall.py behaviour that changes nothing: listing, argument checks, the pinned install command."""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.support.bootstrap import GOOD_PILLAR, SCRIPT, load_script
from tests.support.render import SALT_CALL
from tests.support.saltrun import REPO_ROOT

CONSTRAINTS = REPO_ROOT / "requirements" / "constraints.txt"


def run(*args, python=sys.executable):
    return subprocess.run([python, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)


def test_list_names_every_state_with_its_description():
    out = run("--list").stdout
    for sls in (REPO_ROOT / "formulas").rglob("*.sls"):
        first = sls.read_text().splitlines()[0]
        assert first.startswith("# "), f"{sls} must start with a one-line description comment"
        assert first[2:] in out, sls
    assert "Roles" in out and "\n  base " in out


def test_unknown_role_and_bad_version_are_usage_errors():
    bad_role = run("--roles", "base,nope")
    assert bad_role.returncode == 2 and "unknown role(s) nope" in bad_role.stderr
    bad_version = run("--salt-version", "latest")
    assert bad_version.returncode == 2 and "is not a version" in bad_version.stderr


@pytest.mark.parametrize(
    "version, reason",
    [
        ("3008.0", "installs without its dependencies"),
        ("3008", "installs without its dependencies"),
        ("3007.16", "out of support"),
        ("3007.*", "out of support"),
        ("3006.9", "out of support"),
    ],
)
def test_salt_below_3008_1_is_refused_before_anything_runs(version, reason):
    refused = run("--salt-version", version, "--roles", "base")
    assert refused.returncode == 2 and reason in refused.stderr, refused.stderr
    assert "upgrad" in refused.stderr or "3008.1" in refused.stderr  # it says what to do instead


def test_pinned_salt_installs_with_the_constraints_file_and_another_version_without_it():
    module = load_script()
    (line,) = [line for line in CONSTRAINTS.read_text().splitlines() if line.startswith("salt==")]
    pinned = line.split("==", 1)[1]
    assert module.pinned_salt_version() == pinned
    assert module.pip_arguments(None) == ["--constraint", str(CONSTRAINTS), f"salt=={pinned}"]
    assert module.pip_arguments(pinned) == module.pip_arguments(None)
    # Another version: the file's dependency pins belong to the pinned Salt and could contradict its requirements.
    assert module.pip_arguments("3008.99") == ["salt==3008.99"]
    assert module.salt_version_problem("3008.*") is None and module.salt_version_problem(pinned) is None


def test_the_pin_is_inside_pyproject_range_and_the_support_floor():
    """pyproject.toml keeps a range for the package metadata; the exact pin must satisfy it."""
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    (salt_range,) = [Requirement(req) for req in project["dependencies"] if Requirement(req).name == "salt"]
    pinned = Version(load_script().pinned_salt_version())
    assert pinned in salt_range.specifier
    assert pinned >= Version("3008.1")


def python_3_10():
    found = sorted(glob.glob("/root/.pyenv/versions/3.10.*/bin/python"))
    if not found:
        reason = "no Python 3.10 interpreter in /root/.pyenv/versions (Ubuntu 22.04's python3 is 3.10)"
        if os.environ.get("SPARKS_REQUIRE_TARGETS") == "1":
            pytest.fail(reason + ": CI machines have one")
        pytest.skip(reason)
    return found[-1]


def test_runs_on_python_3_10():
    """Ubuntu 22.04's python3 is 3.10: the script must parse and run there (.ci/run also checks it with vermin)."""
    python = python_3_10()
    listing = run("--list", python=python)
    assert listing.returncode == 0, listing.stderr
    assert "\n  base " in listing.stdout
    helped = run("--help", python=python)
    assert helped.returncode == 0 and "--salt-version" in helped.stdout, helped.stderr
    refused = run("--salt-version", "3008.0", python=python)
    assert refused.returncode == 2 and "3008.1" in refused.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the script as another user (runuser)")
def test_non_root_without_sudo_is_told_how_to_become_root():
    """A fresh Debian installed with a root password has no sudo: the message must say what to run instead.

    The script and the formulas it lists are copied where `nobody` can read them (the checkout may not be)."""
    copy = Path(tempfile.mkdtemp(prefix="sparks-bootstrap-", dir="/tmp"))
    try:
        copy.chmod(0o755)
        (copy / "bootstrap").mkdir()
        shutil.copy(SCRIPT, copy / "bootstrap" / "1nstall.py")
        shutil.copytree(REPO_ROOT / "formulas", copy / "formulas", symlinks=True)
        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys._base_executable
        proc = subprocess.run(
            [shutil.which("runuser"), "-u", "nobody", "--", python, str(copy / "bootstrap" / "1nstall.py")]
            + ["--roles", "base"],
            env={"PATH": str(copy), "LANG": "C.UTF-8"},  # a PATH without sudo
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd="/",
        )
    finally:
        shutil.rmtree(copy)
    assert proc.returncode == 1, proc.stderr
    assert "sudo is not installed" in proc.stderr and "su -" in proc.stderr
    assert re.search(r"python3 bootstrap/1nstall\.py --roles base\b", proc.stderr), proc.stderr


def test_a_venv_whose_python_changed_is_made_again_and_a_current_one_is_kept(tmp_path, monkeypatch):
    # salt/_utils/sparks_venv.py decides (loaded by path: the script uses the standard library only); pip is faked.
    module = load_script()
    commands = []
    monkeypatch.setattr(module, "run", lambda argv, **kwargs: commands.append(argv))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    module.install_salt(venv, None)
    assert [argv[:3] for argv in commands] == [[str(venv / "bin" / "python"), "-m", "pip"]]
    # A distribution upgrade later: the venv's Python is gone.
    (venv / "bin" / "python").unlink()
    (venv / "bin" / "python").symlink_to("/usr/bin/python3.9-gone")
    commands.clear()
    module.install_salt(venv, None)
    assert commands[0] == [sys.executable, "-m", "venv", "--clear", str(venv)]
    assert commands[1][:3] == [str(venv / "bin" / "python"), "-m", "pip"]


# ----------------------------------------------------------------------------------------------- --pillar
BAD_PILLARS = {
    "yaml": (
        "sparks:\n  db_redis:\n    settings:\n      requirepass: New-s3cret: x\n",
        "{file}: line 4, column 30: mapping values are not allowed",
    ),
    "schema": ("sparks:\n  db_redis:\n    port: x\n", "sparks:db_redis:port: expected an integer, got a string ('x')"),
    "secret": (
        "sparks:\n  db_redis:\n    settings:\n      requirepass: [New-s3cret]\n",
        "sparks:db_redis:settings:requirepass: expected a string, got a list (a secret: not shown)",
    ),
    "role": ("sparks:\n  roles: [base, nosuch]\n", "sparks:roles: unknown role 'nosuch'"),
}


@pytest.mark.parametrize("kind", BAD_PILLARS)
def test_a_refused_pillar_file_leaves_the_stored_one_and_applies_nothing(bootstrap, tmp_path, capsys, kind):
    module, stored, applied = bootstrap
    text, message = BAD_PILLARS[kind]
    new = tmp_path / "site.sls"
    new.write_text(text)
    assert module.main(["--pillar", str(new)]) == 1
    err = capsys.readouterr().err
    assert message.format(file=new) in err, err
    assert f"{new} refused, nothing was applied; {stored} is unchanged" in err
    assert "New-s3cret" not in err
    assert stored.read_text() == GOOD_PILLAR and applied == []


def test_an_accepted_pillar_file_replaces_the_stored_one_privately(bootstrap, tmp_path):
    module, stored, applied = bootstrap
    new = tmp_path / "site.sls"
    new.write_text("sparks:\n  db_redis: {port: 6390}\n")
    assert module.main(["--pillar", str(new)]) == 0
    assert stored.read_text() == new.read_text() and stored.stat().st_mode & 0o777 == 0o600
    assert applied == [(SALT_CALL, None, False, None)]


def test_a_dry_run_with_a_new_pillar_file_stores_nothing(bootstrap, tmp_path):
    module, stored, applied = bootstrap
    new = tmp_path / "site.sls"
    new.write_text("sparks:\n  db_redis: {port: 6390}\n")
    assert module.main(["--pillar", str(new), "--test"]) == 0
    assert stored.read_text() == GOOD_PILLAR
    ((salt_call, roles, test, pillar_root),) = applied
    assert test is True and pillar_root is not None and not Path(pillar_root).exists()  # staged, then removed
