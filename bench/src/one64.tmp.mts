import { rudpThroughput } from './udp/throughput.ts';
const api = await import('rudpx');
const r = await rudpThroughput(api as never, Number(process.argv[2]), 3000);
console.log(Math.round(r.messagesPerSec), 'msg/s', Math.round(r.datagramsPerSec), 'dgram/s', (r.cpuSeconds / (r.bytes / 1e9)).toFixed(2), 's/GB');
