#!/bin/bash
# 10-system.sh: makes the guest a quiet, single-purpose CI machine. Runs inside the VM as admin
# (passwordless sudo, as in every Cirrus Labs image).
#
# - never sleeps (a sleeping guest drops the runner's connection mid-job);
# - never checks for, downloads or installs updates (an update in a golden image is a silent
#   change to every job; update deliberately by re-baking the image instead);
# - no Spotlight indexing (CPU and disk spent on files a single-use VM throws away);
# - admin may run `sudo /sbin/shutdown` without a password: start-jit-runner.sh powers the VM off
#   when the runner exits.
set -euo pipefail

echo "==> power: never sleep"
sudo pmset -a sleep 0 displaysleep 0 disksleep 0
sudo systemsetup -setcomputersleep Never >/dev/null 2>&1 || echo "    (systemsetup refused; pmset already applied)"

echo "==> updates: off"
sudo softwareupdate --schedule off >/dev/null 2>&1 || echo "    (softwareupdate --schedule is deprecated here; the defaults below apply)"
for key in AutomaticCheckEnabled AutomaticDownload AutomaticallyInstallMacOSUpdates ConfigDataInstall CriticalUpdateInstall; do
  sudo defaults write /Library/Preferences/com.apple.SoftwareUpdate "$key" -bool false
done
sudo defaults write /Library/Preferences/com.apple.commerce AutoUpdate -bool false

echo "==> Spotlight: off"
sudo mdutil -a -i off >/dev/null

echo "==> sudoers: admin may power the VM off"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
echo 'admin ALL=(root) NOPASSWD: /sbin/shutdown' >"$tmp"
sudo visudo -cf "$tmp" >/dev/null
sudo install -m 0440 -o root -g wheel "$tmp" /etc/sudoers.d/tart-fleet-shutdown

echo "==> 10-system done"
