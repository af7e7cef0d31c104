# mongod installed from the vendor repository, configured (/etc/mongod.conf) and running.
{%- from "db_mongodb/map.jinja" import db_mongodb as mongodb %}

include:
  - db_mongodb.repo

db-mongodb-package-installed:
  pkg.installed:
    - pkgs: {{ mongodb.packages | json }}
    - install_recommends: {{ mongodb.install_recommends }}
    # A new repository must be read before its packages can be found: refresh when the list file changed.
    - refresh: true
    - cache_valid_time: {{ mongodb.package_index_max_age }}
    - require:
      - file: db-mongodb-repo-list-file-managed

db-mongodb-config-file-managed:
  file.managed:
    - name: {{ mongodb.config_file }}
    - source: salt://db_mongodb/files/mongod.conf.jinja
    - template: jinja
    - context:
        mongodb: {{ mongodb | json }}
    - mode: "0644"
    - require:
      - pkg: db-mongodb-package-installed

# mongod has no configuration reload: a changed file restarts it, an unchanged one does not.
db-mongodb-service-running:
  service.running:
    - name: {{ mongodb.service }}
    - enable: true
    - watch:
      - file: db-mongodb-config-file-managed
