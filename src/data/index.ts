// Public surface of the data stage: entity datasets (paper registry, custom files, offline world cities),
// validation, fetching, and prompts.

export {
  buildDataset,
  type DatasetSchema,
  DatasetValidationError,
  hashSplitIsTest,
  type ValidationIssue,
} from './build.js';
export { CONTINENT_NAMES, COUNTRIES } from './countries.js';
export {
  type DatasetSummary,
  listDatasets,
  type RegistryEntry,
  summarizeDataset,
  type TargetSummary,
} from './describe.js';
export {
  type FetchOptions,
  type FetchPlan,
  type FetchResult,
  fetchDatasets,
  planFetchAll,
  sourceLocation,
} from './fetch.js';
export {
  cachedDatasetPath,
  customSchema,
  datasetsDir,
  loadDataset,
  paperSchema,
  readSpecFile,
} from './load.js';
export {
  artEntityString,
  CANONICAL_PROMPTS,
  canonicalPrompt,
  entityString,
  entityStringOf,
  getPrompt,
  listPrompts,
  nycEntityString,
  PROMPTS,
  renderAll,
  renderPrompt,
  renderWith,
  worldEntityString,
} from './prompts.js';
export {
  calendarYear,
  calendarYearOffset,
  DATASETS,
  type HoldoutSpec,
  isPaperDataset,
  NOTEBOOK_ROW_COUNTS,
  PAPER_BASE_URL,
  PAPER_DATASET_NAMES,
  type PaperDatasetSpec,
  type TargetSource,
  type TimeTargetUnit,
  timeTargetUnit,
  yearText,
} from './registry.js';
export {
  describeSelection,
  type RowSelection,
  rowSelection,
  type SelectedRows,
  selectRows,
  stratifiedSample,
  subsetDataset,
} from './sample.js';
export { type RawTable, readTable } from './table.js';
export type {
  ColumnMapping,
  DatasetKind,
  EntityDataset,
  LoadOptions,
  PromptVariant,
  RenderedPrompt,
} from './types.js';
export { NS_PER_YEAR, parseDateToYears, parseFlag, parseNumber } from './values.js';
export {
  buildWorldCities,
  WORLD_CITIES,
  WORLD_CITIES_MIN_POPULATION,
  type WorldCitiesOptions,
} from './world-cities.js';
