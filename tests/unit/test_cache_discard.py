"""salt/_cache/sparks_discard.py: the compiled pillar's cache bank keeps nothing, through Salt's own cache API."""

import salt.cache
import salt.config
import yaml

from tests.support.saltrun import COMMON_CONF, repo_config


def test_common_conf_sends_the_pillar_bank_to_the_discarding_driver():
    conf = yaml.safe_load(COMMON_CONF.read_text())
    assert conf["pillar.cache_driver"] == "sparks_discard" and conf["cache_dirs"] == ["salt/_cache"]


def test_a_stored_pillar_is_not_kept_and_nothing_is_written(tmp_path):
    opts = salt.config.master_config(None)
    opts.update(repo_config(tmp_path))
    opts.update(cachedir=str(tmp_path / "cache"), extension_modules=str(tmp_path / "extmods"))
    cache = salt.cache.factory(opts, driver=opts["pillar.cache_driver"], expires=3600)
    cache.store("pillar", "web1", {"sparks": {"db_redis": {"settings": {"requirepass": "x" * 12}}}})
    assert cache.fetch("pillar", "web1") == {}
    assert not cache.contains("pillar", "web1") and cache.list("pillar") == []
    assert not (tmp_path / "cache").exists()
