// A local stand-in for the Hugging Face Hub: the same URL layout and headers for the calls
// fulltune makes (revision info, paths-info, resolve with Range), serving folders as repos.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';

export interface HubRepo {
  dir: string;
  /** Requests must carry `Authorization: Bearer <token>`. */
  token?: string;
}

export interface HubServer {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

const sha1 = (b: Buffer | string) => crypto.createHash('sha1').update(b).digest('hex');
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

export async function startHub(repos: Record<string, HubRepo>): Promise<HubServer> {
  const requests: string[] = [];
  const commitOf = (id: string) => sha1(`commit:${id}:${fs.readdirSync(repos[id].dir).sort().join(',')}`);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}`);
    const notFound = (code = 'RepoNotFound') => {
      res.writeHead(404, { 'X-Error-Code': code, 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: code }));
    };
    const authorised = (id: string) => !repos[id].token || req.headers.authorization === `Bearer ${repos[id].token}`;
    let m = /^\/api\/models\/(.+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (m && req.method === 'GET') {
      const id = decodeURIComponent(m[1]);
      if (!repos[id]) return notFound();
      if (!authorised(id)) return res.writeHead(401).end();
      const files = fs.readdirSync(repos[id].dir);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ id, sha: commitOf(id), siblings: files.map((f) => ({ rfilename: f })) }));
    }
    m = /^\/api\/models\/(.+)\/paths-info\/([^/]+)$/.exec(url.pathname);
    if (m && req.method === 'POST') {
      const id = decodeURIComponent(m[1]);
      if (!repos[id]) return notFound();
      if (!authorised(id)) return res.writeHead(401).end();
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const { paths } = JSON.parse(body) as { paths: string[] };
        const out = paths
          .filter((p) => fs.existsSync(path.join(repos[id].dir, p)))
          .map((p) => {
            const data = fs.readFileSync(path.join(repos[id].dir, p));
            const lfs = p.endsWith('.safetensors') || p.endsWith('.bin') ? { oid: sha256(data), size: data.length, pointerSize: 134 } : undefined;
            return { type: 'file', path: p, oid: sha1(data), size: data.length, lfs, lastCommit: { id: commitOf(id), title: 'x', date: new Date(0).toISOString() } };
          });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(out));
      });
      return;
    }
    m = /^\/(.+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m) {
      const id = decodeURIComponent(m[1]);
      if (!repos[id]) return notFound();
      if (!authorised(id)) return res.writeHead(401).end();
      const file = path.join(repos[id].dir, decodeURIComponent(m[3]));
      if (!fs.existsSync(file)) return notFound('EntryNotFound');
      const data = fs.readFileSync(file);
      const headers: Record<string, string | number> = { ETag: `"${sha1(data)}"`, 'X-Repo-Commit': commitOf(id), 'Accept-Ranges': 'bytes' };
      const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
      if (range) {
        const [a, b] = [Number(range[1]), Math.min(Number(range[2]), data.length - 1)];
        res.writeHead(206, { ...headers, 'Content-Range': `bytes ${a}-${b}/${data.length}`, 'Content-Length': b - a + 1 });
        return res.end(req.method === 'HEAD' ? undefined : data.subarray(a, b + 1));
      }
      res.writeHead(200, { ...headers, 'Content-Length': data.length });
      return res.end(req.method === 'HEAD' ? undefined : data);
    }
    notFound('NotFound');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${addr.port}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
