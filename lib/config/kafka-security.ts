import { z } from 'zod';
import { certificateIssuer, certificateSource, checkCertificateIssuer } from './certificate-source';
import { dnsSubdomain } from './names';

// Kafka's transport security: the kafka.security setting and its production rule.

/** A whole number of hours, as cert-manager's Go durations write it ('2160h'); at least cert-manager's minimum of 1h. */
const certificateHours = z.string().regex(/^[1-9][0-9]*h$/, "must be a whole number of hours such as '2160h' (cert-manager's duration format)");
const hours = (duration: string): number => Number.parseInt(duration, 10);

export const kafkaSecurity = z
  .object({
    /**
     * No PLAINTEXT listener: clients (the services, an operator's port-forward) authenticate with
     * SASL/SCRAM-SHA-512 over TLS; brokers, KRaft voters and the admin Jobs with TLS client certificates.
     */
    enabled: z.boolean(),
    /**
     * Where the certificates come from: 'cert-manager' (Certificates in dist/, cert-manager is a prerequisite) or
     * 'secret' (kubernetes.io/tls Secrets the user creates, each with tls.crt, a PKCS#8 tls.key and ca.crt).
     */
    source: certificateSource,
    /** The Secret of the Kafka nodes' certificate (server and client: brokers and voters present it to each other). */
    secretName: dnsSubdomain,
    /** The Secret of the admin Jobs' client certificate (topics, rebalance, features): the only principal besides the nodes' with every right. */
    adminSecretName: dnsSubdomain,
    /** cert-manager only: the issuer that signs both certificates. @default - a self-signed CA created in the kafka namespace */
    issuer: certificateIssuer,
    /**
     * cert-manager only: the life of the nodes' and the admin Jobs' certificates, in hours (cert-manager's
     * `duration`, a Go duration). @default '2160h' (90 days)
     */
    certificateDuration: certificateHours,
    /**
     * cert-manager only: how long before expiry cert-manager renews them (`renewBefore`); the nodes pick a renewed
     * certificate up within a minute (the tls-reload sidecar), so this is the margin for a renewal that fails.
     * @default '720h' (30 days)
     */
    renewBefore: certificateHours,
    /** The only way to run the production profile without it: every pod that reaches a broker can read, write and delete every topic. */
    insecurePlaintextInProduction: z.boolean(),
  })
  .strict()
  .superRefine((security, ctx) => {
    checkCertificateIssuer(security, ctx);
    if (hours(security.renewBefore) >= hours(security.certificateDuration)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['renewBefore'],
        message: `must be shorter than kafka.security.certificateDuration (${security.certificateDuration}): cert-manager would renew the certificate as soon as it is issued`,
      });
    }
    if (security.secretName === security.adminSecretName) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['adminSecretName'], message: 'must differ from kafka.security.secretName: the admin Jobs get a certificate of their own' });
    }
  });

export type KafkaSecurityInput = z.input<typeof kafkaSecurity>;

export const kafkaSecurityDefaults = {
  enabled: false,
  source: 'cert-manager',
  secretName: 'kafka-tls',
  adminSecretName: 'kafka-admin-tls',
  certificateDuration: '2160h',
  renewBefore: '720h',
  insecurePlaintextInProduction: false,
} satisfies KafkaSecurityInput;

/** Production keeps Kafka's authentication and TLS unless the loudly named opt-out is set. */
export function checkKafkaSecurity(config: { readonly profile: string; readonly kafka: { readonly security: z.infer<typeof kafkaSecurity> } }, ctx: z.RefinementCtx): void {
  const { security } = config.kafka;
  if (config.profile === 'production' && !security.enabled && !security.insecurePlaintextInProduction) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['kafka', 'security', 'enabled'],
      message:
        'must be true in the production profile: without it any pod that reaches a broker produces, consumes and deletes topics unauthenticated, in the clear ' +
        '(set kafka.security.insecurePlaintextInProduction: true to accept that)',
    });
  }
}

// The principals' names and their Secrets: in a module without zod, so the verifier can import them.
export * from './kafka-principals';
