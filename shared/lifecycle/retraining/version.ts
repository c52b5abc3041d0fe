// The version of a retrained model: the champion's next minor version, tagged with the cut-off
// (1.2.0 -> 1.3.0-r20261207T120000Z). The same champion and cut-off give the same version, so a rerun of a failed
// run rewrites its own challenger under challengers/ rather than adding another; a version already registered is
// never written over (the register step refuses it).
import { compactTime } from '../../platform/blobLayout';
import { validateModelVersion } from '../../model/modelVersion';

export function challengerVersion(champion: string, cutoff: Date): string {
  const m = /^(\d+)\.(\d+)/.exec(champion);
  const base = m ? `${m[1]}.${Number(m[2]) + 1}.0` : champion.replace(/-r\d{8}T\d{6}Z$/, '');
  return validateModelVersion(`${base}-r${compactTime(cutoff)}`);
}
