#!/usr/bin/env python3
"""
How much does Salt cost over plain apt on a fresh machine, and how fast is a re-run that has nothing to do?

Boots two identical fresh Debian 12 targets and, side by side in one run:
  - on one, times a plain `apt-get update && apt-get install` of exactly the packages `base` installs;
  - on the other, times `salt-ssh state.apply base` (thin deploy, grains, the same packages, config, services);
then times warm no-op re-runs of `base` (best and median of several). Prints the ratio salt/apt (goal <= 1.15).

Both targets share the host's .deb cache, primed before timing, so neither side measures the mirror.
Run as root from the repository root:  .venv/bin/python bench/converge.py [--noop-runs 5]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.saltrun import SaltSSH  # noqa: E402
from tests.support.targets import TargetRun  # noqa: E402


def base_packages(ssh, target):
    """The exact package list `base` installs on this target, read from its rendered states."""
    shown = ssh.run(target, "state.show_sls", "base", timeout=300)
    for item in shown.data[target]["base-packages-installed"]["pkg"]:
        if isinstance(item, dict) and "pkgs" in item:
            return item["pkgs"]
    raise RuntimeError("base-packages-installed has no package list")


def timed(target, command):
    started = time.monotonic()
    target.run(command, check=True, timeout=1800)
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noop-runs", type=int, default=5)
    args = parser.parse_args()

    with TargetRun() as run, tempfile.TemporaryDirectory() as scratch:
        apt_target, salt_target = run.boot("bench-apt", "bench-salt")
        ssh = SaltSSH(scratch, run.roster())
        # Build the thin once on this workstation (a one-off, not a per-machine cost), on the apt target.
        ssh.run(apt_target.name, "test.ping", timeout=300)
        packages = base_packages(ssh, apt_target.name)
        install = "apt-get install -y -qq --no-install-recommends " + " ".join(packages)
        apt_target.run(f"apt-get update -qq && {install} --download-only", check=True, timeout=1800)
        apt_target.run("rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin", check=True)

        apt_seconds = timed(apt_target, f"apt-get update -qq && DEBIAN_FRONTEND=noninteractive {install}")
        first = ssh.run(salt_target.name, "state.apply", "base", timeout=1800)
        if first.returncode != 0 or first.failed(salt_target.name):
            raise SystemExit(f"state.apply base failed:\n{json.dumps(first.failed(salt_target.name), indent=1)}")

        noops = []
        for _ in range(args.noop_runs):
            again = ssh.run(salt_target.name, "state.apply", "base", timeout=600)
            assert not again.changed(salt_target.name), again.changed(salt_target.name)
            noops.append(again.seconds)

    print(f"packages in base:                  {len(packages)}")
    print(f"plain apt-get update+install:      {apt_seconds:6.1f} s")
    print(f"salt-ssh state.apply base (fresh): {first.seconds:6.1f} s")
    print(f"ratio salt/apt:                    {first.seconds / apt_seconds:6.2f}   (goal <= 1.15)")
    print(
        f"warm no-op re-run of base:         best {min(noops):.1f} s, median {statistics.median(noops):.1f} s "
        f"over {len(noops)} runs"
    )


if __name__ == "__main__":
    main()
