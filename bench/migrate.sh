#!/usr/bin/env bash
# One migration at scale: a sample volume whose CORP\alice has FILES files and folders
# (default 100000) and an NTUSER.DAT of about 100 MB (HIVE_KEYS keys, default 330000),
# on an ntfs-3g image; prints the time of every step (from the journal's timestamps)
# and of the whole run, then reverts it and times that too. Needs root (FUSE).
#   bench/migrate.sh [FILES] [HIVE_KEYS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FILES=${1:-100000}
HIVE_KEYS=${2:-600000}
scripts/setup.sh
cargo build --release --locked -p admu >&2
ADMU=$ROOT/target/release/admu
WORK=$ROOT/target/bench/migrate
MNT=$WORK/mnt
cleanup() { if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" || umount -l "$MNT"; fi; rm -rf "$WORK"; }
trap cleanup EXIT
cleanup
mkdir -p "$MNT"
truncate -s 16G "$WORK/volume.img"
mkntfs -F -f -q "$WORK/volume.img" 2>/dev/null
ntfs-3g "$WORK/volume.img" "$MNT"

echo "building the sample: $FILES files per profile, $HIVE_KEYS keys per NTUSER.DAT…" >&2
/usr/bin/time -f "sample create: %e s" "$ADMU" -q sample create "$MNT" --seed 1 --files "$FILES" --hive-keys "$HIVE_KEYS" >/dev/null
NTUSER=$(find "$MNT/Users/alice" -maxdepth 1 -iname ntuser.dat)
printf 'NTUSER.DAT: %s MB\n' "$(( $(stat -c %s "$NTUSER") / 1000000 ))"
printf 'pw-bench-1!\n' > "$WORK/password"
umount "$MNT"; ntfs-3g "$WORK/volume.img" "$MNT"   # cold caches

START=$(date +%s.%N)
"$ADMU" -q migrate --root "$MNT" --from 'CORP\alice' --to alice --password-file "$WORK/password" >/dev/null
END=$(date +%s.%N)
JOURNAL=$(ls -d "$MNT"/ProgramData/admu/migrations/*/journal.jsonl)

python3 - "$JOURNAL" "$START" "$END" <<'PY'
import json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
start, end = float(sys.argv[2]), float(sys.argv[3])
ft = lambda t: t / 1e7 - 11644473600  # FILETIME to Unix seconds
print(f"\n{'step':<14} {'seconds':>8}")
prev = start
intents = {}
for r in records:
    t = ft(r["time"])
    if r["phase"] == "intent":
        intents[r["step"]] = t
    else:
        began = intents.get(r["step"], prev)
        print(f"{r['step']:<14} {t - began:8.2f}")
    prev = t
print(f"{'whole run':<14} {end - start:8.2f}   (target: under 60 s)")
PY

START=$(date +%s.%N)
"$ADMU" -q revert --root "$MNT" --name alice >/dev/null
END=$(date +%s.%N)
printf '%-14s %8.2f\n' "revert" "$(echo "$END - $START" | bc)"
