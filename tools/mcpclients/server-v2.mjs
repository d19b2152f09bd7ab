// A stdio MCP server of the TypeScript SDK v2 (@modelcontextprotocol/server),
// for the sidecar's bridge tests: it speaks 2026-07-28 and the legacy
// revisions: serveStdio lets the opening exchange (server/discover or
// initialize) choose the era of the connection.
//
//   node server-v2.mjs
//
// Tools: echo {text} -> "echo: <text>"; ask-name asks the user's name with
// an input request (2026-07-28 MRTR; the SDK turns it into an elicitation
// for legacy clients) -> "hello, <name>"; region {region} mirrors region
// into Mcp-Param-Region (x-mcp-header).
import { McpServer, acceptedContent, fromJsonSchema, inputRequired } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";

const text = (t) => ({ content: [{ type: "text", text: t }] });

function newServer() {
const server = new McpServer({ name: "ts-v2-server", version: "1.0.0" }, { capabilities: { tools: {} } });
server.registerTool(
  "echo",
  {
    description: "echo the text",
    inputSchema: fromJsonSchema({ type: "object", properties: { text: { type: "string" } }, required: ["text"] }),
  },
  async ({ text: t }) => text(`echo: ${t}`),
);

const nameSchema = { type: "object", properties: { name: { type: "string" } }, required: ["name"] };
server.registerTool(
  "ask-name",
  { description: "asks the user's name", inputSchema: fromJsonSchema({ type: "object", properties: {} }) },
  async (_args, ctx) => {
    const answer = acceptedContent(ctx.mcpReq.inputResponses, "name", fromJsonSchema(nameSchema));
    if (!answer?.name) {
      return inputRequired({
        inputRequests: { name: inputRequired.elicit({ message: "Your name?", requestedSchema: nameSchema }) },
      });
    }
    return text(`hello, ${answer.name}`);
  },
);

server.registerTool(
  "region",
  {
    description: "echo the region",
    inputSchema: fromJsonSchema({
      type: "object",
      properties: { region: { type: "string", "x-mcp-header": "Region" } },
    }),
  },
  async ({ region }) => text(`region ${region}`),
);

return server;
}

serveStdio(newServer);
