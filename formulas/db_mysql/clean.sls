# Undo `db_mysql`: stop MariaDB, remove sparks' drop-in and the packages (the data in /var/lib/mysql stays).
{%- from "db_mysql/map.jinja" import db_mysql as mysql %}

db-mysql-clean-service-dead:
  service.dead:
    - name: {{ mysql.service }}
    - enable: false

db-mysql-clean-config-absent:
  file.absent:
    - name: {{ mysql.settings_file }}

db-mysql-clean-package-removed:
  pkg.removed:
    - pkgs: {{ mysql.packages | json }}
    - require:
      - service: db-mysql-clean-service-dead
