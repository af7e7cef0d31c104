# The vendor's apt repository, trusted through its own key file only (signed-by), never apt's global keyring.
{%- from "db_mongodb/map.jinja" import db_mongodb as mongodb %}
{%- set repo = mongodb.repo %}
{%- set key_module = "file" if repo.key_text else "cmd" if repo.key_hash else "test" %}

db-mongodb-repo-keyrings-directory:
  file.directory:
    - name: {{ repo.key_file.rsplit("/", 1)[0] }}{# not file.dirname: a round trip to the machine under salt-ssh #}
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
{%-   set key_url = repo.key_url.replace("{version}", mongodb.version) %}

# Fetched only when the file is missing or does not match the hash, and installed only if the download
# matches it. Not file.managed with source_hash: that downloads the source even in a dry run (test=True) to
# show a diff; a command is not run at all in a dry run. python3 fetches (it is there for Salt; curl may not be).
db-mongodb-repo-key-file-managed:
  cmd.run:
    - name: >-
        tmp=$(mktemp) && trap 'rm -f "$tmp"' EXIT &&
        python3 -c 'import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1],
        timeout=60).read())' '{{ key_url }}' >"$tmp" &&
        echo "{{ repo.key_hash }}  $tmp" | sha256sum --check --quiet &&
        install -m 0644 "$tmp" {{ repo.key_file }}
    - unless: echo "{{ repo.key_hash }}  {{ repo.key_file }}" | sha256sum --check --quiet --status
    - require:
      - file: db-mongodb-repo-keyrings-directory
{%- else %}

{%-   set message = "sparks:db_mongodb:repo: set key_hash (sha256 of " ~ repo.key_url.replace("{version}", mongodb.version)
                     ~ ") or key_text (the armored key): a repository key is never installed unverified" %}

# Nothing to verify the key with: refuse (the message is the name, since a dry run replaces the comment).
db-mongodb-repo-key-file-managed:
  test.fail_without_changes:
    - name: {{ message | json }}
    - comment: {{ message | json }}
{%- endif %}

db-mongodb-repo-list-file-managed:
  file.managed:
    - name: {{ repo.file }}
    - contents: >-
        deb [signed-by={{ repo.key_file }}] {{ repo.url }}
        {{ repo.codename or grains["oscodename"] }}/mongodb-org/{{ mongodb.version }} {{ repo.component }}
    - mode: "0644"
    - require:
      - {{ key_module }}: db-mongodb-repo-key-file-managed
