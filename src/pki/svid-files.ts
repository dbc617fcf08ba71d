import { join } from 'node:path';
import { writeFileAtomic } from '../util/files.ts';
import type { IssuedSvid } from './authority.ts';
import { certificatesToPem, type x509 } from './x509.ts';

export interface SvidFiles {
  readonly cert: string;
  readonly key: string;
  readonly bundle: string;
}

/**
 * The file layout SPIFFE helpers use: svid.pem is the SVID followed by its
 * intermediate, svid.key its private key (mode 0600, readable by the
 * workload alone; it lives no longer than the SVID), bundle.pem the roots.
 */
export function writeSvidFiles(dir: string, issued: IssuedSvid, root: x509.X509Certificate): SvidFiles {
  const files = { cert: join(dir, 'svid.pem'), key: join(dir, 'svid.key'), bundle: join(dir, 'bundle.pem') };
  writeFileAtomic(files.key, issued.keyPem, 0o600);
  writeFileAtomic(files.cert, certificatesToPem(issued.chain), 0o644);
  writeFileAtomic(files.bundle, certificatesToPem([root]), 0o644);
  return files;
}
