package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/frontdoor-ucc/frontdoor/cluster/access"
	"github.com/gofiber/fiber/v2"
)

// GET /openapi.json describes every route. It is generated from the route
// table (routes.go): path, method, summary, who may call it, the query
// parameters and the request body's schema (by reflection over the Body
// type's JSON tags). Adding a row adds the route to the document;
// openapi_test.go fails when a registered route is missing from it or it
// names a route that is not registered.

// openAPIRoutes are the route table's rows of the API description: open (routes.go).
func openAPIRoutes() []routeRow {
	return []routeRow{
		{Method: "GET", Path: "/openapi.json", Access: accessOpen, Summary: "This API's OpenAPI 3.1 description", Handler: (*server).openAPI},
	}
}

func (s *server) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(s.openAPIDoc())
}

// mustOpenAPI is the indented JSON of the document (built once per server).
func mustOpenAPI(version string) []byte {
	b, err := json.MarshalIndent(buildOpenAPI(version), "", " ")
	if err != nil {
		panic("openapi: " + err.Error())
	}
	return b
}

// openAPIPath turns a fiber path into an OpenAPI one: /v1/x/:id -> /v1/x/{id}.
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			parts[i] = "{" + strings.TrimSuffix(name, "?") + "}"
		}
	}
	return strings.Join(parts, "/")
}

func pathParams(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			out = append(out, strings.TrimSuffix(name, "?"))
		}
	}
	return out
}

type jsonObject = map[string]any

