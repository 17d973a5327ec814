#!/usr/bin/env bash
# Builds admu's release artifacts on Linux into target/release-artifacts/:
#   admu.exe    x86_64 Windows, release profile, no mingw runtime DLL, with a VERSIONINFO
#               resource (crates/admu/build.rs)
#   admu-gui.exe  the window alone, a GUI-subsystem program (no console on a double-click)
#   admu.msi    per-machine x64 installer (packaging/admu.wxs, built with wixl): admu.exe
#               in "C:\Program Files\admu", that folder appended to the system PATH
#   SHA256SUMS  sha256sum's format, over all three
# and prints their paths. scripts/check-release.sh verifies them. Exits non-zero on any
# failure, including a missing tool.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
scripts/setup.sh

TARGET=x86_64-pc-windows-gnu
OUT=$ROOT/target/release-artifacts

log() { printf '[release] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

for tool in cargo x86_64-w64-mingw32-gcc x86_64-w64-mingw32-windres x86_64-w64-mingw32-strip wixl msibuild sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs it on Debian 12)"
done
rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || die "Rust target $TARGET not installed"

# The crate version, e.g. "path+file:///work/main/crates/admu#0.1.0" -> 0.1.0.
PKGID=$(cargo pkgid --locked --offline -p admu)
VERSION=${PKGID##*[#@]}
# An MSI ProductVersion is numeric (major.minor.build): 1.2.3-rc.1 -> 1.2.3.
MSI_VERSION=${VERSION%%[-+]*}
[[ $MSI_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot make an MSI version of '$VERSION'"
log "admu $VERSION"

# The same build as scripts/test.sh's Windows build, so its cache is shared. The
# windows-gnu target links libgcc and winpthread statically already (msvcrt.dll, the
# system C runtime, is the only CRT imported): no +crt-static, no second build.
# scripts/check-release.sh fails if a mingw runtime DLL is ever imported.
log "building admu.exe ($TARGET, release)"
cargo build --release --locked --target "$TARGET" -p admu

rm -rf "$OUT"
mkdir -p "$OUT"
# The shipped copies without debug info (the build keeps it for backtraces): a fraction
# of the size; resources and code are untouched.
for exe in admu.exe admu-gui.exe; do
  cp "target/$TARGET/release/$exe" "$OUT/$exe"
  x86_64-w64-mingw32-strip --strip-debug "$OUT/$exe"
done

log "building admu.msi (wixl)"
# wixl takes File Source paths relative to the current directory only.
wixl -a x64 -D "Version=$MSI_VERSION" -D "AdmuExe=${OUT#"$ROOT"/}/admu.exe" \
  -D "AdmuGuiExe=${OUT#"$ROOT"/}/admu-gui.exe" -o "$OUT/admu.msi" \
  packaging/admu.wxs
# wixl 0.101 has no Environment element: add what WiX writes for <Environment Name="PATH"
# Value="[INSTALLDIR]" Action="set" Part="last" System="yes" Permanent="no"/> in the
# AdmuExe component ("=" set, "-" removed on uninstall, "*" system; "[~];" appends), and
# the standard actions that apply it, at their standard sequence numbers.
msibuild "$OUT/admu.msi" \
  -q 'CREATE TABLE `Environment` (`Environment` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL LOCALIZABLE, `Value` CHAR(255) LOCALIZABLE, `Component_` CHAR(72) NOT NULL PRIMARY KEY `Environment`)' \
  -q "INSERT INTO \`Environment\` (\`Environment\`, \`Name\`, \`Value\`, \`Component_\`) VALUES ('PathEntry', '=-*PATH', '[~];[INSTALLDIR]', 'AdmuExe')" \
  -q "INSERT INTO \`InstallExecuteSequence\` (\`Action\`, \`Sequence\`) VALUES ('RemoveEnvironmentStrings', 3300)" \
  -q "INSERT INTO \`InstallExecuteSequence\` (\`Action\`, \`Sequence\`) VALUES ('WriteEnvironmentStrings', 5200)"

(cd "$OUT" && sha256sum admu.exe admu-gui.exe admu.msi >SHA256SUMS)

log "artifacts of admu $VERSION:"
for f in admu.exe admu-gui.exe admu.msi SHA256SUMS; do
  printf '%s\n' "$OUT/$f"
done
