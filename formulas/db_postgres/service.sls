# The cluster running; a configuration change is applied by a reload (connections survive), a restart only after install.
{%- from "db_postgres/map.jinja" import db_postgres as pg %}
{%- set unit = "postgresql@" ~ pg.version ~ "-" ~ pg.cluster %}

include:
  - db_postgres.config

# The per-cluster unit, not the umbrella `postgresql` (whose own start/reload are no-ops). Debian's generator
# starts it at boot through postgresql.service, so it needs no enabling of its own.
db-postgres-service-running:
  service.running:
    - name: {{ unit }}
    - reload: true
    - watch:
      - file: db-postgres-config-settings-file-managed
      - file: db-postgres-config-hba-file-managed

# Settings PostgreSQL reads only at start (listen_addresses, port, shared_buffers...) need a restart. Only the
# run that installed the server restarts it: nothing uses it yet. Later, such changes wait for a restart you
# choose (SELECT name FROM pg_settings WHERE pending_restart lists them).
db-postgres-service-restarted-after-install:
  cmd.run:
    - name: systemctl restart {{ unit }}
    - onchanges:
      - pkg: db-postgres-package-installed
    - require:
      - service: db-postgres-service-running
