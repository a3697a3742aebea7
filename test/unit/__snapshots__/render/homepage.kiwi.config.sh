#!/bin/bash
# kiwi runs this inside the image root after the packages are installed.
set -euo pipefail
install -d -m 0700 -o admin -g admin /home/admin/.ssh
chown admin:admin /home/admin/.ssh/authorized_keys
chmod 0600 /home/admin/.ssh/authorized_keys
chown root:root /etc/image-factory/release
chmod 0644 /etc/image-factory/release
chown root:root /etc/motd
chmod 0644 /etc/motd
chown root:root /etc/systemd/network/80-dhcp.network
chmod 0644 /etc/systemd/network/80-dhcp.network
chown root:root /var/www/html/index.html
chmod 0644 /var/www/html/index.html
systemctl enable apache2.service systemd-networkd.service
