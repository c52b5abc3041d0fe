// Every setting the app reads, in one place: its name (the app setting / environment variable), what it means,
// its local-development default and how it is validated. The settings are parsed once, on first use, never at
// module load: a throwing module would remove every function from the app (DESIGN.md).
//
// The Bicep app settings and local.settings.example.json are checked against `settingSpecs` by the tests, so a
// setting cannot exist in one place and not in the other.

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(`Invalid setting ${setting}=${JSON.stringify(value)}: expected ${expected}`);
    this.name = 'ConfigError';
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

function spec<T>(name: string, meta: Meta, parse: (raw: string) => T, whenUnset: () => T): SettingSpec<T> {
  return {
    name,
    ...meta,
    parse(raw) {
      const value = raw === undefined || raw === '' ? meta.default : raw;
      return value === undefined ? whenUnset() : parse(value);
    },
  };
}

function requiredValue(name: string, expected: string): never {
  throw new ConfigError(name, '', expected);
}

export function stringSetting(name: string, meta: Meta & { default: string }): SettingSpec<string> {
  return spec(name, meta, (raw) => raw, () => requiredValue(name, 'a non-empty string'));
}

export function optionalStringSetting(name: string, meta: Meta): SettingSpec<string | undefined> {
  return spec<string | undefined>(name, meta, (raw) => raw, () => undefined);
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
  return spec(name, meta, (raw) => parseUrl(name, raw, protocols), () => requiredValue(name, 'an absolute URL'));
}

export function optionalUrlSetting(name: string, meta: Meta, protocols: string[]): SettingSpec<string | undefined> {
  return spec<string | undefined>(name, meta, (raw) => parseUrl(name, raw, protocols), () => undefined);
}

/** NCRONTAB as Azure Functions reads it: six fields, seconds first. */
export function ncrontabSetting(name: string, meta: Meta & { default: string }): SettingSpec<string> {
  const expected = 'an NCRONTAB expression with six fields ({second} {minute} {hour} {day} {month} {day-of-week})';
  return spec(
    name,
    meta,
    (raw) => {
      const fields = raw.trim().split(/\s+/);
      if (fields.length !== 6 || !fields.every((f) => /^[\d*,\/\-A-Za-z?]+$/.test(f))) {
        throw new ConfigError(name, raw, expected);
      }
      return fields.join(' ');
    },
    () => requiredValue(name, expected),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The settings. Group by concept; the property name is what the code uses, the first argument is the app setting.

/** The connection name the functions' blob triggers use; identity-based variants are `${STORAGE_CONNECTION}__*`. */
export const STORAGE_CONNECTION = 'AzureWebJobsStorage';

export const settingSpecs = {
  // Blob storage (DESIGN.md "Blob containers"). Locally a connection string; in Azure identity-based settings.
  storageConnectionString: optionalStringSetting(STORAGE_CONNECTION, {
    description: 'Storage connection string for local development (Azurite); unset in Azure, where the identity-based settings below apply.',
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
    { description: 'Blob service URI for identity-based access; overrides the account name (sovereign clouds, private endpoints).', azure: 'optional' },
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
    { description: 'Timeout of one Blob request made by the app (health checks, log flushes).', default: '5000', azure: 'optional' },
    100,
    120000,
  ),

  // Local development host (devhost/), read by `npm start` only.
  localHostPort: intSetting(
    'LOCAL_HOST_PORT',
    { description: 'Port of the local Functions host (Core Tools uses 7071).', default: '7071', azure: 'optional' },
    0,
    65535,
  ),
  blobPollIntervalMs: intSetting(
    'LOCAL_BLOB_POLL_MS',
    { description: 'How often the local host lists watched containers to fire blob triggers.', default: '1000', azure: 'optional' },
    50,
    600000,
  ),
} as const;

type SpecValue<S> = S extends SettingSpec<infer T> ? T : never;
export type Config = { readonly [K in keyof typeof settingSpecs]: SpecValue<(typeof settingSpecs)[K]> };

/** Parse every setting from `env`; the first invalid one throws a ConfigError naming it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(settingSpecs) as [string, SettingSpec<unknown>][]) {
    out[key] = s.parse(env[s.name]);
  }
  return Object.freeze(out) as Config;
}

let cached: Config | undefined;

/** The app's configuration, parsed and validated on first call. */
export function getConfig(): Config {
  cached ??= loadConfig();
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
