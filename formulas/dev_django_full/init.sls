# Client libraries and headers for Django work (PostgreSQL, memcached, libxml2/libxslt, ZeroMQ, Python), one transaction.
{%- from "dev_django_full/map.jinja" import dev_django_full as dev %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}

{{ packages_installed("dev-django-full-packages-installed", dev, pkgs=(dev.packages + dev.extra_packages) | unique | list) }}
