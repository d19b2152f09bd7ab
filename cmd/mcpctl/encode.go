package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// encodeDeployment writes d as YAML without the keys the typed round trip
// adds and the user did not write. encoding/json cannot omit a struct
// field (status: {}, strategy: {}, resources: {}) nor, without omitzero, a
// zero time (creationTimestamp: null). A key whose Go value is the zero
// value reads back the same when absent, so it is written only where the
// user's document doc has it empty as well. Non-zero values all stay
// (emptyDir: {} is a non-nil pointer, not a zero value).
func encodeDeployment(d *appsv1.Deployment, doc []byte) ([]byte, error) {
	data, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var out, user any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // integers stay exact
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(doc, &user); err != nil {
		return nil, err
	}
	pruneZero(reflect.ValueOf(d).Elem(), out, user)
	return yaml.Marshal(out)
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// pruneZero walks v (a Go value) and out (its JSON form) together and
// deletes from out the zero-valued keys that user (the same place in the
// user's document, or nil) does not have.
func pruneZero(v reflect.Value, out, user any) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		om, ok := out.(map[string]any)
		// A type with its own encoding (Time, Quantity, IntOrString) has
		// no fields of its own in out.
		if !ok || v.Type().Implements(marshalerType) || reflect.PointerTo(v.Type()).Implements(marshalerType) {
			return
		}
		um, _ := user.(map[string]any)
		pruneFields(v, om, um)
	case reflect.Slice, reflect.Array:
		ol, _ := out.([]any)
		ul, _ := user.([]any)
		for i := 0; i < v.Len() && i < len(ol); i++ {
			pruneZero(v.Index(i), ol[i], userItem(ul, ol[i], i))
		}
	case reflect.Map:
		om, _ := out.(map[string]any)
		um, _ := user.(map[string]any)
		for it := v.MapRange(); it.Next(); {
			if it.Key().Kind() == reflect.String {
				k := it.Key().String()
				pruneZero(it.Value(), om[k], um[k])
			}
		}
	}
}

func pruneFields(v reflect.Value, out, user map[string]any) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline := jsonName(f)
		if !f.IsExported() || name == "-" {
			continue
		}
		if inline { // its fields are this object's
			pruneZero(v.Field(i), out, user)
			continue
		}
		val, present := out[name]
		if !present {
			continue
		}
		if v.Field(i).IsZero() {
			if u, wrote := user[name]; !wrote || !emptyValue(u) {
				delete(out, name) // not written, or what was written there went away
			}
			continue
		}
		pruneZero(v.Field(i), val, user[name])
	}
}

// emptyValue: u, a value of the user's document, is empty as written
// (resources: {}, env: [], port: 0).
func emptyValue(u any) bool {
	switch u := u.(type) {
	case nil:
		return true
	case map[string]any:
		return len(u) == 0
	case []any:
		return len(u) == 0
	}
	return reflect.ValueOf(u).IsZero()
}

// jsonName is the key encoding/json writes field f under; inline: an
// embedded struct without a name, whose fields are written in place.
func jsonName(f reflect.StructField) (name string, inline bool) {
	name, _, _ = strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		if f.Anonymous {
			return "", true
		}
		return f.Name, false
	}
	return name, false
}

// userItem is the user's counterpart of the list item item (at index i):
// the one with the same name, or for items without one the same index.
// An item the injector added has none.
func userItem(user []any, item any, i int) any {
	m, _ := item.(map[string]any)
	if name, ok := m["name"].(string); ok {
		for _, u := range user {
			if um, _ := u.(map[string]any); um != nil && um["name"] == name {
				return u
			}
		}
		return nil
	}
	if i < len(user) {
		return user[i]
	}
	return nil
}
