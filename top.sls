{#- Roles decide which states a machine gets. A machine's roles come from pillar `sparks:roles` (set by the
    master or the local pillar: preferred, because a minion cannot grant itself a role through it), else from
    its `roles` grain, else it is just `base`. A role is the name of a state in formulas/ (see README). -#}
{%- set roles = salt['pillar.get']('sparks:roles') or grains.get('roles') or ['base'] %}
{%- if roles is string %}{% set roles = roles.split(',') %}{% endif %}
base:
  '*':
{%- for role in roles %}
    - {{ role | trim }}
{%- endfor %}
