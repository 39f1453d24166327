import { z } from 'zod';
import { dnsSubdomain } from './names';

// Where a server's certificates come from, for PostgreSQL's postgres.tls and Kafka's kafka.security alike.

/**
 * 'cert-manager': Certificates in dist/ (cert-manager is a prerequisite); 'secret': kubernetes.io/tls Secrets the
 * user creates (tls.crt, tls.key, ca.crt).
 */
export const certificateSource = z.enum(['cert-manager', 'secret']);

/** cert-manager only: the issuer that signs the certificates. @default - a self-signed CA created in the namespace */
export const certificateIssuer = z.object({ kind: z.enum(['Issuer', 'ClusterIssuer']), name: dnsSubdomain }).strict().optional();

/** An issuer is cert-manager's: a user-provided Secret is issued by whoever created it. */
export function checkCertificateIssuer(settings: { readonly source: string; readonly issuer?: unknown }, ctx: z.RefinementCtx): void {
  if (settings.issuer && settings.source !== 'cert-manager') {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['issuer'], message: "applies only to source 'cert-manager' (a 'secret' source is issued by whoever created it)" });
  }
}
