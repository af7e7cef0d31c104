"""salt-call on this machine with the repository's configuration and chosen grains: what tests render.

One local salt-call per test (a call costs seconds), with the pillar written as the machine-local `local.sls`.
Rendering proves only that states render; formulas are applied for real in tests/integration/.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.saltrun import repo_config

SALT_CALL = str(Path(sys.executable).parent / "salt-call")
OSES = {
    "Debian-13": {"os_family": "Debian", "os": "Debian", "osfinger": "Debian-13", "oscodename": "trixie"},
    "Debian-12": {"os_family": "Debian", "os": "Debian", "osfinger": "Debian-12", "oscodename": "bookworm"},
    "Ubuntu-24.04": {"os_family": "Debian", "os": "Ubuntu", "osfinger": "Ubuntu-24.04", "oscodename": "noble"},
    "macOS": {"os_family": "MacOS", "os": "MacOS", "osfinger": "MacOS-14"},
}
LINUX = {name: grains for name, grains in OSES.items() if grains["os_family"] == "Debian"}


def salt_call(tmp_path, pillar, *args, grains=None, env=None, opts=None):
    """``salt-call --local ARGS`` with ``pillar`` (a whole pillar, e.g. ``{"sparks": {...}}``, or the text of the
    pillar file as a user writes it, e.g. a ``#!yaml|gpg`` file); CompletedProcess.

    ``env``: variables added to salt-call's environment; ``opts``: minion options added to the repository's."""
    conf = repo_config(tmp_path, tmp_path / "pillar")
    conf.update(file_client="local", **(opts or {}))
    if grains:
        # The rendered machine has no PostgreSQL cluster unless the test gives one: this machine's own clusters
        # (the postgres_clusters grain, salt/_grains) must not decide what db_postgres renders.
        conf["grains"] = {"postgres_clusters": [], **grains}
    (tmp_path / "pillar").mkdir(exist_ok=True)
    (tmp_path / "pillar/local.sls").write_text(pillar if isinstance(pillar, str) else yaml.safe_dump(pillar or {}))
    (tmp_path / "minion").write_text(yaml.safe_dump(conf))
    return subprocess.run(
        [SALT_CALL, "--local", "-c", str(tmp_path), "--out=json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ, **env) if env else None,
    )


def show_sls(tmp_path, sls, grains, pillar=None):
    """The rendered states of ``sls`` (``state.show_sls``) with these grains and this whole pillar."""
    proc = salt_call(tmp_path, pillar, "state.show_sls", sls, grains=grains)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)["local"]


def arg(state, module, key):
    """The value of argument ``key`` in a rendered state's ``module`` list."""
    for item in state[module]:
        if isinstance(item, dict) and key in item:
            return item[key]
    raise KeyError(key)
