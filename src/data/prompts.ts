import { UserError } from '../util/errors.js';
import type { EntityDataset, PromptVariant, RenderedPrompt } from './types.js';

/** Builds a prompt variant; options default to a plain, paper-run prompt. */
function v(
  name: string,
  prefix: string,
  description: string,
  opts: Partial<PromptVariant> = {},
): PromptVariant {
  return {
    name,
    prefix,
    allCaps: false,
    stripPeriod: false,
    randomTokens: 0,
    paper: true,
    description,
    ...opts,
  };
}

const EMPTY = v('empty', '', 'the entity string alone');
const RANDOM = v('random', '', '10 random token ids (drawn by the extractor, seeded) before the entity', {
  randomTokens: 10,
});
const COORDS = v(
  'coords',
  'What are the lat/lon coordinates of ',
  'factual-recall question about coordinates',
);

/**
 * Every prompt variant per prompt family (docs/method.md#prompts). Paper families are the dataset names; `world_cities`,
 * `custom_space` and `custom_time` are this project's defaults for its own datasets.
 */
export const PROMPTS: Readonly<Record<string, readonly PromptVariant[]>> = {
  world_place: [
    EMPTY,
    v('empty_all_caps', '', 'the entity string upper-cased', { allCaps: true }),
    RANDOM,
    COORDS,
  ],
  us_place: [
    EMPTY,
    RANDOM,
    COORDS,
    v('where_us', 'Where in the United States is ', 'disambiguating question'),
  ],
  nyc_place: [
    EMPTY,
    RANDOM,
    v('where_is', 'Where is ', 'location question'),
    v('where_nyc', 'Where in New York City is ', 'disambiguating location question'),
  ],
  historical_figure: [
    EMPTY,
    RANDOM,
    v('when', 'When did ', 'factual-recall question about the death date'),
    v('when_all_caps', 'When did ', 'the same question, name upper-cased (prefix is not)', { allCaps: true }),
  ],
  art: [
    EMPTY,
    RANDOM,
    v('release', 'When was the release date of ', 'factual-recall question about the release date'),
    v('empty_all_caps', '', '"<creator>\'s <title>" upper-cased', { allCaps: true }),
  ],
  headline: [
    v('empty', '', 'the headline with its final period'),
    v('empty_wo_period', '', 'the headline without its final period', { stripPeriod: true }),
    v('when_w_period', 'Publication date of: ', 'publication-date question, headline with its period'),
    v('when_wo_period', 'Publication date of: ', 'publication-date question, headline without its period', {
      stripPeriod: true,
    }),
  ],
  world_cities: [
    { ...EMPTY, paper: false },
    { ...RANDOM, paper: false },
    { ...COORDS, paper: false },
    v('where_is', 'Where is ', 'location question', { paper: false }),
  ],
  custom_space: [
    { ...EMPTY, paper: false },
    { ...RANDOM, paper: false },
    { ...COORDS, paper: false },
    v('where_is', 'Where is ', 'location question', { paper: false }),
  ],
  custom_time: [
    { ...EMPTY, paper: false },
    { ...RANDOM, paper: false },
    v('when_was', 'When was ', 'date question', { paper: false }),
  ],
};

/** The prompt used for each family's main figures (docs/method.md#prompts "canonical prompt"). */
export const CANONICAL_PROMPTS: Readonly<Record<string, string>> = {
  world_place: 'coords',
  us_place: 'coords',
  nyc_place: 'where_nyc',
  historical_figure: 'when',
  art: 'release',
  headline: 'when_w_period',
  world_cities: 'coords',
  custom_space: 'coords',
  custom_time: 'when_was',
};

type DatasetRef = string | Pick<EntityDataset, 'promptFamily'>;

function familyOf(ref: DatasetRef): string {
  const family = typeof ref === 'string' ? ref : ref.promptFamily;
  if (!Object.hasOwn(PROMPTS, family)) {
    throw new UserError(`no prompts for "${family}" (known: ${Object.keys(PROMPTS).join(', ')})`);
  }
  return family;
}

/** Prompt variants of a dataset (by dataset / family name or a loaded dataset). */
export function listPrompts(dataset: DatasetRef): PromptVariant[] {
  return [...PROMPTS[familyOf(dataset)]];
}

/** The canonical prompt name of a dataset (by dataset / family name or a loaded dataset). */
export function canonicalPrompt(dataset: DatasetRef): string {
  return CANONICAL_PROMPTS[familyOf(dataset)];
}

/** Looks up one variant; a clear error lists the valid names. */
export function getPrompt(dataset: DatasetRef, promptName: string): PromptVariant {
  const family = familyOf(dataset);
  const found = PROMPTS[family].find((p) => p.name === promptName);
  if (!found) {
    throw new UserError(
      `unknown prompt "${promptName}" for ${family} (choose from: ${PROMPTS[family].map((p) => p.name).join(', ')})`,
    );
  }
  return found;
}

/**
 * world_place rule (docs/method.md#prompts): the first parenthetical moves to the front as a possessive and every
 * parenthetical group is removed ("Watson Lake (Arizona)" -> "Arizona's Watson Lake ", trailing space kept);
 * otherwise the text after the last comma moves to the front ("Kaya, Burkina Faso" -> "Burkina Faso's Kaya").
 */
