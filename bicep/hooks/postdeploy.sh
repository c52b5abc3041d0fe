#!/bin/sh
# azd postdeploy hook, safe to run again:
# 1. one Event Grid subscription per blob-triggered function, on the storage account's system topic, delivering
#    BlobCreated events for the trigger's container and path prefix to the function's webhook. The functions come
#    from the registrations in the compiled code (tools/cli/azureBindings.ts), so a new blob trigger gets its
#    subscription without touching this script; `create` replaces a subscription of the same name;
# 2. the app's default function key in Key Vault (PROMOTION_GATEWAY_KEY: the promotion's smoke evaluation calls
#    the function-level predict endpoint like any caller), restarting the app when the stored key changed. Never
#    the master key: that one stays with the operators (docs/deploy.md, "Keys").
set -eu
. "$(dirname "$0")/keyVaultAccess.sh"

: "${AZURE_RESOURCE_GROUP:?run through azd, or export the azd environment (azd env get-values)}"
: "${AZURE_FUNCTION_APP_NAME:?}"
: "${AZURE_EVENTGRID_SYSTEM_TOPIC_NAME:?}"
: "${AZURE_KEY_VAULT_NAME:?}"
: "${AZURE_GATEWAY_KEY_SECRET_NAME:?}"

store_gateway_key() {
  function_key=$(az functionapp keys list -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" --query "functionKeys.default" -o tsv)
  errors=$(mktemp)
  stored=$(az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$AZURE_GATEWAY_KEY_SECRET_NAME" --query value -o tsv 2>"$errors" || true)
  if keyvault_refused "$errors" postdeploy; then
    rm -f "$errors"
    exit 1
  fi
  if [ -n "$function_key" ] && [ "$function_key" != "$stored" ]; then
    old_umask=$(umask)
    umask 077
    file=$(mktemp)
    printf '%s' "$function_key" >"$file"
    umask "$old_umask"
    az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$AZURE_GATEWAY_KEY_SECRET_NAME" --file "$file" --encoding utf-8 --output none
    rm -f "$file"
    # Key Vault references are read at start: restart so PROMOTION_GATEWAY_KEY resolves to the new value.
    az functionapp restart -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" --output none
    echo "Stored the default function key as $AZURE_GATEWAY_KEY_SECRET_NAME and restarted the app."
  fi
  rm -f "$errors"
}

cd "$(dirname "$0")/../.."
[ -f dist/tools/cli/azureBindings.js ] || npm run build

subscriptions=$(npm exec --silent -- node dist/tools/cli/azureBindings.js event-grid)
if [ -z "$subscriptions" ]; then
  echo "No blob-triggered functions: no Event Grid subscription to create."
  store_gateway_key
  exit 0
fi

# The blobs_extension system key appears once the host has started with a blob trigger: wait for it.
retry_seconds=${HOOK_RETRY_SECONDS:-10}
key=""
attempt=0
while [ -z "$key" ] && [ "$attempt" -lt 30 ]; do
  key=$(az functionapp keys list -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" \
    --query "systemKeys.blobs_extension" -o tsv 2>/dev/null || true)
  if [ -z "$key" ]; then
    attempt=$((attempt + 1))
    echo "Waiting for the blobs_extension key of $AZURE_FUNCTION_APP_NAME ($attempt/30)..."
    sleep "$retry_seconds"
  fi
done
[ -n "$key" ] || { echo "The blobs_extension system key never appeared: is the code deployed and the host running?" >&2; exit 1; }

host=$(az functionapp show -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" --query defaultHostName -o tsv)

printf '%s\n' "$subscriptions" | while IFS="$(printf '\t')" read -r name function subject; do
  echo "Event Grid subscription $name: BlobCreated under $subject -> $function"
  az eventgrid system-topic event-subscription create \
    --name "$name" \
    --resource-group "$AZURE_RESOURCE_GROUP" \
    --system-topic-name "$AZURE_EVENTGRID_SYSTEM_TOPIC_NAME" \
    --endpoint-type webhook \
    --endpoint "https://$host/runtime/webhooks/blobs?functionName=Host.Functions.$function&code=$key" \
    --included-event-types Microsoft.Storage.BlobCreated \
    --subject-begins-with "$subject" \
    --max-delivery-attempts 30 \
    --event-ttl 1440 \
    --output none
done
echo "Event Grid subscriptions are in place."
store_gateway_key
