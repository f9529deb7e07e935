// Echo from CommonJS: the same package through require().
// Run: node examples/echo.cjs
const { connect, listen, RudpError } = require('rudpx');

async function main() {
  const server = await listen({ port: 0 });
  server.on('connection', (conn) =>
    conn.on('message', (m) => {
      // Backpressure: a client that does not read its echoes is not read either (see echo.mjs).
      if (conn.write(m) || conn.isPaused()) return;
      conn.pause();
      conn.once('drain', () => conn.resume());
    }),
  );

  const conn = await connect({ port: server.address().port });
  const reply = new Promise((resolve) => conn.once('message', resolve));
  await conn.send(new Float64Array([Math.PI])); // any ArrayBufferView is sent by its bytes
  const buf = await reply;
  console.log(`client: got back ${buf.readDoubleLE(0)}`);

  // Errors carry Node-style codes.
  try {
    await connect({ host: 'no-such-host.invalid', port: 4000 });
  } catch (e) {
    console.log(`client: ${e instanceof RudpError ? e.code : e}`);
  }
  await conn.close();
  await server.close();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
