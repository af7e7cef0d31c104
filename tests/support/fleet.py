"""What the fleet tests (tests/integration/test_fleet*.py) share: waiting for minions to answer a master."""

import time

import pytest


def wait_for_ping(salt, target, expected, seconds=120):
    """Ping until ``expected`` minion ids all answer. A minion that is still (re)connecting misses the publish,
    so each try is short: salt waits --timeout plus its gather_job_timeout (10 s) for silent minions.

    ``salt`` is a salt-factories ``salt`` CLI: the test's own Salt, or another venv's ``bin/salt``."""
    from pytestshellutils.exceptions import FactoryTimeout

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pinged = salt.run("--timeout=5", "test.ping", minion_tgt=target, _timeout=60)
        except FactoryTimeout:
            continue
        data = pinged.data if isinstance(pinged.data, dict) else {target: pinged.data}
        if sorted(name for name, answer in data.items() if answer is True) == sorted(expected):
            return
        time.sleep(2)
    pytest.fail(f"minions {expected} did not all answer the master within {seconds}s")
