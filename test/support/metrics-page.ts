/** Reading a role process's Prometheus page (WEFT_METRICS_PORT) in tests. */

/** The page a process serves on its metrics port. */
export async function metricsOf(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** A metric's value in a Prometheus text page, summed over its labels (0 when absent). */
export function metricValue(page: string, name: string): number {
  return page
    .split("\n")
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}
