#!/usr/bin/env bash
# Installs everything admu's build, tests and demo need on Debian 12, idempotently:
# Debian packages (oracles, ntfs-3g, mingw, Wine, msitools and wixl for the release MSI),
# the GUI tests' headless rendering (lavapipe) and the Wine window's screenshot (Xvfb,
# xwininfo, ImageMagick), the Windows Rust target, the Python oracles in a venv under
# target/, and a Wine prefix with the ProcessPrng stub DLL.
# Quick when everything is already present. Source it or run it; it exports nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf '[setup] %s\n' "$*" >&2; }

APT_PACKAGES=(ntfs-3g attr gcc-mingw-w64-x86-64 wine64 libhivex-bin libwin-hivex-perl
  python3-hivex python3-venv chntpw samdump2 reglookup msitools wixl
  mesa-vulkan-drivers libvulkan1 xvfb xauth x11-utils imagemagick)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${missing[*]} (run as root, or install them yourself)"
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Windows target: a missing target is reported loudly by the test script, not here.
if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu; then
  log "adding Rust target x86_64-pc-windows-gnu"
  rustup target add x86_64-pc-windows-gnu >&2 || log "could not add x86_64-pc-windows-gnu"
fi

# Python oracles: regipy and impacket in a venv that also sees Debian's python3-hivex.
VENV=$ROOT/target/oracles
if [ ! -x "$VENV/bin/regipy-dump" ] || [ ! -x "$VENV/bin/secretsdump.py" ]; then
  log "creating Python oracle venv in target/oracles"
  rm -rf "$VENV"
  mkdir -p "$ROOT/target"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'regipy[cli]==6.5.0' 'impacket==0.13.1' >&2
fi

# Wine prefix with the stub DLL that Rust executables need under Wine 8.
if command -v x86_64-w64-mingw32-gcc >/dev/null && command -v wine >/dev/null; then
  WINE_DIR=$ROOT/target/wine
  DLL=$WINE_DIR/bcryptprimitives.dll
  mkdir -p "$WINE_DIR"
  if [ ! -f "$DLL" ] || [ tools/wine/bcryptprimitives.c -nt "$DLL" ]; then
    log "building the ProcessPrng stub DLL"
    x86_64-w64-mingw32-gcc -O2 -shared -o "$DLL" tools/wine/bcryptprimitives.c -ladvapi32
  fi
  export WINEPREFIX=$WINE_DIR/prefix WINEDEBUG=-all
  if [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
    log "creating the Wine prefix (about 10 s)"
    wineboot -i >/dev/null 2>&1 || true
  fi
  cp -f "$DLL" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
fi
log "ready"
