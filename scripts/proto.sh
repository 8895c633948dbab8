#!/usr/bin/env bash
# Regenerates the Go code of the lock driver contract (lockdriver.v1).
#
#   scripts/proto.sh            install the tools if missing, then generate
#   scripts/proto.sh tools      only install the tools
#   PROTO_OUT=dir scripts/proto.sh   generate into dir instead of the tree
#                                    (used by the staleness test)
#
# protoc comes from Debian (apt-get, needs root); protoc-gen-go and
# protoc-gen-go-grpc are pinned and installed into ./.tools.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${ROOT}/.tools"
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.5.1
GO="${GO:-go}"

install_tools() {
	if ! command -v protoc >/dev/null 2>&1; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "proto.sh: installing protoc from Debian" >&2
			apt-get update -qq >/dev/null
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
		else
			echo "proto.sh: protoc not found; install it (Debian: apt-get install protobuf-compiler)" >&2
			exit 1
		fi
	fi
	mkdir -p "${TOOLS}"
	if ! "${TOOLS}/protoc-gen-go" --version 2>/dev/null | grep -q "${PROTOC_GEN_GO_VERSION}"; then
		GOBIN="${TOOLS}" "${GO}" install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
	fi
	if ! "${TOOLS}/protoc-gen-go-grpc" --version 2>/dev/null | grep -q "${PROTOC_GEN_GO_GRPC_VERSION#v}"; then
		GOBIN="${TOOLS}" "${GO}" install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${PROTOC_GEN_GO_GRPC_VERSION}"
	fi
}

generate() {
	local src="${ROOT}/lockdrivers/proto"
	local out="${PROTO_OUT:-${src}}"
	mkdir -p "${out}"
	PATH="${TOOLS}:${PATH}" protoc \
		--proto_path="${src}" \
		--go_out="${out}" --go_opt=paths=source_relative \
		--go-grpc_out="${out}" --go-grpc_opt=paths=source_relative \
		lockdriver/v1/lockdriver.proto
}

install_tools
if [ "${1:-}" != "tools" ]; then
	generate
fi
