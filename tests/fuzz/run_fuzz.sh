#!/usr/bin/env bash
# Fuzzes the readers of untrusted input (deck parser, policy reader, factory checkpoint
# restore) with libFuzzer for a bounded time per target and reports executions and crashes.
# A benchmark-style run: not registered with CTest, not run in CI.
#
#   tests/fuzz/run_fuzz.sh [SECONDS_PER_TARGET (default 300)] [TARGET ...]
#
# Configures and builds build-fuzz (clang, -fsanitize=fuzzer-no-link,address,undefined on
# every library), writes seed checkpoints and a policy with the app of the default build
# (build/app/kollektiv; $KOLLEKTIV_APP overrides), replays the reproducers in
# tests/fuzz/regressions/<target>/ (REPLAY lines), then fuzzes each target in turn; after a crash the target
# restarts on its corpus until its time is used (at most 5 findings each).
# Corpora stay in build-fuzz/corpus/<target>, findings go to
# build-fuzz/artifacts/<target>/<date-time>/, logs to build-fuzz/logs/. Last lines:
#   RESULT fuzz=<target> seconds=<s> executions=<n> exec_per_s=<r> crashes=<k> corpus=<files>
# where crashes counts the crash-, leak-, timeout- and oom- files the run left.
set -euo pipefail

seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_deck fuzz_policy fuzz_policy_edit fuzz_checkpoint fuzz_checkpoint_edit)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${KOLLEKTIV_FUZZ_BUILD:-$root/build-fuzz}
app=${KOLLEKTIV_APP:-$root/build/app/kollektiv}
max_findings=5

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# LeakSanitizer's tracer crashes at exit with Open MPI's threads running (it then reports
# the empty input as a crash); leaks are not what these targets look for.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# --- build ----------------------------------------------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DKOLLEKTIV_BUILD_FUZZERS=ON -DKOLLEKTIV_BUILD_TESTS=OFF -DKOLLEKTIV_BUILD_BENCHMARKS=OFF \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
fi
cmake --build "$build" -j "${KOLLEKTIV_FUZZ_BUILD_JOBS:-2}" --target "${targets[@]}"

# --- seeds ----------------------------------------------------------------------------
[ -x "$app" ] || { echo "run_fuzz.sh: no app at $app (build the default preset first)" >&2; exit 1; }
seeds=$build/seeds
rm -rf "$seeds"
mkdir -p "$seeds"
"$app" "$root/inputs/factory_multiline.yaml" --output "$seeds/factory" --set run.end_time_s=3600 >"$seeds/factory.log" 2>&1
"$app" "$root/inputs/train_smoke.yaml" --output "$seeds/train" >"$seeds/train.log" 2>&1
factory_ckpts=("$seeds"/factory/checkpoints/ckpt_*.h5)
export KOLLEKTIV_FUZZ_CHECKPOINT=${factory_ckpts[-1]}
export KOLLEKTIV_FUZZ_POLICY=$seeds/train/policy.h5

# Keys and YAML syntax for the deck target's mutations.
{
  grep -ohE '[a-z_]+:' "$root"/inputs/*.yaml "$root"/inputs/bench/*.yaml "$root"/inputs/robots/*.yaml | sort -u | sed 's/.*/"&"/'
  printf '"%s"\n' '&a ' '*a' '<<: ' '!!str ' '!!int ' '!!map ' '---' '...' '? ' '- ' '{' '}' '[' ']' \
    'unlimited' 'true' 'null' '.nan' '.inf' '-.inf' '1e308' '-1' '0x7fffffffffffffff'
} >"$seeds/deck.dict"

size_of() { stat -c %s "$1"; }
largest=0
for f in "${factory_ckpts[@]}" "$KOLLEKTIV_FUZZ_POLICY"; do
  [ "$(size_of "$f")" -gt "$largest" ] && largest=$(size_of "$f")
done

