// Which baseline is active for each model version, kept in Blob under `drift-reports/state/active-baselines/`.
//
// Uploading `baselines/{model}/{version}/baseline.json` is the event that activates a baseline, but the upload
// itself cannot be what the drift run reads: an invalid upload overwrites the same blob, and the previous valid
// baseline must stay in force. So activation copies the validated content to a content-addressed blob
// (`{sha256}.json`) and then switches the version's record to it with a conditional write. Activation is
// idempotent: the same content (a redelivered event) finds the record already pointing at its hash.
import {
  activeBaselineIndexPath,
  activeBaselinePath,
  activeBaselineRecordPath,
  baselineRejectionPath,
  CONTAINERS,
} from '../platform/blobLayout';
import { BlobConflictError, conditionalWrite, readJsonBlob, writeJsonBlob } from '../platform/blobStorage';
import { FEATURE_NAMES } from '../serving/features/featureList';
import { sha256 } from '../platform/hash';
import { Baseline, InvalidBaselineError, validateBaseline } from './baseline';
import { codeVersion } from './report';

const STATE = CONTAINERS.driftReports;

export interface ActiveBaselineRecord {
  model: string;
  version: string;
  sha256: string;
  /** The uploaded blob it came from (`baselines/...`). */
  source: string;
  /** The baseline's own createdAt. */
  created_at: string;
  activated_at: string;
  /** The immediate drift check after activation: set once it has run, so a duplicate event does not repeat it. */
  checked_at: string | null;
}

export interface ActiveBaseline {
  record: ActiveBaselineRecord;
  baseline: Baseline;
  /** Blob path of the content-addressed copy. */
  path: string;
}

interface ActiveIndex {
  model: string;
  versions: { version: string; sha256: string; activated_at: string }[];
}

/** `{model}/{version}/baseline.json` → its model and version; undefined for names outside the layout. */
export function parseBaselineName(name: string): { model: string; version: string } | undefined {
  const m = /^([^/]+)\/([^/]+)\/baseline\.json$/.exec(name);
  return m ? { model: m[1], version: m[2] } : undefined;
}

// A baseline is ~10 MB of JSON (10,000-value samples for 51 distributions); keep the parsed one per content hash.
const cache = new Map<string, Baseline>();
const CACHE_LIMIT = 4;

async function loadCopy(model: string, version: string, sha: string): Promise<Baseline | undefined> {
  const hit = cache.get(sha);
  if (hit) return hit;
  const stored = await readJsonBlob<unknown>(STATE, activeBaselinePath(model, version, sha));
  if (!stored) return undefined;
  const baseline = validateBaseline(stored.value);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(sha, baseline);
  return baseline;
}

export async function readActiveRecord(
  model: string,
  version: string,
): Promise<{ record: ActiveBaselineRecord; etag: string } | undefined> {
  const stored = await readJsonBlob<ActiveBaselineRecord>(STATE, activeBaselineRecordPath(model, version));
  return stored ? { record: stored.value, etag: stored.etag } : undefined;
}

/** The baseline in force for a model version, or undefined when none was ever activated. */
export async function getActiveBaseline(model: string, version: string): Promise<ActiveBaseline | undefined> {
  const active = await readActiveRecord(model, version);
  if (!active) return undefined;
  const { record } = active;
  const baseline = await loadCopy(model, version, record.sha256);
  if (!baseline) throw new Error(`active baseline record of ${model} ${version} points at a missing copy ${record.sha256}`);
  return { record, baseline, path: activeBaselinePath(model, version, record.sha256) };
}

/** Model versions with an active baseline, most recently activated last. */
export async function listActiveVersions(model: string): Promise<ActiveIndex['versions']> {
  const index = await readJsonBlob<ActiveIndex>(STATE, activeBaselineIndexPath(model));
  return [...(index?.value.versions ?? [])].sort((a, b) => a.activated_at.localeCompare(b.activated_at));
}

/** The most recently activated model version: what a scheduled check compares when no version is given. */
export async function latestActiveVersion(model: string): Promise<string | undefined> {
  return (await listActiveVersions(model)).at(-1)?.version;
}

export type ActivationResult =
  | { outcome: 'activated' | 'already_active'; record: ActiveBaselineRecord; baseline: Baseline }
  | { outcome: 'rejected'; issues: string[]; rejectionPath: string; stillActive: ActiveBaselineRecord | null };

export interface BaselineRejection {
  kind: 'baseline_rejected';
  schema_version: 1;
  status: 'rejected';
  source: string;
  sha256: string;
  model: string;
  version: string;
  received_at: string;
  issues: string[];
  /** The baseline that stays in force for this model version (null when there is none). */
  still_active: ActiveBaselineRecord | null;
  code_version: { version: string; commit: string | null };
}

/**
 * Validate an uploaded baseline and activate it. Invalid content writes a rejection report (idempotent: its path is
 * the content hash) and leaves the version's active baseline unchanged. Content already active returns
 * 'already_active' and writes nothing but a missing index entry.
 */
