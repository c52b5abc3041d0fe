// What the Azure side must provide for the functions this app registers, read from the registrations themselves
// (the compiled files package.json `main` names, loaded the way the local host loads them):
// - the Event Grid subscription of every blob trigger (Flex Consumption only runs blob triggers with
//   `source: 'EventGrid'`), used by bicep/hooks/postdeploy.sh;
// - the app settings that binding expressions (`%NAME%`, e.g. a timer schedule) reference, which the Bicep must set
//   (test/integration/tools/appSettings.test.ts).
//
//   node dist/tools/cli/azureBindings.js event-grid   one tab-separated line per subscription: name, function, subject prefix
//   node dist/tools/cli/azureBindings.js json         everything as JSON
import { compileBlobPath } from '../devhost/blobWatcher';
import { bindingText, FunctionRegistry } from '../devhost/functionsCore';
import { loadFunctions } from '../devhost/host';
import { projectRoot } from '../../shared/platform/projectRoot';

export interface EventGridSubscription {
  /** Event subscription name: 3-64 letters, digits and hyphens. */
  readonly name: string;
  /** The function name, as in `Host.Functions.<name>` of the webhook URL. */
  readonly functionName: string;
  readonly container: string;
  /** `subjectBeginsWith` filter of a BlobCreated event for the trigger's container and literal path prefix. */
  readonly subjectBeginsWith: string;
}

export interface AzureBindings {
  readonly eventGridSubscriptions: EventGridSubscription[];
  /** App settings referenced as `%NAME%` by any binding, with the functions that reference them. */
  readonly settingReferences: Record<string, string[]>;
  /** Blob triggers that Flex Consumption would never fire (source is not EventGrid). */
  readonly problems: string[];
}

export function subscriptionName(functionName: string): string {
  const slug = functionName
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase();
  return `blob-${slug}`.slice(0, 64);
}

export function describeAzureBindings(registry: FunctionRegistry): AzureBindings {
  const eventGridSubscriptions: EventGridSubscription[] = [];
  const settingReferences: Record<string, string[]> = {};
  const problems: string[] = [];
  for (const fn of registry.functions) {
    for (const binding of Object.values(fn.bindings)) {
      for (const value of Object.values(binding)) {
        if (typeof value !== 'string') continue;
        for (const m of value.matchAll(/%([^%]+)%/g)) (settingReferences[m[1]] ??= []).push(fn.name);
      }
    }
    if (fn.trigger.type !== 'blobTrigger') continue;
    if (fn.trigger.source !== 'EventGrid') {
      problems.push(
        `${fn.name}: blob trigger source is ${bindingText(fn.trigger.source, 'LogsAndContainerScan')}, Flex Consumption needs 'EventGrid'`,
      );
      continue;
    }
    // A %SETTING% in the container or prefix cannot be known here; the subscription would filter on the wrong subject.
    const blobPath = String(fn.trigger.path);
    const { container, prefix } = compileBlobPath(blobPath.split('%')[0]);
    if (blobPath.includes('%'))
      problems.push(`${fn.name}: blob path ${blobPath} uses an app setting; the subscription filters on its literal start only`);
    eventGridSubscriptions.push({
      name: subscriptionName(fn.name),
      functionName: fn.name,
      container,
      subjectBeginsWith: `/blobServices/default/containers/${container}/blobs/${prefix}`,
    });
  }
  return { eventGridSubscriptions, settingReferences, problems };
}

function main(argv: string[]): number {
  const [command = 'json', projectDir = projectRoot()] = argv;
  const bindings = describeAzureBindings(loadFunctions(projectDir));
  switch (command) {
    case 'event-grid':
      for (const p of bindings.problems) console.error(`warning: ${p}`);
      for (const s of bindings.eventGridSubscriptions) console.log([s.name, s.functionName, s.subjectBeginsWith].join('\t'));
      return 0;
    case 'json':
      console.log(JSON.stringify(bindings, null, 2));
      return 0;
    default:
      console.error('usage: azureBindings.js event-grid|json [projectDir]');
      return 2;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
