# Undo `db_mongodb`: stop mongod, remove the packages, the repository and its key (/var/lib/mongodb stays).
{%- from "db_mongodb/map.jinja" import db_mongodb as mongodb %}

db-mongodb-clean-service-dead:
  service.dead:
    - name: {{ mongodb.service }}
    - enable: false

db-mongodb-clean-package-removed:
  pkg.removed:
    - pkgs: {{ mongodb.packages | json }}
    - require:
      - service: db-mongodb-clean-service-dead

db-mongodb-clean-repo-absent:
  file.absent:
    - names:
      - {{ mongodb.repo.file }}
      - {{ mongodb.repo.key_file }}
    - require:
      - pkg: db-mongodb-clean-package-removed
