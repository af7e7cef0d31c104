# PostgreSQL server: the distribution's version, settings and pg_hba.conf from pillar, roles and databases.
include:
  - db_postgres.package
  - db_postgres.config
  - db_postgres.service
  - db_postgres.roles
