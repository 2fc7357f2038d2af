#!/usr/bin/env bash
# Creates .venv (make install). Building it is slow (torch and ~150 packages: about two
# minutes of pip), so a finished one is kept under ~/.cache/devmesh/venv/KEY, KEY = a hash
# of pyproject.toml + the Python version, and a new clone takes a hard-linked copy of it
# (a second) and re-points its scripts and the editable install at itself. Nothing is ever
# written into a cached file: pip replaces files (unlink + new), sed -i writes new files,
# Python writes its .pyc files by rename. A cache older than DEVMESH_VENV_CACHE_DAYS (7) is
# built again, so what the index serves today still reaches the venv within a week.
set -euo pipefail
VENV=${1:-.venv}
here=$(pwd -P)
venv_abs="$here/$VENV"
python=${PYTHON:-python3}
pyver=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
key="$(sha256sum pyproject.toml | cut -c1-16)-py$pyver"
root="${DEVMESH_CACHE_DIR:-$HOME/.cache/devmesh}/venv"
cache="$root/$key"
max_days=${DEVMESH_VENV_CACHE_DAYS:-7}

copy_tree() {      # hard links when on one file system, a real copy otherwise
    cp -al "$1" "$2" 2>/dev/null || { rm -rf "$2"; cp -a "$1" "$2"; }
}

fresh_cache() {
    [ -f "$cache/.complete" ] && [ -n "$(find "$cache/.complete" -mtime -"$max_days" 2>/dev/null)" ]
}

if [ ! -e "$VENV/bin/python" ] && fresh_cache; then
    origin=$(cat "$cache/.complete")
    echo "virtualenv: a copy of the one cached for this pyproject.toml ($cache)"
    copy_tree "$cache" "$VENV"
    rm -f "$VENV/.complete" "$VENV/.installed"
    grep -l -F "$origin" "$VENV"/bin/* 2>/dev/null | while read -r f; do
        sed -i "s|$origin|$venv_abs|g" "$f"
    done || true
    # the editable install now points at this clone (no resolving: the packages are there)
    "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e . 2>&1 | grep -v -e '^WARNING: Location' -e '^ *$' >&2 || true
    "$VENV/bin/python" -c "import agents, sys; assert agents.__file__.startswith('$here/'), agents.__file__" \
        && exit 0
    echo "virtualenv: the cached copy does not import from this clone; building it instead" >&2
    rm -rf "$VENV"
fi

# torch 2.13.0 first: it is the CPU build already on disk; an unpinned torch pulls GBs of CUDA.
test -x "$VENV/bin/python" || "$python" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q torch==2.13.0
"$VENV/bin/pip" install -q -e '.[test]'

# keep it for the next clone (only this key: older ones go), put in place by one rename
mkdir -p "$root"
tmp="$root/.building-$$"
rm -rf "$tmp"
copy_tree "$VENV" "$tmp"
rm -f "$tmp/.installed"
echo "$venv_abs" > "$tmp/.complete"
find "$root" -mindepth 1 -maxdepth 1 ! -name "$key" ! -name ".building-*" -exec rm -rf {} +
rm -rf "$cache"
mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp"
