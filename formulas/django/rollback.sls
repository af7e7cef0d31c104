# Switch Django projects back to their previous release, then reload gunicorn and restart celery (an action).
{#- Every project in pillar, or only those named on the command line:
      state.apply django.rollback pillar='{"django_rollback": {"projects": ["shop"], "to": "<release id>"}}'
    Without `to`, every run switches back once more (current <-> previous). The next `state.apply django`
    deploys the pillar's rev again: change the rev in pillar to stay on the old release.
    A release that lacks migrations applied to the database is refused, naming them; `migrate_back: true`
    migrates back first, with the current release's code (data in what they added is lost). -#}
{%- from "django/map.jinja" import django %}
{%- set only = salt["pillar.get"]("django_rollback:projects", []) %}
{%- set to = salt["pillar.get"]("django_rollback:to", None) %}
{%- set migrate_back = salt["pillar.get"]("django_rollback:migrate_back", False) is sameas true %}

{%- for key, p in django.resolved | dictsort if not only or key in only %}
{%-   set id = p.id %}
{%-   set restart = [] %}
{%-   for wname, w in p.worker_units | dictsort %}{% do restart.append(w.unit) %}{% endfor %}
{%-   if p.beat.enabled %}{% do restart.append(p.beat_unit) %}{% endif %}
{%-   if p.flower.enabled %}{% do restart.append(p.flower_unit) %}{% endif %}

{{ id }}-rollback-sparks-django-rolled-back:
  sparks_django.rolled_back:
    - name: {{ p.root }}
{%-   if to %}
    - to: {{ to | json }}
{%-   endif %}
    - migrate_back: {{ migrate_back }}
{%-   if p.web.enabled and p.web.nginx %}
    - static_dir: {{ p.static_dir | json }}
{%-   endif %}
    - check_migrations: {{ p.migrate }}
{%-   if p.project_subdir %}
    - project_subdir: {{ p.project_subdir }}
{%-   endif %}
{%-   if p.settings_module %}
    - settings_module: {{ p.settings_module }}
{%-   endif %}
    - env_file: {{ p.env_file }}
    - runas: {{ p.user }}
    - timeout: {{ p.timeout }}

{%-   if p.web.enabled %}

{{ id }}-rollback-web-gunicorn-reload-cmd-run:
  cmd.run:
    - name: systemctl reload {{ p.web_unit }}
    - onchanges:
      - sparks_django: {{ id }}-rollback-sparks-django-rolled-back
{%-   endif %}

{%-   for unit in restart %}

{{ id }}-rollback-{{ unit }}-restart-cmd-run:
  cmd.run:
    - name: systemctl try-restart {{ unit }}
    - onchanges:
      - sparks_django: {{ id }}-rollback-sparks-django-rolled-back
{%-   endfor %}
{%- endfor %}
