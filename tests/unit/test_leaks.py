"""The suite's leak check (tests/support/leaks.py): what it takes for secrets, and that it sees short processes."""

import os
import subprocess
import time

import pytest

from tests.support import leaks
from tests.support.saltrun import example_pillar


def test_secret_values_are_the_schema_declared_ones():
    data = example_pillar("db_postgres", "db_redis", "django", "backup")
    data["sparks"]["db_redis"]["settings"] = {"requirepass": "redis-pass-1234", "maxclients": 100000000}
    found = leaks.secret_values(data)
    assert found["redis-pass-1234"] == "sparks:db_redis:settings:requirepass"
    password = data["sparks"]["db_postgres"]["roles"]["shop"]["password"]
    assert found[password] == "sparks:db_postgres:roles:shop:password"
    secret_key = data["sparks"]["django"]["projects"]["shop"]["secrets"]["DJANGO_SECRET_KEY"]
    assert found[secret_key] == "sparks:django:projects:shop:secrets"
    assert "100000000" not in found  # not declared secret
    assert not any(value in ("6379", "shop") for value in found)


def test_findings_name_the_key_never_the_value(tmp_path):
    check = leaks.LeakCheck("unit")
    check.pillar({"sparks": {"db_redis": {"settings": {"requirepass": "redis-pass-5678"}}}})
    check.saw("salt output", "... requirepass redis-pass-5678 ...")
    (tmp_path / "cache.p").write_text("x redis-pass-5678 x")
    (tmp_path / "pillar").mkdir()
    (tmp_path / "pillar" / "local.sls").write_text("requirepass: redis-pass-5678")
    assert check.finish([(tmp_path, (tmp_path / "pillar",))]) == [
        f"sparks:db_redis:settings:requirepass in {tmp_path / 'cache.p'}",
        "sparks:db_redis:settings:requirepass in salt output",
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="the proc connector needs root (CAP_NET_ADMIN)")
def test_exec_watch_sees_a_process_that_lives_50_ms():
    watch = leaks.ExecWatch.instance()
    time.sleep(0.2)  # the kernel delivers events from the subscription on
    watch.take()
    subprocess.run(["/bin/sh", "-c", "sleep 0.05", "exec-watch-probe-4711"], check=True)
    deadline = time.monotonic() + 5
    seen = set()
    while time.monotonic() < deadline and not any("exec-watch-probe-4711" in c for c in seen):
        time.sleep(0.05)
        seen |= watch.take()
    assert any("exec-watch-probe-4711" in c for c in seen)
