import { listen, connect } from 'rudpx';
const server = await listen({ port: 0 });
const C = Number(process.env.C), N = Number(process.env.N);
let next = 0;
const t0 = performance.now();
const lat: number[] = [];
await Promise.all(Array.from({ length: C }, async () => {
  while (next < N) { next++; const t = performance.now(); await connect({ port: server.address().port }); lat.push(performance.now() - t); }
}));
lat.sort((a, b) => a - b);
const s = server.stats();
console.log({ C, secs: (performance.now() - t0) / 1000, p50: lat[lat.length >> 1].toFixed(1), p90: lat[Math.floor(lat.length * 0.9)].toFixed(1), rx: s.datagramsReceived / N, retries: s.retriesSent / N });
process.exit(0);
