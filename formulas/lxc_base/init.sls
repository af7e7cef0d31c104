# LXC guest base: the base role, extra locales (en + fr), and a mailer (nullmailer + bsd-mailx unless postfix is there).
{%- from "lxc_base/map.jinja" import lxc_base %}
{%- from "base/map.jinja" import base %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}

include:
  - base

{#- base already generates its own locales; only the guest's extra ones are added here. #}
{%- for name in lxc_base.locales if name not in base.locale.generated + [base.locale.default] %}

lxc-base-locale-{{ name }}-generated:
  locale.present:
    - name: {{ name }}
    - require:
      - pkg: base-packages-installed
{%- endfor %}

# Cron and unattended-upgrades mail root: a guest needs a way out, but must not replace a real MTA.
{#- No index refresh: base's transaction, required first, refreshed it. #}
{%- set postfix_installed = "dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q 'install ok installed'" %}
{{ packages_installed("lxc-base-mailer-installed", {"install_recommends": false}, refresh=false,
                      pkgs=lxc_base.mailer_packages,
                      args=[{"unless": postfix_installed}, {"require": [{"pkg": "base-packages-installed"}]}]) }}

{%- if lxc_base.mail_relay %}

lxc-base-mailer-relay-managed:
  file.managed:
    - name: /etc/nullmailer/remotes
    - contents: {{ lxc_base.mail_relay | json }}
    - mode: "0600"
    - onlyif: test -d /etc/nullmailer
    - require:
      - pkg: lxc-base-mailer-installed
{%- endif %}
