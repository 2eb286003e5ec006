/**
 * A private certificate authority made in the test, and a server certificate it signs: what a
 * GitHub Enterprise Server with a company CA, or a TLS-inspecting proxy, presents. Nothing a
 * machine's trust store knows, so a client trusts it only through NODE_EXTRA_CA_CERTS.
 *
 * ## Gotchas
 * - Keys come from node:crypto (fast, native); node-forge only builds and signs the X.509
 *   certificates (Node has no API to issue one).
 * - The server certificate names its hosts as subjectAltNames (DNS names and IP addresses): Node
 *   checks the SAN, not the common name (RFC 6125; nodejs.org/api/tls.html checkServerIdentity).
 */
import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

export interface PrivateCa {
  /** The CA certificate (PEM): what NODE_EXTRA_CA_CERTS names. */
  caPem: string;
  /** The server's key and certificate (PEM), for https.createServer. */
  key: string;
  cert: string;
}

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  return { privateKeyPem: privateKey, privateKey: forge.pki.privateKeyFromPem(privateKey), publicKey: forge.pki.publicKeyFromPem(publicKey) };
}

function certificate(subject: string, publicKey: forge.pki.PublicKey, serial: string): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  return cert;
}

/** A CA and a server certificate for `hosts` (DNS names; IPv4 addresses become IP SANs). */
export function makePrivateCa(hosts: string[]): PrivateCa {
  const ca = keyPair();
  const caCert = certificate('tart-fleet test CA', ca.publicKey, '01');
  caCert.setIssuer(caCert.subject.attributes);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  caCert.sign(ca.privateKey, forge.md.sha256.create());

  const server = keyPair();
  const cert = certificate(hosts[0] ?? 'localhost', server.publicKey, '02');
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hosts.map((h) => (/^\d+\.\d+\.\d+\.\d+$/.test(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
  ]);
  cert.sign(ca.privateKey, forge.md.sha256.create());
  return { caPem: forge.pki.certificateToPem(caCert), key: server.privateKeyPem, cert: forge.pki.certificateToPem(cert) };
}
