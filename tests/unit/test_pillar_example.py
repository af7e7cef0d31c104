"""pillar.example must pass the pillar checker: the integration tests apply its sections, users copy it."""

import importlib.util

import yaml

from tests.support.saltrun import REPO_ROOT

spec = importlib.util.spec_from_file_location("sparks_pillar", REPO_ROOT / "salt/_pillar/sparks.py")
sparks_pillar = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sparks_pillar)


def test_pillar_example_is_valid():
    formulas = [str(REPO_ROOT / "formulas")]
    data = yaml.safe_load((REPO_ROOT / "pillar.example").read_text())
    assert list(data) == ["sparks"]
    errors = sparks_pillar.validate(data["sparks"], sparks_pillar.load_schemas(formulas),
                                    sparks_pillar.list_states(formulas))
    assert errors == []
