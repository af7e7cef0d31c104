# Undo `dev_django_full`: remove the libraries and headers it installed.
{%- from "dev_django_full/map.jinja" import dev_django_full as dev %}

dev-django-full-clean-packages-removed:
  pkg.removed:
    - pkgs: {{ (dev.packages + dev.extra_packages) | unique | list | json }}
