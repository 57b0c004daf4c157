#!/usr/bin/env bash
# Installs and builds the four independent QUIC stacks of the interop matrix (and Caddy), from Debian
# packages and the npm registry only, into a work dir OUTSIDE the repository:
#
#   QP_PEERS_DIR (default ${TMPDIR:-/tmp}/quic-peer-peers)
#     bin/qgpeer                  quic-go 0.29 peer program (test/peers/quic-go/qgpeer.go), GOPATH build, offline
#     quinn-target/release/qnpeer quinn 0.9 peer program (test/peers/quinn), cargo build --offline
#     matrixai-npm/               @matrixai/quic 2.0.9 (quiche 0.18 + BoringSSL, napi), npm install
#     certs/                      test certificates (openssl): p256, ed25519, rsa, a CA and a client cert
#     peers.json                  what is installed, read by the matrix runner (test/peers/matrix.ts)
#
# ngtcp2's example programs (gtlsserver/gtlsclient) and Caddy come from apt as they are.
# @matrixai/quic is installed here rather than as a devDependency: it is a ~30 MB native binary that
# only the matrix needs, and `npm ci` stays light for everyone else (and for the runtime checks).
#
# Usage: bash test/peers/install.sh [--no-apt] [stack...]   (stacks: ngtcp2 quic-go quinn quiche caddy)
# Exit status 0 when every requested stack is ready. Nothing here sends a packet: builds are offline.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=${QP_PEERS_DIR:-${TMPDIR:-/tmp}/quic-peer-peers}
APT=1
STACKS=()
for a in "$@"; do
  case $a in
    --no-apt) APT=0 ;;
    ngtcp2|quic-go|quinn|quiche|caddy) STACKS+=("$a") ;;
    *) echo "install.sh: unknown argument '$a' (stacks: ngtcp2 quic-go quinn quiche caddy)" >&2; exit 2 ;;
  esac
done
[ ${#STACKS[@]} -eq 0 ] && STACKS=(ngtcp2 quic-go quinn quiche caddy)
mkdir -p "$WORK/bin" "$WORK/logs"
log() { printf '%s peers: %s\n' "$(date -u +%T)" "$*"; }
FAILED=()

apt_install() { # only what is missing; apt-get update only when the lists are older than sources.list
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$APT" = 1 ] || { log "missing packages ${missing[*]} (and --no-apt)"; return 1; }
  if [ -z "$(find /var/lib/apt/lists -name '*Packages*' -newer /etc/apt/sources.list 2>/dev/null | head -1)" ]; then
    apt-get update -qq >"$WORK/logs/apt-update.log" 2>&1 || true
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$WORK/logs/apt.log" 2>&1
}

make_certs() {
  local d=$WORK/certs; mkdir -p "$d"
  local san="DNS:localhost,IP:127.0.0.1,IP:::1"
  [ -s "$d/ed25519.crt" ] || openssl req -x509 -newkey ed25519 -nodes -keyout "$d/ed25519.key" -out "$d/ed25519.crt" -days 3650 -subj /CN=localhost -addext "subjectAltName=$san" 2>/dev/null
  [ -s "$d/p256.crt" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/p256.key" -out "$d/p256.crt" -days 3650 -subj /CN=localhost -addext "subjectAltName=$san" 2>/dev/null
  [ -s "$d/rsa.crt" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/rsa.key" -out "$d/rsa.crt" -days 3650 -subj /CN=localhost -addext "subjectAltName=$san" 2>/dev/null
  # a CA, a server leaf and a client leaf it signed (mutual authentication, verified mode)
  if [ ! -s "$d/client.crt" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" -days 3650 \
      -subj "/CN=quic-peer matrix CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    leaf() { # leaf NAME CN SAN EKU
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$1.key" -out "$d/$1.csr" -subj "/CN=$2" 2>/dev/null &&
      printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' "$4" "$3" > "$d/$1.ext" &&
      openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 3650 -extfile "$d/$1.ext" -out "$d/$1.crt" 2>/dev/null
    }
    leaf server localhost "$san" serverAuth
    leaf client client "DNS:client" clientAuth
  fi
  [ -s "$d/p256.crt" ] && [ -s "$d/server.crt" ] && [ -s "$d/client.crt" ]
}

build_quic_go() {
  apt_install golang-go golang-github-lucas-clemente-quic-go-dev || return 1
  local gp=$WORK/go qg=/usr/share/gocode/src/github.com/lucas-clemente/quic-go
  mkdir -p "$gp/src/github.com/lucas-clemente"
  [ -d "$gp/src/github.com/lucas-clemente/quic-go" ] || cp -rs "$qg" "$gp/src/github.com/lucas-clemente/quic-go"
  # inside the quic-go tree, so that the peer may set internal/handshake.KeyUpdateInterval
  mkdir -p "$gp/src/github.com/lucas-clemente/quic-go/cmd/qgpeer"
  cp "$HERE/quic-go/qgpeer.go" "$gp/src/github.com/lucas-clemente/quic-go/cmd/qgpeer/main.go"
  ( cd "$gp/src/github.com/lucas-clemente/quic-go/cmd/qgpeer" &&
    GO111MODULE=off GOPATH="$gp:/usr/share/gocode" GOCACHE="$gp/cache" GOFLAGS= GOPROXY=off \
    nice go build -p 1 -o "$WORK/bin/qgpeer" . ) >"$WORK/logs/quic-go-build.log" 2>&1
}

build_quinn() {
  apt_install cargo rustc librust-quinn-dev librust-rustls-pemfile-dev || return 1
  local src=$WORK/quinn-src
  rm -rf "$src"; mkdir -p "$src"; cp -r "$HERE/quinn/." "$src/"
  # Debian's cargo on purpose: a rustup cargo would rewrite Cargo.lock to a newer format.
  ( cd "$src" && PATH=/usr/bin:/bin CARGO_HOME=$WORK/cargo-home CARGO_TARGET_DIR=$WORK/quinn-target \
    nice /usr/bin/cargo build --release --offline -j "${QUINN_JOBS:-2}" ) >"$WORK/logs/quinn-build.log" 2>&1
}

install_quiche() {
  local mx=$WORK/matrixai-npm
  mkdir -p "$mx"
  [ -f "$mx/node_modules/@matrixai/quic-linux-x64/node.napi.node" ] && return 0
  ( cd "$mx" && { [ -f package.json ] || echo '{"name":"qp-matrixai","private":true}' > package.json; } &&
    npm install --no-audit --no-fund --no-progress @matrixai/quic@2.0.9 ) >"$WORK/logs/quiche-npm.log" 2>&1 &&
    [ -f "$mx/node_modules/@matrixai/quic-linux-x64/node.napi.node" ]
}

apt_install openssl >/dev/null 2>&1 || true
make_certs || { log "cannot make certificates (openssl?)"; exit 1; }
for s in "${STACKS[@]}"; do
  t0=$(date +%s)
  case $s in
    ngtcp2) apt_install ngtcp2-server ngtcp2-client ;;
    quic-go) build_quic_go ;;
    quinn) build_quinn ;;
    quiche) install_quiche ;;
    caddy) apt_install caddy ;;
  esac
  if [ $? -eq 0 ]; then log "$s ready ($(( $(date +%s) - t0 )) s)"; else log "$s FAILED (logs in $WORK/logs)"; FAILED+=("$s"); fi
