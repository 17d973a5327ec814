#!/usr/bin/env bash
# Smoke test of the Windows window: starts admu-gui.exe (x86_64-pc-windows-gnu build)
# under Wine in a virtual X display (xvfb-run; Mesa's llvmpipe does the OpenGL), on a
# sample volume (offline mode, the volume seen by Wine as Z:), waits for a top-level
# window whose title starts with "admu", takes a screenshot of the display into
# target/screenshots/wine-gui.png, checks that it is not blank (enough distinct
# colours: text, panels, the profile table), and stops the program.
#
# Usage: scripts/gui-wine-smoke.sh [EXE]   (default: the release admu-gui.exe)
# Exit codes: 0 shown, 1 failed, 2 skipped (Wine, Xvfb or ImageMagick missing; 1 when
# CI=true, where nothing may be skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
EXE=${1:-target/x86_64-pc-windows-gnu/release/admu-gui.exe}
OUT=$ROOT/target/screenshots/wine-gui.png
WORK=$ROOT/target/tmp/gui-wine-smoke
MIN_COLOURS=${MIN_COLOURS:-24}
WAIT_SECS=${WAIT_SECS:-90}

log() { printf '[gui-wine-smoke] %s\n' "$*" >&2; }
skip() {
  log "SKIPPED: $*"
  [ "${CI:-}" = true ] && exit 1
  exit 2
}

for tool in wine xvfb-run xwininfo import convert; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh installs it)"
done
[ -f "$EXE" ] || { log "no $EXE: build it with cargo build -p admu --release --target x86_64-pc-windows-gnu"; exit 1; }

export WINEPREFIX=${WINEPREFIX:-$ROOT/target/wine/prefix} WINEDEBUG=${WINEDEBUG:--all}
mkdir -p "$(dirname "$OUT")"
rm -rf "$WORK" && mkdir -p "$WORK"
rm -f "$OUT"

# A sample volume (a plain folder is enough to read it), made by the Linux admu.
cargo run -q --locked -p admu -- sample create "$WORK/vol" --files 20 --seed 7 >/dev/null 2>&1 \
  || { log "admu sample create failed"; exit 1; }

# Inside the virtual display: start the exe, wait for its window, take the picture.
cat > "$WORK/inside.sh" <<'EOF'
#!/usr/bin/env bash
set -u
exe=$1 vol=$2 out=$3 wait_secs=$4 work=$5
wine "$exe" --root "Z:${vol//\//\\}" > "$work/wine.log" 2>&1 &
pid=$!
title=""
for _ in $(seq 1 "$wait_secs"); do
  title=$(xwininfo -root -tree 2>/dev/null | grep -o '"admu[^"]*"' | head -n 1 || true)
  [ -n "$title" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
echo "$title" > "$work/title"
# Let it read the volume and draw the table.
[ -n "$title" ] && sleep 5
import -window root "$out" 2>>"$work/import.log"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0
EOF
chmod +x "$WORK/inside.sh"
log "starting $EXE under Wine (Xvfb, 1280x800)"
xvfb-run -a -s '-screen 0 1280x800x24' "$WORK/inside.sh" "$ROOT/$EXE" "$WORK/vol" "$OUT" "$WAIT_SECS" "$WORK"

title=$(cat "$WORK/title")
if [ -z "$title" ]; then
  log "FAILED: no window titled admu… appeared within ${WAIT_SECS}s; Wine said:"
  tail -n 20 "$WORK/wine.log" >&2
  exit 1
fi
[ -f "$OUT" ] || { log "FAILED: no screenshot"; cat "$WORK/import.log" >&2; exit 1; }
colours=$(convert "$OUT" -format '%k' info:)
log "window $title; screenshot $OUT has $colours distinct colours"
if [ "$colours" -lt "$MIN_COLOURS" ]; then
  log "FAILED: the screenshot is (nearly) blank: fewer than $MIN_COLOURS colours"
  exit 1
fi
log "ok"
