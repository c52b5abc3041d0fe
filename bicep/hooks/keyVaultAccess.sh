# Sourced by the azd hooks. With network isolation on (the production default) Key Vault's firewall admits only
# the VNet and OPERATOR_IP_RANGES, so a hook run from another address fails on its first secret: say so, and how to
# fix it, instead of retrying or printing only the CLI's error.

# keyvault_refused FILE HOOK: when the Azure CLI error in FILE is the vault's firewall, explain and return 0.
keyvault_refused() {
  if grep -Eq 'ForbiddenByFirewall|ForbiddenByConnection|Client address is not authorized' "$1"; then
    cat "$1" >&2
    echo "Key Vault $AZURE_KEY_VAULT_NAME does not accept requests from this machine's address (network isolation," \
      "docs/deploy.md). Add the address to OPERATOR_IP_RANGES (azd env set OPERATOR_IP_RANGES <address>/32)," \
      "run azd provision, then azd hooks run $2; or run the hook from inside the VNet." >&2
    return 0
  fi
  return 1
}
