# Undo `db_postgres`: stop the cluster, remove sparks' files and the packages. The data directory is kept.
{%- from "db_postgres/map.jinja" import db_postgres as pg %}
{%- set confdir = "/etc/postgresql/" ~ pg.version ~ "/" ~ pg.cluster %}

db-postgres-clean-service-dead:
  service.dead:
    - name: postgresql@{{ pg.version }}-{{ pg.cluster }}

db-postgres-clean-config-absent:
  file.absent:
    - names:
      - {{ confdir }}/conf.d/sparks.conf
      - /usr/local/lib/sparks/pg-hba-check
    - require:
      - service: db-postgres-clean-service-dead

# pkg.removed, not purged: /var/lib/postgresql (the databases) and pg_hba.conf stay for you to delete.
db-postgres-clean-package-removed:
  pkg.removed:
    - pkgs: {{ (["postgresql-" ~ pg.version, "postgresql-client-" ~ pg.version] + pg.extra_packages) | unique | list | json }}
    - require:
      - service: db-postgres-clean-service-dead
