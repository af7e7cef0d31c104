"""The Salt side of pkgsearch: `salt-call pkgsearch.search` gives the same JSON as
`pkgsearch --json` (the issue's "done when"), the module through pytest-salt-factories'
Loaders, and what salt-ssh ships to a target (module + bundle) runs from the thin's layout.

Registries are loopback servers (see tests/support/registries); apt is this machine's."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import salt.config

ROOT = Path(__file__).resolve().parents[2]

from tests.support.registries import GemSource, PyPIIndex, Unavailable, Verdaccio  # noqa: E402

SALT_CALL = shutil.which("salt-call", path=os.path.dirname(sys.executable)) or shutil.which("salt-call")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Every registry on loopback; npm/gem fall back to a closed port if they can't run."""
    stack = []
    env = {"PKGSEARCH_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    pypi = PyPIIndex({"htop-py": ("1.2.0", "htop written in Python"), "redis": ("5.0.1", "Redis client")})
    stack.append(pypi.__enter__())
    env["PKGSEARCH_PYPI_INDEX"] = pypi.url
    env["PKGSEARCH_NPM_REGISTRY"] = env["PKGSEARCH_GEM_SOURCE"] = "http://127.0.0.1:9/"
    for name, factory, var in (
        ("npm", lambda: Verdaccio([("htop-node", "1.0.0", "htop for node")]), "PKGSEARCH_NPM_REGISTRY"),
        ("gem", lambda: GemSource([("htop", "0.3.0", "htop in ruby")]), "PKGSEARCH_GEM_SOURCE"),
    ):
        try:
            server = factory().__enter__()
        except Unavailable as exc:
            print(f"{name} server unavailable: {exc}")
            continue
        stack.append(server)
        env[var] = server.url
    try:
        yield env
    finally:
        for server in reversed(stack):
            server.__exit__(None, None, None)


def _env(servers):
    return dict(os.environ, PYTHONPATH=str(ROOT), **servers)


def _cli_json(servers, *args):
    proc = subprocess.run(
        [sys.executable, "-m", "pkgsearch", "--json", *args],
        cwd=ROOT,
        env=_env(servers),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def _salt_call_json(servers, *args):
    assert SALT_CALL, "salt-call not found"
    proc = subprocess.run(
        [SALT_CALL, "--local", "-c", "salt/config", "--out=json", "--log-level=quiet", "pkgsearch.search", *args],
        cwd=ROOT,
        env=_env(servers),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)["local"]


@pytest.mark.parametrize(
    "cli_args, salt_args",
    [
        (["htop"], ["htop"]),  # every manager, as in `salt '*' pkgsearch.search htop`
        (["--managers", "apt,pypi", "redis"], ["redis", "managers=apt,pypi"]),
        (["--exact", "--limit", "3", "htop"], ["htop", "exact=True", "limit=3"]),
        (["--managers", "apt", "zzzznothing"], ["zzzznothing", "managers=apt"]),
    ],
)
def test_salt_call_gives_the_same_json_as_the_cli(servers, cli_args, salt_args):
    cli = _cli_json(servers, *cli_args)
    assert _salt_call_json(servers, *salt_args) == cli
    if "zzzznothing" not in cli_args:
        assert cli, "the comparison should not be between two empty lists"


def test_salt_call_bad_input_is_an_invocation_error(servers):
    proc = subprocess.run(
        [SALT_CALL, "--local", "-c", "salt/config", "pkgsearch.search", "ht[op"],
        cwd=ROOT,
        env=_env(servers),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "looks like a regular expression" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


# ---------------------------------------------------------------------------- Loaders


def _minion_opts(tmp_path):
    opts = salt.config.minion_config(None)
    opts.update(
        file_client="local",
        root_dir=str(tmp_path),
        cachedir=str(tmp_path / "cache"),
        extension_modules=str(tmp_path / "extmods"),
        module_dirs=[str(ROOT / "salt" / "_modules")],
        pki_dir=str(tmp_path / "pki"),
    )
    return opts


@pytest.fixture
def loaders(tmp_path):
    from saltfactories.utils.functional import Loaders

    loaders = Loaders(_minion_opts(tmp_path))
    try:
        yield loaders
    finally:
        loaders.reset_state()


def test_module_through_salt_loaders(loaders, servers, monkeypatch):
    for key, value in servers.items():
        monkeypatch.setenv(key, value)
    result = loaders.modules.pkgsearch.search("htop", managers="apt,pypi")
    assert result == _cli_json(servers, "--managers", "apt,pypi", "htop")
    assert loaders.modules.pkgsearch.implementation()["origin"] == str(ROOT / "salt" / "_utils" / "pkgsearch_bundle.py")
    assert loaders.modules.pkgsearch.managers()["apt"]["available"] is (Path("/var/lib/apt/lists").is_dir())


# ---------------------------------------------------------------------------- salt-ssh


def test_salt_ssh_ships_module_and_bundle_and_they_run_from_the_thin_layout(tmp_path, servers, monkeypatch):
    """salt-ssh packs single files from _modules/_utils into ext_mods.tgz; a target unpacks it
    into its extmods folder. Pack it with salt's own mod_data, unpack, and run from there."""
    import salt.client.ssh

    monkeypatch.chdir(ROOT)  # salt/config uses paths relative to the checkout
    opts = salt.config.master_config(str(ROOT / "salt" / "config" / "master"))
    opts["cachedir"] = str(tmp_path / "master-cache")

    class FileClient:
        pass

    fsclient = FileClient()
    fsclient.opts = opts
    mods = salt.client.ssh.mod_data(fsclient)
    with tarfile.open(mods["file"]) as tar:
        names = tar.getnames()
        assert "modules/pkgsearch.py" in names
        assert "utils/pkgsearch_bundle.py" in names
        extmods = tmp_path / "target" / "extmods"
        tar.extractall(extmods)  # noqa: S202 (a tarball salt just built from our files)

    # On the target, no pkgsearch package is installed: hide this checkout's package.
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p).resolve() != ROOT])
    monkeypatch.delitem(sys.modules, "pkgsearch", raising=False)
    spec = importlib.util.spec_from_file_location("target_pkgsearch", extmods / "modules" / "pkgsearch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__opts__ = {"extension_modules": str(extmods)}
    module.__salt__ = {"config.get": lambda key, default=None: default}
    module.__context__ = {}
    for key, value in servers.items():
        monkeypatch.setenv(key, value)
    assert module.implementation()["origin"] == str(extmods / "utils" / "pkgsearch_bundle.py")
    assert module.search("htop", managers="apt,pypi") == _cli_json(servers, "--managers", "apt,pypi", "htop")
