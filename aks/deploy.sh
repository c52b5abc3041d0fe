#!/bin/sh
# Applies aks/ to the current kubectl context with every ${AZURE_...} placeholder filled from the azd environment
# (the Bicep outputs of main.bicep), and refuses to apply anything while a placeholder is left or a value does not
# have the shape its field needs: a forgotten client ID would otherwise apply cleanly and fail only at run time.
#
#   aks/deploy.sh            render, check, `kubectl apply --dry-run=server`, then `kubectl apply`
#   aks/deploy.sh --render   render and check only; print the manifests
#
# The values come from the process environment; when AZURE_ENV_NAME is not set and azd is installed, from
# `azd env get-values` of the current azd environment. Nothing is printed or applied when a check fails.
set -eu

usage() {
  echo "usage: aks/deploy.sh [--render]" >&2
  exit 2
}

mode=apply
case "${1:-}" in
  '') ;;
  --render) mode=render ;;
  *) usage ;;
esac
[ $# -le 1 ] || usage

if [ -z "${AZURE_ENV_NAME:-}" ] && command -v azd >/dev/null 2>&1; then
  set -a
  eval "$(azd env get-values)"
  set +a
fi

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

guid='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
octet='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
ipv4="$octet\.$octet\.$octet\.$octet"

# The extended regular expression a placeholder's value must match in full; empty for a name not known here.
pattern_of() {
  case "$1" in
    AZURE_KSERVE_IDENTITY_CLIENT_ID | AZURE_TRAINER_IDENTITY_CLIENT_ID | AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID) echo "$guid" ;;
    AZURE_KSERVE_INGRESS_PRIVATE_IP) echo "$ipv4" ;;
    AZURE_FUNCTIONS_SUBNET_PREFIX) echo "$ipv4/([0-9]|[12][0-9]|3[0-2])" ;;
    AZURE_STORAGE_ACCOUNT_NAME) echo '[a-z0-9]{3,24}' ;;
    # The models container URL, with the slash the manifests append the version's path to.
    AZURE_KSERVE_STORAGE_URI) echo 'https://[a-z0-9]{3,24}\.blob\.[a-z0-9.]+/models/' ;;
    AZURE_CONTAINER_REGISTRY_ENDPOINT) echo '[a-zA-Z0-9]{5,50}\.azurecr\.[a-z.]+' ;;
    *) echo '' ;;
  esac
}

kubectl kustomize "$here" >"$work/raw.yaml"

errors="$work/errors"
script="$work/fill.sed"
: >"$errors"
: >"$script"
for name in $(grep -o '\${[A-Za-z_][A-Za-z0-9_]*}' "$work/raw.yaml" | sed 's/^\${\(.*\)}$/\1/' | sort -u); do
  pattern=$(pattern_of "$name")
  value=$(printenv "$name" || true)
  if [ -z "$pattern" ]; then
    printf '  ${%s}: not a placeholder aks/deploy.sh knows (add it to pattern_of)\n' "$name" >>"$errors"
  elif [ -z "$value" ]; then
    printf '  ${%s}: %s is not set (an output of bicep/main.bicep: run azd provision, or export the azd environment)\n' "$name" "$name" >>"$errors"
  elif [ "$(printf '%s' "$value" | wc -l)" -ne 0 ] || ! printf '%s' "$value" | grep -Eqx "$pattern" ||
    [ "$value" = "00000000-0000-0000-0000-000000000000" ]; then
    printf "  \${%s}: '%s' is not a valid value of %s\n" "$name" "$value" "$name" >>"$errors"
  else
    # The value matched a pattern without '|', '&' or '\', so it is literal in the replacement.
    printf 's|\\${%s}|%s|g\n' "$name" "$value" >>"$script"
  fi
done
if [ -s "$errors" ]; then
  echo 'aks/deploy.sh: refusing to apply aks/:' >&2
  cat "$errors" >&2
  exit 1
fi

sed -f "$script" "$work/raw.yaml" >"$work/aks.yaml"

# Whatever the substitution missed, and the all-zero ID that older copies of these manifests carried.
left=$(grep -n -E '\$\{[A-Za-z_][A-Za-z0-9_]*\}|00000000-0000-0000-0000-000000000000' "$work/aks.yaml" || true)
if [ -n "$left" ]; then
  printf 'aks/deploy.sh: refusing to apply aks/, placeholders left:\n%s\n' "$left" >&2
  exit 1
fi

if [ "$mode" = render ]; then
  cat "$work/aks.yaml"
  exit 0
fi

# The server-side dry run is the check this repository cannot make: CRDs, admission webhooks, unknown fields.
kubectl apply --dry-run=server -f "$work/aks.yaml"
kubectl apply -f "$work/aks.yaml"
