/** The paper's three model sizes, recognised from a model id. */
export type PaperSize = '7b' | '13b' | '70b';

/** Llama-2 7B/13B/70B from a model id ('meta-llama/Llama-2-13b-hf', 'llama-2-70b', ...). */
export function paperModelSize(modelId: string): PaperSize | undefined {
  const m = /llama-?2[-_]?(7|13|70)b/i.exec(modelId);
  return m ? (`${m[1]}b` as PaperSize) : undefined;
}
