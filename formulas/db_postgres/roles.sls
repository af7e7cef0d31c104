# Roles with passwords and databases with owners, encodings and extensions, from pillar, created idempotently.
{%- from "db_postgres/map.jinja" import db_postgres as pg %}

include:
  - db_postgres.service

{#- Our own state (salt/_states/sparks_postgres.py): core postgres_user passes the password hash on psql's
    command line. The password is read from pillar by the state itself, so it is not in this rendered file
    (from __pillar__: pillar.get would hand a Python module Salt 3008's mask). #}
{%- for name, role in pg.roles | dictsort %}
{#-   Whether a password is set: asked of pillar, since the map leaves secrets out. #}
{%-   set password = salt["pillar.get"]("sparks:db_postgres:roles:" ~ name, {}).get("password") %}

db-postgres-role-{{ name }}-present:
  sparks_postgres.role_present:
    - name: {{ name | json }}
{%-   if password is not none %}
    - password_pillar: {{ ("sparks:db_postgres:roles:" ~ name ~ ":password") | json }}
{%-   endif %}
    - login: {{ role.get("login", true) | json }}
    - superuser: {{ role.get("superuser", false) | json }}
    - createdb: {{ role.get("createdb", false) | json }}
    - createrole: {{ role.get("createrole", false) | json }}
    - port: {{ pg.port }}
    - require:
      - service: db-postgres-service-running
      - cmd: db-postgres-service-restarted-after-install
{%- endfor %}
{%- for name, database in pg.databases | dictsort %}

db-postgres-database-{{ name }}-present:
  sparks_postgres.database_present:
    - name: {{ name | json }}
    - owner: {{ database.get("owner") | json }}
    - encoding: {{ database.get("encoding", "UTF8") | json }}
    - lc_collate: {{ database.get("lc_collate") | json }}
    - lc_ctype: {{ database.get("lc_ctype") | json }}
    - template: {{ database.get("template", "template0") | json }}
    - extensions: {{ database.get("extensions", []) | json }}
    - port: {{ pg.port }}
    - require:
      - service: db-postgres-service-running
      - cmd: db-postgres-service-restarted-after-install
{%-   if database.get("owner") in pg.roles %}
      - sparks_postgres: db-postgres-role-{{ database.owner }}-present
{%-   endif %}
{%- endfor %}
