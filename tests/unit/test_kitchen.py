"""kitchen.yml cannot run here (no Docker engine, no gem index): check it names things that exist."""

import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.support.saltrun import REPO_ROOT

KITCHEN = yaml.safe_load((REPO_ROOT / "kitchen.yml").read_text())


def test_platforms_cover_debian_and_ubuntu_lts():
    assert [p["name"] for p in KITCHEN["platforms"]] == ["debian-13", "debian-12", "ubuntu-22.04", "ubuntu-24.04"]


def test_every_suite_applies_states_that_exist_and_ships_them():
    shipped = {dep["name"] for dep in KITCHEN["provisioner"]["dependencies"]}
    for dep in KITCHEN["provisioner"]["dependencies"]:
        assert (REPO_ROOT / dep["path"]).is_dir(), dep
    for suite in KITCHEN["suites"]:
        states = suite["provisioner"]["state_top"]["base"]["*"]
        for state in states:
            assert (REPO_ROOT / "formulas" / state / "init.sls").is_file(), (suite["name"], state)
            assert state in shipped, f"{suite['name']}: {state} is not in provisioner.dependencies"


def test_included_states_are_shipped_too():
    """A suite's states may include others (lxc_base includes base): those must be copied as well."""
    shipped = {dep["name"] for dep in KITCHEN["provisioner"]["dependencies"]}
    for name in shipped - {"_modules", "_states", "_utils", "sparks"}:
        for sls in (REPO_ROOT / "formulas" / name).rglob("*.sls"):
            text = sls.read_text()
            for other in shipped | {path.name for path in (REPO_ROOT / "formulas").iterdir()}:
                if f"  - {other}\n" in text or f'"{other}/map.jinja"' in text:
                    assert other in shipped, f"{sls} uses {other}, which kitchen.yml does not ship"


def test_pillar_files_exist():
    for source in KITCHEN["provisioner"]["pillars_from_files"].values():
        assert (REPO_ROOT / source).is_file(), source


def test_provision_installs_the_pinned_salt_with_the_constraints_file(tmp_path):
    """kitchen.yml is ERB: rendered for real (ruby's erb), its provision commands must write
    requirements/constraints.txt into the image line for line and install the pinned Salt with it."""
    erb = shutil.which("erb")
    if not erb:
        if os.environ.get("SPARKS_REQUIRE_TARGETS") == "1":
            pytest.fail("erb (ruby) is missing: .ci/run installs ruby")
        pytest.skip("erb (ruby) is not installed")
    text = (REPO_ROOT / "kitchen.yml").read_text()
    assert not re.search(r"salt==[0-9]", text), "kitchen.yml must take the Salt version from the constraints file"
    rendered = subprocess.run([erb, "kitchen.yml"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    commands = yaml.safe_load(rendered.stdout)["driver"]["provision_command"]
    constraints = (REPO_ROOT / "requirements" / "constraints.txt").read_text()
    pinned = re.search(r"^salt==\S+$", constraints, re.MULTILINE).group(0)
    (write,) = [command for command in commands if command.startswith("printf ")]
    target = "/opt/sparks/venv/sparks-constraints.txt"
    assert write.endswith(f"> {target}")
    subprocess.run(["sh", "-c", write.replace(target, str(tmp_path / "c.txt"))], check=True)
    wanted = [line for line in constraints.splitlines() if line and not line.startswith("#")]
    assert (tmp_path / "c.txt").read_text().splitlines() == wanted
    assert any(command.endswith(f"pip install -c {target} '{pinned}'") for command in commands), commands
