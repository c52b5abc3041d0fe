#!/bin/sh
# azd postprovision hook: create the secrets the app generates itself, once. The sender-hash key keys the HMAC of
# sender domains (the Feast entity key): rotating it orphans every online feature, so an existing value is kept.
# The value is written from a private temporary file, never passed on a command line.
set -eu
. "$(dirname "$0")/keyVaultAccess.sh"

: "${AZURE_KEY_VAULT_NAME:?run through azd, or export the azd environment (azd env get-values)}"
: "${AZURE_SENDER_HASH_KEY_SECRET_NAME:?}"

secret_exists() {
  az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$1" --query id -o tsv >/dev/null 2>&1
}

if secret_exists "$AZURE_SENDER_HASH_KEY_SECRET_NAME"; then
  echo "Key Vault secret $AZURE_SENDER_HASH_KEY_SECRET_NAME exists; kept."
  exit 0
fi

umask 077
file=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$file" "$errors"' EXIT
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$file"

# The deployer's Key Vault Secrets Officer role can take a few minutes to propagate after provisioning; a firewall
# refusal does not go away by waiting.
attempt=0
until az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$AZURE_SENDER_HASH_KEY_SECRET_NAME" \
  --file "$file" --encoding utf-8 --output none 2>"$errors"; do
  if keyvault_refused "$errors" postprovision; then exit 1; fi
  attempt=$((attempt + 1))
  [ "$attempt" -lt 20 ] || { echo "Could not write $AZURE_SENDER_HASH_KEY_SECRET_NAME to $AZURE_KEY_VAULT_NAME" >&2; exit 1; }
  echo "Waiting for Key Vault access ($attempt/20)..."
  sleep "${HOOK_RETRY_SECONDS:-15}"
done
echo "Created Key Vault secret $AZURE_SENDER_HASH_KEY_SECRET_NAME (64 hex characters)."