# seed_corpus TARGET DIR: the seeds of TARGET into DIR (kept corpora grow on top of them).
seed_corpus() {
  case $1 in
    fuzz_deck) cp "$root"/inputs/*.yaml "$root"/inputs/bench/*.yaml "$2"/ ;;
    fuzz_policy) cp "$KOLLEKTIV_FUZZ_POLICY" "$2"/seed_policy.h5 ;;
    fuzz_checkpoint) for f in "${factory_ckpts[@]}"; do cp "$f" "$2/seed_$(basename "$f")"; done ;;
    fuzz_policy_edit | fuzz_checkpoint_edit)
      # Edit lists (h5_edit.hpp): none, and a few random ones of 1 to 20 records.
      : >"$2"/seed_none
      for n in 1 4 20; do head -c $((12 * n)) /dev/urandom >"$2/seed_random_$n"; done ;;
  esac
}

# fuzz_args TARGET: its libFuzzer options.
fuzz_args() {
  case $1 in
    fuzz_deck) echo "-max_len=16384 -dict=$seeds/deck.dict" ;;
    fuzz_policy | fuzz_checkpoint) echo "-max_len=$((largest + 4096))" ;;
    fuzz_policy_edit | fuzz_checkpoint_edit) echo "-max_len=768" ;;
  esac
}

results=()
stamp=$(date +%Y%m%d-%H%M%S)
mkdir -p "$build/logs"
for target in "${targets[@]}"; do
  bin=$build/tests/fuzz/$target
  corpus=$build/corpus/$target
  artifacts=$build/artifacts/$target/$stamp
  mkdir -p "$corpus" "$artifacts"
  seed_corpus "$target" "$corpus"
  read -r -a args <<<"$(fuzz_args "$target")"
  common=(-rss_limit_mb=2048 -timeout=10 -detect_leaks=0 -print_final_stats=1)

  # Known findings first: each reproducer should pass once its cause is fixed.
  if [ -d "$here/regressions/$target" ]; then
    files=0 failing=0
    for f in "$here/regressions/$target"/*; do
      [ -f "$f" ] || continue
      files=$((files + 1))
      "$bin" "${common[@]}" "${args[@]}" "$f" >"$build/logs/$target-replay.log" 2>&1 || failing=$((failing + 1))
    done
    echo "REPLAY fuzz=$target files=$files failures=$failing"
  fi

  executions=0 findings=0
  start=$(date +%s.%N)
  log=$build/logs/$target-$stamp.log
  : >"$log"
  while :; do
    left=$(awk -v s="$seconds" -v t0="$start" -v now="$(date +%s.%N)" 'BEGIN { printf "%d", s - (now - t0) }')
    [ "$left" -ge 1 ] || break
    before=$(find "$artifacts" -type f | wc -l)
    status=0
    (cd "$artifacts" && "$bin" "${common[@]}" "${args[@]}" -max_total_time="$left" -artifact_prefix="$artifacts/" \
      "$corpus") >"$log.part" 2>&1 || status=$?
    cat "$log.part" >>"$log"
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log.part" | tail -1)
    [ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs in .*/\1/p' "$log.part" | tail -1)
    executions=$((executions + ${runs:-0}))
    after=$(find "$artifacts" -type f | wc -l)
    if [ "$status" -eq 0 ]; then break; fi
    if [ "$after" -eq "$before" ]; then
      echo "run_fuzz.sh: $target failed without leaving an input (exit $status); see $log" >&2
      break
    fi
    findings=$((findings + after - before))
    [ "$findings" -lt "$max_findings" ] || break
  done
  wall=$(awk -v t0="$start" -v now="$(date +%s.%N)" 'BEGIN { printf "%.0f", now - t0 }')
  rm -f "$log.part"
  crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  rate=$(awk -v n="$executions" -v s="$wall" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')
  line="RESULT fuzz=$target seconds=$wall executions=$executions exec_per_s=$rate crashes=$crashes corpus=$(find "$corpus" -type f | wc -l)"
  echo "run_fuzz.sh: $target done (log $log)" >&2
  results+=("$line")
  [ "$crashes" -eq 0 ] && rmdir "$artifacts" 2>/dev/null || true
done

# Scratch folders of fuzzing processes that crashed (the others remove their own).
for d in /dev/shm/kollektiv-fuzz-*; do
  [ -d "$d" ] && ! kill -0 "${d##*-}" 2>/dev/null && rm -rf "$d"
done
printf '%s\n' "${results[@]}"
