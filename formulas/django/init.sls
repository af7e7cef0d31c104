# Django projects from pillar: releases with an atomic switch and health gate, gunicorn behind nginx, celery, maintenance mode.
{%- from "django/map.jinja" import django %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}
{%- set check_script = "/usr/local/sbin/sparks-nginx-check" %}
{%- set nginx_sites = [] %}

{{ packages_installed("django-package-installed", django) }}

# Validates a candidate nginx site in a throwaway nginx.conf: sites are checked before they go live.
django-nginx-check-script-file-managed:
  file.managed:
    - name: {{ check_script }}
    - source: salt://django/files/nginx-check.sh
    - mode: "0755"

{%- if django.nginx.remove_default_site %}

django-nginx-default-site-absent:
  file.absent:
    - name: {{ django.nginx.sites_enabled }}/default
    - require:
      - pkg: django-package-installed
{%- endif %}

{%- for key, p in django.resolved | dictsort %}
{%-   set id = p.id %}
{%-   set units = [] %}
{#- What templates get: the project without its secrets (env.jinja reads those from pillar itself). #}
{%-   set public = {} %}
{%-   for k, v in p | dictsort if k != "secrets" %}{% do public.update({k: v}) %}{% endfor %}
{%-   set project_dir = p.current ~ "/src" ~ ("/" ~ p.project_subdir if p.project_subdir else "") %}

{{ id }}-user-present:
  user.present:
    - name: {{ p.user }}
    - system: true
    - home: /home/{{ p.user }}
    - createhome: true
    - shell: /bin/bash

{%-   for directory in [p.root, p.shared, p.media_root, p.maintenance_dir] %}

{{ id }}-directory-{{ loop.index }}-file-directory:
  file.directory:
    - name: {{ directory }}
    - user: {{ p.user }}
    - group: {{ p.user }}
    - mode: "0755"
    - makedirs: true
    - require:
      - user: {{ id }}-user-present
{%-   endfor %}
{%-   if p.migrate and p.snapshots %}

# Snapshots of the database hold everything in it: the project user's only.
{{ id }}-snapshot-directory-file-directory:
  file.directory:
    - name: {{ p.snapshot_dir }}
    - user: {{ p.user }}
    - group: {{ p.user }}
    - mode: "0700"
    - makedirs: true
    - require:
      - user: {{ id }}-user-present
    - require_in:
      - sparks_django: {{ id }}-release-sparks-django-release-deployed
{%-   endif %}

{%-   if p.local_source %}

# git refuses to read a repository that another user owns; this one (bare or not) is trusted explicitly.
{%-     set trusted = [p.local_source | replace("'", ""), p.local_source | replace("'", "") ~ "/.git"] %}
{{ id }}-git-safe-directory-cmd-run:
  cmd.run:
    - name: >-
        for dir in '{{ trusted | join("' '") }}'; do
        git config --system --get-all safe.directory | grep -qxF "$dir" ||
        git config --system --add safe.directory "$dir" || exit 1; done
    - unless: test "$(git config --system --get-all safe.directory | grep -cxF -e '{{ trusted | join("' -e '") }}')" = 2
    - require:
      - pkg: django-package-installed
{%-   endif %}

# Variables and secrets of the project, for its units and its management commands. Never shown.
{{ id }}-env-file-managed:
  file.managed:
    - name: {{ p.env_file }}
    - source: salt://django/files/env.jinja
    - template: jinja
    - context:
        key: {{ key | json }}
        p: {{ public | json }}
    - user: {{ p.user }}
    - group: {{ p.user }}
    - mode: "0600"
    - show_changes: false
    - require:
      - file: {{ id }}-directory-1-file-directory

{{ id }}-maintenance-page-file-managed:
  file.managed:
    - name: {{ p.maintenance_dir }}/index.html
{%-   if p.maintenance_page %}
    - contents: {{ p.maintenance_page | json }}
{%-   else %}
    - source: salt://django/files/maintenance.html
{%-   endif %}
    - mode: "0644"
    - require:
      - file: {{ id }}-directory-4-file-directory

{%-   if p.maintenance %}

{{ id }}-maintenance-flag-file-managed:
  file.managed:
    - name: {{ p.flag_file }}
    - contents: "maintenance mode: set by pillar sparks:django:projects:{{ key }}:maintenance"
    - mode: "0644"
{%-   else %}

{{ id }}-maintenance-flag-file-absent:
  file.absent:
    - name: {{ p.flag_file }}
{%-   endif %}

# The current and previous releases' venvs rebuilt (with their requirements) when the system Python changed
# under them (a distribution upgrade); the services below restart then, to leave the old interpreter.
{{ id }}-venvs-sparks-django-venvs-current:
  sparks_django.venvs_current:
    - name: {{ p.root }}
    - requirements: {{ p.all_requirements | json }}
    - python: {{ p.python }}
    - pip_args: {{ p.pip_args | json }}
    - runas: {{ p.user }}
    - timeout: {{ p.timeout }}
    - require:
      - pkg: django-package-installed
      - file: {{ id }}-env-file-managed

# Build the release (code, shared paths, venv, requirements, gunicorn, static files, messages), check,
# migrate, serve the candidate on its own socket and check it, switch `current`. A failing step leaves
# `current` where it was and records the release as failed; changes.current is set only when it switched.
{{ id }}-release-sparks-django-release-deployed:
  sparks_django.release_deployed:
    - name: {{ p.root }}
    - source: {{ p.source | json }}
{%-   if p.rev %}
    - rev: {{ p.rev | json }}
{%-   endif %}
    - requirements: {{ p.all_requirements | json }}
    - gunicorn: {{ p.gunicorn | json }}
    - extra_requirements: {{ p.extra_requirements | json }}
    - shared_paths: {{ p.shared_paths | json }}
    - retry: {{ p.retry }}
{%-   if p.migrate and p.snapshots %}
    - snapshot_dir: {{ p.snapshot_dir }}
{%-   endif %}
{%-   if p.web.enabled and p.web.nginx %}
    - static_dir: {{ p.static_dir | json }}
{%-   endif %}
{%-   if p.project_subdir %}
    - project_subdir: {{ p.project_subdir }}
{%-   endif %}
    - environment: {{ p.environment }}
{%-   if p.check_deploy is not none %}
    - check_deploy: {{ p.check_deploy }}
{%-   endif %}
    - collectstatic: {{ p.collectstatic }}
    - compilemessages: {{ p.compilemessages | json }}
    - migrate: {{ p.migrate }}
    - keep: {{ p.keep }}
{%-   if p.web.enabled %}
    - health_gate: {{ {"wsgi_module": p.wsgi_module, "path": p.health_check_path, "host": p.health_host,
                       "https": p.web.https or p.web.tls.mode != "", "worker_timeout": p.web.timeout} | json }}
    - health_check_timeout: {{ p.health_check_timeout }}
{%-   endif %}
    - python: {{ p.python }}
    - pip_args: {{ p.pip_args | json }}
{%-   if p.settings_module %}
    - settings_module: {{ p.settings_module }}
{%-   endif %}
    - env_file: {{ p.env_file }}
    - runas: {{ p.user }}
    - timeout: {{ p.timeout }}
    - require:
      - pkg: django-package-installed
      - file: {{ id }}-env-file-managed
      - sparks_django: {{ id }}-venvs-sparks-django-venvs-current
{%-   if p.local_source %}
      - cmd: {{ id }}-git-safe-directory-cmd-run
{%-   endif %}

{%-   if p.web.enabled %}
{%-     do units.append(("web", p.web_unit, "gunicorn.service.jinja", {})) %}
{%-   endif %}
{%-   for wname, w in p.worker_units | dictsort %}
{%-     do units.append(("worker-" ~ wname, w.unit, "celery-worker.service.jinja", {"wname": wname, "w": w})) %}
{%-   endfor %}
{%-   if p.beat.enabled %}
{%-     do units.append(("beat", p.beat_unit, "celery-beat.service.jinja", {})) %}
{%-   endif %}
{%-   if p.flower.enabled %}
{%-     do units.append(("flower", p.flower_unit, "flower.service.jinja", {})) %}
{%-   endif %}

{%-   for role, unit, template, extra in units %}

{{ id }}-{{ role }}-unit-file-managed:
  file.managed:
    - name: {{ django.systemd_dir }}/{{ unit }}.service
    - source: salt://django/files/{{ template }}
    - template: jinja
    - context: {{ dict(key=key, p=public, **extra) | json }}
    - mode: "0644"
{%-   endfor %}

{%-   if units %}

# Only when a unit file changed.
{{ id }}-units-systemd-daemon-reload-cmd-run:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
{%-     for role, unit, template, extra in units %}
      - file: {{ id }}-{{ role }}-unit-file-managed
{%-     endfor %}
{%-   endif %}

{%-   for role, unit, template, extra in units %}

# Started once `current` exists; restarted only when its own unit file, the env file or the venv (rebuilt) changed
{%-     if role != "web" %}, or a new release became current (celery has no graceful code reload)
{%-     endif %}.
{{ id }}-{{ role }}-service-running:
  service.running:
    - name: {{ unit }}
    - enable: true
    - require:
      - sparks_django: {{ id }}-release-sparks-django-release-deployed
      - cmd: {{ id }}-units-systemd-daemon-reload-cmd-run
    - watch:
      - file: {{ id }}-{{ role }}-unit-file-managed
      - file: {{ id }}-env-file-managed
      - sparks_django: {{ id }}-venvs-sparks-django-venvs-current
{%-     if role != "web" %}
      - sparks_django: {{ id }}-release-sparks-django-release-deployed
{%-     endif %}
{%-   endfor %}

{%-   if p.web.enabled %}

# A new release is put in service by a graceful reload: HUP, new workers on the new code, old ones finish.
{{ id }}-web-gunicorn-reload-cmd-run:
  cmd.run:
    - name: systemctl reload {{ p.web_unit }}
    - onchanges:
      - sparks_django: {{ id }}-release-sparks-django-release-deployed
    - require:
      - service: {{ id }}-web-service-running

# The live site answers through nginx with its own Host (the candidate passed its gate already); if not,
# `current` goes back to the previous release (reloaded below) and this one is recorded as failed.
{{ id }}-web-sparks-django-healthy:
  sparks_django.healthy:
    - name: {{ p.root }}
{%-       if p.health_url %}
    - health_check_url: {{ p.health_url }}
{%-       else %}
    - address: {{ p.live_address }}
    - path: {{ p.health_check_path | json }}
{%-         if p.health_host %}
    - host: {{ p.health_host }}
{%-         endif %}
    - https: {{ p.web.https }}
{%-       endif %}
    - health_check_timeout: {{ p.health_check_timeout }}
    - rollback_on_failure: true
{%-       if p.web.nginx %}
    - static_dir: {{ p.static_dir | json }}
{%-       endif %}
    - env_file: {{ p.env_file }}
    - runas: {{ p.user }}
    - onchanges:
      - cmd: {{ id }}-web-gunicorn-reload-cmd-run
{%-       if p.web.nginx %}
    - require:
      - service: django-nginx-service-running
{%-       endif %}

{{ id }}-web-reload-after-rollback-cmd-run:
  cmd.run:
    - name: systemctl reload {{ p.web_unit }}{% for role, unit, template, extra in units if role != "web" %} && systemctl try-restart {{ unit }}{% endfor %}
    - onfail:
      - sparks_django: {{ id }}-web-sparks-django-healthy

{%-     if p.web.nginx %}
{%-       do nginx_sites.append(id) %}

# Checked with `nginx -t` (in a throwaway nginx.conf that includes it) before it replaces the live site.
{{ id }}-nginx-site-file-managed:
  file.managed:
    - name: {{ django.nginx.sites_available }}/{{ p.nginx_site }}
    - source: salt://django/files/nginx-site.conf.jinja
    - template: jinja
    - context:
        key: {{ key | json }}
        p: {{ public | json }}
    - mode: "0644"
    - check_cmd: {{ check_script }}
    - require:
      - pkg: django-package-installed
      - file: django-nginx-check-script-file-managed

{{ id }}-nginx-site-enabled-file-symlink:
  file.symlink:
    - name: {{ django.nginx.sites_enabled }}/{{ p.nginx_site }}
    - target: {{ django.nginx.sites_available }}/{{ p.nginx_site }}
    - require:
      - file: {{ id }}-nginx-site-file-managed
{%-     endif %}
{%-   endif %}
{%- endfor %}

{%- if nginx_sites or django.nginx.remove_default_site %}

# Reloaded (never restarted) when a site changed.
django-nginx-service-running:
  service.running:
    - name: {{ django.nginx.service }}
    - enable: true
    - reload: true
    - require:
      - pkg: django-package-installed
    - watch:
{%-   if django.nginx.remove_default_site %}
      - file: django-nginx-default-site-absent
{%-   endif %}
{%-   for id in nginx_sites %}
      - file: {{ id }}-nginx-site-file-managed
      - file: {{ id }}-nginx-site-enabled-file-symlink
{%-   endfor %}
{%- endif %}

{#- ACME: the site is live on plain HTTP first (above), certbot proves the names through its challenge directory,
    then the same site file is written again, now with its certificate, checked and reloaded. A second run finds
    the certificate and changes nothing; certbot's own timer renews it, with nginx -t before the reload. #}
{%- set acme_projects = [] %}
{%- for key, p in django.resolved | dictsort if p.web.enabled and p.web.nginx and p.web.tls.mode == "acme" %}
{%-   if not p.tls_names %}
{{ raise("sparks:django:projects:" ~ key ~ ":web:tls: acme needs the site's names in web:server_name") }}
{%-   endif %}
{%-   do acme_projects.append(p) %}
{%- endfor %}
{%- if acme_projects %}

{{ packages_installed("django-certbot-package-installed", {"install_recommends": false}, refresh=false,
                      pkgs=["certbot"]) }}

django-acme-webroot-file-directory:
  file.directory:
    - name: {{ acme_projects[0].acme_webroot }}
    - mode: "0755"
    - makedirs: true

# Renewals (certbot.timer) reload nginx only when its configuration is valid.
django-acme-renewal-hook-file-managed:
  file.managed:
    - name: /etc/letsencrypt/renewal-hooks/deploy/sparks-nginx-reload
    - mode: "0755"
    - makedirs: true
    - contents: |
        #!/bin/sh
        # Managed by sparks (django formula): a renewed certificate goes live only through a valid nginx.
        nginx -t && systemctl reload nginx
    - require:
      - pkg: django-certbot-package-installed
{%-   for p in acme_projects %}
{%-     set public = {} %}
{%-     for k, v in p | dictsort if k != "secrets" %}{% do public.update({k: v}) %}{% endfor %}
{%-     set acme = p.web.tls.acme %}

{{ p.id }}-tls-certificate-cmd-run:
  cmd.run:
    - name: >-
        certbot certonly --webroot -w {{ p.acme_webroot }} --cert-name django-{{ p.slug }}
        {%- for name in p.tls_names %} -d {{ name }}{% endfor %}
        --non-interactive --agree-tos --no-eff-email
        {{ ("-m " ~ acme.email) if acme.email else "--register-unsafely-without-email" }} --server {{ acme.server }}
{%-     if acme.ca_bundle %}
    - env:
        REQUESTS_CA_BUNDLE: {{ acme.ca_bundle }}
{%-     endif %}
    - creates: {{ p.tls_certificate }}
    - require:
      - service: django-nginx-service-running
      - file: django-acme-webroot-file-directory
      - file: django-acme-renewal-hook-file-managed

{{ p.id }}-nginx-site-tls-file-managed:
  file.managed:
    - name: {{ django.nginx.sites_available }}/{{ p.nginx_site }}
    - source: salt://django/files/nginx-site.conf.jinja
    - template: jinja
    - context:
        key: {{ p.key | json }}
        p: {{ public | json }}
    - mode: "0644"
    - check_cmd: {{ check_script }}
    - require:
      - cmd: {{ p.id }}-tls-certificate-cmd-run

{{ p.id }}-nginx-tls-reload-cmd-run:
  cmd.run:
    - name: systemctl reload {{ django.nginx.service }}
    - onchanges:
      - file: {{ p.id }}-nginx-site-tls-file-managed
{%-   endfor %}
{%- endif %}
