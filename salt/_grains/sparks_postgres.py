"""
Grain ``postgres_clusters``: the PostgreSQL clusters on this machine (``pg_lsclusters``), [] without PostgreSQL.

formulas/db_postgres/map.jinja takes the managed cluster's major version from it instead of an execution-module
call at render time (under salt-ssh, each such call is one more SSH round trip). The formula refreshes grains
after it installs or upgrades PostgreSQL, so a running minion does not keep a stale list.
"""

__virtualname__ = "sparks_postgres"


def __virtual__():
    return __virtualname__


def postgres_clusters():
    return {"postgres_clusters": __utils__["sparks_postgres.clusters"]()}
