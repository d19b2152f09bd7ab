// The annotated Deployment: what a platform writes, and how it creates,
// replaces, awaits and deletes it with @kubernetes/client-node.
import { setTimeout as sleep } from "node:timers/promises";

import { ApiException, AppsV1Api, KubeConfig, type V1Deployment } from "@kubernetes/client-node";

import { DeniedError } from "./errors.js";

// The label that makes a Deployment an MCP server (the webhooks select on it).
export const serverLabel = "mcp.archestra.io/server";
export const commandAnnotation = "mcp.archestra.io/command";

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path) {
      kc.loadFromFile(path);
    } else {
      kc.loadFromDefault(); // KUBECONFIG, ~/.kube/config, else in-cluster
    }
  } catch (err) {
    throw new Error(`kubeconfig ${path ?? "(default)"}: ${(err as Error).message}`, { cause: err });
  }
  return kc;
}

// manifest is a stdio server on the platform's base image: the container has
// no image, so the webhook sets the base image and runs the command in it.
export function manifest(name: string, annotations: Record<string, string>): V1Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels: { [serverLabel]: name }, annotations },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "server" }] },
      },
    },
  };
}

// apply creates the Deployment, or replaces the one of that name (carrying
// its resourceVersion, so a concurrent writer makes this fail, not vanish).
export async function apply(apps: AppsV1Api, namespace: string, d: V1Deployment): Promise<"created" | "replaced"> {
  const name = d.metadata!.name!;
  try {
    await apps.createNamespacedDeployment({ namespace, body: d });
    return "created";
  } catch (err) {
    if (!(err instanceof ApiException) || err.code !== 409) {
      throw explain(err, `create deployment ${namespace}/${name}`);
    }
  }
  try {
    const current = await apps.readNamespacedDeployment({ name, namespace });
    const body = { ...d, metadata: { ...d.metadata, resourceVersion: current.metadata?.resourceVersion } };
    await apps.replaceNamespacedDeployment({ name, namespace, body });
    return "replaced";
  } catch (err) {
    throw explain(err, `replace deployment ${namespace}/${name}`);
  }
}

// waitAvailable polls until the rollout is complete (as `kubectl rollout
// status` decides it): the controller saw this generation, and every replica
// is updated and available, no old pods left.
export async function waitAvailable(apps: AppsV1Api, namespace: string, name: string, deadline: number): Promise<V1Deployment> {
  let last = "not read yet";
  while (Date.now() < deadline) {
    let d: V1Deployment;
    try {
      d = await apps.readNamespacedDeployment({ name, namespace });
    } catch (err) {
      throw explain(err, `read deployment ${namespace}/${name}`);
    }
    const want = d.spec?.replicas ?? 1;
    const s = d.status ?? {};
    const stuck = s.conditions?.find((c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded");
    if (stuck) {
      throw new Error(`deployment ${namespace}/${name} is stuck: ${stuck.message}`);
    }
    last = `${s.availableReplicas ?? 0} of ${want} available, ${s.updatedReplicas ?? 0} updated, ${s.replicas ?? 0} in all`;
    if ((s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
      s.updatedReplicas === want && s.replicas === want && s.availableReplicas === want) {
      return d;
    }
    await sleep(1000);
  }
  throw new Error(`deployment ${namespace}/${name} not available in time: ${last}`);
}

export async function remove(apps: AppsV1Api, namespace: string, name: string): Promise<void> {
  try {
    await apps.deleteNamespacedDeployment({ name, namespace, body: { propagationPolicy: "Foreground" } });
  } catch (err) {
    throw explain(err, `delete deployment ${namespace}/${name}`);
  }
}

// explain turns the API server's answer into an error that says why. An
// admission denial (the webhook's, with every problem) is a DeniedError.
export function explain(err: unknown, what: string): Error {
  if (!(err instanceof ApiException)) {
    return new Error(`${what}: ${(err as Error).message}`, { cause: err });
  }
  const status = parseStatus(err.body);
  const message = status?.message ?? `HTTP ${err.code}`;
  if (err.code === 400 || err.code === 403 || err.code === 422) {
    // 403 is also what RBAC answers; the message says which ("admission
    // webhook ... denied the request" or "... cannot create resource").
    return new DeniedError(`${what}: refused by the API server (${err.code} ${status?.reason ?? ""}): ${message}`);
  }
  return new Error(`${what}: HTTP ${err.code}: ${message}`, { cause: err });
}

interface Status { message?: string; reason?: string }

function parseStatus(body: unknown): Status | undefined {
  if (typeof body !== "string") {
    return typeof body === "object" && body !== null ? (body as Status) : undefined;
  }
  try {
    return JSON.parse(body) as Status;
  } catch {
    return { message: body };
  }
}
