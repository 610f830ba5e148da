/**
 * Mocha's Spec reporter plus one closing line that CI reads to count tests:
 *
 *   N passed, N failed[, N skipped]
 *
 * The numbers are the runner's own stats (a failing hook counts as a
 * failure, as mocha counts it); "skipped" appears only when tests were
 * pending.
 */
const Mocha = require('mocha');

const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    // Registered after Spec's epilogue, so this line comes last.
    runner.once(EVENT_RUN_END, () => {
      process.stdout.write(`${summaryLine(runner.stats)}\n`);
    });
  }
}

function summaryLine(stats) {
  const passed = stats.passes || 0;
  const failed = stats.failures || 0;
  const skipped = stats.pending || 0;
  let line = `${passed} passed, ${failed} failed`;
  if (skipped > 0) line += `, ${skipped} skipped`;
  return line;
}

SummaryReporter.summaryLine = summaryLine;
SummaryReporter.description = 'spec, then "N passed, N failed[, N skipped]" on the last line';

module.exports = SummaryReporter;
