# MariaDB server (Debian's MySQL) running, with [mysqld] settings from pillar in a drop-in.
{%- from "db_mysql/map.jinja" import db_mysql as mysql %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}

{{ packages_installed("db-mysql-package-installed", mysql) }}

db-mysql-config-file-managed:
  file.managed:
    - name: {{ mysql.settings_file }}
    - source: salt://db_mysql/files/90-sparks.cnf.jinja
    - template: jinja
    - context:
        settings: {{ mysql.settings | json }}
    - mode: "0644"
    - require:
      - pkg: db-mysql-package-installed

# MariaDB re-reads its option files only at start: a changed drop-in restarts it, an unchanged one does not.
db-mysql-service-running:
  service.running:
    - name: {{ mysql.service }}
    - enable: true
    - watch:
      - file: db-mysql-config-file-managed
