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

# The postgres_clusters grain is read when the states render, and grains are cached: salt-ssh keeps them on the
# target for 5 minutes (grains_cache), a running minion in memory. Without this, the next run would still see the
# cluster list from before this run installed or upgraded PostgreSQL and manage a cluster that is not there (the
# upgraded-from 15/main). refresh_grains drops the cache and has a running minion reload its grains. Runs only when
# something changed, so an unchanged run stays unchanged.
db-postgres-upgrade-grains-refreshed:
  module.run:
    - saltutil.refresh_grains:
      - refresh_pillar: false
    - onchanges:
      - pkg: db-postgres-package-installed
      - sparks_postgres: db-postgres-upgrade-cluster-upgraded
