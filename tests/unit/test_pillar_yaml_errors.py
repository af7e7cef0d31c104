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
