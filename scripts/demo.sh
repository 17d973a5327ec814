#!/usr/bin/env bash
# The README's main command: the whole job on a realistic Windows volume. An NTFS image
# (ntfs-3g) gets a sample Windows 10/11 installation; admu lists its profiles, plans the
# migration of CORP\alice to a local account, runs it, lists again, reverts it, and the
# image is unmounted and removed. Needs root (FUSE); elsewhere it uses a plain folder,
# where the migration stops at its preflight (no NTFS descriptors to rewrite).
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
START=$(date +%s)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

NTFS=0
if [ "$(id -u)" = 0 ] && [ -e /dev/fuse ] && command -v mkntfs >/dev/null; then
  step "NTFS image: 512 MiB sparse file, formatted and mounted with ntfs-3g"
  truncate -s 512M "$WORK/volume.img"
  mkntfs -F -f -q "$WORK/volume.img" 2>/dev/null
  ntfs-3g "$WORK/volume.img" "$MNT"
  echo "mounted $WORK/volume.img on $MNT"
  NTFS=1
else
  step "no root or FUSE here: using a plain folder (no NTFS security descriptors)"
fi

step "admu sample create $MNT --seed 7"
"$ADMU" sample create "$MNT" --seed 7

step "admu list --root $MNT"
"$ADMU" list --root "$MNT"

# The new account's password comes from a file (never from the command line).
PASSWORD_FILE=$WORK/password
umask 077
printf 'Demo-Passw0rd!\n' > "$PASSWORD_FILE"

step "admu migrate --root $MNT --from 'CORP\\alice' --to alice --dry-run"
"$ADMU" migrate --root "$MNT" --from 'CORP\alice' --to alice --password-file "$PASSWORD_FILE" --dry-run || true

if [ "$NTFS" = 1 ]; then
  step "admu migrate --root $MNT --from 'CORP\\alice' --to alice --password-file …"
  "$ADMU" migrate --root "$MNT" --from 'CORP\alice' --to alice --password-file "$PASSWORD_FILE"

  step "admu list --root $MNT"
  "$ADMU" list --root "$MNT"

  step "admu acl show $MNT/Users/alice"
  "$ADMU" acl show "$MNT/Users/alice"

  step "admu revert --root $MNT --name alice"
  "$ADMU" revert --root "$MNT" --name alice

  step "admu list --root $MNT"
  "$ADMU" list --root "$MNT"
fi

step "done in $(( $(date +%s) - START )) s: unmounting and removing the image"
