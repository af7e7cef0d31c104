# SQLite command-line shell (sqlite3).
{%- from "db_sqlite/map.jinja" import db_sqlite as sqlite %}

db-sqlite-package-installed:
  pkg.installed:
    - pkgs: {{ sqlite.packages | json }}
    - install_recommends: {{ sqlite.install_recommends }}
    # Refresh the package index only when it is older than this, so re-runs stay offline and fast.
    - refresh: true
    - cache_valid_time: {{ sqlite.package_index_max_age }}
