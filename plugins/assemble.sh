#!/bin/sh
# Builds the plugins of this repository and assembles them into bundle directories the daemon
# loads:
#
#   sh plugins/assemble.sh [--release] OUT_DIR
#
# writes OUT_DIR/<id>/{manifest.toml,lib*.so} for the reference plugins (posdiag.zvt,
# posdiag.nexo, posdiag.iso8583) and the examples (example.zvt-rust with cargo, example.c
# with the system C compiler), with
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

# The Rust plugins: crate, bundle id, plugin directory. The reference plugins
# (zvt, nexo, iso8583) are bundled only when their crates have been written.
rust_plugins="
posdiag-plugin-example-rust example.zvt-rust example-rust
posdiag-plugin-zvt posdiag.zvt zvt
posdiag-plugin-nexo posdiag.nexo nexo
posdiag-plugin-iso8583 posdiag.iso8583 iso8583
"

mkdir -p "$out"
bundle() {
    # bundle NAME MANIFEST: a fresh OUT_DIR/NAME holding the manifest.
    rm -rf "$out/$1"
    mkdir -p "$out/$1"
    cp "$2" "$out/$1/manifest.toml"
}

crates=
set -- $rust_plugins
while [ $# -ge 3 ]; do
    if [ -f "$root/plugins/$3/manifest.toml" ]; then
        crates="$crates -p $1"
    fi
    shift 3
done
# The plugin host too: the daemon runs each plugin in a posdiag-plugin-host next to it.
echo "assemble.sh: building the Rust plugins and posdiag-plugin-host ($profile):$crates" >&2
(cd "$root" && cargo build $cargo_flags $crates -p posdiag-plugin-host)

made=
set -- $rust_plugins
while [ $# -ge 3 ]; do
    crate=$1 id=$2 dir=$3
    shift 3
    [ -f "$root/plugins/$dir/manifest.toml" ] || continue
    lib=lib$(echo "$crate" | tr - _).so
    [ -f "$target/$profile/$lib" ] || { echo "assemble.sh: cargo did not produce $target/$profile/$lib" >&2; exit 1; }
    bundle "$id" "$root/plugins/$dir/manifest.toml"
    cp "$target/$profile/$lib" "$out/$id/$lib"
    made="$made $id"
done

echo "assemble.sh: compiling the C example plugin with $cc" >&2
bundle example.c "$root/plugins/example-c/manifest.toml"
"$cc" -shared -fPIC -O2 -I"$root/crates/posdiag-plugin-api/include" \
    -o "$out/example.c/libposdiag_example_c.so" "$root/plugins/example-c/posdiag_example.c"
made="$made example.c"

for b in $made; do
    chmod 0755 "$out/$b"
    chmod 0644 "$out/$b"/*
done
echo "assemble.sh: bundles in $out:$made" >&2
