// The azd hooks (bicep/hooks/*.sh) run against a stand-in `az` on PATH: the Azure CLI is not installed on these
// machines and nothing here can reach Azure, so the stand-in records each call and keeps Key Vault secrets in files.
// What is checked is the hooks' own logic: which subscriptions they create for the registered blob triggers, the
// webhook URL and filters, waiting for the system key, never putting a secret on a command line, idempotence, and
// stopping at once with the fix when Key Vault's firewall refuses the deployer's address (network isolation).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, distPath } from '../../helpers/paths';

const FAKE_AZ = `#!/bin/sh
# Stand-in for the Azure CLI: logs argv (one call per line) and answers the few queries the hooks make.
state="$FAKE_AZ_STATE"
printf '%s\\n' "$*" >>"$state/calls.log"
value_of() { flag="$1"; shift; while [ $# -gt 0 ]; do [ "$1" = "$flag" ] && { printf '%s' "$2"; return; }; shift; done; }
case "$1 $2" in
  "functionapp keys")
    case "$*" in
      *systemKeys.blobs_extension*)
        n=$(cat "$state/keys-polls" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" >"$state/keys-polls"
        # The key appears on the second poll, as after a cold start.
        [ "$n" -ge 2 ] && echo "blob-system-key"; exit 0 ;;
      *functionKeys.default*) echo "default-function-key"; exit 0 ;;
    esac ;;
  "functionapp show") echo "func-spam-test.azurewebsites.net"; exit 0 ;;
  "functionapp restart") exit 0 ;;
  "keyvault secret")
    if [ -n "\${FAKE_AZ_KV_FIREWALL:-}" ]; then
      # What the CLI prints when the vault's firewall refuses the caller's address.
      echo "(Forbidden) Client address is not authorized and caller is not a trusted service." >&2
      echo "Client address: 203.0.113.9" >&2
      echo 'Inner error: {"code": "ForbiddenByFirewall"}' >&2
      exit 1
    fi
    name=$(value_of --name "$@")
    case "$3" in
      show)
        [ -f "$state/secret-$name" ] || { echo "SecretNotFound" >&2; exit 3; }
        case "$*" in *"--query value"*) cat "$state/secret-$name"; echo ;; *) echo "https://kv/secrets/$name/1" ;; esac
        exit 0 ;;
      set)
        file=$(value_of --file "$@")
        [ -n "$file" ] || { echo "secret passed on the command line" >&2; exit 9; }
        cp "$file" "$state/secret-$name"; exit 0 ;;
    esac ;;
  "eventgrid system-topic") exit 0 ;;
esac
echo "fake az: unexpected call: $*" >&2
exit 2
`;

interface Run {
  status: number | null;
  output: string;
  calls: string[];
}

function setup(extraEnv: Record<string, string> = {}): {
  dir: string;
  run: (hook: string) => Run;
  secret: (name: string) => string | undefined;
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'azd-hooks-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.writeFileSync(path.join(dir, 'bin', 'az'), FAKE_AZ, { mode: 0o755 });
  const env = {
    ...process.env,
    PATH: `${path.join(dir, 'bin')}:${path.dirname(process.execPath)}:${process.env.PATH}`,
    FAKE_AZ_STATE: dir,
    HOOK_RETRY_SECONDS: '0',
    AZURE_RESOURCE_GROUP: 'rg-test',
    AZURE_FUNCTION_APP_NAME: 'func-spam-test',
    AZURE_EVENTGRID_SYSTEM_TOPIC_NAME: 'evgt-test',
    AZURE_KEY_VAULT_NAME: 'kv-test',
    AZURE_SENDER_HASH_KEY_SECRET_NAME: 'sender-hash-key',
    AZURE_GATEWAY_KEY_SECRET_NAME: 'promotion-gateway-key',
    ...extraEnv,
  };
  return {
    dir,
    run(hook) {
      fs.rmSync(path.join(dir, 'calls.log'), { force: true });
      const r = spawnSync('sh', [path.join(REPO_ROOT, 'bicep', 'hooks', hook)], { env, encoding: 'utf8', timeout: 60000 });
      const log = path.join(dir, 'calls.log');
      return {
        status: r.status,
        output: r.stdout + r.stderr,
        calls: fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [],
      };
    },
    secret(name) {
      const f = path.join(dir, `secret-${name}`);
      return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined;
    },
  };
}

