# postgresql.conf settings as a conf.d drop-in, and pg_hba.conf, which is validated before it replaces the old one.
{%- from "db_postgres/map.jinja" import db_postgres as pg %}
{%- set confdir = "/etc/postgresql/" ~ pg.version ~ "/" ~ pg.cluster %}

include:
  - db_postgres.upgrade

# Debian's postgresql.conf ends with `include_dir = 'conf.d'`: our file is read last and wins, and the
# distribution's file stays untouched (package upgrades never ask about it).
db-postgres-config-settings-file-managed:
  file.managed:
    - name: {{ confdir }}/conf.d/sparks.conf
    - source: salt://db_postgres/files/sparks.conf.jinja
    - template: jinja
    - context:
        settings: {{ pg.settings | json }}
        port: {{ pg.port }}
    - user: postgres
    - group: postgres
    - mode: "0644"
    - require:
      - pkg: db-postgres-package-installed
      # The files of the cluster the upgrade leaves, never of one it is about to replace.
      - sparks_postgres: db-postgres-upgrade-cluster-upgraded

db-postgres-config-hba-checker-file-managed:
  file.managed:
    - name: /usr/local/lib/sparks/pg-hba-check
    - source: salt://db_postgres/files/pg-hba-check.sh
    - makedirs: true
    - mode: "0755"

# A pg_hba.conf PostgreSQL cannot parse makes the next reload keep the old rules but the next restart fail:
# the candidate is parsed by PostgreSQL itself (pg-hba-check, a throwaway single-user server) and only a
# clean one replaces the file. Salt runs the check only when the content changes.
db-postgres-config-hba-file-managed:
  file.managed:
    - name: {{ confdir }}/pg_hba.conf
    - source: salt://db_postgres/files/pg_hba.conf.jinja
    - template: jinja
    - context:
        hba: {{ pg.hba | json }}
    - user: postgres
    - group: postgres
    - mode: "0640"
    - check_cmd: /usr/local/lib/sparks/pg-hba-check {{ pg.version }}
    - require:
      - pkg: db-postgres-package-installed
      - sparks_postgres: db-postgres-upgrade-cluster-upgraded
      - file: db-postgres-config-hba-checker-file-managed
