# PostgreSQL server: the existing cluster's version (else the distribution's), an upgrade only by pillar, settings
# and pg_hba.conf from pillar, roles and databases.
include:
  - db_postgres.package
  - db_postgres.upgrade
  - db_postgres.config
  - db_postgres.service
  - db_postgres.roles
