import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderReport } from './html.js';
import { saeFeatureFigures } from './sae.js';

function features(kind: 'space' | 'time', targetNames: string[]) {
  const names = ['Paris', 'Lima', '<b>x</b>'];
  return {
    format: 'spacetime-lens/sae-features@1',
    store: { dataset: 'world_place', kind, targetNames, hookName: 'blocks.3.hook_resid_post' },
    groups: [
      {
        group: 'all',
        top: Object.fromEntries(targetNames.map((t) => [t, [{ feature: 7, spearman: 0.8123 }]])),
      },
    ],
    activations: {
      names,
      targets: Object.fromEntries(targetNames.map((t, c) => [t, [c + 1, c + 2, c + 3]])),
      features: targetNames.map((target) => ({ feature: 7, target, values: [0.5, 0, 2] })),
    },
  };
}

test('SAE feature results become a map (space) or a year plot (time) coloured by the activation', () => {
  const [map] = saeFeatureFigures([{ title: 'sae', data: features('space', ['longitude', 'latitude']) }]);
  assert.equal(
    saeFeatureFigures([{ title: 'sae', data: features('space', ['longitude', 'latitude']) }]).length,
    1,
    'one figure per distinct feature',
  );
  assert.equal(map!.section, 'maps');
  assert.match(map!.title, /SAE feature 7, best for longitude \(ρ = 0\.812\)/);
  assert.equal(map!.spec['encoding'].longitude.field, 'longitude');
  assert.deepEqual(
    map!.spec['data'].values.map((r: { name: string; act: number }) => [r.name, r.act]),
    [
      ['Lima', 0],
      ['Paris', 0.5],
      ['<b>x</b>', 2],
    ],
  );
  const [timeline] = saeFeatureFigures([{ title: 'sae', data: features('time', ['year']) }]);
  assert.equal(timeline!.section, 'time');
  assert.equal(timeline!.spec['encoding'].x.field, 'year');
  assert.deepEqual(saeFeatureFigures([{ title: 'other', data: { format: 'something-else' } }]), []);
  const html = renderReport({
    runs: [],
    extras: [{ title: 'sae', data: features('space', ['longitude', 'latitude']) }],
  });
  assert.ok(html.includes('SAE feature 7, best for longitude'));
  assert.ok(!html.includes('<b>x</b>'), 'entity names are escaped in the page');
});
