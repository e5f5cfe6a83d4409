/**
 * Each page's first query can start before the app's code has loaded: index.html carries a
 * small inline script (written at build time by vite.config.mts) that sends the current page's
 * first-paint query at once; `useQuery` then takes that response instead of asking again.
 */
import { RUNS_PAGE_SIZE, STATS, WORKFLOWS } from "./documents";

/** Where the token lives: this tab's session storage. */
export const TOKEN_KEY = "weft.apiToken";

interface Prefetch {
  key: string;
  response: Promise<Response>;
}

/** The first-paint query of the pages that open with no search parameters. */
export const FIRST_PAINT: Record<string, { query: string; variables: Record<string, unknown> }> = {
  "/": { query: STATS, variables: {} },
  "/runs": { query: WORKFLOWS, variables: { filter: {}, first: RUNS_PAGE_SIZE, after: null } },
};

export function prefetchKey(query: string, variablesJson: string): string {
  return `${query}\n${variablesJson}`;
}

/** The inline script: plain ES5, no imports, never throws. */
export function prefetchScript(): string {
  return `(function () {
  try {
    var page = ${JSON.stringify(FIRST_PAINT)}[location.pathname];
    if (!page || location.search) return;
    var headers = { "content-type": "application/json", accept: "application/json" };
    var token = sessionStorage.getItem(${JSON.stringify(TOKEN_KEY)});
    if (token) headers.authorization = "Bearer " + token;
    window.__weftPrefetch = {
      key: page.query + "\\n" + JSON.stringify(page.variables),
      response: fetch("/graphql", {
        method: "POST",
        headers: headers,
        body: JSON.stringify({ query: page.query, variables: page.variables }),
      }),
    };
  } catch (e) {}
})();`;
}

/** The prefetched response of this query, if the inline script sent exactly it; once. */
export function takePrefetched(
  query: string,
  variablesJson: string,
): Promise<Response> | undefined {
  const holder = globalThis as { __weftPrefetch?: Prefetch };
  const prefetch = holder.__weftPrefetch;
  if (!prefetch || prefetch.key !== prefetchKey(query, variablesJson)) return undefined;
  holder.__weftPrefetch = undefined;
  return prefetch.response;
}
