import { expect } from 'chai';
import { TenantplaneError } from '../../src/errors.js';

/** The coded error a promise rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<TenantplaneError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(TenantplaneError);
    return error as TenantplaneError;
  }
  return expect.fail('expected a rejection');
}
