import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = REPO_ROOT / "tests" / "integration"
sys.path.insert(0, str(REPO_ROOT))

from tests.support.bootstrap import GOOD_PILLAR, load_script  # noqa: E402 (needs the path above)
from tests.support.render import SALT_CALL  # noqa: E402


def pytest_configure(config):
    """A run that may boot targets holds the machine's targets lock from start to end (its xdist workers inherit
    it): two sessions booting targets at once on these 2-core machines would slow both and blur their timings."""
    if hasattr(config, "workerinput") or not _may_run_integration(config):
        return
    from tests.support.targets import harness_available, targets_lock

    if harness_available() is None:
        config._sparks_targets_lock = targets_lock()
        config._sparks_targets_lock.__enter__()


def pytest_unconfigure(config):
    lock = getattr(config, "_sparks_targets_lock", None)
    if lock is not None:
        lock.__exit__(None, None, None)


def _may_run_integration(config):
    for arg in config.args or [str(REPO_ROOT / "tests")]:
        path = Path(config.invocation_params.dir, arg.split("::", 1)[0]).resolve()
        if path == INTEGRATION or INTEGRATION in path.parents or path in INTEGRATION.parents:
            return True
    return False


def pytest_collection_modifyitems(config, items):
    """Integration tests need root and the target tooling; elsewhere they are skipped with the reason.

    CI sets SPARKS_REQUIRE_TARGETS=1: there a missing prerequisite is an error, so a green run cannot hide
    integration tests that never ran.
    """
    from tests.support.targets import harness_available

    reason = harness_available()
    if not reason:
        return
    integration = [item for item in items if "integration" in item.keywords]
    if integration and os.environ.get("SPARKS_REQUIRE_TARGETS") == "1":
        raise pytest.UsageError(f"{len(integration)} integration tests cannot run here: {reason}")
    for item in integration:
        item.add_marker(pytest.mark.skip(reason=reason))


_DURATIONS = {}


def pytest_runtest_logreport(report):
    """Add up setup, call and teardown time per test file and Debian release (xdist forwards the reports)."""
    path, _, rest = report.nodeid.partition("::")
    platform = next((name for name in ("debian13", "debian12") if f"[{name}" in rest), "-")
    _DURATIONS[(path, platform)] = _DURATIONS.get((path, platform), 0.0) + report.duration


def pytest_terminal_summary(terminalreporter, config):
    """The time each integration test file took per release: what CI's time budget is spent on."""
    rows = sorted(
        ((k, v) for k, v in _DURATIONS.items() if k[0].startswith("tests/integration/")), key=lambda kv: -kv[1]
    )
    if not rows or hasattr(config, "workerinput"):
        return
    terminalreporter.section("time per integration test file and release (setup + call + teardown)")
    for (path, platform), seconds in rows:
        terminalreporter.write_line(f"{seconds / 60:6.1f} min  {platform:9} {path}")
    total = sum(seconds for _, seconds in rows)
    terminalreporter.write_line(f"{total / 60:6.1f} min  in all (spread over the xdist workers)")


@pytest.fixture
def bootstrap(tmp_path, monkeypatch):
    """1nstall.py's main() as root with Salt already installed (this venv's), the stored pillar under tmp_path
    holding GOOD_PILLAR, and the highstate recorded instead of run."""
    module = load_script()
    stored = tmp_path / "etc" / "local.sls"
    stored.parent.mkdir()
    stored.write_text(GOOD_PILLAR)
    applied = []
    monkeypatch.setattr(module, "LOCAL_PILLAR", stored)
    monkeypatch.setattr(module.os, "geteuid", lambda: 0)
    monkeypatch.setattr(module, "install_prerequisites", lambda system, gpg=False: None)
    monkeypatch.setattr(module, "install_salt", lambda venv, version: SALT_CALL)
    monkeypatch.setattr(module, "apply_highstate", lambda *args: applied.append(args) or 0)
    return module, stored, applied
