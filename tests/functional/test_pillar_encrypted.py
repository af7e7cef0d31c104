"""GPG-encrypted pillar (`#!yaml|gpg`), with real keys this test makes: decrypted masterless (salt-call --local), by
a master's pillar compiler (salt-run pillar.show_pillar: what salt-master runs for a minion) and by 1nstall.py
--pillar's check; a value that cannot be decrypted refused before anything runs, naming its file, its key and the
key it was encrypted for, with no ciphertext in the output. tests/integration/test_pillar_encrypted.py does the
same through salt-ssh and 1nstall.py on a real machine."""

import json
import subprocess

import pytest
import yaml

from tests.support.gpg import armor_lines, encrypted_pillar, make_key
from tests.support.render import salt_call
from tests.support.saltrun import COMMON_CONF, REPO_ROOT, repo_config

SECRET = "Gpg-redis-pa55-7c1e"
KEY_PATH = "sparks:db_redis:settings:requirepass"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """This machine's key (in the key directory Salt reads) and another machine's (whose secret key is not here)."""
    root = tmp_path_factory.mktemp("gpg")
    own, other = make_key(root / "own", "sparks test machine"), make_key(root / "other", "sparks other machine")
    yield own, other
    own.remove()
    other.remove()


def masterless(work, text, keys, *args):
    """salt-call --local (tests/support/render.py) with the pillar file ``text`` and this test's key directory."""
    return salt_call(work, text, *args, opts={"gpg_keydir": str(keys.homedir), "id": "web1"})


