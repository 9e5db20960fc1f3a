/** What a report page is made of, for the benchmarks: bytes of the inlined libraries, of each data key, the rest. */

const MB = (n: number) => `${(n / 1e6).toFixed(2)} MB`;

export function pageBreakdown(html: string): string {
  const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
  const data = scripts.find((s) => s[1]!.includes('id="report-data"'))?.[2] ?? '{}';
  const code = scripts.filter((s) => !s[1]!.includes('id="report-data"'));
  const parsed = JSON.parse(data) as Record<string, unknown>;
  const keys = Object.entries(parsed)
    .map(([k, v]) => [k, JSON.stringify(v)?.length ?? 0] as const)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${MB(n)}`);
  const codeBytes = code.reduce((a, s) => a + s[2]!.length, 0);
  return `page ${MB(html.length)}: scripts ${MB(codeBytes)}, data ${MB(data.length)} (${keys.join(', ')}), rest ${MB(html.length - codeBytes - data.length)}`;
}
