#!/usr/bin/env bash
# Verifies the release artifacts that scripts/release.sh built in target/release-artifacts/:
# the files and SHA256SUMS, admu-gui.exe (GUI subsystem, version resource), admu.exe (x86_64 PE, no mingw runtime DLL imported, the
# VERSIONINFO resource with the product name and the crate version, `--version` under
# Wine) and admu.msi (File, Component, Directory, Environment, Property, Upgrade and
# sequence tables, the embedded admu.exe byte for byte). Runs every check, prints each,
# and exits 1 when any failed.
#
# A missing tool (wixl/msitools, mingw, Wine, the Windows Rust target) skips the checks
# with a loud banner and exit 0, unless CI is "true": then it is an error (exit 1).
# `check-release.sh --preflight` only checks the tools: exit 0 when all are present, 2
# when skipped, 1 when missing on CI (scripts/test.sh runs it before scripts/release.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/release-artifacts
EXE=$OUT/admu.exe
MSI=$OUT/admu.msi
TARGET=x86_64-pc-windows-gnu
export WINEPREFIX=$ROOT/target/wine/prefix WINEDEBUG=-all

PREFLIGHT=false
case "${1:-}" in
  --preflight) PREFLIGHT=true ;;
  "") ;;
  *)
    echo "usage: $0 [--preflight]" >&2
    exit 1
    ;;
esac

missing=()
for tool in cargo x86_64-w64-mingw32-gcc x86_64-w64-mingw32-windres x86_64-w64-mingw32-objdump \
  wixl msibuild msiinfo msiextract wine sha256sum; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || missing+=("Rust target $TARGET")
