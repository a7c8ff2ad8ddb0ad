// One rank of test/distributed.test.ts: runs each collective on rank-dependent values and prints
// what it got as one JSON line. MODE=hang: rank 1 sleeps instead of joining the all-reduce;
// MODE=die: rank 1 exits before it.
import { ProcessGroup } from '../../src/distributed/process-group';
import { tensor, zeros } from '../../src/tensor/create';

const pg = ProcessGroup.fromEnv({ timeoutSeconds: Number(process.env.TIMEOUT ?? 30) })!;
const r = pg.rank;
const mode = process.env.MODE ?? 'ok';
if (mode !== 'ok' && r === 1) {
  if (mode === 'die') process.exit(3);
  const end = Date.now() + 120000;
  while (Date.now() < end) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
}
const t0 = Date.now();
try {
  const a = tensor([1 + r, 10 * (r + 1), -r], { dtype: 'float32' });
  const c = tensor([100 * (r + 1)], { dtype: 'float32' });
  pg.allReduce([a, c]); // each on its own, not summed together
  const objects = pg.allGatherObject({ loss: r === 0 ? NaN : -Infinity, n: [r, Infinity] });
  const mx = tensor([r, 5 - r], { dtype: 'int64' });
  pg.allReduce([mx], 'max');
  const b = tensor([r === 0 ? 7 : 0, r === 0 ? 8 : 0], { dtype: 'float64' });
  pg.broadcast([b], 0);
  const g = pg.allGather(tensor([r, r * 2], { dtype: 'float32' }));
  pg.barrier();
  // gradients: w everywhere, u on rank 1 only, v nowhere
  const w = zeros([2, 3]).requiresGrad_(true);
  const u = zeros([4]).requiresGrad_(true);
  const v = zeros([1]).requiresGrad_(true);
  w.add(r + 1).mul(tensor([1, 2, 3])).sum().backward();
  if (r === 1) u.add(1).mul(3).sum().backward();
  const reduced = pg.allReduceGradients([w, u, v], 16); // 16 bytes: several buckets
  const scattered = pg.reduceScatter(tensor([r + 1, r + 1, 10 * (r + 1), 10 * (r + 1)], { dtype: 'float32' }));
  // the reducer overlapped with backward: a micro-batch without it (no_sync), then one with it;
  // e is used by the first micro-batch only, t twice in the second, u on rank 1 only, v nowhere
  const [W, U, V, T, E] = [zeros([2, 3]), zeros([4]), zeros([1]), zeros([3]), zeros([2])].map((p) => p.requiresGrad_(true));
  const reducer = pg.gradientReducer([W, U, V, T, E], { bucketBytes: 16, firstBucketBytes: 8 });
  W.mul(r + 1).sum().add(E.mul(r + 2).sum()).backward();
  let loss2 = W.mul(2).sum().add(T.mul(2).add(T.mul(r + 1)).sum());
  if (r === 1) loss2 = loss2.add(U.mul(3).sum());
  reducer.prepare([loss2]);
  loss2.backward();
  const finished = reducer.finish();
  const overlap = {
    ...finished,
    w: Array.from(W.grad!.toArray() as Float32Array),
    u: Array.from(U.grad!.toArray() as Float32Array),
    v: V.grad === null,
    t: Array.from(T.grad!.toArray() as Float32Array),
    e: Array.from(E.grad!.toArray() as Float32Array),
  };
  // a second backward pass before finish is refused, naming why
  let twice = '';
  const loss3 = W.sum();
  reducer.prepare([loss3]);
  loss3.backward(undefined, { retainGraph: true });
  try {
    loss3.backward();
  } catch (e) {
    twice = (e as Error).message;
  }
  reducer.disarm();
  reducer.free();
  const nums = pg.allReduceNumbers([r + 0.5, 2], 'sum');
  console.log(JSON.stringify({
    rank: r,
    sum: Array.from(a.toArray() as Float32Array),
    other: Array.from(c.toArray() as Float32Array),
    objects: JSON.stringify(objects.map((o) => [String(o.loss), String(o.n[0]), String(o.n[1])])),
    max: Array.from(mx.toArray() as BigInt64Array, Number),
    bcast: Array.from(b.toArray() as Float64Array),
    gather: g.map((x) => Array.from(x.toArray() as Float32Array)),
    wGrad: Array.from(w.grad!.toArray() as Float32Array),
    uGrad: Array.from(u.grad!.toArray() as Float32Array),
    vGrad: v.grad === null,
    reduced,
    scattered: Array.from(scattered.toArray() as Float32Array),
    overlap,
    twice,
    nums,
  }));
  pg.destroy();
} catch (e) {
  console.log(JSON.stringify({ rank: r, error: (e as Error).message, seconds: (Date.now() - t0) / 1000 }));
  process.exit(2);
}
