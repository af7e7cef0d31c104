"""
Virtualenv checks for states: ``sparks_venv.current`` in an ``unless``/``onlyif`` (formulas/sparks_lib/venv.jinja)
says whether a venv still works with the system's Python after a distribution upgrade. The check itself is
salt/_utils/sparks_venv.py.

CLI example::

    salt-call sparks_venv.status /opt/sparks/powerline
"""

__virtualname__ = "sparks_venv"


def __virtual__():
    return __virtualname__


def status(venv, python="/usr/bin/python3"):
    """The venv's recorded and running Python against the system's, and whether it is current."""
    return __utils__["sparks_venv.status"](venv, python)


def current(venv, python="/usr/bin/python3"):
    """True when ``venv/bin/python`` runs the system Python's major.minor (``python``), as its pyvenv.cfg says."""
    return __utils__["sparks_venv.status"](venv, python)["current"]
