#!/usr/bin/env bash
# The README's main command: build a realistic Windows volume on an NTFS image (ntfs-3g),
# look at it the way an admin would, and clean up. Runs as root (FUSE); elsewhere it
# uses a plain folder and says that descriptors could not be set.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
scripts/setup.sh
cargo build --release --locked -p admu >&2
ADMU=$ROOT/target/release/admu
WORK=$ROOT/target/demo
MNT=$WORK/mnt

cleanup() {
  if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" || umount -l "$MNT" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cleanup
mkdir -p "$MNT"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if [ "$(id -u)" = 0 ] && [ -e /dev/fuse ] && command -v mkntfs >/dev/null; then
  step "NTFS image: 512 MiB sparse file, formatted and mounted with ntfs-3g"
  truncate -s 512M "$WORK/volume.img"
  mkntfs -F -f -q "$WORK/volume.img" 2>/dev/null
  ntfs-3g "$WORK/volume.img" "$MNT"
  echo "mounted $WORK/volume.img on $MNT"
else
  step "no root or FUSE here: using a plain folder (no NTFS security descriptors)"
fi

step "admu sample create $MNT --seed 7"
"$ADMU" sample create "$MNT" --seed 7

step "admu list --root $MNT"
"$ADMU" list --root "$MNT"

step "admu accounts --root $MNT"
"$ADMU" accounts --root "$MNT"

NTUSER=$(find "$MNT/Users/alice" -maxdepth 1 -iname ntuser.dat | head -n 1)
step "admu hive info $NTUSER"
"$ADMU" hive info "$NTUSER"

step "admu hive sids $NTUSER"
"$ADMU" hive sids "$NTUSER"

step "admu acl show $MNT/Users/alice"
"$ADMU" acl show "$MNT/Users/alice" || echo "(no NTFS descriptors on this folder)"

step "done: unmounting and removing the image"
