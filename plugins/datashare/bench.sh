#!/usr/bin/env bash
# The datashare plugin's two hot paths natively and inside the sandbox, in one run, with
# the ratios: a 10-rule policy decision per event and masking a ≈2 KB record.
#
#   plugins/datashare/bench.sh [ROUNDS] [EVENTS]
#
# Native: the `datashare-bench` example (release). Sandbox: `weft-bench --plugin … --mode
# warm` on the same events and configuration (WEFT_BENCH, or target/release/weft-bench, or
# target/debug/weft-bench) with the component built in the `plugin` profile. The rounds
# alternate native and sandbox so that load on the machine hits both alike; the table
# shows the best round of each.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
events=${2:-20000}
target=${CARGO_TARGET_DIR:-target}

bench=${WEFT_BENCH:-}
if [[ -z "$bench" ]]; then
  for p in "$target/release/weft-bench" "$target/debug/weft-bench"; do
    if [[ -x "$p" ]]; then bench=$p; break; fi
  done
fi
if [[ -z "$bench" ]]; then
  echo "no weft-bench: set WEFT_BENCH or build it (cargo build -p weft-bench)" >&2
  exit 2
fi

cargo rustc -q -p weft-plugin-datashare --lib --crate-type cdylib --target wasm32-wasip2 \
  --profile plugin --target-dir "$target/wasm-plugins"
wasm="$target/wasm-plugins/wasm32-wasip2/plugin/weft_plugin_datashare.wasm"
cargo build -q --release -p weft-plugin-datashare --example datashare-bench --example sample_event
examples="$target/release/examples"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$examples/sample_event" share >"$tmp/share.json"
"$examples/sample_event" record >"$tmp/record.json"
policy=$("$examples/sample_event" policy)
sotw=$("$examples/sample_event" sotw)

echo "weft-bench: $bench"
echo "component:  $wasm"
for round in $(seq "$rounds"); do
  echo "== round $round"
  "$examples/datashare-bench" "$events" | tee -a "$tmp/native.txt"
  "$bench" --plugin "$wasm" --input "$tmp/share.json" --mode warm --events "$events" \
    --config "policy=$policy" --config "sotw=$sotw" | tee "$tmp/w.txt"
  awk '/warm instance/ {print "wasm:decision=" $(NF-2) * 1000}' "$tmp/w.txt" >>"$tmp/wasm.txt"
  "$bench" --plugin "$wasm" --input "$tmp/record.json" --mode warm --events "$events" \
    --config "mask.detect=all" --config "mask.names=/contacts/*/name" | tee "$tmp/w.txt"
  awk '/warm instance/ {print "wasm:mask=" $(NF-2) * 1000}' "$tmp/w.txt" >>"$tmp/wasm.txt"
  "$bench" --plugin "$wasm" --input "$tmp/record.json" --mode warm --events "$events" | tee "$tmp/w.txt"
  awk '/warm instance/ {print "wasm:passthrough=" $(NF-2) * 1000}' "$tmp/w.txt" >>"$tmp/wasm.txt"
done

python3 - "$tmp/native.txt" "$tmp/wasm.txt" <<'EOF'
import re, sys
best = {}
for path in sys.argv[1:]:
    for m in re.finditer(r"(native|wasm):(\w+)=([\d.]+)", open(path).read()):
        key = (m.group(1), m.group(2))
        best[key] = min(best.get(key, float("inf")), float(m.group(3)))
print()
print(f"{'path (best round)':<44} {'native':>10} {'wasm warm':>10} {'ratio':>7} {'wasm/s':>9}")
for name, label in [("decision", "10-rule policy decision per event"),
                    ("mask", "masking a 2 KB record (event in, event out)")]:
    n, w = best.get(("native", name)), best.get(("wasm", name))
    if n is None or w is None:
        continue
    print(f"{label:<44} {n/1000:>8.2f}µs {w/1000:>8.2f}µs {w/n:>6.1f}x {1e9/w:>9.0f}")
p = best.get(("wasm", "passthrough"))
if p:
    print(f"{'same record, nothing configured (call cost)':<44} {'':>10} {p/1000:>8.2f}µs")
EOF
