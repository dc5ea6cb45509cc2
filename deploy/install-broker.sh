#!/usr/bin/env bash
# Installs tansu, the Kafka-protocol broker that Tenure runs as its embedded broker
# (a managed child process), once per machine. Building it takes ~12 minutes; the
# features are the ones its memory:// and sqlite:// storage engines need.
set -euo pipefail

TANSU_VERSION="${TANSU_VERSION:-0.6.0}"
export PATH="$HOME/.cargo/bin:$PATH"

if command -v tansu >/dev/null 2>&1 && tansu --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    echo "tansu $TANSU_VERSION is installed at $(command -v tansu)"
    exit 0
fi
echo "installing tansu $TANSU_VERSION (about 12 minutes, once per machine)..."
cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore,libsql
