"""Real GnuPG keys for the encrypted-pillar tests, made in throwaway key directories (never the user's ~/.gnupg).

A key is made as the README tells users to make a machine's key (no passphrase: Salt cannot type one), with
ed25519/cv25519 so that it takes milliseconds. Each directory's gpg-agent is stopped by ``remove``.
"""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Key:
    """A key directory holding one secret key: its fingerprint and its encryption subkey's long ID."""

    homedir: Path
    fingerprint: str
    subkey_id: str

    def encrypt(self, text):
        """``text`` encrypted for this key, ASCII-armored (what ``gpg --armor --encrypt -r KEYID`` prints)."""
        return gpg(self.homedir, "--armor", "--trust-model", "always", "--encrypt", "-r", self.fingerprint, input=text)

    def remove(self):
        subprocess.run(["gpgconf", "--homedir", str(self.homedir), "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(self.homedir, ignore_errors=True)


def gpg(homedir, *args, input=None):  # noqa: A002 (subprocess's own name)
    proc = subprocess.run(
        ["gpg", "--homedir", str(homedir), "--batch", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"gpg {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def make_key(homedir, uid):
    """A new key without a passphrase in the new directory ``homedir`` (mode 0700, as gpg wants it)."""
    homedir = Path(homedir)
    homedir.mkdir(mode=0o700, parents=True)
    gpg(homedir, "--passphrase", "", "--quick-gen-key", uid, "future-default", "default", "never")
    fingerprint = subkey = None
    for line in gpg(homedir, "--list-secret-keys", "--with-colons").splitlines():
        fields = line.split(":")
        if fields[0] == "fpr" and fingerprint is None:
            fingerprint = fields[9]
        elif fields[0] == "ssb" and "e" in fields[11]:
            subkey = fields[4]
    return Key(homedir, fingerprint, subkey)


def encrypted_pillar(value, key, path=("sparks", "db_redis", "settings", "requirepass")):
    """A ``#!yaml|gpg`` pillar file setting ``path`` to ``value`` encrypted for ``key``, laid out as the README
    shows (the armored message as a literal block)."""
    lines = ["#!yaml|gpg"]
    for depth, name in enumerate(path[:-1]):
        lines.append(f"{'  ' * depth}{name}:")
    indent = "  " * (len(path) - 1)
    lines.append(f"{indent}{path[-1]}: |")
    lines += [f"{indent}  {line}" if line else "" for line in key.encrypt(value).splitlines()]
    return "\n".join(lines) + "\n"


def armor_lines(text):
    """The lines of the armored messages in ``text`` that no other text has (to prove none was printed)."""
    return [line.strip() for line in text.splitlines() if len(line.strip()) >= 40 and " " not in line.strip()]
