package api

import (
	"bytes"
	"encoding/json"
	"regexp"
)

// AnnotationsSchemaID is the $id of the generated JSON Schema.
const AnnotationsSchemaID = "https://archestra.ai/schemas/mcp-orchestrator/annotations.schema.json"

// AnnotationsJSONSchema is a JSON Schema (2020-12) of a Deployment's
// metadata.annotations map as far as this contract goes: every key under
// Prefix must be one of Annotations (AnnInjected is the webhook's,
// AnnHibernation the gateway's), and each value a string of the documented
// form. Other keys are left alone.
func AnnotationsJSONSchema() []byte {
	props := map[string]any{}
	known := []string{}
	for _, a := range Annotations {
		p := map[string]any{"type": "string", "description": a.Effect + " (" + a.Value + ")", "examples": []string{a.Example}}
		if a.Default != "" {
			p["$comment"] = "default: " + a.Default
		}
		if len(a.Enum) > 0 {
			p["enum"] = a.Enum
		}
		if a.Pattern != "" {
			p["pattern"] = a.Pattern
		}
		props[a.Key] = p
		known = append(known, a.Key)
	}
	props[AnnInjected] = map[string]any{"type": "string", "description": "written by the webhook only; never set it"}
	props[AnnHibernation] = map[string]any{"type": "string", "description": "written by the gateway only (its hibernation record); never set it"}
	known = append(known, AnnInjected, AnnHibernation)
	schema := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         AnnotationsSchemaID,
		"title":       "MCP Orchestrator Deployment annotations",
		"description": "metadata.annotations of a Deployment labelled " + ServerLabel + "=<name>",
		"type":        "object",
		"properties":  props,
		"propertyNames": map[string]any{"anyOf": []any{
			map[string]any{"not": map[string]any{"pattern": "^" + regexp.QuoteMeta(Prefix)}},
			map[string]any{"enum": known},
		}},
		"additionalProperties": map[string]any{"type": "string"},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(schema) // maps of strings always encode
	return b.Bytes()
}
