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
    for (const name of ['postgres-basebackup', 'postgres-dump']) {
      const cronJob = findObject(objects, 'CronJob', name);
      const pod = cronJob.spec.jobTemplate.spec.template.spec;
      const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e.value]));
      expect(env.PGUSER).toBe('learnflow_backup');
      expect(JSON.stringify(pod)).not.toMatch(/PASSWORD/);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      const component = cronJob.metadata.labels!['app.kubernetes.io/component'];
      const egress = findObject(objects, 'NetworkPolicy', `postgres-${component}-egress`);
      expect(egress.spec.podSelector.matchLabels['app.kubernetes.io/component']).toBe(component);
      expect(egress.spec.egress[0].to[0].podSelector.matchLabels).toEqual(findObject(objects, 'StatefulSet', 'postgres').spec.selector.matchLabels);
      expect(egress.spec.egress[0].ports).toEqual([{ protocol: 'TCP', port: 5432 }]);
    }
    // Only the backup role may use the replication protocol.
    const hba = findObject(objects, 'ConfigMap', 'postgres-server-files').data!['pg_hba.conf'];
    expect(hba.split('\n').filter((line: string) => /^host\s+replication/.test(line))).toEqual(['host    replication  learnflow_backup all       scram-sha-256']);
  });
});
