#!/bin/bash
# 20-guest-agent.sh: makes sure Homebrew and the Tart Guest Agent are installed and started at boot.
# Cirrus Labs' non-vanilla images (macos-sequoia-base) already ship both; on a vanilla image this
# installs them. The agent gives the host `tart exec` and `tart ip --resolver agent` (tart >= 2.28),
# and resizes the disk after `tart set --disk-size`.
set -euo pipefail

export PATH="/opt/homebrew/bin:/opt/homebrew/sbin:$PATH"
export HOMEBREW_NO_AUTO_UPDATE=1 HOMEBREW_NO_INSTALL_CLEANUP=1

if ! command -v brew >/dev/null 2>&1; then
  echo "==> Homebrew: installing"
  NONINTERACTIVE=1 /bin/bash -c "$(curl -fsSL https://raw.githubusercontent.com/Homebrew/install/HEAD/install.sh)"
  # shellcheck disable=SC2016 # written literally into the profile, expanded at login
  echo 'eval "$(/opt/homebrew/bin/brew shellenv)"' >>"$HOME/.zprofile"
fi

if [ -x /opt/homebrew/bin/tart-guest-agent ]; then
  echo "==> Tart Guest Agent: already installed"
else
  echo "==> Tart Guest Agent: installing"
  brew install cirruslabs/cli/tart-guest-agent
fi

# install_plist <path> <label> <args...>: a KeepAlive launchd job running the agent with <args>.
install_plist() {
  local path="$1" label="$2"
  shift 2
  if [ -f "$path" ]; then
    echo "    $path exists; kept"
    return
  fi
  local args=""
  for a in "$@"; do args+="      <string>$a</string>"$'\n'; done
  sudo tee "$path" >/dev/null <<PLIST
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
  <dict>
    <key>Label</key>
    <string>$label</string>
    <key>ProgramArguments</key>
    <array>
      <string>/opt/homebrew/bin/tart-guest-agent</string>
$args    </array>
    <key>EnvironmentVariables</key>
    <dict>
      <key>PATH</key>
      <string>/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin</string>
    </dict>
    <key>RunAtLoad</key>
    <true/>
    <key>KeepAlive</key>
    <true/>
  </dict>
</plist>
PLIST
  sudo chown root:wheel "$path"
  sudo chmod 0644 "$path"
}

echo "==> Tart Guest Agent: launchd jobs"
# As root at boot (disk resize), and in admin's session (exec and IP over the control socket).
install_plist /Library/LaunchDaemons/org.cirruslabs.tart-guest-daemon.plist org.cirruslabs.tart-guest-daemon --resize-disk
install_plist /Library/LaunchAgents/org.cirruslabs.tart-guest-agent.plist org.cirruslabs.tart-guest-agent --run-agent

echo "==> 20-guest-agent done"
