# MariaDB server (Debian's MySQL) running, with [mysqld] settings from pillar in a drop-in.
{%- from "db_mysql/map.jinja" import db_mysql as mysql %}

db-mysql-package-installed:
  pkg.installed:
    - pkgs: {{ mysql.packages | json }}
    - install_recommends: {{ mysql.install_recommends }}
    # Refresh the package index only when it is older than this, so re-runs stay offline and fast.
    - refresh: true
    - cache_valid_time: {{ mysql.package_index_max_age }}

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