if ((${#missing[@]})); then
  if [ "${CI:-}" = true ]; then
    printf '[check-release] error: CI=true and missing: %s\n' "${missing[*]}" >&2
    exit 1
  fi
  printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
  printf '!!! RELEASE ARTIFACTS NOT VERIFIED: missing on this machine:\n'
  printf '!!!   %s\n' "${missing[@]}"
  printf '!!! (scripts/setup.sh installs them on Debian 12; with CI=true this fails)\n'
  printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n'
  if $PREFLIGHT; then exit 2; else exit 0; fi
fi
$PREFLIGHT && exit 0

FAILED=0
pass() { printf 'ok    %s\n' "$*"; }
fail() {
  printf 'FAIL  %s\n' "$*"
  FAILED=$((FAILED + 1))
}
# check DESCRIPTION COMMAND...: pass when the command succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# The rows of an MSI table, tab-separated, without msiinfo's three header lines.
table() { msiinfo export "$MSI" "$1" 2>/dev/null | tr -d '\r' | tail -n +4; }
# has_row TABLE FIELD...: the table has a row with exactly these fields. (grep reads all
# its input: with -q, pipefail could see the writer killed by SIGPIPE.)
has_row() {
  local t=$1 IFS=$'\t'
  shift
  table "$t" | grep -Fx -- "$*" >/dev/null
}

PKGID=$(cargo pkgid --locked --offline -p admu)
VERSION=${PKGID##*[#@]}
MSI_VERSION=${VERSION%%[-+]*}
IFS=. read -r MAJOR MINOR PATCH <<<"$MSI_VERSION"
UPGRADE_CODE=$(sed -n 's/.*UpgradeCode="\([0-9A-Fa-f-]*\)".*/{\1}/p' packaging/admu.wxs | tr a-f A-F)
printf '==> checking %s (admu %s)\n' "$OUT" "$VERSION"

# Files and checksums.
GUI_EXE=$OUT/admu-gui.exe
for f in admu.exe admu-gui.exe admu.msi SHA256SUMS; do
  check "$f exists and is not empty" test -s "$OUT/$f"
done
if [ -s "$OUT/SHA256SUMS" ]; then
  check "SHA256SUMS lists admu-gui.exe, admu.exe and admu.msi" \
    test "$(awk '{ print $2 }' "$OUT/SHA256SUMS" | sed 's/^\*//' | sort | tr '\n' ' ')" = "admu-gui.exe admu.exe admu.msi "
  sums_ok() { (cd "$OUT" && sha256sum --strict --quiet -c SHA256SUMS); }
  check "sha256sum -c SHA256SUMS" sums_ok
fi
if [ ! -s "$EXE" ] || [ ! -s "$GUI_EXE" ] || [ ! -s "$MSI" ]; then
  printf '\n[check-release] FAILED: artifacts missing (run scripts/release.sh)\n' >&2
  exit 1
fi

# admu.exe: format, imports, version resource, --version.
check "admu.exe is an x86-64 PE" grep -q "file format pei-x86-64" \
  <<<"$(x86_64-w64-mingw32-objdump -f "$EXE")"
IMPORTS=$(x86_64-w64-mingw32-objdump -p "$EXE" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr -d '\r')
printf '      imports: %s\n' "$(echo "$IMPORTS" | tr '\n' ' ')"
check "admu.exe imports DLLs" test -n "$IMPORTS"
RUNTIME=$(echo "$IMPORTS" | grep -iE '^lib|^(msvcp|vcruntime|ucrtbased?)[0-9]*\.dll$' || true)
check "admu.exe imports no mingw (libgcc/libstdc++/libwinpthread) or VC runtime DLL${RUNTIME:+ (imports: $(echo "$RUNTIME" | tr '\n' ' '))}" \
  test -z "$RUNTIME"

RC=$(x86_64-w64-mingw32-windres -J coff -O rc -i "$EXE" 2>&1 | tr -d '\r' || true)
rc_value() { echo "$RC" | sed -n "s/^[[:space:]]*VALUE \"$1\", \"\\(.*\\)\"\$/\\1/p"; }
check "version resource: FILEVERSION $MAJOR, $MINOR, $PATCH, 0" \
  grep -qx "[[:space:]]*FILEVERSION $MAJOR, $MINOR, $PATCH, 0" <<<"$RC"
check "version resource: PRODUCTVERSION $MAJOR, $MINOR, $PATCH, 0" \
  grep -qx "[[:space:]]*PRODUCTVERSION $MAJOR, $MINOR, $PATCH, 0" <<<"$RC"
for kv in "ProductName=admu" "ProductVersion=$VERSION" "FileVersion=$VERSION" \
  "CompanyName=admu contributors" "OriginalFilename=admu.exe"; do
  key=${kv%%=*} want=${kv#*=} got=$(rc_value "${kv%%=*}")
  check "version resource: $key \"$want\"${got:+ (got \"$got\")}" test "$got" = "$want"
done
got=$(rc_value LegalCopyright)
check "version resource: LegalCopyright names MIT OR Apache-2.0 (got \"$got\")" \
  grep -q "MIT OR Apache-2.0" <<<"$got"
got=$(rc_value FileDescription)
check "version resource: FileDescription (got \"$got\")" test -n "$got"
check "version resource: US English, Unicode (Translation 0x409, 1200)" \
  grep -q 'VALUE "Translation", 0x409, 1200' <<<"$RC"

got=$(wine "$EXE" --version 2>&1 | tr -d '\r' || true)
check "wine admu.exe --version prints \"admu $VERSION\" (got \"$got\")" test "$got" = "admu $VERSION"

# admu-gui.exe: a GUI-subsystem PE (no console window on a double-click), its own
# version resource, no runtime DLL.
check "admu-gui.exe is an x86-64 PE" grep -q "file format pei-x86-64" \
  <<<"$(x86_64-w64-mingw32-objdump -f "$GUI_EXE")"
check "admu-gui.exe is a Windows GUI program (subsystem 2)" grep -qE "^Subsystem[[:space:]]+0*2[[:space:]]" \
  <<<"$(x86_64-w64-mingw32-objdump -p "$GUI_EXE" | tr -d '\r')"
check "admu.exe is a console program (subsystem 3)" grep -qE "^Subsystem[[:space:]]+0*3[[:space:]]" \
  <<<"$(x86_64-w64-mingw32-objdump -p "$EXE" | tr -d '\r')"
GUI_IMPORTS=$(x86_64-w64-mingw32-objdump -p "$GUI_EXE" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr -d '\r')
GUI_RUNTIME=$(echo "$GUI_IMPORTS" | grep -iE '^lib|^(msvcp|vcruntime|ucrtbased?)[0-9]*\.dll$' || true)
check "admu-gui.exe imports no mingw or VC runtime DLL${GUI_RUNTIME:+ (imports: $(echo "$GUI_RUNTIME" | tr '\n' ' '))}" \
  test -z "$GUI_RUNTIME"
GUI_RC=$(x86_64-w64-mingw32-windres -J coff -O rc -i "$GUI_EXE" 2>&1 | tr -d '\r' || true)
check "admu-gui.exe version resource: OriginalFilename \"admu-gui.exe\", ProductVersion \"$VERSION\"" \
  grep -q "VALUE \"OriginalFilename\", \"admu-gui.exe\"" <<<"$GUI_RC"
check "admu-gui.exe version resource: ProductVersion \"$VERSION\"" \
  grep -q "VALUE \"ProductVersion\", \"$VERSION\"" <<<"$GUI_RC"

# admu.msi: tables, rows, summary, payload.
TABLES=$(msiinfo tables "$MSI" 2>&1 | tr -d '\r' || true)
for t in File Component Directory Environment FeatureComponents Property Upgrade \
  InstallExecuteSequence; do
  check "msiinfo tables lists $t" grep -qx "$t" <<<"$TABLES"
done
SIZE=$(stat -c %s "$EXE")
file_row() {
  table File | awk -F'\t' -v size="$SIZE" '$2 == "AdmuExe" && $3 ~ /(^|\|)admu\.exe$/ &&
    $4 == size { found = 1 } END { exit !found }'
}
check "File: admu.exe in component AdmuExe, $SIZE bytes" file_row
# Attributes 256: msidbComponentAttributes64bit.
component_row() {
  table Component | awk -F'\t' '$1 == "AdmuExe" && $3 == "INSTALLDIR" &&
    int($4 / 256) % 2 == 1 && $6 == "AdmuExe" { found = 1 } END { exit !found }'
}
check "Component: AdmuExe in INSTALLDIR, 64-bit, key path admu.exe" component_row
check "Directory: INSTALLDIR = ProgramFiles64Folder\\admu" has_row Directory INSTALLDIR ProgramFiles64Folder admu
check "Directory: ProgramFiles64Folder under TARGETDIR" has_row Directory ProgramFiles64Folder TARGETDIR .
check "FeatureComponents: Main installs AdmuExe" has_row FeatureComponents Main AdmuExe
check "FeatureComponents: Main installs AdmuGuiExe" has_row FeatureComponents Main AdmuGuiExe
gui_file_row() {
  table File | awk -F'\t' -v size="$(stat -c %s "$GUI_EXE")" '$2 == "AdmuGuiExe" &&
    $3 ~ /(^|\|)admu-gui\.exe$/ && $4 == size { found = 1 } END { exit !found }'
}
check "File: admu-gui.exe in component AdmuGuiExe" gui_file_row
shortcut_row() {
  table Shortcut | awk -F'\t' '$2 == "ProgramMenuFolder" && $3 ~ /admu$/ &&
    $4 == "AdmuGuiExe" { found = 1 } END { exit !found }'
}
check "Shortcut: Start menu \"admu\" opens admu-gui.exe" shortcut_row
check "Environment: system PATH gets [INSTALLDIR] appended, removed on uninstall" \
  has_row Environment PathEntry '=-*PATH' '[~];[INSTALLDIR]' AdmuExe
SEQ=$(table InstallExecuteSequence)
seq_of() { awk -F'\t' -v a="$1" '$1 == a { print $3 }' <<<"$SEQ"; }
for a in FindRelatedProducts RemoveExistingProducts InstallFiles WriteEnvironmentStrings \
  RemoveEnvironmentStrings; do
  s=$(seq_of "$a")
  check "InstallExecuteSequence: $a${s:+ ($s)}" test -n "$s"
done
between() { [ -n "$1" ] && [ -n "$2" ] && [ -n "$3" ] && [ "$2" -lt "$1" ] && [ "$1" -lt "$3" ]; }
for a in WriteEnvironmentStrings RemoveEnvironmentStrings; do
  check "InstallExecuteSequence: $a between InstallInitialize and InstallFinalize" \
    between "$(seq_of $a)" "$(seq_of InstallInitialize)" "$(seq_of InstallFinalize)"
done
check "Property: ProductVersion $MSI_VERSION" has_row Property ProductVersion "$MSI_VERSION"
check "Property: ProductName admu" has_row Property ProductName admu
check "Property: Manufacturer admu contributors" has_row Property Manufacturer "admu contributors"
check "Property: ALLUSERS 1 (per-machine)" has_row Property ALLUSERS 1
check "Property: UpgradeCode $UPGRADE_CODE (packaging/admu.wxs)" has_row Property UpgradeCode "$UPGRADE_CODE"
check "Upgrade: older versions of $UPGRADE_CODE are removed" \
  has_row Upgrade "$UPGRADE_CODE" "" "$MSI_VERSION" "" 1 "" WIX_UPGRADE_DETECTED
check "Upgrade: newer versions are detected (only detect)" \
  has_row Upgrade "$UPGRADE_CODE" "$MSI_VERSION" "" "" 2 "" WIX_DOWNGRADE_DETECTED
launch_condition() { table LaunchCondition | awk -F'\t' '$1 == "NOT WIX_DOWNGRADE_DETECTED" { found = 1 } END { exit !found }'; }
check "LaunchCondition: NOT WIX_DOWNGRADE_DETECTED (no downgrade)" launch_condition
SUMINFO=$(msiinfo suminfo "$MSI" 2>&1 | tr -d '\r' || true)
check "summary: Template x64;1033" grep -qx 'Template: x64;1033' <<<"$SUMINFO"
check "summary: installer version 500 (x64 needs at least 200)" grep -q '^Version: 500 ' <<<"$SUMINFO"

EXTRACT=$(mktemp -d)
trap 'rm -rf "$EXTRACT"' EXIT
msiextract -C "$EXTRACT" "$MSI" >/dev/null 2>&1 || true
PAYLOAD=$(find "$EXTRACT" -type f -iname admu.exe | head -n 1)
same_payload() { [ -n "$PAYLOAD" ] && cmp -s "$PAYLOAD" "$EXE"; }
check "msiextract: the MSI carries admu.exe${PAYLOAD:+ (${PAYLOAD#"$EXTRACT"/})}, byte for byte" \
  same_payload
GUI_PAYLOAD=$(find "$EXTRACT" -type f -iname admu-gui.exe | head -n 1)
same_gui_payload() { [ -n "$GUI_PAYLOAD" ] && cmp -s "$GUI_PAYLOAD" "$GUI_EXE"; }
check "msiextract: the MSI carries admu-gui.exe, byte for byte" same_gui_payload
check "msiextract: admu.exe and admu-gui.exe are the only files" test "$(find "$EXTRACT" -type f | wc -l)" = 2

if ((FAILED)); then
  printf '\n[check-release] FAILED: %d check(s) failed\n' "$FAILED" >&2
  exit 1
fi
printf '\n[check-release] all release artifact checks passed\n'
