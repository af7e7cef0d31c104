# Load a fixture (loaddata) into each Django project: <root>/shared/fixtures/<project>-<environment>.json or a salt:// file.
{#- Options (command-line pillar): django_data:projects (keys, default all), django_data:source (a salt:// or
    local file copied to the fixture path first). The same as a module call:
      salt-call sparks_django.loaddata /path/data.json project_dir=<root>/current/src virtualenv=<root>/current/venv \
          env_file=<root>/.env runas=<user> -#}
{%- from "django/map.jinja" import django %}
{%- set only = salt["pillar.get"]("django_data:projects", []) %}
{%- set source = salt["pillar.get"]("django_data:source", "") %}

{%- for key, p in django.resolved | dictsort if not only or key in only %}
{%-   set fixture = p.shared ~ "/fixtures/" ~ p.slug ~ ".json" %}

{%-   if source %}

{{ p.id }}-putdata-fixture-file-managed:
  file.managed:
    - name: {{ fixture }}
    - source: {{ source }}
    - user: {{ p.user }}
    - mode: "0600"
    - makedirs: true
    - show_changes: false
    - require_in:
      - module: {{ p.id }}-putdata-sparks-django-loaddata-module-run
{%-   endif %}

{{ p.id }}-putdata-sparks-django-loaddata-module-run:
  # New-style module.run: the legacy form drops keyword arguments the function takes only through **kwargs
  # (the project context).
  module.run:
    - sparks_django.loaddata:
      - fixtures: [{{ fixture }}]
      - project_dir: {{ p.current }}/src{% if p.project_subdir %}/{{ p.project_subdir }}{% endif %}
      - virtualenv: {{ p.current }}/venv
      - env_file: {{ p.env_file }}
      - runas: {{ p.user }}
{%- endfor %}
