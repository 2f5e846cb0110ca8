#!/usr/bin/env bash
# Whole-run benchmarks, side by side in one run, printed as the README's
# table: mooring run (warm and cold), the same three steps as kpt exec
# functions, three `cat` exec functions under kpt (kpt's own cost), peak
# memory at 10,000 documents, and 50 bundles at once versus one at a time.
# Then the in-process benchmarks (divan). Usage: benches/compare.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-15}

cargo build --release --quiet
BIN=$PWD/target/release/mooring
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export MOORING_CACHE_DIR=$WORK/cache

# A bundle of $2 ConfigMaps in files of 100 documents.
bundle() {
    mkdir -p "$1"
    awk -v n="$2" -v dir="$1" 'BEGIN {
        for (i = 0; i < n; i++) {
            f = sprintf("%s/docs-%03d.yaml", dir, int(i / 100))
            printf "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n  namespace: site\ndata:\n  index: \"%d\"\n", i, i > f
        }
    }'
}

cat > "$WORK/pipeline.yaml" <<YAML
apiVersion: mooring.dev/v1alpha1
kind: Pipeline
metadata: {name: bench}
steps:
  - {name: one, guest: set-metadata, config: {labels: {step-1: done}}}
  - {name: two, guest: set-metadata, config: {labels: {step-2: done}}}
  - {name: three, guest: set-metadata, config: {labels: {step-3: done}}}
YAML
head -5 "$WORK/pipeline.yaml" > "$WORK/one-step.yaml"

# A kpt package of $2 documents whose Kptfile runs three exec functions: $3.
package() {
    bundle "$1" "$2"
    {
        printf 'apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: bench\npipeline:\n  mutators:\n'
        for i in 1 2 3; do
            if [ "$3" = mooring ]; then
                printf '    - exec: "%s fn"\n      configMap: {guest: set-metadata, config: "labels: {step-%s: done}"}\n' "$BIN" "$i"
            else
                printf '    - exec: cat\n'
            fi
        done
    } > "$1/Kptfile"
}

# Median wall time of $RUNS runs of a command, in milliseconds.
median_ms() {
    local runs=$1; shift
    for _ in $(seq "$runs"); do
        local start end
        start=$(date +%s%N)
        "$@" > /dev/null 2>&1
        end=$(date +%s%N)
        echo $(( (end - start) / 1000 ))
    done | sort -n | awk '{ t[NR] = $1 } END { printf "%.1f", t[int((NR + 1) / 2)] / 1000 }'
}

cold_run() {
    rm -rf "$WORK/cold-cache"
    MOORING_CACHE_DIR=$WORK/cold-cache "$BIN" run "$@"
}

declare -A row
for n in 10 1000 10000; do
    bundle "$WORK/b$n" "$n"
    "$BIN" run "$WORK/b$n" -q -p "$WORK/pipeline.yaml" > /dev/null   # warm the cache
    runs=$RUNS; [ "$n" = 10000 ] && runs=5
    row[warm3,$n]=$(median_ms "$runs" "$BIN" run "$WORK/b$n" -q -p "$WORK/pipeline.yaml")
    row[warm1,$n]=$(median_ms "$runs" "$BIN" run "$WORK/b$n" -q -p "$WORK/one-step.yaml")
    row[cold3,$n]=$(median_ms 3 cold_run "$WORK/b$n" -q -p "$WORK/pipeline.yaml")
    if command -v kpt > /dev/null; then
        package "$WORK/k$n" "$n" mooring
        package "$WORK/c$n" "$n" cat
        kruns=5; [ "$n" = 10000 ] && kruns=3
        row[kpt,$n]=$(median_ms "$kruns" kpt fn render "$WORK/k$n" --allow-exec)
        row[cat,$n]=$(median_ms "$kruns" kpt fn render "$WORK/c$n" --allow-exec)
    else
        row[kpt,$n]="(no kpt)"; row[cat,$n]="(no kpt)"
    fi
done
rss=$( { /usr/bin/time -f '%M' "$BIN" run "$WORK/b10000" -q -p "$WORK/pipeline.yaml" > /dev/null; } 2>&1 | tail -1 )

for i in $(seq -w 1 50); do bundle "$WORK/fleet/site-$i" 200; done
"$BIN" run "$WORK"/fleet/site-* -q -p "$WORK/pipeline.yaml" --output "$WORK/out-warm" > /dev/null 2>&1
fleet_out() { rm -rf "$WORK/out"; "$BIN" run "$WORK"/fleet/site-* -q -p "$WORK/pipeline.yaml" --output "$WORK/out" "$@"; }
fleet_all=$(median_ms 5 fleet_out)
fleet_one=$(median_ms 5 fleet_out --jobs 1)

echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(uname -m)), commit $(git rev-parse --short HEAD), release build; median wall time in ms."
echo
echo "| 3 steps of set-metadata | 10 docs | 1,000 docs | 10,000 docs |"
echo "|---|---|---|---|"
echo "| \`mooring run\`, warm cache | ${row[warm3,10]} | ${row[warm3,1000]} | ${row[warm3,10000]} |"
echo "| \`mooring run\`, 1 step, warm cache | ${row[warm1,10]} | ${row[warm1,1000]} | ${row[warm1,10000]} |"
echo "| \`mooring run\`, cold (compiles the guest) | ${row[cold3,10]} | ${row[cold3,1000]} | ${row[cold3,10000]} |"
echo "| \`kpt fn render\`, 3 × \`mooring fn\` exec | ${row[kpt,10]} | ${row[kpt,1000]} | ${row[kpt,10000]} |"
echo "| \`kpt fn render\`, 3 × \`cat\` exec (kpt alone) | ${row[cat,10]} | ${row[cat,1000]} | ${row[cat,10000]} |"
echo
echo "Peak RSS, \`mooring run\` of 3 steps over 10,000 documents: $(( rss / 1024 )) MiB."
echo "50 bundles of 200 documents, 3 steps, one invocation: ${fleet_all} ms on $(nproc) threads, ${fleet_one} ms with --jobs 1 ($(awk -v a="$fleet_one" -v b="$fleet_all" 'BEGIN { printf "%.2f", a / b }')x)."
echo
cargo bench --quiet --bench pipeline 2>/dev/null | sed -n '/^pipeline/,$p'