done

# The manifest: every stack whose programs exist, whatever this run asked for.
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }
{
  echo '{'
  echo "  \"dir\": \"$WORK\","
  echo "  \"certs\": \"$WORK/certs\","
  sep=''
  echo '  "stacks": {'
  if command -v gtlsserver >/dev/null && command -v gtlsclient >/dev/null; then
    printf '%s    "ngtcp2": { "version": "%s", "server": "%s", "client": "%s" }' "$sep" "$(ver ngtcp2-server)" "$(command -v gtlsserver)" "$(command -v gtlsclient)"; sep=$',\n'
  fi
  if [ -x "$WORK/bin/qgpeer" ]; then
    printf '%s    "quic-go": { "version": "%s", "program": "%s" }' "$sep" "$(ver golang-github-lucas-clemente-quic-go-dev)" "$WORK/bin/qgpeer"; sep=$',\n'
  fi
  if [ -x "$WORK/quinn-target/release/qnpeer" ]; then
    printf '%s    "quinn": { "version": "%s", "program": "%s" }' "$sep" "$(ver librust-quinn-dev)" "$WORK/quinn-target/release/qnpeer"; sep=$',\n'
  fi
  if [ -f "$WORK/matrixai-npm/node_modules/@matrixai/quic-linux-x64/node.napi.node" ]; then
    printf '%s    "quiche": { "version": "@matrixai/quic 2.0.9", "program": "%s", "dir": "%s" }' "$sep" "$HERE/matrixai/mxpeer.mjs" "$WORK/matrixai-npm"; sep=$',\n'
  fi
  if command -v caddy >/dev/null; then
    printf '%s    "caddy": { "version": "%s", "program": "%s" }' "$sep" "$(ver caddy)" "$(command -v caddy)"; sep=$',\n'
  fi
  printf '\n  }\n}\n'
} > "$WORK/peers.json.tmp" && mv "$WORK/peers.json.tmp" "$WORK/peers.json"
log "manifest $WORK/peers.json"
if [ ${#FAILED[@]} -gt 0 ]; then log "not ready: ${FAILED[*]}"; exit 1; fi
exit 0
