#!/usr/bin/env python3
"""
What does a Django deploy with the `django` formula cost, and does it drop requests?

Boots one fresh Debian 12 target, applies db_postgres + db_redis + django with pillar.example's sections (the
`shop` test project (tests/support/projects/shop/) at v1, its git repository inside the target),
then, while the host sends GET / through nginx in a loop, times:
  - a no-op re-apply (nothing to do),
  - a new release (v2: build, migrate, switch, graceful gunicorn reload, health check, celery restart),
  - the switch itself: the reload and health-check states, and the window in which both v1 and v2 answered,
  - a failing release (v3: its migration fails; v2 must keep serving),
  - a rollback (`state.apply django.rollback`: back to v1, reload).
Failed requests during each are counted (goal: 0). Run as root from the repository root:

    .venv/bin/python bench/deploy.py [--noop-runs 3]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.django_projects import SHOP_REPO as REPO  # noqa: E402
from tests.support.django_projects import make_shop_repository  # noqa: E402
from tests.support.django_projects import shop_pillar as pillar  # noqa: E402
from tests.support.http import RequestLoop  # noqa: E402
from tests.support.saltrun import SaltSSH  # noqa: E402
from tests.support.targets import TargetRun  # noqa: E402

SLS = "db_postgres,db_redis,django"


def under_load(target, action):
    loop = RequestLoop(target, limit=100000)
    loop.start()
    time.sleep(1)
    started = time.monotonic()
    try:
        result = action()
        seconds = time.monotonic() - started
        time.sleep(1)
    finally:
        loop.stop()
    return result, seconds, loop


def state_seconds(result, target, state_id):
    for ret in result.states(target).values():
        if ret.get("__id__") == state_id:
            return ret.get("duration", 0) / 1000
    return 0.0


def mixed_window(loop, old, new):
    """Seconds during which both releases answered (last old answer after the first new one), else 0."""
    first_new = next((t for t, body in loop.answers if body.startswith(new)), None)
    last_old = max((t for t, body in loop.answers if body.startswith(old)), default=None)
    if first_new is None or last_old is None:
        return 0.0
    return max(0.0, last_old - first_new)


def row(name, seconds, loop, extra=""):
    print(f"{name:<28} {seconds:8.1f} s   requests {loop.count:5d}   failed {len(loop.failures):3d}   {extra}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noop-runs", type=int, default=3)
    args = parser.parse_args()

    with TargetRun() as run, tempfile.TemporaryDirectory() as scratch:
        (target,) = run.boot("bench-django")
        make_shop_repository(target.root / REPO.lstrip("/"))
        ssh = SaltSSH(scratch, run.roster())

        def apply(data, sls=SLS, **kwargs):
            ssh.set_pillar(data)
            return ssh.run(target.name, "state.apply", sls, timeout=1800, **kwargs)

        started = time.monotonic()
        first = apply(pillar())
        if first.returncode != 0 or first.failed(target.name):
            sys.exit(f"first deploy failed: {list(first.failed(target.name))}")
        print(f"{'first deploy (fresh machine)':<28} {time.monotonic() - started:8.1f} s")

        noops = []
        for _ in range(args.noop_runs):
            result, seconds, loop = under_load(target, lambda: apply(pillar()))
            assert result.changed(target.name) == {}, result.changed(target.name)
            noops.append((seconds, loop))
        best = min(noops, key=lambda item: item[0])
        row(
            "no-op re-apply (best)",
            best[0],
            best[1],
            f"median {statistics.median(s for s, _ in noops):.1f} s, failed in all runs "
            f"{sum(len(loop.failures) for _, loop in noops)}",
        )

        result, seconds, loop = under_load(target, lambda: apply(pillar(prod_rev="v2")))
        ok = result.returncode == 0 and loop.bodies and loop.bodies[-1].startswith("shop v2")
        row("new release v2", seconds, loop, "" if ok else "(DEPLOY FAILED)")
        switch = sum(
            state_seconds(result, target.name, sid)
            for sid in ("django-shop-web-gunicorn-reload-cmd-run", "django-shop-web-sparks-django-healthy")
        )
        print(
            f"{'  switch: reload + health':<28} {switch:8.1f} s   both releases answered during "
            f"{mixed_window(loop, 'shop v1', 'shop v2'):.2f} s"
        )

        result, seconds, loop = under_load(target, lambda: apply(pillar(prod_rev="v3")))
        still = set(loop.bodies) <= {b for b in loop.bodies if b.startswith("shop v2")}
        row("failing release v3", seconds, loop, "v2 kept serving" if still and result.returncode else "(UNEXPECTED)")

        ssh.set_pillar(pillar(prod_rev="v2"))
        result, seconds, loop = under_load(
            target,
            lambda: ssh.run(
                target.name, "state.apply", "django.rollback", pillar={"django_rollback": {"projects": ["shop"]}}
            ),
        )
        row("rollback to v1", seconds, loop, f"mixed window {mixed_window(loop, 'shop v2', 'shop v1'):.2f} s")


if __name__ == "__main__":
    main()
