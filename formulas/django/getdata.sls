# Dump each Django project's data (dumpdata) to <root>/shared/fixtures/<project>-<environment>.json on the machine.
{#- Options (command-line pillar): django_data:projects (keys, default all), django_data:app_labels (default all),
    django_data:exclude (default contenttypes, auth.permission, sessions). Fetch the file with scp or
    `salt-ssh host cp.push` through a master. The same as a module call:
      salt-call sparks_django.dumpdata output=/tmp/data.json project_dir=<root>/current/src \
          virtualenv=<root>/current/venv env_file=<root>/.env runas=<user> -#}
{%- from "django/map.jinja" import django %}
{%- set only = salt["pillar.get"]("django_data:projects", []) %}
{%- set exclude = salt["pillar.get"]("django_data:exclude", ["contenttypes", "auth.permission", "sessions"]) %}

{%- for key, p in django.resolved | dictsort if not only or key in only %}

{{ p.id }}-getdata-fixtures-file-directory:
  file.directory:
    - name: {{ p.shared }}/fixtures
    - user: {{ p.user }}
    - mode: "0700"

{{ p.id }}-getdata-sparks-django-dumpdata-module-run:
  # New-style module.run: the legacy form drops keyword arguments the function takes only through **kwargs
  # (the project context).
  module.run:
    - sparks_django.dumpdata:
      - app_labels: {{ salt["pillar.get"]("django_data:app_labels", []) | json }}
      - exclude: {{ exclude | json }}
      - indent: 2
      - natural_foreign: true
      - installed_excludes_only: true
      - output: {{ p.shared }}/fixtures/{{ p.slug }}.json
      - project_dir: {{ p.current }}/src{% if p.project_subdir %}/{{ p.project_subdir }}{% endif %}
      - virtualenv: {{ p.current }}/venv
      - env_file: {{ p.env_file }}
      - runas: {{ p.user }}
    - require:
      - file: {{ p.id }}-getdata-fixtures-file-directory
{%- endfor %}
