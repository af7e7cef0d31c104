"""kitchen.yml cannot run here (no Docker engine, no gem index): check it names things that exist."""

import yaml

from tests.support.saltrun import REPO_ROOT

KITCHEN = yaml.safe_load((REPO_ROOT / "kitchen.yml").read_text())


def test_platforms_cover_debian_and_ubuntu_lts():
    assert [p["name"] for p in KITCHEN["platforms"]] == ["debian-12", "ubuntu-22.04", "ubuntu-24.04"]


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
