import { InvalidInputError } from './tenantplane-error.js';

/** A field of a request body, query or command that is there but of the wrong type or value (HTTP 400). */
export class InvalidFieldError extends InvalidInputError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(message, 'invalid_field', details);
  }
}

/** A field the request body may not carry (HTTP 400). */
export class UnknownFieldError extends InvalidInputError {
  constructor(message: string) {
    super(message, 'unknown_field');
  }
}

/** A tier quota that cannot be set as given (HTTP 400). */
export class InvalidQuotaError extends InvalidInputError {
  constructor(message: string) {
    super(message, 'invalid_quota');
  }
}
