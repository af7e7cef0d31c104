"""salt/_renderers/sparks_yaml_check.py in isolation: a pillar file that is not YAML becomes one `_errors` entry
naming the file, line and column, with none of the file's text; everything else passes through untouched.

tests/unit/test_bootstrap_cli.py and tests/integration/test_bootstrap.py see the message through salt-call and
1nstall.py, tests/integration/test_fleet.py through a master."""

import io

import pytest
import yaml

from tests.support.loadmod import load

check = load("_renderers", "sparks_yaml_check")
PATH = "/etc/sparks/pillar/local.sls"


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
    ],
)
def test_a_yaml_error_names_file_line_and_column_and_shows_no_text(text, problem):
    out = check.render(text, sls="local", tmplpath=PATH, _pillar_rend=True)
    (error,) = yaml.safe_load(out)["_errors"]
    assert error.startswith(f"invalid pillar: {PATH}: {problem}"), error
    assert "s3cret" not in out and "more" not in out


def test_good_pillar_and_state_files_pass_through_unchanged():
    text = "sparks:\n  db_redis: {port: 6379}\n"
    assert check.render(text, sls="local", tmplpath=PATH, _pillar_rend=True) == text
    assert check.render(io.StringIO(text), sls="local", tmplpath=PATH, _pillar_rend=True) == text
    # A state file is yaml's business alone, errors included.
    broken = "a: b: c\n"
    assert check.render(broken, sls="db_redis", tmplpath="/srv/db_redis/init.sls") == broken


def test_without_a_path_the_sls_is_named():
    (error,) = yaml.safe_load(check.render("a: [", sls="local", _pillar_rend=True))["_errors"]
    assert error.startswith("invalid pillar: pillar SLS 'local': line 2, column 1: did not find expected node content")
