// What the signed-in role may do, from the route table as /openapi.json
// publishes it (x-roles per operation; admin may call everything).

let ops = new Map(); // "GET /v1/attendances/{id}" -> roles ([] for open routes)
let role = '';
let schemas = {};

// schemaHas says whether a request schema has a property (the page uses
// new API fields as soon as the API publishes them).
export function schemaHas(name, prop) {
  const sc = schemas[name];
  return !!(sc && sc.properties && prop in sc.properties);
}

export async function loadRoutes() {
  const res = await fetch('/openapi.json', { headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error('openapi.json: HTTP ' + res.status);
  const doc = await res.json();
  ops = new Map();
  schemas = (doc.components && doc.components.schemas) || {};
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      ops.set(method.toUpperCase() + ' ' + path, op['x-roles'] || null);
    }
  }
}

export function setRole(r) { role = r; }
export function currentRole() { return role; }

// has says whether the API has the route at all (helpers add routes while
// the page is in use; the page shows only what exists).
export function has(method, path) { return ops.has(method + ' ' + path); }

// can says whether the signed-in role may call the route.
export function can(method, path) {
  if (!ops.has(method + ' ' + path)) return false;
  const roles = ops.get(method + ' ' + path);
  if (roles === null) return true; // open
  return role === 'admin' || roles.includes(role);
}

// canAll takes "METHOD /path" strings (data-needs attributes).
export function canAll(needs) {
  return needs.split(',').map((s) => s.trim()).filter(Boolean).every((n) => {
    const [m, p] = n.split(' ');
    return can(m, p);
  });
}
