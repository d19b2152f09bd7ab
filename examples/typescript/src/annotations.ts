// Checks a Deployment's annotations against the published contract
// (api/annotations.schema.json, generated from the orchestrator's own
// registry) before anything is sent: a typo in a key or an enum value fails
// here, with the key, instead of as a denial from the webhook.
import { readFileSync } from "node:fs";

import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";

import { UsageError } from "./errors.js";

export type AnnotationValidator = (annotations: Record<string, string>) => void;

export function loadValidator(schemaPath: string): AnnotationValidator {
  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(schemaPath, "utf8"));
  } catch (err) {
    throw new UsageError(`annotations schema ${schemaPath}: ${(err as Error).message}`);
  }
  // allErrors: report every bad annotation at once, as the webhook does.
  const validate = new Ajv2020({ allErrors: true }).compile(schema as object);
  const known = Object.keys((schema as { properties?: object }).properties ?? {});
  return (annotations) => {
    if (!validate(annotations)) {
      const problems = describe(validate.errors ?? [], known);
      throw new UsageError(
        `annotations do not match ${schemaPath}:\n` + problems.map((p) => `  - ${p}`).join("\n"),
      );
    }
  };
}

// describe turns ajv's errors into one line per annotation. A key outside
// the registry fails propertyNames, whose anyOf branches (not-our-prefix,
// one-of-the-known-keys) would each add a line that says less.
function describe(errors: ErrorObject[], known: string[]): string[] {
  const lines: string[] = [];
  for (const e of errors) {
    if (e.keyword === "propertyNames") {
      const key = e.params.propertyName as string;
      const near = closest(key, known);
      lines.push(`${key}: unknown annotation under mcp.archestra.io/` + (near ? ` (did you mean ${near}?)` : ""));
      continue;
    }
    if (e.propertyName !== undefined || e.keyword === "anyOf" || e.keyword === "not") {
      continue; // the branches of the propertyNames check above
    }
    const key = e.instancePath.slice(1).replaceAll("~1", "/").replaceAll("~0", "~");
    const detail = e.keyword === "enum" ? `${e.message}: ${(e.params.allowedValues as string[]).join(", ")}` : e.message;
    lines.push(`${key || "annotations"}: ${detail}`);
  }
  return lines;
}

// closest is the known key within two edits of key, if any: the typos
// (comand, max-session) that would otherwise be silently ignored.
function closest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestDist) {
      [best, bestDist] = [k, d];
    }
  }
  return best;
}

// distance is the Levenshtein distance, one row at a time.
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}
