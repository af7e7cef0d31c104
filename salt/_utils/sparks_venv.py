"""
Whether a virtualenv still works with the system's Python: one check for every venv sparks makes (powerline's,
each Django release's, the minion's /opt/sparks/venv), used by salt/_modules/sparks_venv.py (formulas, through
formulas/sparks_lib/venv.jinja), salt/_states/sparks_django.py and bootstrap/1nstall.py (which imports this file
by path: it uses the standard library only).

Why: a distribution upgrade replaces the system Python (Debian 12's 3.11 -> Debian 13's 3.13). A venv keeps
pointing at the old interpreter: once it is removed, ``bin/python`` is a dangling link; while it stays, the venv
runs the old Python with packages built for it. Either way the venv must be built again, and its packages
installed again. ``python -m venv`` records the interpreter's version in ``pyvenv.cfg`` (``version = 3.11.2``):
a venv is current when ``bin/python`` runs and its recorded major.minor is the system Python's.
"""

import os
import subprocess

__virtualname__ = "sparks_venv"

VERSION_CODE = "import sys; print('%d.%d' % sys.version_info[:2])"


def __virtual__():
    return __virtualname__


def recorded_version(venv):
    """The major.minor in ``<venv>/pyvenv.cfg`` (``version`` or ``version_info``), None without one."""
    try:
        with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip() in ("version", "version_info"):
            return ".".join(value.strip().split(".")[:2])
    return None


def interpreter_version(python, timeout=30):
    """The major.minor ``python`` runs, None when it does not run."""
    try:
        result = subprocess.run(
            [python, "-c", VERSION_CODE], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def status(venv, python="/usr/bin/python3"):
    """``{"current": bool, "recorded": "3.11"|None, "runs": "3.11"|None, "system": "3.13"|None, "reason": str}``
    for the venv at ``venv`` against the system interpreter ``python``. A missing venv is not current."""
    recorded = recorded_version(venv)
    runs = interpreter_version(os.path.join(venv, "bin", "python"))
    system = interpreter_version(python)
    info = {"recorded": recorded, "runs": runs, "system": system}
    if not os.path.isdir(venv):
        reason = f"{venv} does not exist"
    elif runs is None:
        reason = f"{venv}/bin/python does not run (its Python {recorded or '?'} is gone)"
    elif system is None:
        reason = f"{python} does not run"
    elif recorded != system or runs != system:
        reason = f"{venv} was made with Python {recorded or runs}; the system's is {system}"
    else:
        return {"current": True, **info, "reason": f"{venv} runs Python {system}, the system's"}
    return {"current": False, **info, "reason": reason}
