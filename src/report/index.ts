// Public surface of the report stage: the self-contained HTML report, static figure export, and input loading.
export { type DemoOptions, type DemoResult, runDemo } from './demo.js';
export { escapeHtml, jsonForScript } from './escape.js';
export { type ExportedFigure, type ExportOptions, exportFigures, renderSvg, staticSpec } from './export.js';
export { continentOf, detectMapKind } from './geo.js';
export { renderModel, renderReport, writeReport } from './html.js';
export {
  chooseLayers,
  type LoadOptions as ReportLoadOptions,
  loadReportInputs,
  readGeoJson,
  readPredictions,
} from './load.js';
export { buildReportModel, type FigureModel, type ReportModel } from './model.js';
export type {
  ExtraResult,
  GeoJsonCollection,
  MapKind,
  Metrics as ReportMetrics,
  PredictionTable,
  ProbeLayerResult,
  ProbeResults as ReportProbeResults,
  ReportInputs,
  ReportOptions,
  ReportRun,
} from './types.js';
