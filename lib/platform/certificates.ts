import type { Construct } from 'constructs';
import { Certificate, CertificateSpecPrivateKeyAlgorithm, CertificateSpecPrivateKeyRotationPolicy } from '../../imports/cert-manager-certificate-cert-manager.io';
import { Issuer } from '../../imports/cert-manager-issuer-cert-manager.io';

/** A cert-manager issuer reference. */
export interface IssuerRef {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
}

/**
 * The issuer a Certificate names: the configured one, or a self-signed CA of the namespace, bootstrapped
 * as cert-manager documents it (cert-manager.io/docs/configuration/selfsigned, "Bootstrapping CA Issuers"):
 * a self-signed Issuer signs the CA, whose Secret backs the Issuer that signs the certificates.
 */
export function certificateIssuer(
  scope: Construct,
  props: { readonly name: string; readonly namespace: string; readonly labels: Record<string, string>; readonly issuer?: { readonly kind: string; readonly name: string } },
): IssuerRef {
  if (props.issuer) return { group: 'cert-manager.io', kind: props.issuer.kind, name: props.issuer.name };
  const { name, namespace, labels } = props;
  const selfSigned = `${name}-selfsigned`;
  const ca = `${name}-ca`;
  new Issuer(scope, 'SelfSigned', { metadata: { name: selfSigned, namespace, labels }, spec: { selfSigned: {} } });
  new Certificate(scope, 'Ca', {
    metadata: { name: ca, namespace, labels },
    spec: {
      isCa: true,
      commonName: `${name} CA`,
      secretName: ca,
      duration: '87600h',
      // cert-manager 1.18+ defaults to Always: a renewed CA with a new key would not verify the certificates
      // already issued, and the pods that still trust the old CA would refuse those of the new one.
      privateKey: { algorithm: CertificateSpecPrivateKeyAlgorithm.ECDSA, size: 256, rotationPolicy: CertificateSpecPrivateKeyRotationPolicy.NEVER },
      issuerRef: { group: 'cert-manager.io', kind: 'Issuer', name: selfSigned },
    },
  });
  new Issuer(scope, 'CaIssuer', { metadata: { name: ca, namespace, labels }, spec: { ca: { secretName: ca } } });
  return { group: 'cert-manager.io', kind: 'Issuer', name: ca };
}
