#!/usr/bin/env node
// What a platform does to run an MCP server on the orchestrator, from its own
// code: validate the annotations against the published JSON Schema, create
// (or replace) the labelled Deployment, wait until it is available, and call
// the server through the gateway. See README.md.
import { AppsV1Api } from "@kubernetes/client-node";

import { loadValidator } from "./annotations.js";
import { type Config, parseConfig, usage } from "./config.js";
import * as deployment from "./deployment.js";
import { exitCodeOf } from "./errors.js";
import * as mcp from "./mcp.js";

async function run(cfg: Config): Promise<void> {
  const deadline = Date.now() + cfg.timeoutMs;
  const annotations = { [deployment.commandAnnotation]: cfg.command, ...cfg.annotations };
  // Before any API call: a bad annotation never reaches the cluster.
  loadValidator(cfg.schemaPath)(annotations);
  console.log(`annotations valid against ${cfg.schemaPath}`);

  const apps = deployment.loadKubeConfig(cfg.kubeconfig).makeApiClient(AppsV1Api);
  const what = await deployment.apply(apps, cfg.namespace, deployment.manifest(cfg.name, annotations));
  console.log(`deployment ${cfg.namespace}/${cfg.name} ${what}`);
  let called = false;
  try {
    await callThroughGateway(apps, cfg, deadline);
    called = true;
  } finally {
    // --delete cleans up after a failed call too; then the call's error wins.
    if (cfg.deleteAfter) {
      await deleteDeployment(apps, cfg, called);
    }
  }
}

async function deleteDeployment(apps: AppsV1Api, cfg: Config, mustSucceed: boolean): Promise<void> {
  try {
    await deployment.remove(apps, cfg.namespace, cfg.name);
    console.log(`deployment ${cfg.namespace}/${cfg.name} deleted`);
  } catch (err) {
    if (mustSucceed) {
      throw err;
    }
    console.error(`error: ${(err as Error).message}`);
  }
}

async function callThroughGateway(apps: AppsV1Api, cfg: Config, deadline: number): Promise<void> {
  const d = await deployment.waitAvailable(apps, cfg.namespace, cfg.name, deadline);
  console.log(`deployment ${cfg.namespace}/${cfg.name} available: ${d.status?.availableReplicas} of ${d.spec?.replicas} replicas`);

  const url = mcp.serverURL(cfg.gatewayURL, cfg.namespace, cfg.name);
  const client = await mcp.connect(url, cfg.token, deadline);
  try {
    const info = client.getServerVersion();
    console.log(`connected to ${url} (server ${info?.name} ${info?.version})`);
    const { tools } = await client.listTools();
    console.log(`tools: ${tools.map((t) => t.name).sort().join(", ")}`);
    const text = await mcp.callText(client, cfg.tool, cfg.toolArguments);
    console.log(`called ${cfg.tool}: ${text}`);
  } finally {
    await client.close();
  }
}

async function main(): Promise<number> {
  try {
    const cfg = parseConfig(process.argv.slice(2), process.env);
    if (cfg === undefined) {
      console.log(usage);
      return 0;
    }
    await run(cfg);
    return 0;
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return exitCodeOf(err);
  }
}

process.exitCode = await main();
