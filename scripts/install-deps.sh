#!/usr/bin/env bash
# Installs the Debian packages Lifeboat's tests and demo call (Debian 12). Idempotent: installs only what is
# missing. Run as root (or with sudo available).
set -euo pipefail
packages=(e2fsprogs xfsprogs fdisk awscli python3-boto3 rclone restic)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Native addons (zstd-napi) compile against the system Node headers; nothing is downloaded from outside npm.
if [ -z "${npm_config_nodedir:-}" ] && [ -d /usr/include/node ]; then
  echo "note: export npm_config_nodedir=/usr so that native addons build against the system Node headers"
fi
