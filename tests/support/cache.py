"""The one cache root of the test suite, benchmarks and .ci/run: ``$SPARKS_CACHE_DIR`` (default /var/cache/sparks).

What is slow to make lives here (target images, the .debs and wheels targets download, Django venvs, verdaccio),
keyed so that a stale entry is never used, and every directory is created by the code that first needs it: a run
with an empty cache (``SPARKS_CACHE_DIR=$(mktemp -d)``) rebuilds everything and passes.
"""

import contextlib
import fcntl
import os
import shutil
from pathlib import Path

DEFAULT_ROOT = Path("/var/cache/sparks")
READY = ".sparks-ready"  # written into an entry last: an entry without it is a build that did not finish


def cache_root():
    """``$SPARKS_CACHE_DIR``, else /var/cache/sparks; ~/.cache/sparks when that cannot be written (not root)."""
    configured = os.environ.get("SPARKS_CACHE_DIR")
    if configured:
        return Path(configured)
    try:
        DEFAULT_ROOT.mkdir(parents=True, exist_ok=True)
        if os.access(DEFAULT_ROOT, os.W_OK):
            return DEFAULT_ROOT
    except OSError:
        pass
    return Path.home() / ".cache" / "sparks"


def cache_dir(*parts):
    """The directory ``<cache root>/<parts...>``, created (with its parents) if it does not exist yet."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def cache_lock(name):
    """Hold ``<cache root>/.locks/<name>.lock`` while an entry is checked and built: on a cold cache the workers
    of one run (xdist) reach the same missing entry at once; the first builds it, the others wait and find it."""
    with open(cache_dir(".locks") / f"{name}.lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def cached_entry(path, build):
    """The cache entry ``path`` (a directory under the cache root), made by ``build(path)`` unless a finished one
    is there. Under ``cache_lock``, so that workers of one run build it once; what a build left half done (killed,
    failed) is removed and built again, because the marker is written only once ``build`` has returned."""
    path = Path(path)
    with cache_lock("-".join(path.relative_to(cache_root()).parts)):
        if not (path / READY).exists():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            build(path)
            (path / READY).touch()
    return path
