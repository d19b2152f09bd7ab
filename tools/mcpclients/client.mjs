// A real MCP client of either era, for the end-to-end suite:
//
//   node client.mjs v2|v2-pin|v2-legacy|v1 URL TOOL ARGS_JSON
//
// v2 is the TypeScript SDK 2.x negotiating the era ("auto": server/discover
// first, 2026-07-28 and no session when the server offers it); v2-pin
// insists on 2026-07-28; v2-legacy is 2.x with its default, the 2025
// handshake; v1 is the SDK 1.x (initialize and a session). The bearer
// token comes from MCP_TOKEN. It lists the tools and calls TOOL (if not
// empty), printing
// one JSON line: {"protocolVersion", "session", "tools", "text"}.
const [sdk, url, tool, args] = process.argv.slice(2);
const headers = { Authorization: `Bearer ${process.env.MCP_TOKEN ?? ""}` };

const negotiation = {
  v2: { mode: "auto" },
  "v2-pin": { mode: { pin: "2026-07-28" } },
  "v2-legacy": { mode: "legacy" },
};

async function load() {
  if (sdk.startsWith("v2")) {
    const m = await import("@modelcontextprotocol/client");
    return { Client: m.Client, Transport: m.StreamableHTTPClientTransport };
  }
  const c = await import("@modelcontextprotocol/sdk/client/index.js");
  const t = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  return { Client: c.Client, Transport: t.StreamableHTTPClientTransport };
}

const { Client, Transport } = await load();
const transport = new Transport(new URL(url), { requestInit: { headers } });
// MCP_ELICIT, when set, is the JSON content the client accepts every
// elicitation with (a server->client request in 2025, an input_required
// round in 2026).
const elicit = process.env.MCP_ELICIT;
const options = {
  ...(negotiation[sdk] ? { versionNegotiation: negotiation[sdk] } : {}),
  ...(elicit ? { capabilities: { elicitation: {} } } : {}),
};
const client = new Client({ name: `e2e-ts-${sdk}`, version: "1.0.0" }, options);
if (elicit) {
  const schema = sdk.startsWith("v2")
    ? "elicitation/create"
    : (await import("@modelcontextprotocol/sdk/types.js")).ElicitRequestSchema;
  client.setRequestHandler(schema, async () => ({ action: "accept", content: JSON.parse(elicit) }));
}
await client.connect(transport);
const tools = await client.listTools();
const res = tool
  ? await client.callTool({ name: tool, arguments: JSON.parse(args || "{}") })
  : { content: [] };
const version = transport.protocolVersion ?? client.getNegotiatedProtocolVersion?.() ?? null;
console.log(JSON.stringify({
  protocolVersion: version,
  session: transport.sessionId ?? null,
  tools: tools.tools.map((t) => t.name),
  text: (res.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join(""),
}));
await client.close();
