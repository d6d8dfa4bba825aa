#!/usr/bin/env bash
# The logistics plugin's benchmark: the typical ≈2 KB EPCIS ObjectEvent CloudEvent through
# the plugin's handler natively (examples/bench.rs) and inside the WebAssembly sandbox
# (`weft bench --plugin`, warm instance), alternately in ROUNDS rounds of EVENTS events, so
# both see the same machine load; prints each pair and the wasm/native ratio.
#
#   plugins/logistics/bench.sh [EVENTS] [ROUNDS]        (defaults 5000, 3)
#
# Needs the wasm32-wasip2 target and `weft-bench` (WEFT_BENCH, default
# target/debug/weft-bench: `cargo build -p weft-bench`, dependencies optimized).
set -euo pipefail
cd "$(dirname "$0")/../.."
events=${1:-5000}
rounds=${2:-3}
bench_bin=${WEFT_BENCH:-target/debug/weft-bench}
[ -x "$bench_bin" ] || { echo "no $bench_bin: cargo build -p weft-bench, or set WEFT_BENCH" >&2; exit 1; }

cargo build --quiet --release -p weft-plugin-logistics --example logistics-bench --example sample_event
cargo rustc --quiet -p weft-plugin-logistics --lib --crate-type cdylib --target wasm32-wasip2 \
  --profile plugin --target-dir target/wasm-plugins
wasm=target/wasm-plugins/wasm32-wasip2/plugin/weft_plugin_logistics.wasm
input=$(mktemp --suffix=.json)
trap 'rm -f "$input"' EXIT
target/release/examples/sample_event > "$input"

echo "events per round: $events; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %16s %16s %10s\n' round "native µs/event" "wasm µs/event" wasm/native
for r in $(seq 1 "$rounds"); do
  native=$(target/release/examples/logistics-bench "$events" |
    awk '/^plugin handler, native/ { for (i = 1; i <= NF; i++) if ($(i+1) == "µs") { print $i; exit } }')
  wasm_us=$("$bench_bin" --plugin "$wasm" --input "$input" --events "$events" --mode warm |
    awk '/wasm, warm instance/ { for (i = 1; i <= NF; i++) if ($(i+1) == "µs") { print $i; exit } }')
  awk -v r="$r" -v n="$native" -v w="$wasm_us" \
    'BEGIN { printf "%-6s %16.1f %16.1f %10.2f   (wasm %.0f events/s, native %.0f/s)\n", r, n, w, w / n, 1e6 / w, 1e6 / n }'
done
