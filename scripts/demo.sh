#!/usr/bin/env bash
# The README's main command. Until the sample volume exists (issue: `admu sample`), it
# builds admu and shows what it can do on the bundled real hives when they are present.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p admu
ADMU=target/release/admu
"$ADMU" --version
"$ADMU" --help
