# mongod installed from the vendor repository, configured (/etc/mongod.conf) and running.
{%- from "db_mongodb/map.jinja" import db_mongodb as mongodb %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}

include:
  - db_mongodb.repo

{#- A new repository must be read before its packages can be found: the list file comes first. #}
{{ packages_installed("db-mongodb-package-installed", mongodb, args=[{"require": [{"file": "db-mongodb-repo-list-file-managed"}]}]) }}

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
