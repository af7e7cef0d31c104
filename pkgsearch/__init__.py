"""pkgsearch: one package search across apt, brew, PyPI, npm, gem, pacman, dnf and pkgng.

``pkgsearch.search(term, managers=None, **options)`` returns a list of dicts (manager, name,
version, summary, installed), the same list `pkgsearch --json` prints and the Salt function
``pkgsearch.search`` returns. Only relative imports are used inside the package, so the Salt
module can load the copy bundled in salt/_utils under a private name.
"""

__version__ = "0.1.0"


def search(term, managers=None, **options):
    """Ranked results as JSON-ready dicts. Raises core.UsageError on bad input."""
    from . import core

    return core.search(term, managers=managers, **options).as_json()
