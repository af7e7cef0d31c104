"""
A Salt cache driver that keeps nothing, for the compiled pillar (``pillar.cache_driver: sparks_discard`` in
salt/config/common.conf).

Since Salt 3006 a master's minion data cache (on by default, and on for salt-ssh, which runs as a master) writes
every minion's compiled pillar to ``<cachedir>/pillar/<id>.p`` on each compile, and never reads it back unless
``pillar_cache`` is on (salt/pillar/__init__.py: PillarCache). That file is the whole pillar in clear, GPG-
decrypted secrets included, inside the checkout for salt-ssh (``.salt/``) and on a master's disk. Grains and the
rest of the minion data cache stay where they were: only that bank is discarded.
"""

__virtualname__ = "sparks_discard"
__func_alias__ = {"list_": "list"}


def __virtual__():
    return __virtualname__


def init_kwargs(kwargs):  # pylint: disable=unused-argument
    return {}


def store(bank, key, data, **kwargs):  # pylint: disable=unused-argument
    return None


def fetch(bank, key, **kwargs):  # pylint: disable=unused-argument
    return {}


def updated(bank, key, **kwargs):  # pylint: disable=unused-argument
    return None


def flush(bank, key=None, **kwargs):  # pylint: disable=unused-argument
    return None


def list_(bank, **kwargs):  # pylint: disable=unused-argument
    return []


def contains(bank, key, **kwargs):  # pylint: disable=unused-argument
    return False
