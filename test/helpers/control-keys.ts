/** A control key pair for tests: HQ's signer and the public key an agent's config lists. */
import { createPrivateKey } from 'node:crypto';
import { ControlSigner, generateControlKeyPair } from '../../shared/wire/control-signing.js';

export function testControlKeys(): { signer: ControlSigner; publicKey: string; privatePem: string; signers: { maybe(tenant: string): ControlSigner | null } } {
  const { privatePem, publicKey } = generateControlKeyPair();
  const signer = new ControlSigner(createPrivateKey(privatePem));
  return { signer, publicKey, privatePem, signers: { maybe: () => signer } };
}
