#!/bin/sh
# Builds the Debian package posdiag_VERSION-REV_ARCH.deb from a clone of this repository:
#
#   sh deploy/package.sh [--debug] [--no-build] [--out DIR]
#
# 1. installs cargo-deb from crates.io when it is missing (cargo install --locked);
# 2. builds posdiagd, posdiag, posdiag-lab, posdiag-plugin-host and posdiag-dist (release by
#    default; --debug reuses the debug binaries `cargo test` builds, as the package test does;
#    --no-build uses what is there);
# 3. stages what is not a plain file of the repository under TARGET/posdiag-deb-PROFILE/:
#    hard links to the binaries, and
#    the reference plugin bundles (plugins/assemble.sh; the examples are not shipped), the
#    man pages (posdiag-dist, plus deploy/man/posdiagd.toml.5) gzipped, the completions;
# 4. runs `cargo deb -p posdiagd --no-build`: the metadata is [package.metadata.deb] in
#    crates/posdiagd/Cargo.toml.
#
# Prints the .deb's path on the last line (default directory: TARGET/debian). Respects
# CARGO_TARGET_DIR. Needs cargo, a C compiler (the SQLite in the history, the C example
# plugin's build in assemble.sh), gzip and dpkg's tools.
set -eu

usage() {
    echo "usage: sh deploy/package.sh [--debug] [--no-build] [--out DIR]" >&2
    exit 64
}

profile=release
build=yes
out=
while [ $# -gt 0 ]; do
    case "$1" in
        --debug) profile=debug ;;
        --no-build) build=no ;;
        --out) [ $# -ge 2 ] || usage; out=$2; shift ;;
        -h|--help) usage ;;
        *) echo "package.sh: unknown argument $1" >&2; usage ;;
    esac
    shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target=$root/$target ;; esac
[ -n "$out" ] || out=$target/debian
cargo=${CARGO:-cargo}
if [ "$profile" = release ]; then cargo_profile=--release; else cargo_profile=; fi

# cargo-deb 3.8 (systemd-units with sysusers and tmpfiles support), pinned for repeatable packages.
if ! "$cargo" deb --version >/dev/null 2>&1; then
    echo "package.sh: installing cargo-deb from crates.io (cargo install cargo-deb --locked)" >&2
    "$cargo" install cargo-deb --locked --version 3.8.0 >&2
fi

cd "$root"
if [ $build = yes ]; then
    echo "package.sh: building the binaries ($profile)" >&2
    # shellcheck disable=SC2086
    "$cargo" build $cargo_profile -p posdiagd --bin posdiagd -p posdiag-cli --bin posdiag \
        -p posdiag-lab --bin posdiag-lab --bin posdiag-dist -p posdiag-plugin-host --bin posdiag-plugin-host >&2
fi

# cargo-deb reads "target/release/..." assets from $CARGO_TARGET_DIR/release: a staging
# target dir whose release/ holds hard links to this profile's binaries and the staged files,
# so the debug build is packaged without cargo-deb's (deprecated) dev profile.
deb_target=$target/posdiag-deb-$profile
rm -rf "$deb_target"
bins=$deb_target/release
stage=$bins/posdiag-deb
mkdir -p "$stage/plugins" "$stage/man"
umask 022
for bin in posdiagd posdiag posdiag-lab posdiag-plugin-host; do
    [ -f "$target/$profile/$bin" ] || { echo "package.sh: $target/$profile/$bin is not built" >&2; exit 1; }
    ln -f "$target/$profile/$bin" "$bins/$bin" 2>/dev/null || cp -p "$target/$profile/$bin" "$bins/$bin"
done

# The reference plugins (posdiag.*), built in the same profile; assemble.sh builds them
# (a no-op when fresh) and gives the bundles the modes the loader accepts (0755, 0644).
assembled=$stage/assembled
if [ $build = yes ]; then
    if [ "$profile" = release ]; then sh plugins/assemble.sh --release "$assembled" >&2; else sh plugins/assemble.sh "$assembled" >&2; fi
else
    # --no-build: bundle what is built, without cargo.
    for crate_dir in zvt:posdiag.zvt nexo:posdiag.nexo iso8583:posdiag.iso8583; do
        dir=${crate_dir%%:*} id=${crate_dir#*:}
        lib=libposdiag_plugin_$dir.so
        [ -f "$target/$profile/$lib" ] || { echo "package.sh: --no-build, but $target/$profile/$lib is not built" >&2; exit 1; }
        mkdir -p "$assembled/$id"
        cp "plugins/$dir/manifest.toml" "$assembled/$id/manifest.toml"
        cp "$target/$profile/$lib" "$assembled/$id/$lib"
    done
fi
for bundle in "$assembled"/posdiag.*; do
    [ -d "$bundle" ] || continue
    cp -R "$bundle" "$stage/plugins/"
done
rm -rf "$assembled"
chmod -R u=rwX,go=rX "$stage/plugins"

# Man pages and completions, generated from the command lines.
"$target/$profile/posdiag-dist" "$stage" >&2
cp deploy/man/posdiagd.toml.5 "$stage/man/"
for page in "$stage"/man/*.[0-9]; do
    gzip -9n "$page"
done

mkdir -p "$out"
# cargo-deb strips the binaries (the debug profile's line tables included). A debug package
# is for tests: --fast compresses in seconds instead of minutes.
fast=
[ "$profile" = release ] || fast=--fast
# shellcheck disable=SC2086
CARGO_TARGET_DIR=$deb_target "$cargo" deb -p posdiagd --no-build --strip $fast --output "$out" >/dev/null
deb=$(ls -t "$out"/posdiag_*.deb | head -n 1)
echo "$deb"
