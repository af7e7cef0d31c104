# Undo `salt_minion`: stop and remove the minion, its unit and its configuration (the venv stays for bootstrap).
salt-minion-clean-service-dead:
  service.dead:
    - name: salt-minion
    - enable: false

salt-minion-clean-files-absent:
  file.absent:
    - names:
      - /etc/systemd/system/salt-minion.service
      - /etc/salt/minion.d/sparks.conf
    - require:
      - service: salt-minion-clean-service-dead
