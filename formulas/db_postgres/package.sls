# PostgreSQL server and client packages in one transaction; Debian's postinst creates and starts the cluster.
{%- from "db_postgres/map.jinja" import db_postgres as pg %}

db-postgres-package-installed:
  pkg.installed:
    - pkgs: {{ (["postgresql-" ~ pg.version, "postgresql-client-" ~ pg.version] + pg.extra_packages) | unique | list | json }}
    - install_recommends: {{ pg.install_recommends }}
    # Refresh the package index only when it is older than this, so re-runs stay offline and fast.
    - refresh: true
    - cache_valid_time: {{ pg.package_index_max_age }}
