#!/usr/bin/env bash
# Install the Debian packages imbench needs, only those missing, and say which.
# Usage: scripts/deps.sh [extra-package...]
set -euo pipefail
pkgs=(build-essential pkg-config libyaml-dev libsqlite3-dev sqlite3 libfftw3-dev
      libpapi-dev papi-tools libopenmpi-dev openmpi-bin libhdf5-dev libcfitsio-dev
      libjansson-dev gnuplot-nox libcmocka-dev clang libclang-rt-14-dev python3-astropy python3-spectral-cube libxml2-utils
      casacore-dev python3-casacore wsclean clang-tidy cppcheck slurm-wlm munge libsimgrid-dev help2man "$@")
missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#pkgs[@]} packages present"
    exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${#missing[@]} package(s)"
