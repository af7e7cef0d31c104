"""Backends: one module per package manager, each defining ``Backend`` (a subclass of
``base.Backend``). Adding a manager is one file here and one line in ``REGISTRY``.

Modules are imported only when their manager is searched, so `pkgsearch --managers apt`
does not pay for importing the HTTP machinery.
"""

import importlib

# name -> module in this package, in display order.
REGISTRY = {
    "apt": "apt",
    "brew": "brew",
    "pypi": "pypi",
    "npm": "npm",
    "gem": "gem",
    "pacman": "pacman",
    "dnf": "dnf",
    "pkgng": "pkgng",
}

_loaded = {}


def names():
    return list(REGISTRY)


def get(name):
    """The backend instance for a registered manager name."""
    if name not in _loaded:
        module = importlib.import_module("." + REGISTRY[name], __name__)
        _loaded[name] = module.Backend()
    return _loaded[name]
