// Configuration from flags, falling back to environment variables, so the
// same program runs from a shell, a CI job or a platform's own pod.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { UsageError } from "./errors.js";

export interface Config {
  kubeconfig?: string; // undefined: KUBECONFIG, ~/.kube/config, or in-cluster
  namespace: string;
  name: string;
  command: string;
  annotations: Record<string, string>; // extra ones, after the command
  schemaPath: string;
  gatewayURL: URL;
  token: string;
  tool: string;
  toolArguments: Record<string, unknown>;
  timeoutMs: number;
  deleteAfter: boolean;
}

// In a pod the platform's own ServiceAccount token is the natural caller.
const inClusterToken = "/var/run/secrets/kubernetes.io/serviceaccount/token";

// The schema of this checkout: dist/config.js -> ../../../api/.
const defaultSchema = fileURLToPath(new URL("../../../api/annotations.schema.json", import.meta.url));

export const usage = `usage: node dist/main.js [flags]

Creates (or replaces) an annotated Deployment running a stdio MCP server on
the platform's base image, waits until it is available, then lists and calls
a tool through the MCP gateway.

  --kubeconfig PATH      kubeconfig (env KUBECONFIG; default ~/.kube/config or in-cluster)
  --namespace NS         namespace of the Deployment (env MCP_NAMESPACE; default "default")
  --name NAME            Deployment and MCP server name (env MCP_SERVER_NAME; default "everything")
  --command CMD          mcp.archestra.io/command (env MCP_COMMAND;
                         default "npx -y @modelcontextprotocol/server-everything")
  --annotation KEY=VALUE another annotation on the Deployment (repeatable)
  --schema PATH          annotations JSON Schema (env MCP_ANNOTATIONS_SCHEMA;
                         default api/annotations.schema.json of this checkout)
  --gateway URL          gateway base URL, e.g. http://mcp-gateway.mcp-system (env MCP_GATEWAY_URL)
  --token-file PATH      bearer token for the gateway (env MCP_TOKEN_FILE, or the token
                         itself in MCP_TOKEN; default the pod's ServiceAccount token)
  --tool NAME            tool to call (default "echo")
  --arguments JSON       its arguments (default {"message":"hello from TypeScript"})
  --timeout SECONDS      how long to wait for the Deployment and the gateway (default 180)
  --delete               delete the Deployment at the end
  --help                 this text

Exit codes: 0 done, 1 other failure, 2 bad flags or annotations (nothing was
sent), 3 refused by the API server (e.g. the webhook denied it), 4 refused by
the gateway (401/403).`;

const options = {
  kubeconfig: { type: "string" },
  namespace: { type: "string" },
  name: { type: "string" },
  command: { type: "string" },
  annotation: { type: "string", multiple: true },
  schema: { type: "string" },
  gateway: { type: "string" },
  "token-file": { type: "string" },
  tool: { type: "string" },
  arguments: { type: "string" },
  timeout: { type: "string" },
  delete: { type: "boolean" },
  help: { type: "boolean" },
} as const;

// parseConfig returns undefined when --help was asked for.
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config | undefined {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    return undefined;
  }
  return {
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
    namespace: values.namespace ?? env.MCP_NAMESPACE ?? "default",
    name: values.name ?? env.MCP_SERVER_NAME ?? "everything",
    command: values.command ?? env.MCP_COMMAND ?? "npx -y @modelcontextprotocol/server-everything",
    annotations: parseAnnotations(values.annotation ?? []),
    schemaPath: values.schema ?? env.MCP_ANNOTATIONS_SCHEMA ?? defaultSchema,
    gatewayURL: parseGateway(values.gateway ?? env.MCP_GATEWAY_URL),
    token: readToken(values["token-file"] ?? env.MCP_TOKEN_FILE, env.MCP_TOKEN),
    tool: values.tool ?? "echo",
    toolArguments: parseArguments(values.arguments ?? '{"message":"hello from TypeScript"}'),
    timeoutMs: parseTimeout(values.timeout ?? "180"),
    deleteAfter: values.delete ?? false,
  };
}

function parseAnnotations(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf("=");
    if (i <= 0) {
      throw new UsageError(`--annotation ${JSON.stringify(p)}: want KEY=VALUE`);
    }
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

function parseGateway(s: string | undefined): URL {
  if (!s) {
    throw new UsageError("no gateway URL: set --gateway or MCP_GATEWAY_URL");
  }
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new UsageError(`--gateway ${JSON.stringify(s)}: not a URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new UsageError(`--gateway ${JSON.stringify(s)}: want http or https`);
  }
  return u;
}

function parseArguments(s: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch (err) {
    throw new UsageError(`--arguments: not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new UsageError("--arguments: want a JSON object");
  }
  return v as Record<string, unknown>;
}

function parseTimeout(s: string): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--timeout ${JSON.stringify(s)}: want a positive number of seconds`);
  }
  return n * 1000;
}

// readToken never puts the token into an error message.
function readToken(file: string | undefined, inline: string | undefined): string {
  if (file === undefined && inline) {
    return inline.trim();
  }
  const path = file ?? (existsSync(inClusterToken) ? inClusterToken : undefined);
  if (path === undefined) {
    throw new UsageError("no gateway token: set --token-file, MCP_TOKEN_FILE or MCP_TOKEN");
  }
  try {
    const t = readFileSync(path, "utf8").trim();
    if (t === "") {
      throw new UsageError(`token file ${path} is empty`);
    }
    return t;
  } catch (err) {
    if (err instanceof UsageError) {
      throw err;
    }
    throw new UsageError(`token file: ${(err as Error).message}`);
  }
}
