// The TypeScript MCP SDK's OAuth client through the gateway: it is given
// only the MCP server's URL, follows the 401 to the gateway's protected
// resource metadata and the authorization server's metadata, gets a token,
// lists the tools and calls whoami. test/gateway (TestTypeScriptOAuthClient)
// runs it; the browser step goes to the test (BROWSER_URL), which plays the
// user's browser through the identity provider's login and consent.
//
// Environment: MCP_URL, MODE (authorization_code | client_credentials),
// REDIRECT_URL, BROWSER_URL, CLIENT_ID (none: dynamic client registration),
// CLIENT_SECRET, ISSUER, SCOPE (client_credentials). Prints one JSON line.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { randomBytes } from 'node:crypto';

const env = process.env;
const serverUrl = new URL(env.MCP_URL);

// An OAuthClientProvider that keeps everything in memory and hands the
// authorization URL to the test's browser.
class CodeFlowProvider {
  constructor() {
    this.info = env.CLIENT_ID ? { client_id: env.CLIENT_ID } : undefined;
    this.expectedState = randomBytes(16).toString('hex');
  }
  get redirectUrl() { return env.REDIRECT_URL; }
  get clientMetadata() {
    return {
      client_name: 'ts-sdk gateway test',
      redirect_uris: [env.REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() { return this.expectedState; }
  clientInformation() { return this.info; }
  saveClientInformation(info) { this.info = info; }
  tokens() { return this.savedTokens; }
  saveTokens(tokens) { this.savedTokens = tokens; }
  redirectToAuthorization(url) { this.authorizationUrl = url; }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
}

// Hydra grants a client-credentials token an audience only when asked with
// its own "audience" parameter; the SDK sends the RFC 8707 resource, which
// Hydra ignores. The scope must be configured (SCOPE): for client
// credentials the SDK (1.32.2) asks for the provider's configured scope
// only, not the one of the gateway's challenge or metadata.
class HydraClientCredentials extends ClientCredentialsProvider {
  prepareTokenRequest(scope) {
    const params = super.prepareTokenRequest(scope);
    params.set('audience', serverUrl.href);
    return params;
  }
}

// Hydra's registration response has "" for the URIs a client did not set
// (client_uri, logo_uri, ...) and null for contacts, which the SDK's schema
// refuses (invalid URL, not an array); this fetch drops them, and notes
// that a registration happened.
let registered = false;
async function fetchForHydra(url, init) {
  const res = await fetch(url, init);
  if (init?.method !== 'POST' || !String(url).endsWith('/oauth2/register') || !res.ok) return res;
  registered = true;
  const doc = await res.json();
  for (const [k, v] of Object.entries(doc)) if (v === '' || v === null) delete doc[k];
  return new Response(JSON.stringify(doc), { status: res.status, headers: { 'content-type': 'application/json' } });
}

async function browse(url) {
  const res = await fetch(env.BROWSER_URL, { method: 'POST', body: url.href });
  if (!res.ok) throw new Error(`browser: ${res.status} ${await res.text()}`);
  return res.json();
}

async function connect(client, provider) {
  let transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider, fetch: fetchForHydra });
  try {
    await client.connect(transport);
    return;
  } catch (e) {
    if (!(e instanceof UnauthorizedError) || !provider.authorizationUrl) throw e;
  }
  const back = await browse(provider.authorizationUrl);
  if (back.state !== provider.expectedState) throw new Error('state mismatch');
  await transport.finishAuth(back.code);
  transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider, fetch: fetchForHydra });
  await client.connect(transport);
}

const provider = env.MODE === 'client_credentials'
  ? new HydraClientCredentials({ clientId: env.CLIENT_ID, clientSecret: env.CLIENT_SECRET, expectedIssuer: env.ISSUER, scope: env.SCOPE })
  : new CodeFlowProvider();
const client = new Client({ name: 'ts-oauth-client', version: '1.0.0' });
await connect(client, provider);
const tools = await client.listTools();
const whoami = await client.callTool({ name: 'whoami', arguments: {} });
const header = await client.callTool({ name: 'header', arguments: { text: 'Authorization' } });
console.log(JSON.stringify({
  tools: tools.tools.map((t) => t.name),
  whoami: whoami.content[0].text,
  authorizationHeaderAtServer: header.content[0]?.text ?? '',
  registered,
  authorizationUrl: provider.authorizationUrl?.href ?? '',
}));
await client.close();
