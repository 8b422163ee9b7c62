#!/bin/sh
# SPDX-License-Identifier: MIT
#
# build-go.sh build|test OUT PROTO SRCDIR WORKDIR - meson's way into Go.
#
# Go in GOPATH mode against Debian's packaged sources (/usr/share/gocode:
# golang-google-grpc-dev, golang-goprotobuf-dev), offline: no module
# download, ever. The device plugin API's Go code is generated here, at
# build time, from k8s/api/v1beta1/api.proto with
#   protoc --go_out=plugins=grpc,paths=source_relative:DIR api.proto
# into WORKDIR/gopath/src/k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1, the
# import path the published API has, so the Go code reads like any other
# device plugin's. Then "go build" (or "go test") of the package in SRCDIR,
# a static binary (CGO_ENABLED=0: it runs in any container image).
# GOCACHE lives in WORKDIR; GOFLAGS and a user's go env are ignored.
set -eu
mode=$1 out=$2 proto=$3 src=$4 work=$5
gocode=${CONTIG_GOCODE:-/usr/share/gocode}
# Relative paths are the caller's (meson runs this in the build directory).
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
case $work in /*) ;; *) work=$(pwd)/$work ;; esac

api=$work/gopath/src/k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1
mkdir -p "$api"
# Generated beside, renamed into place: two builds sharing WORKDIR (the
# plugin and the test's fake kubelet) never see half a file.
if [ ! -f "$api/api.pb.go" ] || [ "$proto" -nt "$api/api.pb.go" ]; then
    tmp=$(mktemp -d "$work/protoc.XXXXXX")
    protoc -I "$(dirname "$proto")" --go_out="plugins=grpc,paths=source_relative:$tmp" "$proto"
    mv -f "$tmp/api.pb.go" "$api/api.pb.go"
    rmdir "$tmp"
fi

unset GOFLAGS GOROOT
export GO111MODULE=off GOENV=off GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0
# A shared cache where the caller names one (scripts/contig.sh: one for
# every build directory it makes), else one per build directory.
export GOPATH="$work/gopath:$gocode" GOCACHE="${CONTIG_GOCACHE:-$work/gocache}"
cd "$src"
case $mode in
build) exec go build -trimpath -o "$out" . ;;
test) exec go test -count=1 . ;;
*) echo "build-go.sh: unknown mode $mode" >&2; exit 2 ;;
esac
