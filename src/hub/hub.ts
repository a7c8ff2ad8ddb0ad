// The Hugging Face Hub and its cache, shared with Python: files land in the standard layout
// (<cache>/models--org--name/{blobs,snapshots/<commit>,refs/<revision>}), downloaded with
// Hugging Face's own JS client. HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_TOKEN and
// HF_ENDPOINT mean what they mean to Python.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { downloadFileToCacheDir } from '@huggingface/hub';
import { shardsOf } from './checkpoint';

export interface HubOptions {
  /** Branch, tag or commit; default "main". */
  revision?: string;
  /** The hub cache folder; default HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Default HF_TOKEN, else the token file Python's `hf auth login` writes. */
  token?: string;
  /** Never touch the network (also HF_HUB_OFFLINE=1). */
  localFilesOnly?: boolean;
  /** Default HF_ENDPOINT, else https://huggingface.co */
  endpoint?: string;
}

/** The files a model directory may need; weights are chosen from what the repo has. */
const CONFIG_FILES = ['config.json'];
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json', 'added_tokens.json'];
const WEIGHT_CHOICES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'];

const truthy = (v: string | undefined) => !!v && ['1', 'true', 'yes', 'on'].includes(v.toLowerCase());

function hfHome(): string {
  return process.env.HF_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
}
export function hubCacheDir(o: HubOptions = {}): string {
  return o.cacheDir ?? process.env.HF_HUB_CACHE ?? path.join(hfHome(), 'hub');
}
function token(o: HubOptions): string | undefined {
  if (o.token) return o.token;
  if (process.env.HF_TOKEN) return process.env.HF_TOKEN;
  const f = process.env.HF_TOKEN_PATH ?? path.join(hfHome(), 'token');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim() || undefined : undefined;
}
function endpoint(o: HubOptions): string {
  return (o.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/;
const COMMIT = /^[0-9a-f]{40}$/;

export function repoFolder(id: string): string {
  return `models--${id.replace(/\//g, '--')}`;
}

export class HubError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'HubError';
  }
}

/** The snapshot folder of a cached revision, or null. */
export function cachedSnapshot(id: string, o: HubOptions = {}): string | null {
  const storage = path.join(hubCacheDir(o), repoFolder(id));
  const rev = o.revision ?? 'main';
  let commit = rev;
  if (!COMMIT.test(rev)) {
    const ref = path.join(storage, 'refs', rev);
    if (!fs.existsSync(ref)) return null;
    commit = fs.readFileSync(ref, 'utf8').trim();
  }
  const snap = path.join(storage, 'snapshots', commit);
  return fs.existsSync(path.join(snap, 'config.json')) ? snap : null;
}

/**
 * A local directory for `idOrDir`: the directory itself, or the cache snapshot of a Hub repo,
 * downloading what is missing unless offline. A network failure falls back to the cache.
 */
export async function resolveModelDir(idOrDir: string, o: HubOptions = {}): Promise<string> {
  if (fs.existsSync(idOrDir)) {
    if (!fs.statSync(idOrDir).isDirectory()) throw new HubError(`${idOrDir} is a file; expected a model directory or a Hub id`);
    return idOrDir;
  }
  if (!REPO_ID.test(idOrDir)) throw new HubError(`${idOrDir}: no such directory, and not a Hub model id`);
  const offline = o.localFilesOnly || truthy(process.env.HF_HUB_OFFLINE);
  if (offline) {
    const snap = cachedSnapshot(idOrDir, o);
    if (!snap) {
      throw new HubError(`${idOrDir} (revision ${o.revision ?? 'main'}) is not in the cache ${hubCacheDir(o)}, and downloads are off (HF_HUB_OFFLINE or localFilesOnly)`);
    }
    return snap;
  }
  try {
    return await download(idOrDir, o);
  } catch (e) {
    if (e instanceof HubError) throw e;
    const snap = cachedSnapshot(idOrDir, o);
    if (snap) return snap; // unreachable hub: use what we have
    const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
    throw new HubError(
      `${idOrDir}: cannot reach ${endpoint(o)} (${cause?.code ?? cause?.message ?? (e as Error).message}) and the model is not in the cache ${hubCacheDir(o)}; ` +
        'pass a local directory, or set HF_ENDPOINT to a reachable mirror',
    );
  }
}

async function download(id: string, o: HubOptions): Promise<string> {
  const hubUrl = endpoint(o);
  const accessToken = token(o);
  const revision = o.revision ?? 'main';
  const headers: Record<string, string> = accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
  const res = await fetch(`${hubUrl}/api/models/${id}/revision/${encodeURIComponent(revision)}`, { headers });
  if (res.status === 401 || res.status === 403) throw new HubError(`${id}: access denied by ${hubUrl} (HTTP ${res.status}); set HF_TOKEN for private or gated models`);
  if (res.status === 404) throw new HubError(`${id}: no such model or revision '${revision}' on ${hubUrl}`);
  if (!res.ok) throw new Error(`${id}: ${hubUrl} answered HTTP ${res.status}`);
  const info = (await res.json()) as { sha?: string; siblings?: { rfilename: string }[] };
  if (!info.sha || !COMMIT.test(info.sha) || !Array.isArray(info.siblings)) throw new HubError(`${id}: malformed revision info from ${hubUrl}`);
  const commit = info.sha;
  const files = new Set(info.siblings.map((s) => s.rfilename));
  if (!files.has('config.json')) throw new HubError(`${id}: the repository has no config.json`);
  const weights = WEIGHT_CHOICES.find((w) => files.has(w));
  if (!weights) throw new HubError(`${id}: the repository has none of ${WEIGHT_CHOICES.join(', ')}`);
  const cacheDir = hubCacheDir(o);
  const get = (p: string) =>
    downloadFileToCacheDir({ repo: { type: 'model', name: id }, path: p, revision: commit, hubUrl, accessToken, cacheDir });
  const wanted = [...CONFIG_FILES, weights, ...TOKENIZER_FILES.filter((f) => files.has(f))];
  // The client logs each download with console.debug, which goes to stdout: that would corrupt
  // `fulltune predict`'s JSON lines, so it is silenced for the duration.
  const debug = console.debug;
  console.debug = () => undefined;
  try {
    for (const f of wanted) await get(f);
    if (weights.endsWith('.index.json')) {
      for (const shard of shardsOf(path.join(cacheDir, repoFolder(id), 'snapshots', commit, weights))) await get(shard);
    }
  } finally {
    console.debug = debug;
  }
  if (!COMMIT.test(revision)) {
    const refs = path.join(cacheDir, repoFolder(id), 'refs');
    fs.mkdirSync(refs, { recursive: true });
    fs.writeFileSync(path.join(refs, revision), commit);
  }
  return path.join(cacheDir, repoFolder(id), 'snapshots', commit);
}
