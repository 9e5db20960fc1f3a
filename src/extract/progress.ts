import cliProgress from 'cli-progress';

/** Where extraction reports progress. The library default reports nothing; the CLI shows a bar or log lines. */
export interface ProgressSink {
  start(info: { label: string; rows: number; tokens: number; doneRows: number }): void;
  /** Rows and tokens finished so far in this run (resumed chunks excluded), out of the totals. */
  update(rows: number, tokens: number): void;
  log(message: string): void;
  stop(): void;
}

export const silentProgress: ProgressSink = { start() {}, update() {}, log() {}, stop() {} };

function rate(count: number, seconds: number): string {
  if (seconds <= 0) return '-';
  const r = count / seconds;
  return r >= 100 ? r.toFixed(0) : r.toFixed(1);
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** Rates and ETA from the rows/tokens done in this run. */
class Meter {
  private t0 = performance.now();
  rows = 0;
  tokens = 0;
  totalRows = 0;
  totalTokens = 0;
  doneBefore = 0;
  reset(rows: number, tokens: number, doneBefore: number) {
    this.t0 = performance.now();
    this.rows = 0;
    this.tokens = 0;
    this.totalRows = rows;
    this.totalTokens = tokens;
    this.doneBefore = doneBefore;
  }
  get seconds() {
    return (performance.now() - this.t0) / 1000;
  }
  summary() {
    const s = this.seconds;
    const left = this.totalRows - this.doneBefore - this.rows;
    const eta = this.rows > 0 ? (left * s) / this.rows : Number.NaN;
    return { ents: rate(this.rows, s), toks: rate(this.tokens, s), eta: duration(eta), elapsed: duration(s) };
  }
}

/** A terminal progress bar (entities/s, tokens/s, ETA), redrawn at most ~10 times a second. */
export function barProgress(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  const meter = new Meter();
  let bar: cliProgress.SingleBar | undefined;
  return {
    start({ label, rows, tokens, doneRows }) {
      meter.reset(rows, tokens, doneRows);
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${label} [{bar}] {value}/{total} entities | {ents} ent/s | {toks} tok/s | ETA {eta_h}`,
          barsize: 24,
          hideCursor: true,
          etaBuffer: 50,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(rows, doneRows, { ents: '-', toks: '-', eta_h: '?' });
    },
    update(rows, tokens) {
      meter.rows = rows;
      meter.tokens = tokens;
      const s = meter.summary();
      bar?.update(meter.doneBefore + rows, { ents: s.ents, toks: s.toks, eta_h: s.eta });
    },
    log(message) {
      if (bar) bar.stop();
      stream.write(message + '\n');
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** Plain log lines for batch jobs (`--quiet` or no TTY): start, every `everySeconds`, end. */
export function logProgress(stream: NodeJS.WritableStream = process.stderr, everySeconds = 30): ProgressSink {
  const meter = new Meter();
  let label = '';
  let last = 0;
  const line = () => {
    const s = meter.summary();
    const done = meter.doneBefore + meter.rows;
    stream.write(
      `${new Date().toISOString()} ${label}: ${done}/${meter.totalRows} entities, ${s.ents} ent/s, ${s.toks} tok/s, ` +
        `elapsed ${s.elapsed}, ETA ${s.eta}\n`,
    );
  };
  return {
    start(info) {
      label = info.label;
      meter.reset(info.rows, info.tokens, info.doneRows);
      last = performance.now();
      stream.write(
        `${new Date().toISOString()} ${label}: ${info.rows} entities, ${info.tokens} tokens` +
          (info.doneRows ? `, ${info.doneRows} already done (resume)` : '') +
          '\n',
      );
    },
    update(rows, tokens) {
      meter.rows = rows;
      meter.tokens = tokens;
      if (performance.now() - last >= everySeconds * 1000) {
        last = performance.now();
        line();
      }
    },
    log(message) {
      stream.write(message + '\n');
    },
    stop() {
      line();
    },
  };
}
