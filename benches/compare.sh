#!/usr/bin/env bash
# Whole-run benchmarks, printed as the README's table. Every measured run's
# exit status and output are checked (the number of documents it must
# print, the label the pipeline adds): a failed run aborts the script, so
# no figure ever comes from one. Each row is min / median / max wall time
# over the stated number of runs, with the peak RSS of the largest run, and
# the machine's load average before and after.
#
# Rows: `mooring --version` (process start alone); `mooring run` with 3
# steps and 1 step, warm and cold cache; `kubectl kustomize` of the same
# documents (what a user already pays to build a site); `mooring fn` on a
# ResourceList; `kpt fn render` with 3 × `mooring fn` against 3 × `cat`.
# The in-process benchmarks run on their own: cargo bench --bench pipeline.
#
# Usage: benches/compare.sh [SIZES...]   (default: 10 1000 10000 50000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-10 1000 10000 50000 100000}")
read -r -a SIZES <<< "${SIZES[*]}"

cargo build --release --quiet
BIN=$PWD/target/release/mooring
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export MOORING_CACHE_DIR=$WORK/cache
for tool in kpt kubectl /usr/bin/time; do
    command -v "$tool" > /dev/null || { echo "compare.sh: $tool is needed" >&2; exit 1; }
done

# How many times each size is run.
runs_for() {
    case $1 in
        10) echo 15 ;; 1000) echo 10 ;; 10000) echo 5 ;; *) echo 3 ;;
    esac
}

# A bundle of $2 ConfigMaps in files of 100 documents.
bundle() {
    mkdir -p "$1"
    awk -v n="$2" -v dir="$1" 'BEGIN {
        for (i = 0; i < n; i++) {
            f = sprintf("%s/docs-%04d.yaml", dir, int(i / 100))
            printf "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n  namespace: site\ndata:\n  index: \"%d\"\n", i, i > f
        }
    }'
}

# A kustomization beside bundle $2 naming its files, in directory $1.
kustomization() {
    mkdir -p "$1"
    { echo "resources:"; for f in "$2"/docs-*.yaml; do echo "- $f"; done; } > "$1/kustomization.yaml"
}

# A ResourceList of $2 ConfigMaps with a ConfigMap functionConfig.
resource_list() {
    {
        printf 'apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: fc}\n  data:\n    guest: set-metadata\n    config: "labels: {step-1: done}"\nitems:\n'
        awk -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: cm-%d\n    namespace: site\n  data:\n    index: \"%d\"\n", i, i }'
    } > "$1"
}

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

# measure RUNS CHECK PREPARE -- COMMAND...: runs COMMAND RUNS times (PREPARE
# before each, untimed), checks each run with CHECK (a function given the
# run's stdout file), and prints "min / median / max ms, RSS MiB". Aborts,
# showing the run's stderr, when a run fails or its output is wrong.
measure() {
    local runs=$1 check=$2 prepare=$3; shift 4
    local times=() rss=0
    for _ in $(seq "$runs"); do
        $prepare
        if ! /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" > "$WORK/out" 2> "$WORK/err"; then
            echo "compare.sh: FAILED, no figure printed: $*" >&2
            tail -20 "$WORK/err" >&2
            exit 1
        fi
        if ! $check "$WORK/out"; then
            echo "compare.sh: WRONG OUTPUT, no figure printed: $*" >&2
            tail -20 "$WORK/err" >&2
            exit 1
        fi
        read -r secs kb < "$WORK/time"
        times+=("$(awk -v s="$secs" 'BEGIN { printf "%.0f", s * 1000 }')")
        rss=$(( kb > rss ? kb : rss ))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v rss="$rss" '
        { t[NR] = $1 }
        END { printf "%d / %d / %d ms, %d MiB", t[1], t[int((NR + 1) / 2)], t[NR], rss / 1024 }'
}

# /usr/bin/time reports whole milliseconds at best (10 ms on some systems):
# the sub-10 ms rows are timed by hyperfine when it is there.
fine() {
    local runs=$1; shift
    if command -v hyperfine > /dev/null; then
        hyperfine -N --runs "$runs" --warmup 3 --export-json "$WORK/h.json" "$*" > /dev/null 2>&1 \
            || { echo "compare.sh: FAILED: $*" >&2; exit 1; }
        python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; t=sorted(r["times"]); print("%.1f / %.1f / %.1f ms" % (t[0]*1e3, r["median"]*1e3, t[-1]*1e3))' "$WORK/h.json"
    else
        measure "$runs" true true -- "$@"
    fi
}

