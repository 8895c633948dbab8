#!/usr/bin/env bash
# make run: the quick start. Starts the iLOQ, CLIQ and PROTEC2 simulators
# (locksim), writes examples/quickstart/data/keyward.yaml with the driver
# plugins' SHA-256 pins, applies the example estate, serves keyward, replays the
# IGA's joiners through SCIM on the first run, and prints what to try next.
# Ctrl-C stops everything; a second run reuses the data and the credentials.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
qs=$root/examples/quickstart
data=$qs/data
bin=$root/bin
cfg=$data/keyward.yaml
mkdir -p "$data/sim" "$data/logs"

# What the printed commands need.
need=()
command -v curl >/dev/null || need+=(curl)
command -v ldapsearch >/dev/null || need+=(ldap-utils)
if ((${#need[@]})); then
	echo "installing ${need[*]} for the commands printed below"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

for b in keyward locksim lockdriver-iloq lockdriver-cliq lockdriver-protec2; do
	[ -x "$bin/$b" ] || { echo "missing $bin/$b: run make run (it builds first)" >&2; exit 1; }
done

pids=()
stop() {
	trap - INT TERM EXIT
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	echo "stopped (data kept in $data)"
}
trap stop EXIT
trap 'exit 130' INT TERM

# 1. The simulators, seeded from the estate (examples/quickstart/seeds).
rm -f "$data/sim/locksim.json"
"$bin/locksim" -seeds "$qs/seeds" -certs "$data/sim" -info "$data/sim/locksim.json" >"$data/logs/locksim.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	[ -s "$data/sim/locksim.json" ] && break
	kill -0 "${pids[0]}" 2>/dev/null || { cat "$data/logs/locksim.log" >&2; exit 1; }
	sleep 0.1
done
[ -s "$data/sim/locksim.json" ] || { echo "locksim did not start" >&2; exit 1; }
printf 'secret' >"$data/sim/iloq-password"
chmod 600 "$data/sim/iloq-password"

# 2. The configuration: the template, the pinned drivers, the simulators.
pin() { sha256sum "$1" | cut -d' ' -f1; }
indent() { sed 's/^/        /' "$1"; }
{
	echo "# Written by scripts/run-quickstart.sh from ../keyward.yaml on every make run; do not edit."
	sed -e 's#path: data/keyward.db#path: keyward.db#' "$qs/keyward.yaml" | grep -v '^#'
	cat <<YAML
lock_systems:
  - id: iloq-north
    binary: $bin/lockdriver-iloq
    sha256: $(pin "$bin/lockdriver-iloq")
    config:
      managerUrl: http://127.0.0.1:8701
      customerCode: ILOQ_SIM
      userName: api.user
    secrets:
      password: {file: sim/iloq-password}
YAML
	for ls in cliq-south:cliq:8711 protec2-east:protec2:8721; do
		IFS=: read -r id name port <<<"$ls"
		cat <<YAML
  - id: $id
    binary: $bin/lockdriver-$name
    sha256: $(pin "$bin/lockdriver-$name")
    config:
      url: https://127.0.0.1:$port
      revalidationDays: 1
      caCertificatePEM: |
$(indent "$data/sim/$name/ca.pem")
    secrets:
      client_certificate: {file: sim/$name/client.p12.b64}
      client_certificate_passphrase: {file: sim/$name/client.pass}
YAML
	done
} >"$cfg.tmp"
mv "$cfg.tmp" "$cfg"

# 3. The estate, then keyward.
"$bin/keyward" -c "$cfg" apply -f "$qs/estate.yaml" --by quickstart | tail -n 1
addr=$(awk '/^http:/ {h=1} h && /addr:/ {print $2; exit}' "$cfg")
"$bin/keyward" -c "$cfg" serve >"$data/logs/keyward.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
	curl -fs "http://$addr/readyz" >/dev/null 2>&1 && break
	kill -0 "${pids[1]}" 2>/dev/null || { tail -n 20 "$data/logs/keyward.log" >&2; exit 1; }
	sleep 0.1
done
curl -fs "http://$addr/readyz" >/dev/null || { echo "keyward did not become ready" >&2; exit 1; }
token=$(cat "$data/scim-token")
scim=http://$addr/scim/v2

# 4. The IGA's joiners, through SCIM, on the first run only.
if [ ! -e "$data/iga-replayed" ]; then
	n=0
	while IFS= read -r user; do
		code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$scim/Users" -H "Authorization: Bearer $token" \
			-H 'Content-Type: application/scim+json' --data-binary "$user")
		case $code in 201 | 409) n=$((n + 1)) ;; *) echo "SCIM POST /Users answered $code" >&2 ;; esac
	done <"$qs/seeds/people.jsonl"
	echo "replayed the IGA: $n joiners through SCIM"
	touch "$data/iga-replayed"
fi

ldapdn=$(awk '/^ldap:/ {l=1} l && /base_dn:/ {print $2; exit}' "$cfg")
ldaps=$(awk '/^ldap:/ {l=1} l && /tls_addr:/ {print $2; exit}' "$cfg")
cat <<TEXT

keyward is running (logs: examples/quickstart/data/logs/; Ctrl-C stops keyward and the simulators).

  SCIM base URL:  $scim
  bearer token:   $token
  LDAP URL:       ldaps://$ldaps  (CA: $data/ldap-cert.pem)
  bind DN:        cn=quickstart,ou=system,$ldapdn
  password file:  $data/ldap-quickstart.secret

Try:

  curl -s -H 'Authorization: Bearer $token' '$scim/Users?filter=userName%20eq%20%22eero.virtanen@northgrid.example%22'

  LDAPTLS_CACERT=$data/ldap-cert.pem ldapsearch -x -H ldaps://$ldaps -D 'cn=quickstart,ou=system,$ldapdn' -y $data/ldap-quickstart.secret -b 'ou=people,$ldapdn' '(uid=eero.virtanen@northgrid.example)' uid cn memberOf

  $bin/keyward -c $cfg why --identity eero.virtanen@northgrid.example --entitlement north-substations

TEXT
wait "${pids[1]}"
