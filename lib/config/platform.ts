import { z } from 'zod';
import { dnsLabel, dnsSubdomain } from './names';

export const platformConfig = z
  .object({
    namespaces: z.object({ kafka: dnsLabel, postgres: dnsLabel, apps: dnsLabel }).strict(),
    /** Pod Security Standards version the namespaces enforce. */
    podSecurityVersion: z.string().regex(/^(latest|v1\.\d+)$/, "must be 'latest' or a version like 'v1.28'"),
    /**
     * Emit the topics, migrations and seed Jobs as Argo CD Sync hooks (recreated on every sync, still ordered by their wave)
     * instead of plain resources ordered by sync waves.
     */
    argoCdHooks: z.boolean(),
    /** The cluster's DNS domain (the kubelet's --cluster-domain): in-cluster host names end in `.svc.<domain>`. */
    clusterDomain: dnsSubdomain,
  })
  .strict();

export type PlatformConfigInput = z.input<typeof platformConfig>;

export const platformDefaults: PlatformConfigInput = {
  namespaces: { kafka: 'kafka', postgres: 'postgres', apps: 'learnflow' },
  podSecurityVersion: 'v1.28',
  argoCdHooks: false,
  clusterDomain: 'cluster.local',
};

export const platformProfiles = {
  minikube: {},
  production: {},
} satisfies Record<string, Partial<PlatformConfigInput>>;