N=0
labelled() { [ "$(grep -c '^    step-1: done$' "$1")" -eq "$N" ]; }
docs() { [ "$(grep -c '^kind: ConfigMap$' "$1")" -eq "$N" ]; }
items() { [ "$(grep -c '^      step-1: done$' "$1")" -eq "$N" ] && ! grep -q 'severity: error' "$1"; }
rendered() { [ "$(cat "$PKG"/docs-*.yaml | grep -c '^    step-3: done$')" -eq "$N" ]; }
passed() { [ "$(cat "$PKG"/docs-*.yaml | grep -c '^kind: ConfigMap$')" -eq "$N" ]; }
cold() { rm -rf "$WORK/cold-cache"; }
fresh_package() { rm -rf "$PKG"; cp -r "$PKG.orig" "$PKG"; }
nothing() { :; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A row
row[version]=$(fine 50 "$BIN" --version)
for n in "${SIZES[@]}"; do
    N=$n
    runs=$(runs_for "$n")
    bundle "$WORK/b$n" "$n"
    kustomization "$WORK/k$n" "$WORK/b$n"
    resource_list "$WORK/rl$n.yaml" "$n"
    "$BIN" run "$WORK/b$n" -q -p "$WORK/pipeline.yaml" > /dev/null   # warm the cache
    row[warm3,$n]=$(measure "$runs" labelled nothing -- "$BIN" run "$WORK/b$n" -q -p "$WORK/pipeline.yaml")
    row[warm1,$n]=$(measure "$runs" labelled nothing -- "$BIN" run "$WORK/b$n" -q -p "$WORK/one-step.yaml")
    row[cold3,$n]=$(MOORING_CACHE_DIR=$WORK/cold-cache measure 3 labelled cold -- "$BIN" run "$WORK/b$n" -q -p "$WORK/pipeline.yaml")
    row[fn,$n]=$(measure "$runs" items nothing -- sh -c "exec '$BIN' fn -q < '$WORK/rl$n.yaml'")
    # kustomize and kpt grow faster than linearly (kubectl kustomize ran for
    # over ten minutes on 50,000 documents): they are timed up to 10,000.
    if [ "$n" -le 10000 ]; then
        row[kustomize,$n]=$(measure "$runs" docs nothing -- kubectl kustomize --load-restrictor LoadRestrictionsNone "$WORK/k$n")
        PKG=$WORK/kpt$n; package "$PKG.orig" "$n" mooring
        row[kpt,$n]=$(measure 3 rendered fresh_package -- kpt fn render "$PKG" --allow-exec)
        PKG=$WORK/cat$n; package "$PKG.orig" "$n" cat
        row[cat,$n]=$(measure 3 passed fresh_package -- kpt fn render "$PKG" --allow-exec)
    else
        row[kustomize,$n]="—"; row[kpt,$n]="—"; row[cat,$n]="—"
    fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

for i in $(seq -w 1 50); do bundle "$WORK/fleet/site-$i" 200; done
N=200
fleet_ok() { [ "$(cat "$WORK"/fleet-out/site-*/docs-*.yaml | grep -c '^    step-1: done$')" -eq 10000 ]; }
fleet_clean() { rm -rf "$WORK/fleet-out"; }
# The example docker site (101 documents, its own 4-step pipeline), 50 times.
mkdir -p "$WORK/sites"
for i in $(seq -w 1 50); do cp -r bundles/docker-test-site "$WORK/sites/site-$i"; done
sites_ok() { [ "$(cat "$WORK"/sites-out/site-*/phases/cluster-map.yaml | grep -c 'airshipit.org/site: docker-test-site')" -eq 50 ]; }
sites_clean() { rm -rf "$WORK/sites-out"; }
sites_all=$(measure 5 sites_ok sites_clean -- "$BIN" run "$WORK"/sites/site-* -q --output-dir "$WORK/sites-out")
fleet_all=$(measure 5 fleet_ok fleet_clean -- "$BIN" run "$WORK"/fleet/site-* -q -p "$WORK/pipeline.yaml" --output-dir "$WORK/fleet-out")
fleet_one=$(measure 5 fleet_ok fleet_clean -- "$BIN" run "$WORK"/fleet/site-* -q -p "$WORK/pipeline.yaml" --output-dir "$WORK/fleet-out" --jobs 1)

header="| 3 steps of set-metadata |"; rule="|---|"
for n in "${SIZES[@]}"; do header+=" $n docs |"; rule+="---|"; done
line() {
    local name=$1 key=$2
    local out="| $name |"
    for n in "${SIZES[@]}"; do out+=" ${row[$key,$n]} |"; done
    echo "$out"
}

echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!README.md' || echo '+changes'), release build."
echo "Load average before: $load_before; after: $load_after. Each cell: min / median / max wall time over the stated runs (10 docs: 15, 1,000: 10, 10,000: 5, larger and kpt: 3; kustomize and kpt up to 10,000 documents), and the peak RSS of the largest run. Every run's exit status and output were checked."
echo
echo "\`mooring --version\`: ${row[version]} (50 runs)."
echo
echo "$header"
echo "$rule"
line '`mooring run`, warm cache' warm3
line '`mooring run`, 1 step, warm cache' warm1
line '`mooring run`, cold cache' cold3
line '`kubectl kustomize` of the same files (baseline)' kustomize
line '`mooring fn`, 1 step, ResourceList on stdin' fn
line '`kpt fn render`, 3 × `mooring fn` exec' kpt
line '`kpt fn render`, 3 × `cat` exec (kpt alone)' cat
echo
echo "50 bundles of 200 documents, 3 steps, one invocation: ${fleet_all} on $(nproc) threads; ${fleet_one} with --jobs 1."
echo "50 copies of bundles/docker-test-site (101 documents, its 4-step pipeline), one invocation: ${sites_all} on $(nproc) threads."
