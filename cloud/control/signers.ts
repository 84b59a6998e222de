/**
 * HQ's control signing keys, one per tenant (cloud.yaml `tenants.<t>.controlKeyFile`), read once each.
 * Agents apply no downlink HQ did not sign, so a tenant without a key gets no opt-out list and no
 * segments: said once, clearly, instead of publishing what every agent would refuse.
 */
import { InputError } from '../../shared/errors.js';
import { readControlKeyFile } from '../../shared/identity/control-key-file.js';
import { ControlSigner } from '../../shared/wire/control-signing.js';
import type { CloudConfig } from '../config/cloud-config.js';

export class ControlSigners {
  private readonly cache = new Map<string, ControlSigner | null>();

  constructor(private readonly tenants: CloudConfig['tenants']) {}

  /** The tenant's signer, or null when cloud.yaml names no control key for it. A bad key file throws. */
  maybe(tenant: string): ControlSigner | null {
    let s = this.cache.get(tenant);
    if (s === undefined) {
      const file = this.tenants[tenant]?.controlKeyFile;
      s = file ? new ControlSigner(readControlKeyFile(file)) : null;
      this.cache.set(tenant, s);
    }
    return s;
  }

  /** The tenant's signer, or a clear error saying how to make one. */
  forTenant(tenant: string): ControlSigner {
    const s = this.maybe(tenant);
    if (!s) throw new InputError(`the cloud config has no control key for tenant ${tenant}: make one with \`omniloop key control --tenant ${tenant} --out ${tenant}-control.key\`, set tenants.${tenant}.controlKeyFile, and give its public key to the agents (control.publicKeys)`);
    return s;
  }
}
