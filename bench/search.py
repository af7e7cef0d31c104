#!/usr/bin/env python3
"""Benchmark pkgsearch against local servers and the managers' own searches, side by side in
one run, and print the ratios.

    python bench/search.py [--term htop] [--runs 5] [--no-mpm]

Servers (all on 127.0.0.1, started and stopped here; no public registry is queried):
  * PyPI: a PEP 691 JSON simple index of 100,000 generated names plus a few real-looking ones;
  * npm: verdaccio with a few published packages (if verdaccio can be installed);
  * gem: a static gem source built with `gem build` + `gem generate_index` (if ruby is here).
apt is this machine's. Times are medians of --runs runs, warm (indexes built/cached first).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.registries import GemSource, PyPIIndex, Unavailable, Verdaccio, generated_names  # noqa: E402

PKGSEARCH = [sys.executable, "-m", "pkgsearch"]


def timed(argv, env, runs, ok=(0, 1)):
    """Median wall time of argv over runs (after one untimed warm-up run)."""
    times = []
    for i in range(runs + 1):
        started = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        took = time.perf_counter() - started
        if proc.returncode not in ok:
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-400:]}")
        if i:
            times.append(took)
    return statistics.median(times)


def timed_interleaved(commands, env, runs):
    """Median wall time of each command, running them in turns (a, b, a, b, ...) so that load
    from elsewhere on the machine hits every command alike."""
    times = [[] for _ in commands]
    for i in range(runs + 1):
        for k, argv in enumerate(commands):
            started = time.perf_counter()
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
            took = time.perf_counter() - started
            if proc.returncode not in (0, 1):
                raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-400:]}")
            if i:
                times[k].append(took)
    return [statistics.median(t) for t in times]


def install_mpm(folder):
    """meta-package-manager in a throwaway venv; returns the mpm path or an error string."""
    venv.create(folder, with_pip=True)
    pip = os.path.join(folder, "bin", "pip")
    proc = subprocess.run([pip, "install", "-q", "meta-package-manager"], capture_output=True, text=True, timeout=600)
    mpm = os.path.join(folder, "bin", "mpm")
    if proc.returncode or not os.path.exists(mpm):
        return None, (proc.stderr.strip().splitlines() or ["pip install failed"])[-1]
    return mpm, ""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--term", default="htop")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-mpm", action="store_true", help="skip installing meta-package-manager")
    args = parser.parse_args()
    term = args.term
    rows = []

    def row(label, value, note=""):
        rows.append((label, value, note))
        print(f"  {label:<58} {value:>10}  {note}", flush=True)

    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="pkgsearch-bench-") as tmp:
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            PKGSEARCH_CACHE_DIR=os.path.join(tmp, "cache"),
            PKGSEARCH_NPM_REGISTRY="http://127.0.0.1:9/",
            PKGSEARCH_GEM_SOURCE="http://127.0.0.1:9/",
        )
        print("starting local servers ...", flush=True)
        projects = {n: ("1.0", "generated") for n in generated_names(100_000)}
        projects.update({f"{term}-py": ("1.2.0", f"{term} in Python"), f"py{term}": ("0.4", f"another {term}")})
        pypi = stack.enter_context(PyPIIndex(projects))
        env["PKGSEARCH_PYPI_INDEX"] = pypi.url
        managers = ["apt", "pypi"]
        own = {"apt": ["apt-cache", "search", term]}
        npm_url = None
        try:
            npm = stack.enter_context(
                Verdaccio([(f"{term}-node", "1.0.0", f"{term} for node"), (f"node-{term}", "2.0.0", "another")])
            )
            env["PKGSEARCH_NPM_REGISTRY"] = npm_url = npm.url
            managers.append("npm")
            own["npm"] = ["npm", "search", "--registry", npm.url, "--no-update-notifier", term]
        except Unavailable as exc:
            print(f"  npm: no local registry ({exc}); npm rows skipped")
        try:
            gems = stack.enter_context(GemSource([(term, "0.3.0", f"{term} in ruby"), (f"{term}ish", "1.0", "x")]))
            env["PKGSEARCH_GEM_SOURCE"] = gems.url
            managers.append("gem")
            own["gem"] = ["gem", "search", "--remote", "--clear-sources", "--source", gems.url, term]
        except Unavailable as exc:
            print(f"  gem: no local source ({exc}); gem rows skipped")
        env["npm_config_registry"] = npm_url or "http://127.0.0.1:9/"
        env["npm_config_update_notifier"] = "false"

        # Warm everything once: apt index, the 100k-name PyPI list, details of the top hits.
        for m in managers:
            subprocess.run(PKGSEARCH + ["--refresh", "-m", m, term], env=env, capture_output=True, timeout=300)
            subprocess.run(PKGSEARCH + ["-m", m, "redis"], env=env, capture_output=True, timeout=300)

        print(f"\npkgsearch {term!r}, warm, median of {args.runs} runs (all servers on 127.0.0.1)\n", flush=True)
        # Every single-manager search and the all-managers one, in turns.
        measured = timed_interleaved(
            [PKGSEARCH + ["-m", m, term] for m in managers] + [PKGSEARCH + [term]], env, args.runs
        )
        single = dict(zip(managers, measured[:-1], strict=True))
        all_time = measured[-1]
        for m in managers:
            row(f"pkgsearch -m {m} {term}", f"{single[m]:.3f}s")
        row(f"pkgsearch {term} (all managers: {', '.join(managers)} answer, the rest skip)", f"{all_time:.3f}s")
        slowest = max(single, key=single.get)
        own_times = {}
        for m, argv in own.items():
            own_times[m] = timed(argv, env, args.runs)
            row(" ".join(argv[:2] + [term]) + f" ({m}'s own search)", f"{own_times[m]:.3f}s")
        apt_warm = single["apt"]
        pypi_100k = timed(PKGSEARCH + ["-m", "pypi", "redis"], env, args.runs)
        row("pkgsearch -m pypi redis (100,000-name index, warm)", f"{pypi_100k:.3f}s", "goal <= 0.2 s")

        from pkgsearch import core
        from pkgsearch.backends import pypi as pypi_backend

        opts = core.Options(pypi_index=pypi.url, cache_dir=env["PKGSEARCH_CACHE_DIR"])
        data = pypi_backend.load_names(opts)
        started = time.perf_counter()
        for _ in range(20):
            pypi_backend.match_names(data, "redis")
        row("  in-process name match over 100,000 names", f"{(time.perf_counter() - started) / 20 * 1000:.1f}ms")

        mpm_rows = []
        if args.no_mpm:
            print("  mpm: skipped (--no-mpm)")
        else:
            mpm, why = install_mpm(os.path.join(tmp, "mpm-venv"))
            if not mpm:
                print(f"  mpm: meta-package-manager could not be installed ({why}); mpm rows skipped")
            else:
                for flags, ours in ((["--apt"], "apt"), (["--apt", "--npm"], "apt,npm") if npm_url else (None, None)):
                    if not flags:
                        continue
                    try:
                        t = timed([mpm, *flags, "search", term], env, args.runs, ok=(0, 1, 2))
                    except (RuntimeError, subprocess.TimeoutExpired) as exc:
                        print(f"  mpm {' '.join(flags)} search failed: {exc}")
                        continue
                    ours_t = timed(PKGSEARCH + ["-m", ours, term], env, args.runs)
                    row(f"mpm {' '.join(flags)} search {term}", f"{t:.3f}s")
                    row(f"pkgsearch -m {ours} {term}", f"{ours_t:.3f}s")
                    mpm_rows.append((f"pkgsearch -m {ours} / mpm {' '.join(flags)} search", ours_t / t))

        print("\nratios (lower is better for pkgsearch)\n")
        ratios = [
            (f"all managers / slowest single ({slowest}) [goal <= 1.1]", all_time / single[slowest]),
            (f"all managers / own searches one after another ({' + '.join(own)})", all_time / sum(own_times.values())),
            ("warm pkgsearch -m apt / apt-cache search", apt_warm / own_times["apt"]),
        ] + mpm_rows
        for label, value in ratios:
            print(f"  {label:<72} {value:6.2f}x")
        print(
            f"\n  warm apt search: {apt_warm:.3f}s (goal <= 0.3 s); warm PyPI over 100k names: {pypi_100k:.3f}s "
            "(goal <= 0.2 s)"
        )
        print("  (PyPI has no search command of its own since pip search was removed: not in the sequential sum)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
