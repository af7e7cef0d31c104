# Locales generated and the system default LANG set.
{%- from "base/map.jinja" import base %}
{%- if base.locale.enabled %}

include:
  - base.packages

{%- for name in (base.locale.generated + [base.locale.default]) | unique %}

base-locale-{{ name }}-generated:
  locale.present:
    - name: {{ name }}
    - require:
      - pkg: base-packages-installed
{%- endfor %}

# Written directly rather than through localectl, which needs a running systemd-localed (absent in chroots).
base-locale-default-managed:
  file.managed:
    - name: /etc/default/locale
    - contents: |
        # Managed by sparks (formula `base`, pillar sparks:base:locale:default).
        LANG={{ base.locale.default }}
    - require:
      - locale: base-locale-{{ base.locale.default }}-generated
{%- endif %}
