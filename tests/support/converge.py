"""The check every integration test makes of a formula: applied once cleanly, applied again with zero changes."""


def _tail(ret):
    return ret.stdout[-3000:] + ret.stderr[-3000:]


def assert_converged(first, second, name="local"):
    """``first`` (an apply) and ``second`` (the same apply again) on target ``name``: both exit 0 with nothing
    failed, and the second changes nothing. Takes any result with ``returncode``, ``stdout``, ``stderr``,
    ``failed(name)`` and ``changed(name)`` (tests/support/saltrun.py's SaltResult, test_lxc's salt-call)."""
    for which, ret in (("first", first), ("second", second)):
        assert ret.returncode == 0, f"{which} apply exited {ret.returncode}: {_tail(ret)}"
        assert ret.failed(name) == {}, f"{which} apply failed: {ret.failed(name)}"
    assert second.changed(name) == {}, f"the second apply changed: {list(second.changed(name))}"
