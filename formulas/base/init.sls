# Base machine: base and sysadmin packages, passwordless sudo for admins, unattended upgrades, locale, fail2ban.
include:
  - base.packages
  - base.sudo
  - base.unattended_upgrades
  - base.locale
  - base.fail2ban
