#!/usr/bin/env bash
# Everything the book and its tests need, on a fresh machine with Python 3.11, from a clone:
#   1. the Debian packages listed in apt.txt (Chromium for the browser tests, Fashion-MNIST
#      for Part II), installed as root or through sudo, skipped where already installed;
#   2. a virtual environment .venv (made if missing) with requirements.txt.
# The README's two commands run it first; so does .ci/run. Nothing else installs anything.
# Without apt (macOS, Windows) step 1 says what to do instead and the script goes on.
set -euo pipefail
cd "$(dirname "$0")"

packages=()
while read -r line; do
  line="${line%%#*}"
  [ -n "${line// /}" ] && packages+=($line)
done < apt.txt

if command -v dpkg >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in "${packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
      sudo=()
    elif command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "install.sh: apt.txt needs ${missing[*]}, and this user is not root and has no sudo." >&2
      echo "Ask an administrator for: apt-get install ${missing[*]}" >&2
      exit 1
    fi
    echo "== apt.txt: installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  cat <<'NOTE'
== no apt on this machine: apt.txt's packages are yours to provide.
   Fashion-MNIST: put train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz (from
   github.com/zalandoresearch/fashion-mnist, folder data/fashion) in a folder; export BATCHSTEPS_DATA=<it>.
   Browser tests: they drive Chromium at /usr/bin/chromium, and skip with a message without it.
NOTE
fi

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "== making the virtual environment .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
echo "== requirements.txt into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt
# JupyterLab opens the chapters (MyST markdown) as notebooks: the same setting Binder gets
# from postBuild.
mkdir -p .venv/share/jupyter/lab/settings
cp lab/overrides.json .venv/share/jupyter/lab/settings/overrides.json
