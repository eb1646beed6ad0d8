# Sourced by scripts/sil and scripts/test: make .venv and keep its install in step with pyproject.
# Expects to run from the repository root.

if [ ! -x .venv/bin/python ]; then
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        echo "python3's venv module is missing; install it with:" >&2
        echo "    sudo apt-get install -y python3-venv" >&2
        exit 1
    fi
    echo "creating .venv ..." >&2
    python3 -m venv --clear .venv
fi

stamp=.venv/.isru-installed
if [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "installing isru-payload and its test tools into .venv ..." >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
    touch "$stamp"
fi
