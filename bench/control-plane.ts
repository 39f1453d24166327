import * as path from 'node:path';
import { ControlPlane, PREREQUISITE_CRD_DIRS } from '../test/harness/control-plane/control-plane';
import { runProcess } from '../test/harness/processes';
import { atMost, type Measurement, median, ROOT, timeAsync } from './measure';

const DIST = path.join(ROOT, 'dist');

/**
 * The real control plane (kube-apiserver 1.34 on etcd 3.6): start to /readyz, a server-side apply of
 * all of dist/, and `npm run diff` on the unchanged install (PRODUCT.md: <= 2 s).
 */
export async function benchControlPlane(): Promise<Measurement[]> {
  const startups: number[] = [];
  for (let i = 0; i < 3; i++) {
    const plane = await ControlPlane.start();
    startups.push(plane.startupMs);
    await plane.stop();
  }
  const plane = await ControlPlane.start({ crdDirs: PREREQUISITE_CRD_DIRS });
  try {
    const apply = await timeAsync(1, () => plane.kubectlOk(['apply', '--server-side', '--field-manager=learnflow-deploy', '-f', DIST]));
    const reapply = await timeAsync(3, () => plane.kubectlOk(['apply', '--server-side', '--field-manager=learnflow-deploy', '-f', DIST]));
    const diffOnce = async () => {
      const result = await runProcess('npm', ['run', '-s', 'diff'], plane.env, 60_000);
      if (result.exitCode !== 0) throw new Error(`npm run diff on an unchanged install exited ${result.exitCode}:\n${result.output}`);
    };
    await diffOnce();
    const diff = await timeAsync(5, diffOnce);
    return [
      atMost('control plane: start (certificates, etcd, kube-apiserver) to /readyz, median of 3', median(startups), 10_000),
      atMost('control plane: server-side apply of all of dist/, first', apply, 5_000),
      atMost('control plane: server-side apply of all of dist/, unchanged (median of 3)', reapply, 5_000),
      atMost('npm run diff on an unchanged install (median of 5)', diff, 2_000),
    ];
  } finally {
    await plane.stop();
  }
}
