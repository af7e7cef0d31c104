"""salt/_utils/sparks_pillar.py: pillar values by key path, real and plain, from the pillar Salt 3008 hands modules."""

from salt.utils.secret import MaskedDict, MaskedList, hide, mask_output

from tests.support.loadmod import load

sparks_pillar = load("_utils", "sparks_pillar")
PILLAR = hide({"sparks": {"lxc": {"guests": {"web1": {"address": "10.0.3.11"}}}, "pkg": {"pip_venvs": ["/srv/v"]}}})


def test_values_are_real_and_containers_plain():
    guests = sparks_pillar.get(PILLAR, "sparks:lxc:guests")
    assert guests == {"web1": {"address": "10.0.3.11"}}
    # Plain containers: what a module returns is not redacted by Salt's output safety net (mask_output).
    assert type(guests) is dict and type(guests["web1"]) is dict
    assert mask_output(guests) == guests
    venvs = sparks_pillar.get(PILLAR, "sparks:pkg:pip_venvs")
    assert venvs == ["/srv/v"] and type(venvs) is list
    assert isinstance(PILLAR["sparks"], MaskedDict) and isinstance(PILLAR["sparks"]["pkg"]["pip_venvs"], MaskedList)


def test_missing_keys_give_the_default():
    assert sparks_pillar.get(PILLAR, "sparks:nope") is None
    assert sparks_pillar.get(PILLAR, "sparks:lxc:nope", {}) == {}
    assert sparks_pillar.get({}, "sparks:pkg:pip_venvs", []) == []
