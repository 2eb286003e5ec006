#!/bin/bash
# 50-workhorse.sh: the "workhorse" toolset, one image for every profile: Node, Python, Playwright
# (with its browsers), FFmpeg and Flutter, all from Homebrew. Edit freely: this is the part of the
# image that is yours. Pin versions here, not in workflows, so every job of a profile agrees.
#
# Flutter for iOS/macOS targets also needs Xcode, which this base image does not have; use a
# Cirrus Labs `macos-sequoia-xcode` base for that.
set -euo pipefail

export PATH="/opt/homebrew/bin:/opt/homebrew/sbin:$PATH"
export HOMEBREW_NO_AUTO_UPDATE=1 HOMEBREW_NO_INSTALL_CLEANUP=1 HOMEBREW_NO_ANALYTICS=1

NODE_FORMULA="${NODE_FORMULA:-node@22}"
PYTHON_FORMULA="${PYTHON_FORMULA:-python@3.12}"
PLAYWRIGHT_VERSION="${PLAYWRIGHT_VERSION:-1.49.1}"

echo "==> Homebrew: update once, at build time"
brew update

echo "==> formulae"
brew install git git-lfs jq gh wget "$NODE_FORMULA" "$PYTHON_FORMULA" ffmpeg
brew link --force --overwrite "$NODE_FORMULA"
git lfs install --system 2>/dev/null || git lfs install

echo "==> Flutter"
brew install --cask flutter
flutter config --no-analytics >/dev/null
dart --disable-analytics >/dev/null || true
flutter precache >/dev/null

echo "==> Playwright $PLAYWRIGHT_VERSION and its browsers"
npm install -g "playwright@${PLAYWRIGHT_VERSION}"
npx --yes "playwright@${PLAYWRIGHT_VERSION}" install chromium firefox webkit

echo "==> versions"
node --version
python3 --version
ffmpeg -version | head -n 1
flutter --version | head -n 1
echo "==> 50-workhorse done"
