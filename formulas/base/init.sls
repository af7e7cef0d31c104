# Base machine: base and sysadmin packages, passwordless sudo for admins, unattended upgrades, locale, fail2ban,
# time synchronisation, journald limits, and restarts of services still running replaced libraries.
include:
  - base.packages
  - base.sudo
  - base.unattended_upgrades
  - base.locale
  - base.fail2ban
  - base.time
  - base.journald
  - base.restarts