export async function activateBaselineUpload(name: string, content: Buffer, now: Date): Promise<ActivationResult> {
  const where = parseBaselineName(name);
  if (!where) throw new RangeError(`${name} is not a baseline path ({model}/{version}/baseline.json)`);
  const sha = sha256(content);
  const source = `${CONTAINERS.baselines}/${name}`;
  let baseline: Baseline;
  try {
    baseline = validateBaseline(content.toString('utf8'), FEATURE_NAMES);
    if (baseline.model.name !== where.model || baseline.model.version !== where.version) {
      throw new InvalidBaselineError([
        `model: the file says ${baseline.model.name} ${baseline.model.version} but is stored under ${where.model}/${where.version}/`,
      ]);
    }
  } catch (err) {
    if (!(err instanceof InvalidBaselineError)) throw err;
    const stillActive = (await readActiveRecord(where.model, where.version))?.record ?? null;
    const rejection: BaselineRejection = {
      kind: 'baseline_rejected',
      schema_version: 1,
      status: 'rejected',
      source,
      sha256: sha,
      model: where.model,
      version: where.version,
      received_at: now.toISOString(),
      issues: err.issues,
      still_active: stillActive,
      code_version: codeVersion(),
    };
    const rejectionPath = baselineRejectionPath(where.model, where.version, sha.slice(0, 16));
    try {
      await writeJsonBlob(STATE, rejectionPath, rejection, null);
    } catch (e) {
      if (!(e instanceof BlobConflictError)) throw e; // the same upload was rejected before: keep the first report
    }
    return { outcome: 'rejected', issues: err.issues, rejectionPath, stillActive };
  }

  // The copy first, then the pointer: a crash in between leaves an unreferenced copy, never a dangling record.
  const copyPath = activeBaselinePath(where.model, where.version, sha);
  try {
    await writeJsonBlob(STATE, copyPath, content.toString('utf8'), null);
  } catch (e) {
    if (!(e instanceof BlobConflictError)) throw e; // same content already copied
  }
  const alreadyActive = async (record: ActiveBaselineRecord): Promise<ActivationResult> => {
    // A delivery that crashed between the record and the index left the index behind: bring it up to date.
    await addToIndex(where.model, { version: where.version, sha256: sha, activated_at: record.activated_at });
    return { outcome: 'already_active', record, baseline };
  };
  for (let attempt = 0; ; attempt++) {
    const current = await readActiveRecord(where.model, where.version);
    if (current?.record.sha256 === sha) return alreadyActive(current.record);
    const record: ActiveBaselineRecord = {
      model: where.model,
      version: where.version,
      sha256: sha,
      source,
      created_at: baseline.createdAt,
      activated_at: now.toISOString(),
      checked_at: null,
    };
    const write = await conditionalWrite<ActiveBaselineRecord>({
      container: STATE,
      blob: activeBaselineRecordPath(where.model, where.version),
      value: record,
      condition: current ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
      isOurs: (stored) => stored.sha256 === sha,
    });
    // A switch whose answer was lost or late finds the record at this content, as a redelivered event does.
    if (write.outcome === 'written' && write.recovered) return alreadyActive(write.recovered.stored.value);
    if (write.outcome === 'written') {
      await addToIndex(where.model, { version: where.version, sha256: sha, activated_at: record.activated_at });
      cache.set(sha, baseline);
      return { outcome: 'activated', record, baseline };
    }
    // Refused: another activation switched the record first; decide again on what it holds.
    if (write.outcome === 'unknown' || attempt >= 5) throw write.error;
  }
}

async function addToIndex(model: string, entry: ActiveIndex['versions'][number]): Promise<void> {
  const path = activeBaselineIndexPath(model);
  for (let attempt = 0; ; attempt++) {
    const stored = await readJsonBlob<ActiveIndex>(STATE, path);
    const existing = stored?.value.versions.find((v) => v.version === entry.version);
    if (existing && existing.sha256 === entry.sha256 && existing.activated_at === entry.activated_at) return;
    const versions = (stored?.value.versions ?? []).filter((v) => v.version !== entry.version);
    versions.push(entry);
    try {
      await writeJsonBlob(STATE, path, { model, versions }, stored ? stored.etag : null);
      return;
    } catch (e) {
      if (!(e instanceof BlobConflictError) || attempt >= 5) throw e;
    }
  }
}

/**
 * Record that the activation's immediate drift check ran. Only for the same activation (hash): a newer baseline
 * activated meanwhile keeps its own unchecked state.
 */
export async function markActivationChecked(model: string, version: string, sha: string, at: Date): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const current = await readActiveRecord(model, version);
    if (!current || current.record.sha256 !== sha || current.record.checked_at) return;
    try {
      await writeJsonBlob(
        STATE,
        activeBaselineRecordPath(model, version),
        { ...current.record, checked_at: at.toISOString() },
        current.etag,
      );
      return;
    } catch (e) {
      if (!(e instanceof BlobConflictError) || attempt >= 5) throw e;
    }
  }
}

/** Forget parsed baselines (tests). */
export function clearActiveBaselineCache(): void {
  cache.clear();
}
