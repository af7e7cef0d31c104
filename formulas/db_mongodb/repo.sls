# The vendor's apt repository, trusted through its own key file only (signed-by), never apt's global keyring.
{%- from "db_mongodb/map.jinja" import db_mongodb as mongodb %}
{%- set repo = mongodb.repo %}
{%- set key_module = "file" if repo.key_text or repo.key_hash else "test" %}

db-mongodb-repo-keyrings-directory:
  file.directory:
    - name: {{ salt["file.dirname"](repo.key_file) }}
    - mode: "0755"

{%- if repo.key_text %}

db-mongodb-repo-key-file-managed:
  file.managed:
    - name: {{ repo.key_file }}
    - contents: {{ repo.key_text | json }}
    - mode: "0644"
    - require:
      - file: db-mongodb-repo-keyrings-directory
{%- elif repo.key_hash %}

# Downloaded only when the file is missing or differs from the hash; a dry run (test=True) fetches nothing.
db-mongodb-repo-key-file-managed:
  file.managed:
    - name: {{ repo.key_file }}
    - source: {{ repo.key_url.replace("{version}", mongodb.version) }}
    - source_hash: sha256={{ repo.key_hash }}
    - mode: "0644"
    - require:
      - file: db-mongodb-repo-keyrings-directory
{%- else %}

db-mongodb-repo-key-file-managed:
  test.fail_without_changes:
    - name: >-
        sparks:db_mongodb:repo: set key_hash (sha256 of {{ repo.key_url.replace("{version}", mongodb.version) }})
        or key_text (the armored key): a repository key is never installed unverified
{%- endif %}

db-mongodb-repo-list-file-managed:
  file.managed:
    - name: {{ repo.file }}
    - contents: >-
        deb [signed-by={{ repo.key_file }}] {{ repo.url }}
        {{ grains["oscodename"] }}/mongodb-org/{{ mongodb.version }} {{ repo.component }}
    - mode: "0644"
    - require:
      - {{ key_module }}: db-mongodb-repo-key-file-managed