def redis_password_seen_by_templates(work, text, keys):
    """requirepass as a template on the machine reads it (Salt 3008 masks pillar.get outside templates)."""
    proc = masterless(
        work,
        text,
        keys,
        "slsutil.renderer",
        "string={{ pillar['sparks']['db_redis']['settings']['requirepass'] | json }}",
        "default_renderer=jinja",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(json.loads(proc.stdout)["local"])


def test_masterless_decrypts_with_the_machines_key(tmp_path, keys):
    own, _ = keys
    text = encrypted_pillar(SECRET, own)
    assert redis_password_seen_by_templates(tmp_path, text, own) == SECRET
    top = masterless(tmp_path, text, own, "state.show_top")
    assert top.returncode == 0 and SECRET not in top.stdout + top.stderr, top.stdout + top.stderr


def test_masterless_refuses_a_value_for_another_key_naming_file_key_and_recipient(tmp_path, keys):
    own, other = keys
    text = encrypted_pillar(SECRET, other)
    proc = masterless(tmp_path, text, own, "state.show_top")
    path = tmp_path / "pillar" / "local.sls"
    output = proc.stdout + proc.stderr
    assert (
        f"invalid pillar: {path}: {KEY_PATH}: cannot be decrypted with the keys in {own.homedir} "
        f"(encrypted for key 0x{other.subkey_id})"
    ) in output, output
    assert "PGP MESSAGE" not in output and not any(line in output for line in armor_lines(text))
    assert "Traceback" not in output


def test_a_master_decrypts_for_its_minions_and_refuses_what_it_cannot(tmp_path, keys):
    own, other = keys
    pillar, work = tmp_path / "pillar", tmp_path / "work"
    pillar.mkdir()
    (pillar / "local.sls").write_text(encrypted_pillar(SECRET, own))
    conf = repo_config(work, pillar)
    conf.update(gpg_keydir=str(own.homedir), id="web1")
    (work / "salt" / "var" / "cache" / "salt" / "master" / "proc").mkdir(parents=True)  # the runner's job file
    (work / "master").write_text(yaml.safe_dump(conf))
    show = [str(REPO_ROOT / ".venv" / "bin" / "salt-run"), "-c", str(work), "--out=json", "pillar.show_pillar", "web1"]
    proc = subprocess.run(show, capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert json.loads(proc.stdout)["sparks"]["db_redis"]["settings"]["requirepass"] == SECRET, proc.stderr
    (pillar / "local.sls").write_text(encrypted_pillar(SECRET, other))
    proc = subprocess.run(show, capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert json.loads(proc.stdout)["_errors"] == [
        f"invalid pillar: {pillar / 'local.sls'}: {KEY_PATH}: cannot be decrypted with the keys in {own.homedir} "
        f"(encrypted for key 0x{other.subkey_id})"
    ]
    assert "PGP MESSAGE" not in proc.stderr


@pytest.fixture
def bootstrap_with_key(bootstrap, tmp_path, keys, monkeypatch):
    """1nstall.py's main() (tests/unit/test_bootstrap_cli.py's fixture) reading this test's key directory, and
    recording whether it was asked to install gpg."""
    module, stored, applied = bootstrap
    config = tmp_path / "config"
    config.mkdir()
    (config / "keys.conf").write_text(yaml.safe_dump({"gpg_keydir": str(keys[0].homedir)}))
    (config / "minion").write_text(yaml.safe_dump({"include": [str(COMMON_CONF), "keys.conf"], "file_client": "local"}))
    monkeypatch.setattr(module, "CONFIG_DIR", config)
    installs = []
    monkeypatch.setattr(module, "install_prerequisites", lambda system, gpg=False: installs.append(gpg))
    return module, stored, applied, installs


def test_1nstall_stores_an_encrypted_file_that_decrypts_and_installs_gpg(bootstrap_with_key, tmp_path, keys):
    module, stored, applied, installs = bootstrap_with_key
    new = tmp_path / "site.sls"
    new.write_text(encrypted_pillar(SECRET, keys[0]))
    assert module.main(["--pillar", str(new)]) == 0
    assert stored.read_text() == new.read_text() and len(applied) == 1
    assert installs == [True]


def test_1nstall_refuses_a_file_it_cannot_decrypt_and_keeps_the_stored_one(bootstrap_with_key, tmp_path, keys, capsys):
    module, stored, applied, _ = bootstrap_with_key
    before = stored.read_text()
    new = tmp_path / "site.sls"
    new.write_text(encrypted_pillar(SECRET, keys[1]))
    assert module.main(["--pillar", str(new)]) == 1
    out, err = capsys.readouterr()
    assert f"{new}: {KEY_PATH}: cannot be decrypted with the keys in {keys[0].homedir}" in err, err
    assert f"(encrypted for key 0x{keys[1].subkey_id})" in err
    assert f"{new} refused, nothing was applied; {stored} is unchanged" in err
    assert "PGP MESSAGE" not in out + err and not any(line in out + err for line in armor_lines(new.read_text()))
    assert stored.read_text() == before and applied == []


def test_the_recipient_is_the_encryption_subkey_gpg_lists(keys):
    from tests.support.loadmod import load

    sparks_pillar = load("_pillar", "sparks")
    own, other = keys
    assert sparks_pillar.recipients(own.encrypt("x")) == f"key 0x{own.subkey_id}"
    listed = subprocess.run(
        ["gpg", "--homedir", str(own.homedir), "--list-secret-keys", "--keyid-format", "long"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"/{own.subkey_id} " in listed  # the ID a user finds on the ssb line
    symmetric = subprocess.run(
        ["gpg", "--homedir", str(other.homedir), "--batch", "--armor", "--passphrase", "p", "--symmetric"],
        input="x",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sparks_pillar.recipients(symmetric).startswith("a passphrase")


@pytest.mark.parametrize(
    "path",
    [
        "salt/config/gpgkeys/private-keys-v1.d/0A1B.key",  # Salt's default key directory, inside the checkout
        "keys/private-keys-v1.d/0A1B.key",
        "pubring.kbx",
        "pillar/trustdb.gpg",
        "web1-secret.asc",
        "openpgp-revocs.d/AEEB.rev",
    ],
)
def test_git_ignores_key_material_that_could_land_in_the_checkout(path):
    ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO_ROOT, check=False)
    assert ignored.returncode == 0, f"{path} is not ignored by .gitignore"


def test_git_keeps_encrypted_pillar_and_public_keys():
    for path in ("pillar/nodes/web1.sls", "keys/web1.pub.asc"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO_ROOT, check=False).returncode == 1, path
