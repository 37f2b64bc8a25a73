// Loaded into the MCP conformance runner with `node --import`: the runner has no option for
// request headers, so this adds `Authorization: Bearer $LIVECHAT_MCP_E2E_KEY` to every request
// it makes, through undici's global dispatcher, which both Node's `fetch` and undici's
// `request` use. LIVECHAT_MCP_E2E_UNDICI names a file inside the conformance package, so that
// its own undici is the one loaded.
import { createRequire } from "node:module";

const key = process.env.LIVECHAT_MCP_E2E_KEY;
const { Agent, setGlobalDispatcher } = createRequire(process.env.LIVECHAT_MCP_E2E_UNDICI)("undici");

function withKey(headers) {
  const value = `Bearer ${key}`;
  if (headers == null) return { authorization: value };
  if (Array.isArray(headers)) {
    // undici's flat form: [name, value, name, value, ...]
    const kept = [];
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() !== "authorization") kept.push(headers[i], headers[i + 1]);
    }
    return [...kept, "authorization", value];
  }
  if (typeof headers[Symbol.iterator] === "function") return withKey([...headers].flat());
  const kept = Object.entries(headers).filter(([name]) => name.toLowerCase() !== "authorization");
  return { ...Object.fromEntries(kept), authorization: value };
}

setGlobalDispatcher(
  new Agent().compose((dispatch) => (options, handler) => dispatch({ ...options, headers: withKey(options.headers) }, handler)),
);