func buildOpenAPI(version string) jsonObject {
	schemas := jsonObject{
		"Problem": jsonObject{
			"type":        "object",
			"description": "RFC 9457 problem details; errors maps a field path to the reason it was refused",
			"properties": jsonObject{
				"type": jsonObject{"type": "string"}, "title": jsonObject{"type": "string"},
				"status": jsonObject{"type": "integer"}, "detail": jsonObject{"type": "string"},
				"errors": jsonObject{"type": "object", "additionalProperties": jsonObject{"type": "string"}},
			},
		},
	}
	gen := &schemaGen{defs: schemas}
	problemRef := func(desc string) jsonObject {
		return jsonObject{"description": desc, "content": jsonObject{"application/problem+json": jsonObject{"schema": jsonObject{"$ref": "#/components/schemas/Problem"}}}}
	}
	paths := jsonObject{}
	rows := routeTable()
	for i := range rows {
		row := &rows[i]
		op := jsonObject{
			"summary":     row.Summary,
			"operationId": operationID(row),
			"responses": jsonObject{
				"2XX": jsonObject{"description": "Success", "content": jsonObject{"application/json": jsonObject{"schema": jsonObject{}}}},
				"4XX": problemRef("Refused: bad input (the field is named), not found, conflict"),
				"503": problemRef("No leader or no quorum: nothing was accepted (Retry-After), or the outcome is unknown"),
			},
		}
		var params []any
		for _, p := range pathParams(row.Path) {
			params = append(params, jsonObject{"name": p, "in": "path", "required": true, "schema": jsonObject{"type": "string"}})
		}
		for _, q := range row.Query {
			param := jsonObject{"name": q, "in": "query", "required": false, "schema": jsonObject{"type": "string"}}
			if doc, ok := queryDocs[rowKey(row.Method, row.Path)+"?"+q]; ok {
				param["description"] = doc
			}
			params = append(params, param)
		}
		if (row.Method == fiber.MethodPost || row.Method == fiber.MethodPut || row.Method == fiber.MethodDelete) && row.Access != accessForwarded {
			params = append(params, jsonObject{"name": headerIdempotencyKey, "in": "header", "required": false,
				"description": "a retry with the same key and body returns the first answer", "schema": jsonObject{"type": "string", "maxLength": maxIdempotencyKeyLen}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if row.Body != nil {
			op["requestBody"] = jsonObject{"required": true, "content": jsonObject{"application/json": jsonObject{"schema": gen.schema(reflect.TypeOf(row.Body))}}}
		}
		switch row.Access {
		case accessKey:
			roles := append(append([]string{}, row.Roles...), access.RoleAdmin)
			op["security"] = []any{jsonObject{"bearer": []string{}}}
			op["x-roles"] = roles
			resp := op["responses"].(jsonObject)
			resp["401"] = problemRef("No API key, or an unknown or revoked one")
			resp["403"] = problemRef("The key's role may not call this route")
			op["description"] = "Roles: " + strings.Join(roles, ", ") + "."
			switch row.Scope {
			case scopeService:
				op["x-scope"] = string(row.Scope)
				op["description"] = op["description"].(string) + " Scope: an admin key, or a key scoped to this service (its own staff); any other key gets 403."
			case scopeTeam:
				op["x-scope"] = string(row.Scope)
				op["description"] = op["description"].(string) + " Scope: a responder key scoped to a rapid response team sees and acts on its own team's dispatches only."
			}
		case accessOpen:
			op["security"] = []any{}
			op["description"] = "Open: no key needed."
		case accessJoinToken:
			op["security"] = []any{}
			op["description"] = "Node to node: authorised by the cluster's join token."
		case accessForwarded:
			op["security"] = []any{jsonObject{"bearer": []string{}}}
			op["x-roles"] = access.Roles
			op["description"] = "Node to node: the caller's key, allowed the roles of the route the proposal names. " +
				"The bodies are binary (" + mimeForwardedProposal + ", " + mimeForwardedResult + ")."
			op["requestBody"] = jsonObject{"required": true, "content": jsonObject{mimeForwardedProposal: jsonObject{"schema": jsonObject{"type": "string"}}}}
		}
		p := openAPIPath(row.Path)
		item, _ := paths[p].(jsonObject)
		if item == nil {
			item = jsonObject{}
			paths[p] = item
		}
		item[strings.ToLower(row.Method)] = op
	}
	return jsonObject{
		"openapi": "3.1.0",
		"info": jsonObject{
			"title":       "frontdoor",
			"version":     version,
			"description": "The front door of an NHS urgent care centre. Send Authorization: Bearer <API key>; x-roles lists the roles that may call each operation (admin may call all).",
		},
		"paths": paths,
		"components": jsonObject{
			"securitySchemes": jsonObject{"bearer": jsonObject{"type": "http", "scheme": "bearer", "description": "an API key (fdk_...)"}},
			"schemas":         schemas,
		},
	}
}

func operationID(row *routeRow) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(row.Method))
	for _, part := range strings.Split(row.Path, "/") {
		part = strings.NewReplacer(":", "by_", "-", "_", ".", "_").Replace(part)
		if part != "" {
			b.WriteString("_" + part)
		}
	}
	return b.String()
}

// schemaGen turns Go types into JSON Schema following encoding/json's
// rules (json tags, omitempty, embedded structs flattened); named structs
// go to components.schemas once and are referenced.
type schemaGen struct {
	defs jsonObject
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

func (g *schemaGen) schema(t reflect.Type) jsonObject {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return jsonObject{"type": "string", "format": "date-time"}
	case t == rawType:
		return jsonObject{}
	}
	switch t.Kind() {
	case reflect.String:
		return jsonObject{"type": "string"}
	case reflect.Bool:
		return jsonObject{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return jsonObject{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return jsonObject{"type": "number"}
	case reflect.Slice, reflect.Array:
		return jsonObject{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return jsonObject{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name := t.Name()
		if name == "" {
			return g.object(t)
		}
		if _, done := g.defs[name]; !done {
			g.defs[name] = jsonObject{} // placeholder against recursion
			g.defs[name] = g.object(t)
		}
		return jsonObject{"$ref": "#/components/schemas/" + name}
	}
	return jsonObject{}
}

func (g *schemaGen) object(t reflect.Type) jsonObject {
	props := jsonObject{}
	g.fields(t, props)
	return jsonObject{"type": "object", "properties": props, "additionalProperties": false}
}

func (g *schemaGen) fields(t reflect.Type, props jsonObject) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, props)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		sch := g.schema(f.Type)
		if doc, ok := fieldDocs[t.Name()+"."+name]; ok {
			sch = withDescription(sch, doc)
		}
		props[name] = sch
	}
}

// withDescription adds a description to a schema (a copy: a $ref schema is
// shared by every use).
func withDescription(sch jsonObject, doc string) jsonObject {
	out := jsonObject{"description": doc}
	for k, v := range sch {
		out[k] = v
	}
	return out
}
