// Hub ids download into the standard Hugging Face cache layout through @huggingface/hub,
// against a local server with the Hub's file layout; then load offline from the cache.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ft from '../src';
import { HubServer, startHub } from './hubserver';

const FX = path.join(__dirname, 'fixtures', 'bert');
const quiet = { warn: () => undefined };

describe('Hub and cache', () => {
  let hub: HubServer;
  let home: string;
  const saved = { ...process.env };
  beforeAll(async () => {
    hub = await startHub({
      'test-org/tiny-bert': { dir: path.join(FX, 'seqcls') },
      'test-org/sharded': { dir: path.join(FX, 'seqcls-sharded') },
      'test-org/private': { dir: path.join(FX, 'seqcls'), token: 'hf_secret' },
    });
  });
  afterAll(async () => hub.close());
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ft-hfhome-'));
    process.env.HF_HOME = home;
    process.env.HF_ENDPOINT = hub.url;
    delete process.env.HF_HUB_CACHE;
    delete process.env.HF_HUB_OFFLINE;
    delete process.env.HF_TOKEN;
  });
  afterEach(() => {
    process.env = { ...saved };
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('downloads into $HF_HOME/hub in the layout Python uses, then loads offline', async () => {
    const m = await ft.AutoModelForSequenceClassification.fromPretrained('test-org/tiny-bert', quiet);
    const cache = path.join(home, 'hub', 'models--test-org--tiny-bert');
    const commit = fs.readFileSync(path.join(cache, 'refs', 'main'), 'utf8');
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    const snap = path.join(cache, 'snapshots', commit);
    for (const f of ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json']) {
      expect(fs.lstatSync(path.join(snap, f)).isSymbolicLink()).toBe(true);
      expect(fs.readFileSync(path.join(snap, f))).toEqual(fs.readFileSync(path.join(FX, 'seqcls', f)));
    }
    expect(fs.readdirSync(path.join(cache, 'blobs')).length).toBe(4);
    const logits = ft.tidy(() => {
      m.eval();
      return m.forward({ inputIds: ft.tensor([[2, 100, 3]]) }).logits.toNumbers();
    });
    m.dispose();

    // offline: no request reaches the server, the cache serves model and tokenizer
    process.env.HF_HUB_OFFLINE = '1';
    const before = hub.requests.length;
    const m2 = await ft.AutoModelForSequenceClassification.fromPretrained('test-org/tiny-bert', quiet);
    const tok = await ft.AutoTokenizer.fromPretrained('test-org/tiny-bert');
    expect(hub.requests.length).toBe(before);
    expect((await tok.encode(['hello'])).inputIds[0][0]).toBe(2);
    const logits2 = ft.tidy(() => {
      m2.eval();
      return m2.forward({ inputIds: ft.tensor([[2, 100, 3]]) }).logits.toNumbers();
    });
    expect(logits2).toEqual(logits);
    m2.dispose();
  });

  test('HF_HUB_CACHE wins over HF_HOME; an uncached model offline is a clear error', async () => {
    const cache = path.join(home, 'elsewhere');
    process.env.HF_HUB_CACHE = cache;
    const m = await ft.AutoModelForSequenceClassification.fromPretrained('test-org/sharded', quiet);
    m.dispose();
    expect(fs.existsSync(path.join(cache, 'models--test-org--sharded', 'snapshots'))).toBe(true);
    expect(fs.readdirSync(path.join(cache, 'models--test-org--sharded', 'blobs')).length).toBe(5); // config, index, 3 shards
    process.env.HF_HUB_OFFLINE = '1';
    await expect(ft.AutoModelForSequenceClassification.fromPretrained('test-org/tiny-bert', quiet)).rejects.toThrow(
      /not in the cache .*HF_HUB_OFFLINE/,
    );
  });

  test('HF_TOKEN is sent; without it a private model is refused with a clear error', async () => {
    await expect(ft.AutoModelForSequenceClassification.fromPretrained('test-org/private', quiet)).rejects.toThrow(/access denied .*HF_TOKEN/);
    process.env.HF_TOKEN = 'hf_secret';
    const m = await ft.AutoModelForSequenceClassification.fromPretrained('test-org/private', quiet);
    m.dispose();
  });

  test('an unknown repo is a clear error; an unreachable hub falls back to the cache', async () => {
    await expect(ft.AutoModelForSequenceClassification.fromPretrained('test-org/nope', quiet)).rejects.toThrow(/no such model/);
    const m = await ft.AutoModelForSequenceClassification.fromPretrained('test-org/tiny-bert', quiet);
    m.dispose();
    process.env.HF_ENDPOINT = 'http://127.0.0.1:9'; // nothing listens there
    const m2 = await ft.AutoModelForSequenceClassification.fromPretrained('test-org/tiny-bert', quiet);
    m2.dispose();
  });

  test('an unreachable hub without a cached copy is a clear error', async () => {
    process.env.HF_ENDPOINT = 'http://127.0.0.1:9';
    await expect(ft.AutoModelForSequenceClassification.fromPretrained('test-org/tiny-bert', quiet)).rejects.toThrow(
      /test-org\/tiny-bert: cannot reach http:\/\/127\.0\.0\.1:9 .* not in the cache/,
    );
  });

  test('a path that does not exist and is not a Hub id is a clear error', async () => {
    await expect(ft.AutoModelForSequenceClassification.fromPretrained('./no/such/dir', quiet)).rejects.toThrow(/no such directory/);
  });
});
