# Sourced by scripts/sil and scripts/test: make .venv and keep its install in step with pyproject.
# Also defines ensure_mosquitto (scripts/test calls it). Expects to run from the repository root.

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

# ensure_mosquitto: install the mosquitto broker (the tests start real ones on free ports) when it
# is missing. Debian puts it in /usr/sbin, which is not on a normal user's PATH, so look there too.
# Installing the Debian package also starts its system service on port 1883; nothing here uses or
# stops it.
have_mosquitto() {
    command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || [ -x /usr/local/sbin/mosquitto ]
}
ensure_mosquitto() {
    have_mosquitto && return 0
    local install='apt-get update -qq && apt-get install -y -qq mosquitto mosquitto-clients'
    echo "mosquitto is missing; installing it ..." >&2
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive sh -c "$install" >&2 || true
    elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        sudo DEBIAN_FRONTEND=noninteractive sh -c "$install" >&2 || true
    fi
    if ! have_mosquitto; then
        echo "mosquitto is required by the tests; install it with: sudo apt-get install -y mosquitto mosquitto-clients" >&2
        exit 1
    fi
}
