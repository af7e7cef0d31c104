# SQLite command-line shell (sqlite3).
{%- from "db_sqlite/map.jinja" import db_sqlite as sqlite %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}

{{ packages_installed("db-sqlite-package-installed", sqlite) }}
