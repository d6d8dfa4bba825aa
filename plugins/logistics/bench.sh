#!/usr/bin/env bash
# The logistics plugin's benchmark: the typical ≈2 KB EPCIS ObjectEvent CloudEvent through
# the plugin's handler natively (examples/bench.rs) and inside the WebAssembly sandbox
# (`weft bench --plugin`, warm instance), alternately in ROUNDS rounds of EVENTS events, so
# both see the same machine load; prints each round, then the median and the best round
# of each and their wasm/native ratios (on a loaded machine the best rounds are the
# steadiest figure).
#
#   plugins/logistics/bench.sh [EVENTS] [ROUNDS]        (defaults 3000, 8)
#
# Needs the wasm32-wasip2 target and `weft-bench` (WEFT_BENCH, default
# target/debug/weft-bench: `cargo build -p weft-bench`, dependencies optimized).
# BASELINE_WASM=other.wasm also times another build of the component in the same rounds
# (e.g. an earlier commit's), for a before/after comparison.
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-3000}
rounds=${2:-8}
bench_bin=${WEFT_BENCH:-target/debug/weft-bench}
[ -x "$bench_bin" ] || { echo "no $bench_bin: cargo build -p weft-bench, or set WEFT_BENCH" >&2; exit 1; }

cargo build --quiet --release -p weft-plugin-logistics --example logistics-bench --example sample_event
cargo rustc --quiet -p weft-plugin-logistics --lib --crate-type cdylib --target wasm32-wasip2 \
  --profile plugin --target-dir target/wasm-plugins
wasm=target/wasm-plugins/wasm32-wasip2/plugin/weft_plugin_logistics.wasm
input=$(mktemp --suffix=.json)
results=$(mktemp)
trap 'rm -f "$input" "$results"' EXIT
target/release/examples/sample_event > "$input"

# µs per event of the warm instance of a component
wasm_us() {
  "$bench_bin" --plugin "$1" --input "$input" --events "$events" --mode warm |
    awk '/warm instance/ { for (i = 1; i <= NF; i++) if ($(i+1) == "µs") { print $i; exit } }'
}

echo "events per round: $events; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$rounds"); do
  native=$(target/release/examples/logistics-bench "$events" |
    awk '/^plugin handler, native/ { for (i = 1; i <= NF; i++) if ($(i+1) == "µs") { print $i; exit } }')
  w=$(wasm_us "$wasm")
  line="native $native wasm $w"
  if [ -n "${BASELINE_WASM:-}" ]; then
    line="$line baseline $(wasm_us "$BASELINE_WASM")"
  fi
  echo "round $r: $line (µs per event)"
  echo "$line" >> "$results"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
  function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t } }
  function median(a, n) { sort(a, n); return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
  { n++; nat[n] = $2; was[n] = $4; if (NF >= 6) bas[n] = $6 }
  END {
    mn = median(nat, n); mw = median(was, n); bn = nat[1]; bw = was[1]
    printf "%-10s %12s %12s %10s\n", "", "native µs", "wasm µs", "wasm/native"
    printf "%-10s %12.1f %12.1f %10.2f   (wasm %.0f events/s)\n", "median", mn, mw, mw / mn, 1e6 / mw
    printf "%-10s %12.1f %12.1f %10.2f   (wasm %.0f events/s)\n", "best", bn, bw, bw / bn, 1e6 / bw
    if (length(bas) > 0) {
      mb = median(bas, n); bb = bas[1]
      printf "baseline wasm: median %.1f µs, best %.1f µs; this build / baseline: median %.2f, best %.2f\n", mb, bb, mw / mb, bw / bb
    }
  }' "$results"
