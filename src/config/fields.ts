import { z } from 'zod';
import { checkClusterName } from '../pki/authority.ts';

/** Field schemas more than one configuration file shares (gateway config, deploy values). */

/** A cluster name: a DNS label, checked by the same rule the CA applies. */
export const clusterNameField = z.string().refine((name) => {
  try {
    checkClusterName(name);
    return true;
  } catch {
    return false;
  }
}, 'must be a DNS label (lowercase letters, digits, dashes), e.g. east');

/** A SPIFFE trust domain (SPIFFE ID §2.1: lowercase letters, digits, dots, dashes, underscores). */
export const trustDomainField = z.string().regex(/^[a-z0-9._-]{1,255}$/, 'must be a SPIFFE trust domain (lowercase letters, digits, dots, dashes)');
