"""accounts, firewall and backup rendered by a real salt-call, per OS, with pillar.example's sections.

Debian 12 and 13 are applied for real in tests/integration/test_access.py and test_backup.py; Ubuntu is only
rendered here. What rendering can prove: every state renders, the secrets are not in the rendered states, the
firewall picks the rules of the machine's roles, and a backup without a destination is refused before it runs.
"""

import pytest
import yaml

from tests.support.render import LINUX, arg, salt_call, show_sls
from tests.support.saltrun import REPO_ROOT

EXAMPLE = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())["sparks"]
SECTIONS = ["base", "accounts", "firewall", "db_postgres", "db_redis", "django", "backup"]


def example(**changes):
    pillar = {name: yaml.safe_load(yaml.safe_dump(EXAMPLE[name])) for name in SECTIONS}
    pillar.update(changes)
    return {"sparks": pillar}


@pytest.mark.parametrize("osname", LINUX)
def test_accounts_firewall_backup_and_restore_render(tmp_path, osname):
    states = show_sls(tmp_path, "accounts,firewall,backup,backup.restore", LINUX[osname], example())
    for prefix in ("accounts-", "firewall-", "backup-", "backup-restore-"):
        assert any(state_id.startswith(prefix) for state_id in states), prefix
    # Restore by default: the databases and media the backup holds; paths only when named.
    assert "backup-restore-database-shop-cmd-run" in states and "backup-restore-media-shop-cmd-run" in states
    assert not any(state_id.startswith("backup-restore-path-") for state_id in states)


def test_secrets_are_not_in_the_rendered_states(tmp_path):
    rendered = yaml.safe_dump(show_sls(tmp_path, "backup", LINUX["Debian-12"], example()))
    assert EXAMPLE["backup"]["passphrase"] not in rendered
    assert "BEGIN OPENSSH PRIVATE KEY" not in rendered
    assert "sparks:backup:passphrase" not in rendered  # not even by name: the template reads it itself


def test_firewall_rules_follow_the_machines_roles(tmp_path):
    def rules(roles):
        data = example(roles=roles)
        states = show_sls(tmp_path, "firewall", LINUX["Debian-12"], data)
        context = arg(states["firewall-ruleset-file-managed"], "file", "context")["firewall"]
        return [(rule.get("role"), rule["name"]) for rule in context["active_rules"]]

    assert rules(["base"]) == []
    assert rules(["base", "django", "db_postgres"]) == [("django", "http"), ("db_postgres", "postgresql")]


def test_a_backup_without_destination_is_refused_before_it_runs(tmp_path):
    data = example()
    data["sparks"]["backup"]["destination"] = ""
    proc = salt_call(tmp_path, data, "state.show_sls", "backup", grains=LINUX["Debian-12"])
    assert proc.returncode != 0
    assert "sparks:backup:destination is empty" in proc.stdout + proc.stderr


def test_every_new_clean_state_renders(tmp_path):
    states = show_sls(tmp_path, "accounts.clean,firewall.clean,backup.clean", LINUX["Debian-12"], {"sparks": {}})
    for prefix in ("accounts-clean-", "firewall-clean-", "backup-clean-"):
        assert any(state_id.startswith(prefix) for state_id in states), prefix
