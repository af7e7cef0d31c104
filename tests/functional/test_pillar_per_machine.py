"""pillar/top.sls gives each machine its own pillar only: `nodes/<id>.sls` by the id Salt authenticated, role files
only through the nodes file that includes them. Compiled by a real salt-call per minion id over one pillar tree
holding two machines' secrets; tests/integration/test_pillar_per_machine.py does the same through salt-ssh on real
targets and looks for the other machine's secret on each."""

import json
import subprocess

import pytest
import yaml

from tests.support.render import SALT_CALL
from tests.support.saltrun import repo_config

NODES = {
    "web1_example_org": "include: [roles.web]\nsparks:\n  db_redis:\n    settings: {requirepass: Web1-s3cret}\n",
    "db1": "sparks:\n  db_redis:\n    settings: {requirepass: Db1-s3cret}\n",
}
ROLE_WEB = "sparks:\n  roles: [base, db_redis]\n"


@pytest.fixture(scope="module")
def pillar_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("pillar-per-machine")
    (root / "pillar" / "nodes").mkdir(parents=True)
    (root / "pillar" / "roles").mkdir()
    for name, text in NODES.items():
        (root / "pillar" / "nodes" / f"{name}.sls").write_text(text)
    (root / "pillar" / "roles" / "web.sls").write_text(ROLE_WEB)
    return root


def compiled_sparks_pillar(root, minion_id):
    """The `sparks` pillar that minion ``minion_id`` gets, as a template on it sees it (real values)."""
    work = root / minion_id
    work.mkdir()
    conf = repo_config(work, root / "pillar")
    conf.update(file_client="local", id=minion_id)
    (work / "minion").write_text(yaml.safe_dump(conf))
    proc = subprocess.run(
        [SALT_CALL, "--local", "-c", str(work), "--out=json", "slsutil.renderer"]
        + ["string={{ pillar.get('sparks', {}) | json }}", "default_renderer=jinja"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(json.loads(proc.stdout)["local"])


def test_each_machine_gets_its_own_file_and_the_roles_it_includes(pillar_tree):
    assert compiled_sparks_pillar(pillar_tree, "web1.example.org") == {
        "db_redis": {"settings": {"requirepass": "Web1-s3cret"}},
        "roles": ["base", "db_redis"],
    }
    assert compiled_sparks_pillar(pillar_tree, "db1") == {"db_redis": {"settings": {"requirepass": "Db1-s3cret"}}}


def test_a_machine_not_named_gets_none_of_them(pillar_tree):
    assert compiled_sparks_pillar(pillar_tree, "intruder") == {}
