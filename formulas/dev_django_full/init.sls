# Client libraries and headers for Django work (PostgreSQL, memcached, libxml2/libxslt, ZeroMQ, Python), one transaction.
{%- from "dev_django_full/map.jinja" import dev_django_full as dev %}

dev-django-full-packages-installed:
  pkg.installed:
    - pkgs: {{ (dev.packages + dev.extra_packages) | unique | list | json }}
    - install_recommends: {{ dev.install_recommends }}
    # Refresh the package index only when it is older than this, so re-runs stay offline and fast.
    - refresh: true
    - cache_valid_time: {{ dev.package_index_max_age }}