export function worldEntityString(name: string): string {
  // [^\n] mirrors Python's `.` (which, unlike JavaScript's, does match \r and U+2028/9).
  const paren = /\(([^\n]*?)\)/.exec(name);
  if (paren) return `${paren[1]}'s ${name.replace(/\(([^\n]*?)\)/g, '')}`;
  if (name.includes(',')) {
    const parts = name.split(',');
    return `${pyStrip(parts[parts.length - 1])}'s ${parts.slice(0, -1).join(',')}`;
  }
  return name;
}

const NYC_STOP_WORDS = new Set(['AND', 'OR', 'OF', 'THE', 'A', 'AT', '&', 'IN', 'TO']);
const NYC_ABBREVIATIONS = new Set([
  'FDNY',
  'NYCT',
  'YMCA',
  'LGA',
  'US',
  'NYC',
  'PS',
  'IS',
  'NYS',
  'UN',
  'NY',
  'EMS',
  'JCC',
  'NYU',
  'CC',
  'NYPD',
  'NYPA',
  'DHS',
]);

/**
 * nyc_place rule (docs/method.md#prompts): words split on whitespace and re-joined with single spaces; stop-words
 * lower-cased, listed abbreviations kept, every other word Capitalized ("WHITESTONE" -> "Whitestone").
 */
export function nycEntityString(name: string): string {
  return pySplit(name)
    .map((word) => {
      if (NYC_STOP_WORDS.has(word)) return word.toLowerCase();
      if (NYC_ABBREVIATIONS.has(word)) return word;
      return pyCapitalize(word);
    })
    .join(' ');
}

/** art rule: "<creator>'s <title>", or "<creator>' <title>" when the creator ends in "s". */
export function artEntityString(creator: string, title: string): string {
  return `${creator}${creator.endsWith('s') ? "'" : "'s"} ${title}`;
}

/** The entity string of row `row` before prompt modifiers (all caps, period). */
export function entityString(dataset: EntityDataset, row: number): string {
  return entityStringOf(dataset.promptFamily, dataset.names[row], (c) => column(dataset, c)[row]);
}

/**
 * The entity string of one entity of a prompt family (a paper dataset name, 'world_cities', 'custom_*'), from its
 * name and a reader of its other columns: the one rendering shared by extraction and later prompts (familiarity).
 */
export function entityStringOf(family: string, name: string, value: (column: string) => string): string {
  switch (family) {
    case 'world_place':
      return worldEntityString(name);
    case 'nyc_place':
      return nycEntityString(name);
    case 'art':
      return artEntityString(value('creator'), name);
    default:
      return name;
  }
}

function column(dataset: EntityDataset, name: string): string[] {
  const col = dataset.columns[name];
  if (!col) throw new UserError(`${dataset.name} has no "${name}" column, which its prompts need`);
  return col;
}

/**
 * The exact text fed to the model for one row and prompt: prefix + entity string, with the entity's char span
 * (later stages take the activation at the entity's last token). `randomTokens` asks the extractor to prepend
 * that many random token ids.
 */
export function renderPrompt(dataset: EntityDataset, row: number, promptName: string): RenderedPrompt {
  if (!Number.isInteger(row) || row < 0 || row >= dataset.n) {
    throw new RangeError(`row ${row} is outside 0..${dataset.n - 1} of ${dataset.name}`);
  }
  const prompt = getPrompt(dataset, promptName);
  return renderWith(prompt, entityString(dataset, row));
}

/** Applies a variant to an entity string (exported for tests and for callers with their own strings). */
export function renderWith(prompt: PromptVariant, entity: string): RenderedPrompt {
  let e = entity;
  // The paper drops the last character unconditionally; its headlines all end in "." so this is the same there.
  if (prompt.stripPeriod && e.endsWith('.')) e = e.slice(0, -1);
  if (prompt.allCaps) e = e.toUpperCase();
  const text = prompt.prefix + e;
  return {
    text,
    entityStart: prompt.prefix.length,
    entityEnd: text.length,
    randomTokens: prompt.randomTokens,
  };
}

/** Renders every row (dataset order). */
export function renderAll(dataset: EntityDataset, promptName: string): RenderedPrompt[] {
  const prompt = getPrompt(dataset, promptName);
  const out = new Array<RenderedPrompt>(dataset.n);
  for (let r = 0; r < dataset.n; r++) out[r] = renderWith(prompt, entityString(dataset, r));
  return out;
}

// Python's whitespace also includes the separators U+001C..U+001F and U+0085.
const PY_WS = '[\\s\\u001c-\\u001f\\u0085]+';
const PY_WHITESPACE = new RegExp(PY_WS);
const PY_STRIP = new RegExp(`^${PY_WS}|${PY_WS}$`, 'g');

/** Python's str.split() with no argument. */
function pySplit(s: string): string[] {
  return s.split(PY_WHITESPACE).filter((w) => w.length > 0);
}

/** Python's str.strip() with no argument. */
function pyStrip(s: string): string {
  return s.replace(PY_STRIP, '');
}

/** Python's str.capitalize(): first code point upper-cased, the rest lower-cased. */
function pyCapitalize(word: string): string {
  const [first, ...rest] = Array.from(word);
  return first === undefined ? '' : first.toUpperCase() + rest.join('').toLowerCase();
}
