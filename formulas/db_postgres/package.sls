# PostgreSQL server and client packages in one transaction; Debian's postinst creates and starts the cluster.
{%- from "db_postgres/map.jinja" import db_postgres as pg %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}

{{ packages_installed("db-postgres-package-installed", pg,
                      pkgs=(["postgresql-" ~ pg.version, "postgresql-client-" ~ pg.version] + pg.extra_packages) | unique | list) }}
