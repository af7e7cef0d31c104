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


def _ends(text, keep=1200):
    """``text``, or its start and its end when long: a traceback's last lines are its reason."""
    return text if len(text) <= 2 * keep else f"{text[:keep]} [...] {text[-keep:]}"


def why(ret, target):
    """The failed states of an apply on ``target`` (a booted target or its name) as ``id: comment`` lines,
    requisite knock-ons left out, or else the end of stderr: what an assertion message should show."""
    try:
        failed = ret.failed(getattr(target, "name", target))
    except AssertionError as exc:
        return str(exc)
    lines = [
        f"{sid}: {_ends(r['comment'])}"
        for sid, r in failed.items()
        if not r["comment"].startswith("One or more requisite failed")
    ]
    return "\n".join(lines) or ret.stderr[-3000:]
