#!/usr/bin/env python3
"""
How does a warm no-op apply of `base` scale from 1 to 3 to 6 machines, through salt-ssh and through a master?

Boots 6 fresh Debian 12 targets that also run a salt-minion, converges them once with salt-ssh, then times in
one run: `salt-ssh -L <n targets> state.apply base` (all in parallel: --max-procs) and `salt -L <n minions>
state.apply base` through a salt-master on the test bridge, for n = 1, 3, 6 (best of --runs). Prints wall
times and T(6)/T(1) for each way.

Run as root from the repository root:  .venv/bin/python bench/fanout.py [--runs 3]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.saltrun import SaltSSH, repo_config  # noqa: E402
from tests.support.targets import TargetRun  # noqa: E402

BIN = Path(sys.executable).parent
SIZES = (1, 3, 6)


def start_master(scratch, interface):
    conf = repo_config(scratch / "master")
    conf.update(
        interface=interface,
        auto_accept=True,
        publish_port=14505,
        ret_port=14506,
        user="root",
        log_file=str(scratch / "master.log"),
        pidfile=str(scratch / "master.pid"),
    )
    (scratch / "master-conf").mkdir()
    (scratch / "master-conf" / "master").write_text(yaml.safe_dump(conf))
    process = subprocess.Popen(
        [str(BIN / "salt-master"), "-c", str(scratch / "master-conf"), "-l", "quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process, scratch / "master-conf"


def salt_cli(conf_dir, names, *args, timeout=900):
    started = time.monotonic()
    proc = subprocess.run(
        [
            str(BIN / "salt"),
            "-c",
            str(conf_dir),
            "--out=json",
            "--static",
            "--timeout=120",
            "-L",
            ",".join(names),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return time.monotonic() - started, proc


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = {"salt-ssh": {}, "master": {}}
    with TargetRun() as run, tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        master, master_conf = start_master(scratch, run.network.gateway)
        try:
            names = [f"fan{i}" for i in range(1, 7)]
            minion = {
                "master": run.network.gateway,
                "master_port": 14506,
                "publish_port": 14505,
                "enable_fqdns_grains": False,
            }
            run.boot(*names, minion_config=lambda target: minion)
            ssh = SaltSSH(scratch / "ssh", run.roster())
            first = ssh.run(names, "state.apply", "base", "--max-procs=6", timeout=1800)
            failed = {n: first.failed(n) for n in names if first.failed(n)}
            if failed:
                raise SystemExit(f"first apply failed: {json.dumps(failed, indent=1)[:3000]}")
            deadline = time.monotonic() + 120
            while True:
                _, pinged = salt_cli(master_conf, names, "test.ping", timeout=60)
                if pinged.stdout.count("true") == len(names) or time.monotonic() > deadline:
                    break
                time.sleep(2)
            for size in SIZES:
                subset = names[:size]
                ssh_times, master_times = [], []
                for _ in range(args.runs):
                    ret = ssh.run(subset, "state.apply", "base", f"--max-procs={size}", timeout=900)
                    assert all(not ret.changed(n) for n in subset), "salt-ssh re-run changed something"
                    ssh_times.append(ret.seconds)
                    seconds, proc = salt_cli(master_conf, subset, "state.apply", "base")
                    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
                    master_times.append(seconds)
                results["salt-ssh"][size] = min(ssh_times)
                results["master"][size] = min(master_times)
        finally:
            master.terminate()
            master.wait(timeout=30)
    print(f"warm no-op `state.apply base`, best of {args.runs} (seconds):")
    print(f"{'targets':>8} {'salt-ssh':>9} {'master':>8}")
    for size in SIZES:
        print(f"{size:>8} {results['salt-ssh'][size]:9.1f} {results['master'][size]:8.1f}")
    for way, times in results.items():
        print(f"T(6)/T(1) {way}: {times[6] / times[1]:.2f}")


if __name__ == "__main__":
    main()
