#!/usr/bin/env bash
set -euo pipefail

src="${1:?usage: backup.sh SRC DEST}"
dest="${2:?usage: backup.sh SRC DEST}"
stamp="$(date +%Y%m%d-%H%M%S)"

log() {
  echo "[$(date +%T)] $*" >&2
}

if [[ ! -d "$src" ]]; then
  log "no such directory: $src"
  exit 1
fi

mkdir -p "$dest"
tar -czf "$dest/backup-$stamp.tar.gz" -C "$src" .
for f in "$dest"/backup-*.tar.gz; do
  log "have $f"
done
