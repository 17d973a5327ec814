#!/usr/bin/env bash
# End-to-end hive benchmark: on one generated large hive (default 500,000 keys, about
# 150 MB, cached under target/bench/), in one run, times
#   - a full export: `admu hive export` (.reg and JSON to stdout, .reg with -o) against
#     hivexml (C, libhivex), hivexregedit --export (Perl) and regipy-dump (Python);
#   - `admu hive translate FILE --map OLD=NEW -o NEW` against `cp` (and `cp` + fsync);
# and prints the best wall time of each, the ratio ours/theirs, the peak RSS against the
# hive's size, whether the issue's targets are met, and (unless HIVE_BENCH_PHASES=0)
# where admu's time goes, phase by phase.
#
# Environment:
#   HIVE_BENCH_KEYS=500000 HIVE_BENCH_SEED=1   the generated hive
#   HIVE_BENCH_RUNS=3                          runs per fast command (best is kept)
#   HIVE_BENCH_SKIP_PERL=1                     skip hivexregedit (~30x slower than hivexml)
#   HIVE_BENCH_SKIP_REGIPY=1                   skip regipy-dump (superlinear: hours at 500k)
#   HIVE_BENCH_SLOW_TIMEOUT=900                seconds before a slow tool is given up on
#   HIVE_BENCH_PHASES=0                        skip the phase breakdown
#   HIVE_BENCH_HYPERFINE=                      time with a plain loop instead of hyperfine
# Slow tools (hivexregedit, regipy) run once; everything else through hyperfine when it
# is installed (it is installed here if missing and we are root), else best of N.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

KEYS=${HIVE_BENCH_KEYS:-500000}
SEED=${HIVE_BENCH_SEED:-1}
RUNS=${HIVE_BENCH_RUNS:-3}
SLOW_TIMEOUT=${HIVE_BENCH_SLOW_TIMEOUT:-900}
OUT=$ROOT/target/bench
WORK=$OUT/work
HIVE=$OUT/ntuser-$KEYS-$SEED.dat
# The generator's user SID and the SID to translate it to (examples/hivegen/mod.rs).
MAP=S-1-5-21-1004336348-1177238915-682003330-1001=S-1-5-21-3623811015-3361044348-30300820-1013
ADMU=$ROOT/target/release/admu
REGIPY=$ROOT/target/oracles/bin/regipy-dump

log() { printf '[bench] %s\n' "$*" >&2; }

