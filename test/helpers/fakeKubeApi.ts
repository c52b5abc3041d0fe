// The tests' Kubernetes API: the one `npm start` serves (tools/devhost/kubeApi.ts, where the recorded shapes are
// described), under the names the tests use, with the timer as its controller unless a test passes a reconciler.
import { kubeconfigYaml, LocalKubeApi, Reconciler, startLocalKubeApi } from '../../tools/devhost/kubeApi';

export type FakeKubeApi = LocalKubeApi;

export function startFakeKubeApi(reconcile?: Reconciler): Promise<FakeKubeApi> {
  return startLocalKubeApi({ reconcile });
}

/** A kubeconfig file pointing at the API, with the bearer token the tests check. */
export function fakeKubeconfigYaml(url: string, caData: string, token = 'test-token'): string {
  return kubeconfigYaml(url, caData, { token, name: 'fake' });
}
