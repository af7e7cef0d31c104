"""A pillar file that is not YAML, named by the pillar checker (salt/_pillar/sparks.py) with its file, line and
column and none of its text. tests/unit/test_bootstrap_cli.py sees the message through salt-call and 1nstall.py,
tests/integration/test_bootstrap.py on a real machine and test_pillar_per_machine.py through salt-ssh."""

import pytest

from tests.support.loadmod import load

sparks_pillar = load("_pillar", "sparks")


@pytest.mark.parametrize(
    "text, problem",
    [
        (
            "sparks:\n  db_redis:\n    settings:\n      requirepass: s3cret: more\n",
            "line 4, column 26: mapping values are not allowed in this context",
        ),
        ("sparks:\n\tbase: {}\n", "line 2, column 1: found character that cannot start any token"),  # a tab
        ("sparks:\n  db_redis: {port: 1\n", "line 3, column 1: did not find expected ',' or '}'"),
        ("sparks:\n  - a\n  b: s3cret\n", "line 3, column 3: did not find expected '-' indicator"),
        ("sparks:\n  a: 1\n  a: s3cret\n", "line 3, column 3: "),  # Salt's loader refuses a key given twice
    ],
)
def test_a_yaml_error_names_line_and_column_and_shows_no_text(text, problem):
    found = sparks_pillar.yaml_problem(text)
    assert found.startswith(problem), found
    assert "s3cret" not in found and "more" not in found


def test_this_machines_files_are_read_in_every_root_and_jinja_is_left_to_salt(tmp_path):
    first, second = tmp_path / "repo", tmp_path / "etc"
    (second / "nodes").mkdir(parents=True)
    first.mkdir()
    (first / "sparks.sls").write_text("sparks: {}\n")
    (second / "local.sls").write_text("sparks:\n  x: [\n")
    (second / "nodes" / "web1_example_org.sls").write_text("a: b: c\n")
    (second / "nodes" / "db1.sls").write_text("a: b: c\n")  # another machine's: not this one's concern
    (first / "local.sls").write_text("{% if x %}a: b: c{% endif %}\n")  # Jinja: Salt renders it, then reports
    assert sparks_pillar.file_problems([str(first), str(second)], "web1.example.org") == [
        f"invalid pillar: {second}/local.sls: line 3, column 1: did not find expected node content"
        " (while parsing a flow node)",
        f"invalid pillar: {second}/nodes/web1_example_org.sls: line 1, column 5: mapping values are not allowed"
        " in this context",
    ]
    assert sparks_pillar.file_problems([str(first)], "db1") == []


def test_an_encrypted_file_is_yaml_as_written_and_is_checked_too(tmp_path, monkeypatch):
    """`#!yaml|gpg` decrypts values after YAML has parsed the file: its YAML errors are named like any other's,
    and so is a machine that has no gpg to decrypt it (Salt would drop the file with "GPG unavailable")."""
    (tmp_path / "local.sls").write_text("#!yaml | gpg\nsparks:\n  db_redis: {port: 1\n")
    assert sparks_pillar.file_problems([str(tmp_path)], "web1") == [
        f"invalid pillar: {tmp_path}/local.sls: line 4, column 1: did not find expected ',' or '}}'"
        " (while parsing a flow mapping)"
    ]
    (tmp_path / "local.sls").write_text("#!yaml|gpg\nsparks:\n  x: |\n    -----BEGIN PGP MESSAGE-----\n")
    monkeypatch.setattr(sparks_pillar.shutil, "which", lambda name: None)
    assert sparks_pillar.file_problems([str(tmp_path)], "web1") == [
        f"invalid pillar: {tmp_path}/local.sls: holds GPG-encrypted values, and gpg is not installed here"
        " (Debian: apt install gpg gpg-agent)"
    ]
    (tmp_path / "local.sls").write_text("#!jinja|yaml\nsparks: {x: [\n")  # another renderer: left to Salt
    assert sparks_pillar.file_problems([str(tmp_path)], "web1") == []


def test_a_value_left_encrypted_is_refused_by_key_without_its_ciphertext():
    # A public-key session key packet (tag 1, version 3) for a hidden recipient (key ID 0), and one with no packets.
    hidden = "-----BEGIN PGP MESSAGE-----\n\nhF4DAAAAAAAAAAA=\n=abcd\n-----END PGP MESSAGE-----"
    empty = "-----BEGIN PGP MESSAGE-----\n\nAAAA\n-----END PGP MESSAGE-----"
    pillar = {"sparks": {"db_redis": {"port": hidden}}, "other": ["plain", empty]}
    assert sparks_pillar.encrypted_problems(pillar, [], "/etc/sparks/gpgkeys") == [
        "sparks:db_redis:port: cannot be decrypted with the keys in /etc/sparks/gpgkeys (encrypted for a hidden key"
        " (gpg --throw-keyids))",
        "other[1]: cannot be decrypted with the keys in /etc/sparks/gpgkeys (encrypted for no key (not an encrypted"
        " message))",
    ]
    # The schema check, which also sees the value, describes it without showing it.
    assert sparks_pillar.validate(pillar["sparks"], {"db_redis": {"port": "port"}}) == [
        "sparks:db_redis:port: expected a port number (1-65535), got a string (GPG-encrypted, not decrypted: not shown)"
    ]
