#!/bin/bash
# 90-cleanup.sh: last step before shutting the golden image down. Removes what the build left
# behind, so every clone starts equally small and nothing from the build leaks into jobs.
set -euo pipefail

export PATH="/opt/homebrew/bin:$PATH"

echo "==> caches and history"
brew cleanup --prune=all -s >/dev/null 2>&1 || true
rm -rf "$HOME/Library/Caches/Homebrew" "$HOME/.npm/_cacache" "$HOME/.npm/_npx" "$HOME/.npm/_logs" "$HOME/.cache/pip"
rm -f "$HOME/.bash_history" "$HOME/.zsh_history"
rm -rf /Users/admin/actions-runner/_diag /Users/admin/actions-runner/_work
rm -rf /tmp/tf-provision

echo "==> 90-cleanup done; shut the VM down now (sudo shutdown -h now)"
