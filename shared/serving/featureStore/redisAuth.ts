// Authentication to the online store. Locally and in CI Redis needs none (or a password in REDIS_URL). Azure
// Managed Redis with access keys disabled (what the Bicep deploys) takes a Microsoft Entra token instead: the
// managed identity's object id as user name and an access token for https://redis.azure.com as password, over
// TLS, refreshed with AUTH before the token expires (learn.microsoft.com/azure/redis/entra-for-authentication).
import type { TokenCredential } from '@azure/identity';

export const REDIS_ENTRA_SCOPE = 'https://redis.azure.com/.default';

/** Entra auth applies to a TLS URL without a password on an Azure Redis host. */
export function usesEntraAuth(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  return u.protocol === 'rediss:' && u.password === '' && /\.redis\.(azure\.net|cache\.windows\.net)$/i.test(u.hostname);
}

export interface RedisCredentials {
  username: string;
  password: string;
  expiresOn: number;
}

/** The `oid` claim of an access token: the user name Azure Redis expects with it. */
export function tokenObjectId(token: string): string {
  const payload = token.split('.')[1];
  if (!payload) throw new Error('the Entra access token is not a JWT');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { oid?: unknown };
  if (typeof claims.oid !== 'string') throw new Error("the Entra access token has no 'oid' claim");
  return claims.oid;
}

export async function entraRedisCredentials(credential: TokenCredential): Promise<RedisCredentials> {
  const token = await credential.getToken(REDIS_ENTRA_SCOPE);
  if (!token) throw new Error(`no Entra token for ${REDIS_ENTRA_SCOPE}`);
  return { username: tokenObjectId(token.token), password: token.token, expiresOn: token.expiresOnTimestamp };
}
