/**
 * The paper's CSVs for tests: ../shared beside the checkout, or SPACETIME_LENS_SHARED (util/paths.ts sharedDir).
 * Without them a test that needs them skips with a one-line reason, except under CI=true, where a missing folder
 * fails the test file: CI must never pass by skipping them. shared.test.ts checks that every test file that reads
 * the CSVs goes through here.
 */
import { sharedDir } from './paths.js';

export const SHARED_MISSING =
  'needs ../shared (the paper CSVs) beside the checkout, or SPACETIME_LENS_SHARED';

/** `dir` as found (undefined: missing); throws when it is missing and `ci`. The two helpers below call it. */
export function checkShared(dir: string | undefined, ci: boolean): string | undefined {
  if (!dir && ci) {
    throw new Error(
      'CI=true but ../shared (the paper CSVs) is missing beside the checkout; set SPACETIME_LENS_SHARED to it',
    );
  }
  return dir;
}

/** The shared folder, or undefined when it is missing outside CI; throws under CI=true when it is missing. */
export function sharedForTests(): string | undefined {
  return checkShared(sharedDir(), process.env['CI'] === 'true');
}

/** A node:test `skip` option for a test that reads the paper CSVs: false when they are there, else the reason. */
export function skipWithoutShared(): false | string {
  return sharedForTests() ? false : SHARED_MISSING;
}
