// What a command or the local host says when Blob storage cannot be reached: the endpoint and the setting to fix.
import { loadConfig } from '../../../shared/platform/config';
import { isLocalEndpoint, storageUnreachable } from '../../../shared/platform/blobStorage';

const refused = (address: string) => Object.assign(new Error(`connect ECONNREFUSED ${address}`), { code: 'ECONNREFUSED' });

describe('storageUnreachable', () => {
  it('names the endpoint and AzureWebJobsStorage for a refused connection to Azurite', () => {
    const config = loadConfig({});
    expect(storageUnreachable(refused('127.0.0.1:10000'), config)).toEqual({
      endpoint: '127.0.0.1:10000',
      message: 'Blob storage at 127.0.0.1:10000 (setting AzureWebJobsStorage) is not reachable',
    });
    expect(isLocalEndpoint('127.0.0.1:10000')).toBe(true);
  });

  it('names the identity-based setting for an account that does not resolve', () => {
    const config = loadConfig({ AzureWebJobsStorage__accountName: 'nosuchacct' });
    const err = Object.assign(new Error('getaddrinfo ENOTFOUND nosuchacct.blob.core.windows.net'), { code: 'ENOTFOUND' });
    expect(storageUnreachable(err, config)?.message).toBe(
      'Blob storage at nosuchacct.blob.core.windows.net (setting AzureWebJobsStorage__accountName) is not reachable',
    );
    expect(isLocalEndpoint('nosuchacct.blob.core.windows.net')).toBe(false);
  });

  it('leaves other errors, and other endpoints, alone', () => {
    const config = loadConfig({});
    expect(storageUnreachable(refused('127.0.0.1:8080'), config)).toBeUndefined();
    expect(storageUnreachable(new Error('The specified container does not exist.'), config)).toBeUndefined();
  });
});
