// Node 20 loads test reporters before the tsx hooks that `--import tsx` installs, so
// scripts/test.mjs names this plain module, which loads the TypeScript reporter through tsx.
import { tsImport } from 'tsx/esm/api';

const { default: reporter } = await tsImport('./test-results-reporter.ts', import.meta.url);
export default reporter;
