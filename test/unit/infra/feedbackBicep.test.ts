// The feedback container in bicep/: created with the app's containers, deleted after a retention period by a
// lifecycle rule, and readable only by the identities that need the messages (the app, the training job).
import path from 'node:path';
import { CONTAINERS } from '../../../shared/platform/blobLayout';
import { BICEP_DIR, BicepFile, parseBicep } from '../../helpers/bicepParser';

let main: BicepFile;
let storage: BicepFile;
let rbac: BicepFile;

beforeAll(async () => {
  [main, storage, rbac] = await Promise.all(
    ['main.bicep', 'modules/storage.bicep', 'modules/rbac.bicep'].map((f) => parseBicep(path.join(BICEP_DIR, f))),
  );
});

const resource = (f: BicepFile, name: string) => f.resources.find((r) => r.name === name);

describe('feedback storage in bicep/', () => {
  it('passes the feedback container of blobLayout.ts and a 180-day default retention to storage and rbac', () => {
    expect(main.source).toMatch(/param feedbackRetentionDays int = 180/);
    const index = main.source
      .match(/var dataContainers = \[([^\]]*)\]/)![1]
      .split(',')
      .map((s) => s.trim().replace(/'/g, ''))
      .indexOf(CONTAINERS.feedback);
    expect(index).toBeGreaterThanOrEqual(0);
    expect(main.source.match(/feedbackContainerName: dataContainers\[(\d)\]/g)).toEqual([
      `feedbackContainerName: dataContainers[${index}]`,
      `feedbackContainerName: dataContainers[${index}]`,
    ]);
  });

  it('a lifecycle rule deletes feedback blobs (and only them) after the retention', () => {
    const policy = resource(storage, 'lifecycle')!;
    expect(policy.type).toBe('Microsoft.Storage/storageAccounts/managementPolicies@2024-01-01');
    const text = policy.node.text;
    expect(text).toMatch(/name: 'default'/);
    expect(text).toMatch(/type: 'Lifecycle'/);
    expect(text).toMatch(/prefixMatch: \['\$\{feedbackContainerName\}\/'\]/);
    expect(text).toMatch(/blobTypes: \['blockBlob'\]/);
    expect(text).toMatch(/baseBlob: \{\s*delete: \{\s*daysAfterModificationGreaterThan: feedbackRetentionDays/);
  });

  it('the app and the training job get roles scoped to the feedback container; the deployer cannot read it', () => {
    for (const [name, principal, role] of [
      ['appFeedback', 'appPrincipalId', 'storageBlobDataContributor'],
      ['trainerFeedback', 'trainerPrincipalId', 'storageBlobDataReader'],
    ]) {
      const text = resource(rbac, name)!.node.text;
      expect(text).toMatch(/scope: storage::blobService::feedback\n/);
      expect(text).toContain(`principalId: ${principal}`);
      expect(text).toContain(`roleIds.${role})`);
    }
    const deployer = resource(rbac, 'deployerBlobs')!.node.text;
    expect(deployer).toMatch(/condition: notFeedbackReads\s+conditionVersion: '2\.0'/);
    expect(rbac.source).toMatch(
      /var notFeedbackReads = '.*blobs\/read.*containers:name\] StringNotEquals \\'\$\{feedbackContainerName\}\\'/,
    );
  });
});
