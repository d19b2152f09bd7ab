// The MCP side: a client session to <gateway>/mcp/<namespace>/<server> with
// the TypeScript MCP SDK, authenticated with a Kubernetes bearer token that
// the gateway checks with TokenReview and RBAC (verb "use" on
// servers.mcp.archestra.io).
import { setTimeout as sleep } from "node:timers/promises";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

import { GatewayRefusedError } from "./errors.js";

export function serverURL(gateway: URL, namespace: string, name: string): URL {
  const base = gateway.href.endsWith("/") ? gateway.href : gateway.href + "/";
  return new URL(`mcp/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`, base);
}

// connect retries while the gateway answers 502/503 until the deadline: right
// after a rollout the gateway may not have seen the new pod Ready yet.
export async function connect(url: URL, token: string, deadline: number): Promise<Client> {
  for (;;) {
    const client = new Client({ name: "mcp-orchestrator-typescript-example", version: "0.1.0" });
    const transport = new StreamableHTTPClientTransport(url, {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    try {
      await client.connect(transport);
      return client;
    } catch (err) {
      await client.close().catch(() => {});
      const code = err instanceof StreamableHTTPError ? err.code : undefined;
      if ((code === 502 || code === 503) && Date.now() < deadline) {
        await sleep(500);
        continue;
      }
      throw explain(err, url);
    }
  }
}

// callText calls a tool and returns its text content; a tool error throws.
export async function callText(client: Client, tool: string, args: Record<string, unknown>): Promise<string> {
  const res = (await client.callTool({ name: tool, arguments: args })) as CallToolResult;
  const text = res.content.flatMap((c) => (c.type === "text" ? [c.text] : [])).join("\n");
  if (res.isError) {
    throw new Error(`tool ${tool} failed: ${text}`);
  }
  return text;
}

// explain names the gateway's refusal: 401 is a missing or invalid token, 403
// an identity without RBAC to use the server. The gateway's own message
// (which user, which verb) is kept; the token never appears in it.
function explain(err: unknown, url: URL): Error {
  if (!(err instanceof StreamableHTTPError)) {
    return new Error(`MCP session to ${url}: ${(err as Error).message}`, { cause: err });
  }
  const detail = gatewayMessage(err.message);
  switch (err.code) {
    case 401:
      return new GatewayRefusedError(`gateway refused the token (401 Unauthorized) at ${url}: ${detail}`);
    case 403:
      return new GatewayRefusedError(
        `gateway refused access (403 Forbidden) at ${url}: ${detail}; ` +
        "grant the token's identity the verb \"use\" on servers.mcp.archestra.io (see manifests/examples/rbac-use-server.yaml)",
      );
    default:
      return new Error(`MCP session to ${url}: HTTP ${err.code}: ${detail}`, { cause: err });
  }
}

// gatewayMessage extracts the JSON-RPC error message of the gateway's body
// from the SDK's "Streamable HTTP error: Error POSTing to endpoint: <body>".
function gatewayMessage(message: string): string {
  const i = message.indexOf("{");
  if (i >= 0) {
    try {
      const body = JSON.parse(message.slice(i)) as { error?: { message?: string } };
      if (body.error?.message) {
        return body.error.message;
      }
    } catch {
      // not JSON: keep the text as it is
    }
  }
  return message.replace(/^Streamable HTTP error: (Error POSTing to endpoint: )?/, "");
}
