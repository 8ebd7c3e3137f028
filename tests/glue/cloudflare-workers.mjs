// `glue.js` imports the Worker's bindings from `cloudflare:workers`, a
// module only workerd has. For the glue's tests in Node, that import
// resolves to a module of its own with no bindings (`node --import` this
// file before the tests: `make test-glue`).
import { register } from "node:module";

const stub = "data:text/javascript,export const env = {};";
const hooks = `export async function resolve(specifier, context, next) {
  if (specifier === "cloudflare:workers") return { url: ${JSON.stringify(stub)}, shortCircuit: true };
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
