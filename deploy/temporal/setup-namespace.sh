#!/bin/sh
# One-shot (temporalio/admin-tools): create peyvand's namespace and register its search attributes.
#
# Idempotent: an existing namespace is kept as it is, and only the search attributes the namespace
# does not list yet are created. An attribute that exists with another type makes `create` fail,
# and so this service, so the workers never start against a namespace they cannot write to.
#
# Environment:
#   TEMPORAL_ADDRESS   frontend, e.g. temporal:7233
#   NAMESPACE          e.g. peyvand; must equal PEYVAND_TEMPORAL_NAMESPACE
#   RETENTION          how long closed workflows' histories are kept, e.g. 720h
#   SEARCH_ATTRIBUTES  "Name=Type ..." (the test compares it with workflows/search_attributes.ALL)
set -eu

: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${RETENTION:?}" "${SEARCH_ATTRIBUTES:?}"

# The frontend by its IPv4 address: a name that also resolves to IPv6 can make the CLI's
# connection fail inside a compose network.
host=${TEMPORAL_ADDRESS%:*}
port=${TEMPORAL_ADDRESS##*:}
ip=$(getent ahostsv4 "${host}" 2>/dev/null | awk 'NR == 1 { print $1 }')
address="${ip:-${host}}:${port}"
t() { temporal "$@" --address "${address}"; }

echo "waiting for Temporal at ${TEMPORAL_ADDRESS} (${address}) ..."
tries=0
until t operator cluster health >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "Temporal did not become healthy" >&2
    exit 1
  fi
  sleep 2
done

if t operator namespace describe --namespace "${NAMESPACE}" >/dev/null 2>&1; then
  echo "namespace ${NAMESPACE} exists"
else
  t operator namespace create --namespace "${NAMESPACE}" --retention "${RETENTION}"
  # A new namespace reaches every frontend through its cache; wait until it answers.
  tries=0
  until t operator namespace describe --namespace "${NAMESPACE}" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then
      echo "namespace ${NAMESPACE} did not appear" >&2
      exit 1
    fi
    sleep 2
  done
fi

known=$(t operator search-attribute list --namespace "${NAMESPACE}")
for item in ${SEARCH_ATTRIBUTES}; do
  name=${item%%=*}
  kind=${item#*=}
  if printf '%s\n' "${known}" | grep -qw -- "${name}"; then
    echo "search attribute ${name} exists"
  else
    t operator search-attribute create --namespace "${NAMESPACE}" --name "${name}" --type "${kind}"
  fi
done
echo "namespace ${NAMESPACE} is ready"
