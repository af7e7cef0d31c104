# MongoDB from the vendor's apt repository (signed-by key file), mongod running with bind_ip from pillar.
include:
  - db_mongodb.repo
  - db_mongodb.server
