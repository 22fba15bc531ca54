#!/usr/bin/env bash
# Installs tpgw on a Raspberry Pi OS / Debian 12 box (arm64 or amd64). Run as root from the
# unpacked release (or a git checkout): bash systemd/install.sh
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/opt/tpgw

apt-get update
apt-get install -y --no-install-recommends nodejs npm ffmpeg python3 make g++
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || { echo "tpgw needs Node.js >= 20 (install it from your distribution or NodeSource)"; exit 1; }

id tpgw >/dev/null 2>&1 || useradd --system --home /var/lib/tpgw --shell /usr/sbin/nologin tpgw
usermod -aG dialout,plugdev,video tpgw

mkdir -p "$PREFIX" /etc/tpgw /var/lib/tpgw
rsync -a --delete --exclude node_modules --exclude .git --exclude data "$SRC/" "$PREFIX/"
(cd "$PREFIX" && npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev)
[ -f /etc/tpgw/config.yaml ] || cp "$PREFIX/config/examples/minimal.yaml" /etc/tpgw/config.yaml
chown -R tpgw:tpgw /var/lib/tpgw
chmod 640 /etc/tpgw/config.yaml && chgrp tpgw /etc/tpgw/config.yaml

install -m 644 "$SRC/systemd/99-tpgw.rules" /etc/udev/rules.d/99-tpgw.rules
udevadm control --reload-rules && udevadm trigger || true
install -m 644 "$SRC/systemd/tpgw.service" /etc/systemd/system/tpgw.service
systemctl daemon-reload
echo "Edit /etc/tpgw/config.yaml (gateway.id, center.mqtt.url, clocks, cameras), then:"
echo "  node $PREFIX/dist/bundle/tpgw.js config check /etc/tpgw/config.yaml && systemctl enable --now tpgw"
