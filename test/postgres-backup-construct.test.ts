import { describe, expect, it } from 'vitest';
import { findObject, synthObjects } from './support/synth';

// What the backup settings make, as relations between objects (the drill in postgres-backup.test.ts runs them).
const backups = (extra: Record<string, unknown> = {}) => synthObjects({ override: { postgres: { backup: { enabled: true, ...extra } } } });

describe('postgres.backup: the objects it makes', () => {
  it('off on minikube, on in production: archiving, the volume, the CronJob and its Secret come and go together', () => {
    const minikube = synthObjects();
    expect(minikube.filter((o) => o.kind === 'CronJob' || (o.kind === 'PersistentVolumeClaim' && o.metadata.name === 'postgres-backup'))).toEqual([]);
    expect(findObject(minikube, 'StatefulSet', 'postgres').spec.template.spec.containers[0].args.join(' ')).not.toContain('archive_mode');
    const production = synthObjects({ profile: 'production' });
    expect(findObject(production, 'CronJob', 'postgres-basebackup')).toBeDefined();
    expect(findObject(production, 'StatefulSet', 'postgres').spec.template.spec.containers[0].args).toContain('archive_mode=on');
  });

  it('the server archives into the volume the CronJob backs up, and both mount the same claim', () => {
    const objects = backups();
    const server = findObject(objects, 'StatefulSet', 'postgres').spec.template.spec;
    const job = findObject(objects, 'CronJob', 'postgres-basebackup').spec.jobTemplate.spec.template.spec;
    const claimMount = (spec: any) => {
      const volume = spec.volumes.find((v: any) => v.persistentVolumeClaim?.claimName === 'postgres-backup');
      return spec.containers[0].volumeMounts.find((m: any) => m.name === volume.name).mountPath;
    };
    const archiveCommand = server.containers[0].args.find((arg: string) => arg.startsWith('archive_command='));
    expect(archiveCommand).toContain(`${claimMount(server)}/wal`);
    expect(job.containers[0].env.find((e: any) => e.name === 'BACKUP_ROOT').value).toBe(claimMount(job));
    expect(findObject(objects, 'PersistentVolumeClaim', 'postgres-backup').metadata.annotations!['argocd.argoproj.io/sync-options']).toContain('Prune=false');
  });

  it('a ReadWriteOnce volume puts the backup pods beside the server; ReadWriteMany lets them go anywhere', () => {
    const rwo = findObject(backups(), 'CronJob', 'postgres-basebackup').spec.jobTemplate.spec.template.spec;
    const [term] = rwo.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    expect(term.labelSelector.matchLabels).toEqual(findObject(backups(), 'StatefulSet', 'postgres').spec.selector.matchLabels);
    expect(term.topologyKey).toBe('kubernetes.io/hostname');
    const rwx = findObject(backups({ storage: { size: '10Gi', accessMode: 'ReadWriteMany' } }), 'CronJob', 'postgres-basebackup').spec.jobTemplate.spec.template.spec;
    expect(rwx.affinity).toBeUndefined();
  });

  it('the backup pods log in as the backup role from a file, run restricted, and may reach only the server and DNS', () => {
    const objects = backups({ dump: { enabled: true } });
    const serverLabels = findObject(objects, 'StatefulSet', 'postgres').spec.selector.matchLabels;
    const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([key, value]) => labels[key] === value);
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.namespace === 'postgres');
    for (const name of ['postgres-basebackup', 'postgres-dump']) {
      const cronJob = findObject(objects, 'CronJob', name);
      const pod = cronJob.spec.jobTemplate.spec.template.spec;
      const podLabels = cronJob.spec.jobTemplate.spec.template.metadata.labels;
      const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e.value]));
      expect(env.PGUSER).toBe('learnflow_backup');
      expect(JSON.stringify(pod)).not.toMatch(/PASSWORD/);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      // Every egress rule that applies to the pod leads to the server's port or to the cluster DNS, nothing else.
      const egress = policies.filter((p) => p.spec.policyTypes.includes('Egress') && selects(p.spec.podSelector.matchLabels ?? {}, podLabels)).flatMap((p) => p.spec.egress ?? []);
      const toServer = egress.filter((rule: any) => rule.to.some((peer: any) => !peer.namespaceSelector && selects(peer.podSelector.matchLabels, serverLabels)));
      expect(toServer.flatMap((rule: any) => rule.ports)).toEqual([{ protocol: 'TCP', port: 5432 }]);
      for (const rule of egress.filter((r: any) => !toServer.includes(r))) {
        expect(rule.to).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }]);
      }
      // And the server admits it.
      const ingress = policies.filter((p) => p.spec.policyTypes.includes('Ingress') && selects(p.spec.podSelector.matchLabels ?? {}, serverLabels)).flatMap((p) => p.spec.ingress ?? []);
      expect(ingress.some((rule: any) => rule.from.some((peer: any) => !peer.namespaceSelector && selects(peer.podSelector.matchLabels, podLabels)))).toBe(true);
    }
    // Only the backup role may use the replication protocol, with SCRAM.
    const hba = findObject(objects, 'ConfigMap', 'postgres-server-files').data!['pg_hba.conf'];
    expect(hba.split('\n').filter((line: string) => /^\S+\s+replication\s/.test(line))).toEqual([expect.stringMatching(/^host\s+replication\s+learnflow_backup\s+all\s+scram-sha-256$/)]);
  });

  it('with TLS on (production) the replication line is hostssl, and the backup pods verify the server like the other Jobs', () => {
    const objects = synthObjects({ profile: 'production', override: { postgres: { backup: { dump: { enabled: true } } } } });
    const hba = findObject(objects, 'ConfigMap', 'postgres-server-files').data!['pg_hba.conf'];
    const network = hba.split('\n').filter((line: string) => /^host/.test(line));
    expect(network).toContainEqual(expect.stringMatching(/^hostssl\s+replication\s+learnflow_backup\s+all\s+scram-sha-256$/));
    for (const line of network) expect(line).toMatch(/^hostssl\s.*\sscram-sha-256$/);
    const server = findObject(objects, 'StatefulSet', 'postgres').spec.template.spec;
    // One hba file, from the one ConfigMap the server mounts.
    expect(server.containers[0].args.filter((arg: string) => arg.startsWith('hba_file='))).toHaveLength(1);
    expect(objects.filter((o) => o.kind === 'ConfigMap' && o.data?.['pg_hba.conf'])).toHaveLength(1);
    const migrations = findObject(objects, 'Job', /^postgres-migrations-/).spec.template.spec;
    const tlsEnv = (spec: any) => spec.containers[0].env.filter((e: any) => e.name.startsWith('PGSSL'));
    const caSources = (spec: any) => spec.volumes.flatMap((v: any) => v.projected?.sources ?? []).filter((source: any) => source.secret.items.some((item: any) => item.key === 'ca.crt'));
    for (const name of ['postgres-basebackup', 'postgres-dump']) {
      const pod = findObject(objects, 'CronJob', name).spec.jobTemplate.spec.template.spec;
      expect(tlsEnv(pod)).toEqual(tlsEnv(migrations));
      expect(tlsEnv(pod)).toContainEqual({ name: 'PGSSLMODE', value: 'verify-full' });
      expect(caSources(pod)).toEqual(caSources(migrations));
      expect(caSources(pod)).toHaveLength(1);
    }
  });
});
