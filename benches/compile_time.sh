#!/usr/bin/env bash
# Compile time of #[measure]: a library crate of N functions (default 500; four in five
# async, the anchors' `fn(u64) -> Result<u64, E>`), built bare, with #[taskscope::measure]
# on each, and with #[tracing::instrument] on each. Dependencies are built first; each
# figure is the best of three builds of the crate alone after touching its source, for
# `cargo check` (expansion and type checking) and `cargo build` (debug, with code
# generation) and `cargo build --release`.
#
# Run: bash benches/compile_time.sh [N]
set -euo pipefail
n=${1:-500}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/target/compile-time
kinds=(bare measure instrument)
mkdir -p "$dir"

cat > "$dir/Cargo.toml" <<EOF
[workspace]
members = ["bare", "measure", "instrument"]
resolver = "3"
EOF

attr_of() {
    case $1 in
        bare) echo "" ;;
        measure) echo "#[taskscope::measure]" ;;
        instrument) echo "#[tracing::instrument]" ;;
    esac
}

for kind in "${kinds[@]}"; do
    mkdir -p "$dir/$kind/src"
    cat > "$dir/$kind/Cargo.toml" <<EOF
[package]
name = "compile-time-$kind"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
taskscope = { path = "$root" }
tracing = "0.1"
EOF
    attr=$(attr_of "$kind")
    {
        echo "//! $n functions, $kind."
        echo "#[derive(Debug)]"
        echo "pub struct Failed(pub u64);"
        for ((i = 0; i < n; i++)); do
            echo "$attr"
            if ((i % 5 == 4)); then
                echo "pub fn f$i(n: u64) -> Result<u64, Failed> {"
            else
                echo "pub async fn f$i(n: u64) -> Result<u64, Failed> {"
            fi
            echo "    if n == u64::MAX { return Err(Failed(n)); }"
            echo "    Ok(n.wrapping_mul($i) + 1)"
            echo "}"
        done
    } > "$dir/$kind/src/lib.rs"
done

cargo=(cargo --quiet)
log=$dir/cargo.log
: > "$log"
manifest=(--manifest-path "$dir/Cargo.toml")
# Dependencies (and the crates once) for each profile.
"${cargo[@]}" check "${manifest[@]}" --workspace 2>> "$log"
"${cargo[@]}" build "${manifest[@]}" --workspace 2>> "$log"
"${cargo[@]}" build "${manifest[@]}" --workspace --release 2>> "$log"

best_of_three() {
    local kind=$1
    shift
    local best=
    for _ in 1 2 3; do
        touch "$dir/$kind/src/lib.rs"
        local t0 t1
        t0=$(date +%s.%N)
        "${cargo[@]}" "$@" "${manifest[@]}" -p "compile-time-$kind" 2>> "$log"
        t1=$(date +%s.%N)
        best=$(echo "$t0 $t1 $best" | awk '{ d = $2 - $1; if ($3 == "" || d < $3) print d; else print $3 }')
    done
    printf '%.2f' "$best"
}

echo "| $n functions | cargo check (s) | cargo build (s) | cargo build --release (s) |"
echo "|---|---:|---:|---:|"
for kind in "${kinds[@]}"; do
    c=$(best_of_three "$kind" check)
    b=$(best_of_three "$kind" build)
    r=$(best_of_three "$kind" build --release)
    echo "| $kind | $c | $b | $r |"
done
