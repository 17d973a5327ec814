#!/usr/bin/env bash
# `admu acl translate` against the floor (bench/c/tree_floor.c: readdir + d_type, one
# lgetxattr per entry into 64 KiB, lsetxattr where the descriptor changes) on the same
# tree of N entries (default 100000) on an ntfs-3g image, in one run. Needs root (FUSE).
#   bench/acl.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-100000}
scripts/setup.sh
cargo build --release --locked -p admu >&2
ADMU=$ROOT/target/release/admu
WORK=$ROOT/target/bench/acl
MNT=$WORK/mnt
FLOOR=$WORK/tree_floor
cleanup() { if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" || umount -l "$MNT"; fi; rm -rf "$WORK"; }
trap cleanup EXIT
cleanup
mkdir -p "$MNT"
gcc -O2 -o "$FLOOR" bench/c/tree_floor.c

OLD=S-1-5-21-1004336348-1177238915-682003330-1103
NEW=S-1-5-21-3623811015-3361044348-30300820-1001
sid_hex() { # binary SID of S-1-5-21-a-b-c-d as hex
  local IFS=-; set -- $1
  printf '0105000000000005'; for s in "${@:4}"; do printf '%08x' "$s" | sed -E 's/(..)(..)(..)(..)/\4\3\2\1/'; done
}
OLD_HEX=$(sid_hex $OLD); NEW_HEX=$(sid_hex $NEW)

truncate -s 4G "$WORK/volume.img"
mkntfs -F -f -q "$WORK/volume.img" 2>/dev/null
ntfs-3g "$WORK/volume.img" "$MNT"
echo "building $N entries on ntfs-3g…" >&2
"$FLOOR" make "$MNT/tree" "$N" "$OLD_HEX"
remount() { umount "$MNT"; sleep 0.2; ntfs-3g "$WORK/volume.img" "$MNT"; }

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
remount; FLOOR_READ=$(t "$FLOOR" read "$MNT/tree")
remount; ADMU_READ=$(t "$ADMU" acl translate "$MNT/tree" --map "$OLD=$NEW" --dry-run --threads 0)
remount; FLOOR_RW=$(t "$FLOOR" rewrite "$MNT/tree" "$OLD_HEX" "$NEW_HEX")
remount; ADMU_RW=$(t "$ADMU" acl translate "$MNT/tree" --map "$NEW=$OLD" --threads 0)
remount; ADMU_RW1=$(t "$ADMU" acl translate "$MNT/tree" --map "$OLD=$NEW" --threads 1)

printf '\n%-44s %9s %9s %7s\n' "$N entries on ntfs-3g" "floor s" "admu s" "ratio"
printf '%-44s %9.2f %9.2f %7.2f\n' "read every descriptor (dry run)" "$FLOOR_READ" "$ADMU_READ" "$(echo "$ADMU_READ / $FLOOR_READ" | bc -l)"
printf '%-44s %9.2f %9.2f %7.2f\n' "read and rewrite every descriptor" "$FLOOR_RW" "$ADMU_RW" "$(echo "$ADMU_RW / $FLOOR_RW" | bc -l)"
printf '%-44s %9.2f %9.2f %7.2f\n' "read and rewrite, walker + 1 worker thread" "$FLOOR_RW" "$ADMU_RW1" "$(echo "$ADMU_RW1 / $FLOOR_RW" | bc -l)"
