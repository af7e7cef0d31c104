# A cluster of an older major (left by a distribution upgrade) moved to `version` when pillar `upgrade` is true;
# otherwise it stays and the run says that a newer major is available. Never implicit.
{%- from "db_postgres/map.jinja" import db_postgres as pg %}

include:
  - db_postgres.package

# salt/_states/sparks_postgres.py: pg_upgradecluster, and the old cluster dropped only once the new one answers.
db-postgres-upgrade-cluster-upgraded:
  sparks_postgres.cluster_upgraded:
    - name: {{ pg.cluster | json }}
    - version: {{ pg.default_version }}
    - from_version: {{ pg.existing_version | json }}
    - port: {{ pg.port }}
    - upgrade: {{ pg.upgrade | json }}
    - require:
      - pkg: db-postgres-package-installed

# The postgres_clusters grain is read when the states render: a running minion would keep the list it had before
# this run installed or upgraded PostgreSQL, and its next run would manage a cluster that is not there. Runs
# only when something changed, so an unchanged run stays unchanged.
db-postgres-upgrade-grains-refreshed:
  test.succeed_with_changes:
    - name: postgres_clusters grain refreshed
    - reload_grains: true
    - onchanges:
      - pkg: db-postgres-package-installed
      - sparks_postgres: db-postgres-upgrade-cluster-upgraded
