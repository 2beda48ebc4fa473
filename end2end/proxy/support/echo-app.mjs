// The application behind both proxies. It responds to every request with a description of the
// request it received, so tests can see exactly which headers the proxy forwarded: an HTML page for
// browsers (the JSON is in `<pre id="echo">`), plain JSON for other clients.
// Usage: node echo-app.mjs HOST PORT
import http from 'node:http';

const [host = '127.0.0.1', port = '8080'] = process.argv.slice(2);

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

// Cookie values (Gatehouse's session id among them) stay out of pages and screenshots; the names
// show which cookies arrived.
function redactCookies(header) {
  return header.replace(/=[^;]*/g, '=[redacted]');
}

const server = http.createServer(async (request, response) => {
  let body = '';
  for await (const chunk of request) body += chunk;
  // rawHeaders keeps repeated headers apart, so a test can see a header that arrived twice.
  const headers = [];
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    const name = request.rawHeaders[index].toLowerCase();
    headers.push([name, name === 'cookie' ? redactCookies(request.rawHeaders[index + 1]) : request.rawHeaders[index + 1]]);
  }
  const description = JSON.stringify({ method: request.method, url: request.url, headers, body }, null, 2);
  const wantsHtml = (request.headers.accept ?? '').includes('text/html');
  const page = wantsHtml
    ? `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Echo</title></head>` +
      `<body><h1>Echo application</h1><pre id="echo">${escapeHtml(description)}</pre></body></html>`
    : description;
  response.writeHead(200, {
    'Content-Type': wantsHtml ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  response.end(page);
});

server.listen(Number(port), host, () => console.log(`echo app listening on ${host}:${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