describe('postdeploy hook', () => {
  it('subscribes every registered blob trigger to BlobCreated on its prefix, stores the function key, and is idempotent', () => {
    const expected = execFileSync(process.execPath, [distPath('tools', 'cli', 'azureBindings.js'), 'event-grid', REPO_ROOT], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .map((line) => line.split('\t'));
    expect(expected.map(([, fn]) => fn)).toEqual(expect.arrayContaining(['compactLogs']));

    const hooks = setup();
    const first = hooks.run('postdeploy.sh');
    expect(first.status).toBe(0);
    expect(first.output).toMatch(/Waiting for the blobs_extension key/);
    const creates = first.calls.filter((c) => c.startsWith('eventgrid system-topic event-subscription create'));
    expect(creates).toHaveLength(expected.length);
    for (const [name, fn, subject] of expected) {
      const call = creates.find((c) => c.includes(`--name ${name} `))!;
      expect(call).toContain('--resource-group rg-test --system-topic-name evgt-test --endpoint-type webhook');
      expect(call).toContain(
        `--endpoint https://func-spam-test.azurewebsites.net/runtime/webhooks/blobs?functionName=Host.Functions.${fn}&code=blob-system-key`,
      );
      expect(call).toContain('--included-event-types Microsoft.Storage.BlobCreated');
      expect(call).toContain(`--subject-begins-with ${subject}`);
    }
    expect(hooks.secret('promotion-gateway-key')).toBe('default-function-key');
    expect(first.calls.some((c) => c.includes('default-function-key'))).toBe(false);
    expect(first.calls.filter((c) => c.startsWith('functionapp restart'))).toHaveLength(1);

    // Again: same subscriptions (create replaces), the stored key is current, so no write and no restart.
    const second = hooks.run('postdeploy.sh');
    expect(second.status).toBe(0);
    expect(second.calls.filter((c) => c.startsWith('eventgrid system-topic event-subscription create'))).toHaveLength(expected.length);
    expect(second.calls.filter((c) => c.startsWith('keyvault secret set') || c.startsWith('functionapp restart'))).toEqual([]);
  });
});

describe('postdeploy hook behind the Key Vault firewall', () => {
  it('stops before storing the key or restarting the app, and says how to let the machine in', () => {
    const hooks = setup({ FAKE_AZ_KV_FIREWALL: '1' });
    const r = hooks.run('postdeploy.sh');
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/does not accept requests from this machine's address[\s\S]*azd hooks run postdeploy/);
    expect(r.calls.filter((c) => c.startsWith('keyvault secret set') || c.startsWith('functionapp restart'))).toEqual([]);
    // Only the callers' function key was read, never the master key.
    expect(r.calls.filter((c) => c.startsWith('functionapp keys list')).every((c) => !/masterKey/.test(c))).toBe(true);
  });
});

describe('postprovision hook', () => {
  it('creates the sender-hash key once, from a file, and keeps it afterwards', () => {
    const hooks = setup();
    const first = hooks.run('postprovision.sh');
    expect(first.status).toBe(0);
    const key = hooks.secret('sender-hash-key')!;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(first.calls.some((c) => c.includes(key))).toBe(false);

    const second = hooks.run('postprovision.sh');
    expect(second.status).toBe(0);
    expect(second.output).toMatch(/exists; kept/);
    expect(second.calls.filter((c) => c.startsWith('keyvault secret set'))).toEqual([]);
    expect(hooks.secret('sender-hash-key')).toBe(key);
  });

  it("stops at once, saying how to let the machine in, when Key Vault's firewall refuses it", () => {
    const hooks = setup({ FAKE_AZ_KV_FIREWALL: '1' });
    const r = hooks.run('postprovision.sh');
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/ForbiddenByFirewall/);
    expect(r.output).toMatch(/Key Vault kv-test does not accept requests from this machine's address/);
    expect(r.output).toMatch(/azd env set OPERATOR_IP_RANGES <address>\/32[\s\S]*azd hooks run postprovision/);
    // No waiting for a role to propagate: one look, one write, then the message.
    expect(r.calls.filter((c) => c.startsWith('keyvault secret set'))).toHaveLength(1);
    expect(r.output).not.toMatch(/Waiting for Key Vault access/);
    expect(hooks.secret('sender-hash-key')).toBeUndefined();
  });

  it('stops with a message naming the missing azd value when run outside azd', () => {
    const r = spawnSync('sh', [path.join(REPO_ROOT, 'bicep', 'hooks', 'postprovision.sh')], {
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/AZURE_KEY_VAULT_NAME.*azd env get-values/);
  });
});
