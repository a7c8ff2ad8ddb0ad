// fulltune's version, from package.json (one source: written into saved configs and reports).
import * as fs from 'fs';
import * as path from 'path';

function read(): string {
  for (const up of ['..', path.join('..', '..')]) {
    const f = path.join(__dirname, up, 'package.json');
    try {
      const p = JSON.parse(fs.readFileSync(f, 'utf8')) as { name?: string; version?: string };
      if (p.name === 'fulltune' && p.version) return p.version;
    } catch {
      /* try the next level: src/ and dist/ sit at different depths */
    }
  }
  return 'unknown';
}

export const FULLTUNE_VERSION = read();
