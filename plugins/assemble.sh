#!/bin/sh
# Builds the example plugins and assembles them into bundle directories the daemon loads:
#
#   sh plugins/assemble.sh [--release] OUT_DIR
#
# writes OUT_DIR/example.zvt-rust/{manifest.toml,libposdiag_plugin_example_rust.so} (cargo)
# and OUT_DIR/example.c/{manifest.toml,libposdiag_example_c.so} (the system C compiler), with
# modes 0755 for directories and 0644 for files: the daemon refuses bundles that are group-
# or world-writable. Respects CARGO_TARGET_DIR (default ./target) and CC (default cc).
# Run it from anywhere; paths are resolved from this script's location.
set -eu

usage() {
    echo "usage: sh plugins/assemble.sh [--release] OUT_DIR" >&2
    exit 64
}

profile=debug
cargo_flags=
out=
for arg in "$@"; do
    case "$arg" in
        --release) profile=release; cargo_flags=--release ;;
        -h|--help) usage ;;
        -*) echo "assemble.sh: unknown option $arg" >&2; usage ;;
        *) [ -z "$out" ] || usage; out=$arg ;;
    esac
done
[ -n "$out" ] || usage

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target=$root/$target ;; esac
cc=${CC:-cc}

# Files the bundles get are created readable by all, writable by the owner only.
umask 022

echo "assemble.sh: building the Rust example plugin ($profile)" >&2
(cd "$root" && cargo build $cargo_flags -p posdiag-plugin-example-rust)

rust_lib=$target/$profile/libposdiag_plugin_example_rust.so
[ -f "$rust_lib" ] || { echo "assemble.sh: cargo did not produce $rust_lib" >&2; exit 1; }

mkdir -p "$out"
bundle() {
    # bundle NAME MANIFEST: a fresh OUT_DIR/NAME holding the manifest.
    rm -rf "$out/$1"
    mkdir -p "$out/$1"
    cp "$2" "$out/$1/manifest.toml"
}

bundle example.zvt-rust "$root/plugins/example-rust/manifest.toml"
cp "$rust_lib" "$out/example.zvt-rust/libposdiag_plugin_example_rust.so"

echo "assemble.sh: compiling the C example plugin with $cc" >&2
bundle example.c "$root/plugins/example-c/manifest.toml"
"$cc" -shared -fPIC -O2 -I"$root/crates/posdiag-plugin-api/include" \
    -o "$out/example.c/libposdiag_example_c.so" "$root/plugins/example-c/posdiag_example.c"

for b in example.zvt-rust example.c; do
    chmod 0755 "$out/$b"
    chmod 0644 "$out/$b"/*
done
echo "assemble.sh: bundles in $out: example.zvt-rust example.c" >&2
