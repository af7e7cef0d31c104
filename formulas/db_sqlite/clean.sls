# Undo `db_sqlite`: remove the sqlite3 shell (databases are files of their own and stay).
{%- from "db_sqlite/map.jinja" import db_sqlite as sqlite %}

db-sqlite-clean-package-removed:
  pkg.removed:
    - pkgs: {{ sqlite.packages | json }}
