#!/usr/bin/env bash
# Install the DevMesh shipper on this node as a systemd service.
#   sudo ./install.sh --url http://devmesh.lan:8000 --token TOKEN [--filters my-filters.yaml]
# Uses Debian's python3-systemd and python3-yaml (no compiler, no virtualenv); copies this
# directory to /opt/devmesh-shipper; keeps the URL and token in /etc/devmesh-shipper/env (0600).
set -euo pipefail

url="" token="" filters=""
while [ $# -gt 0 ]; do
    case "$1" in
        --url) url="$2"; shift 2 ;;
        --token) token="$2"; shift 2 ;;
        --filters) filters="$2"; shift 2 ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -n "$url" ] || { echo "--url is required, e.g. --url http://devmesh.lan:8000" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (sudo): it installs a systemd unit" >&2; exit 1; }

here="$(cd "$(dirname "$0")" && pwd)"
if ! python3 -c 'import systemd.journal, yaml' 2>/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-systemd python3-yaml
fi

install -d -m 0755 /opt/devmesh-shipper/shipper
install -m 0644 "$here"/*.py /opt/devmesh-shipper/shipper/
install -d -m 0755 /etc/devmesh-shipper
if [ -n "$filters" ]; then
    install -m 0644 "$filters" /etc/devmesh-shipper/filters.yaml
elif [ ! -f /etc/devmesh-shipper/filters.yaml ]; then
    install -m 0644 "$here/filters.example.yaml" /etc/devmesh-shipper/filters.yaml
fi
umask 077
printf 'DEVMESH_SHIPPER_URL=%s\nDEVMESH_SHIPPER_TOKEN=%s\n' "$url" "$token" > /etc/devmesh-shipper/env
umask 022

# validate before enabling: a bad filters file fails here, not in a restart loop
PYTHONPATH=/opt/devmesh-shipper python3 -c \
    'import sys; from shipper.filters import load; load(sys.argv[1])' /etc/devmesh-shipper/filters.yaml

install -m 0644 "$here/devmesh-shipper.service" /etc/systemd/system/devmesh-shipper.service
systemctl daemon-reload
systemctl enable --now devmesh-shipper.service
echo "devmesh-shipper installed; follow it with: journalctl -u devmesh-shipper -f"