# --- Tools -------------------------------------------------------------------------
scripts/setup.sh
missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v hyperfine >/dev/null || missing+=(hyperfine)
if ((${#missing[@]})) && [ "$(id -u)" = 0 ]; then
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi
[ -x /usr/bin/time ] || { log "GNU time (/usr/bin/time) is needed for peak RSS: apt-get install time"; exit 1; }
HYPERFINE=${HIVE_BENCH_HYPERFINE-$(command -v hyperfine || true)}

log "building admu and the generator (release)"
cargo build --release -q -p admu
cargo build --release -q -p hive --example gen_large_hive --example hive_phases

mkdir -p "$WORK"
if [ ! -s "$HIVE" ] || [ crates/hive/examples/hivegen/mod.rs -nt "$HIVE" ]; then
  log "generating $HIVE ($KEYS keys, seed $SEED)"
  target/release/examples/gen_large_hive "$HIVE" --keys "$KEYS" --seed "$SEED" >&2
else
  log "reusing $HIVE"
fi
HIVE_BYTES=$(stat -c %s "$HIVE")
HIVE_MIB=$(awk -v b="$HIVE_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }')

# --- Measuring ---------------------------------------------------------------------
declare -A TIME RSS KEYS_OUT NOTE
ORDER=()

# best_time NAME CMD: best wall time of RUNS runs (after one warm-up), output discarded.
best_time() {
  local name=$1 cmd=$2
  if [ -n "$HYPERFINE" ]; then
    "$HYPERFINE" --shell bash --style none --warmup 1 --runs "$RUNS" --export-json "$WORK/$name.json" \
      --command-name "$name" "$cmd" >/dev/null
    python3 -c 'import json,sys; print("%.3f" % min(json.load(open(sys.argv[1]))["results"][0]["times"]))' \
      "$WORK/$name.json"
  else
    local best="" t0 t1 t
    bash -c "$cmd" >/dev/null 2>&1 # warm-up
    for _ in $(seq "$RUNS"); do
      t0=$(date +%s%N)
      bash -c "$cmd" >/dev/null 2>&1
      t1=$(date +%s%N)
      t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
      best=$(awk -v a="$t" -v b="$best" 'BEGIN { print (b == "" || a < b) ? a : b }')
    done
    echo "$best"
  fi
}

# rss_run NAME OUTFILE CMD...: one run under GNU time -v, stdout to OUTFILE; sets RSS
# (MiB) and LAST_WALL (s). Returns the command's status (124: timed out).
rss_run() {
  local name=$1 outfile=$2
  shift 2
  local status=0
  /usr/bin/time -v -o "$WORK/$name.rss" "$@" >"$outfile" 2>"$WORK/$name.err" || status=$?
  RSS[$name]=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$WORK/$name.rss")
  LAST_WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {
      n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.3f", s }' \
    "$WORK/$name.rss")
  return $status
}

fast() { # fast NAME OUTFILE KEYCOUNT_CMD CMD...
  local name=$1 outfile=$2 count=$3
  shift 3
  local quoted
  quoted=$(printf '%q ' "$@")
  log "$name: best of $RUNS"
  TIME[$name]=$(best_time "$name" "$quoted")
  rss_run "$name" "$outfile" "$@"
  KEYS_OUT[$name]=$([ -n "$count" ] && bash -c "$count" || echo "")
  ORDER+=("$name")
}

slow() { # slow NAME OUTFILE KEYCOUNT_CMD CMD...: one run with a timeout
  local name=$1 outfile=$2 count=$3
  shift 3
  log "$name: one run (timeout ${SLOW_TIMEOUT}s)"
  local status=0
  rss_run "$name" "$outfile" timeout "$SLOW_TIMEOUT" "$@" || status=$?
  if [ "$status" = 124 ]; then
    TIME[$name]=$SLOW_TIMEOUT
    NOTE[$name]="timed out: > ${SLOW_TIMEOUT} s"
    KEYS_OUT[$name]=""
  elif [ "$status" != 0 ]; then
    log "$name failed (status $status): $(tail -3 "$WORK/$name.err")"
    TIME[$name]=""
    NOTE[$name]="failed (status $status)"
    KEYS_OUT[$name]=""
  else
    TIME[$name]=$LAST_WALL
    KEYS_OUT[$name]=$(bash -c "$count")
  fi
  ORDER+=("$name")
}

skipped() {
  TIME[$1]=""
  RSS[$1]=""
  KEYS_OUT[$1]=""
  NOTE[$1]=$2
  ORDER+=("$1")
}

log "hive: $HIVE ($HIVE_MIB MiB)"
rss_run "admu --version" /dev/null "$ADMU" --version
BASE_RSS=${RSS["admu --version"]}
# Export. The fast tools are timed writing to /dev/null (hyperfine discards output), then
# run once more into a file for the RSS and a count of the keys they wrote.
fast "admu export reg" "$WORK/admu.reg" "grep -c '^\[' '$WORK/admu.reg'" \
  "$ADMU" hive export "$HIVE" --format reg
fast "admu export json" "$WORK/admu.json" "grep -c '^{\"path\":' '$WORK/admu.json'" \
  "$ADMU" hive export "$HIVE" --format json
fast "admu export -o (UTF-16)" /dev/null "iconv -f UTF-16LE -t UTF-8 '$WORK/admu-o.reg' | grep -c '^\['" \
  "$ADMU" hive export "$HIVE" -o "$WORK/admu-o.reg"
fast "hivexml" "$WORK/hivex.xml" "grep -o '<node ' '$WORK/hivex.xml' | wc -l" \
  hivexml "$HIVE"
if [ "${HIVE_BENCH_SKIP_PERL:-0}" = 1 ]; then
  skipped "hivexregedit --export" "skipped (HIVE_BENCH_SKIP_PERL=1)"
else
  slow "hivexregedit --export" "$WORK/hivex.reg" "grep -c '^\[' '$WORK/hivex.reg'" \
    hivexregedit --export "$HIVE" '\'
fi
if [ "${HIVE_BENCH_SKIP_REGIPY:-0}" = 1 ]; then
  skipped "regipy-dump" "skipped (HIVE_BENCH_SKIP_REGIPY=1)"
else
  slow "regipy-dump" /dev/null "grep -c '' '$WORK/regipy.json'" \
    "$REGIPY" "$HIVE" -o "$WORK/regipy.json"
fi

# Translate: to a new file, against copying the same file.
fast "admu translate -o" /dev/null "" \
  "$ADMU" hive translate "$HIVE" --map "$MAP" -o "$WORK/translated.dat"
fast "cp" /dev/null "" cp "$HIVE" "$WORK/copy.dat"
fast "cp + fsync" /dev/null "" sh -c 'cp "$1" "$2" && sync "$2"' sh "$HIVE" "$WORK/copy.dat"
rm -f "$WORK/copy.dat"

# --- Report ------------------------------------------------------------------------
ratio() { # ratio A B: A/B with 2 decimals, or "" if either is missing
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.2f", a / b }'
}
ours_for() { # the admu row a row is compared with
  case $1 in
    "cp"*) echo "admu translate -o" ;;
    "admu"*) echo "" ;;
    *) echo "admu export reg" ;;
  esac
}

{
  echo "Hive: $(basename "$HIVE"): $HIVE_MIB MiB ($HIVE_BYTES bytes), $KEYS keys + root; $(nproc) cores; best of $RUNS unless noted."
  echo
  echo "| command | wall (s) | ours / theirs | peak RSS (MiB) | RSS / hive | keys written | note |"
  echo "|---|---:|---:|---:|---:|---:|---|"
  for name in "${ORDER[@]}"; do
    t=${TIME[$name]:-}
    ours=$(ours_for "$name")
    r=""
    [ -n "$ours" ] && r=$(ratio "${TIME[$ours]:-}" "$t")
    [ -n "${NOTE[$name]:-}" ] && [ -n "$r" ] && r="< $r"
    rss=${RSS[$name]:-}
    rr=""
    [ -n "$rss" ] && rr=$(awk -v a="$rss" -v b="$HIVE_BYTES" 'BEGIN { printf "%.2f", a * 1048576 / b }')
    note=${NOTE[$name]:-}
    case $name in
      "admu export reg") note="stdout, UTF-8" ;;
      "admu export json") note="stdout" ;;
      "admu export -o (UTF-16)") note="regedit's UTF-16LE file" ;;
      "admu translate -o") note="validation, copy, fsync, rename" ;;
      "regipy-dump") [ -z "$note" ] && note="one run, to a file" ;;
      "hivexregedit --export") [ -z "$note" ] && note="one run, to a file" ;;
    esac
    echo "| $name | ${t:-—} | ${r:-—} | ${rss:-—} | ${rr:-—} | ${KEYS_OUT[$name]:-—} | $note |"
  done
  echo
  pass() { # pass A OP B
    if [ -z "$1" ] || [ -z "$3" ]; then echo "n/a"; else awk "BEGIN { print ($1 $2 $3) ? \"PASS\" : \"FAIL\" }"; fi
  }
  e=${TIME["admu export reg"]}
  h=${TIME["hivexml"]}
  t=${TIME["admu translate -o"]}
  c=${TIME["cp"]}
  cs=${TIME["cp + fsync"]}
  echo "Targets:"
  echo "- export at least as fast as hivexml: admu reg $e s vs hivexml $h s (ratio $(ratio "$e" "$h")): $(pass "$e" "<=" "$h")"
  echo "  (JSON: $(ratio "${TIME["admu export json"]}" "$h"), -o UTF-16: $(ratio "${TIME["admu export -o (UTF-16)"]}" "$h"))"
  echo "- translate within 2x of cp: $t s vs cp $c s (ratio $(ratio "$t" "$c")): $(pass "$t" "<=" "2 * $c");" \
    "vs cp + fsync $cs s (ratio $(ratio "$t" "$cs")): $(pass "$t" "<=" "2 * $cs")"
  echo "- memory bounded by the hive size: (peak RSS - ${BASE_RSS} MiB of an idle admu) <= 1.25 x hive:"
  for name in "${ORDER[@]}"; do
    case $name in admu*) ;; *) continue ;; esac
    rr=$(awk -v a="${RSS[$name]}" -v z="$BASE_RSS" -v b="$HIVE_BYTES" 'BEGIN { printf "%.2f", (a - z) * 1048576 / b }')
    echo "  - $name: ${RSS[$name]} MiB, ${rr}x the hive: $(pass "$rr" "<=" 1.25)"
  done
} | tee "$OUT/results.md"
log "results in $OUT/results.md, outputs in $WORK/"

if [ "${HIVE_BENCH_PHASES:-1}" != 0 ]; then
  echo
  echo "Where admu's time goes (in-process, best of $RUNS):"
  target/release/examples/hive_phases "$HIVE" "$WORK" --runs "$RUNS" | tee "$OUT/phases.txt"
fi
