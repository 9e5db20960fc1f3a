/**
 * The paper's CSVs for tests: ../shared beside the checkout, or SPACETIME_LENS_SHARED (util/paths.ts sharedDir).
 * Without them a test that needs them skips with a one-line reason, except under CI=true, where a missing folder
 * fails the test file: CI must never pass by skipping them.
 */
import { sharedDir } from './paths.js';

export const SHARED_MISSING =
  'needs ../shared (the paper CSVs) beside the checkout, or SPACETIME_LENS_SHARED';

/** The shared folder, or undefined when it is missing outside CI; throws under CI=true when it is missing. */
export function sharedForTests(): string | undefined {
  const dir = sharedDir();
  if (!dir && process.env['CI'] === 'true') {
    throw new Error(
      'CI=true but ../shared (the paper CSVs) is missing beside the checkout; set SPACETIME_LENS_SHARED to it',
    );
  }
  return dir;
}

/** A node:test `skip` option for a test that reads the paper CSVs: false when they are there, else the reason. */
export function skipWithoutShared(): false | string {
  return sharedForTests() ? false : SHARED_MISSING;
}
