"""pillar.example must pass the pillar checker: the integration tests apply its sections, users copy it."""

import yaml

from tests.support.loadmod import load
from tests.support.saltrun import REPO_ROOT

sparks_pillar = load("_pillar", "sparks")


def test_pillar_example_is_valid():
    formulas = [str(REPO_ROOT / "formulas")]
    data = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())
    assert list(data) == ["sparks"]
    errors = sparks_pillar.validate(
        data["sparks"], sparks_pillar.load_schemas(formulas), sparks_pillar.list_states(formulas)
    )
    assert errors == []
